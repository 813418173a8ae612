//! `spine recompute <domain> --week-ending D`.

use std::process::ExitCode;

use anyhow::bail;
use spine_model::Domain;

use crate::cli::RecomputeArgs;
use crate::commands::Context;
use crate::output::{Table, emit};
use crate::pipelines::finra_otc;

/// Runs `spine recompute`.
pub async fn run(ctx: &Context, args: RecomputeArgs) -> anyhow::Result<ExitCode> {
    if args.domain.as_str() != Domain::FINRA_OTC {
        bail!(
            "{} has no calcs to recompute; recompute works on {}",
            args.domain,
            Domain::FINRA_OTC
        );
    }
    let store = ctx.open_store().await?;
    let results = finra_otc::recompute(&store, args.week_ending, &ctx.run_context()).await?;
    let mut table = Table::new(["tier", "capture_id", "result"]);
    for r in &results {
        let result = match (r["complete"].as_bool(), r["skipped"].as_str()) {
            (_, Some(why)) => format!("skipped: {why}"),
            (Some(true), _) => "recomputed".to_string(),
            _ => format!("incomplete: {}", r["notes"]),
        };
        table.push([
            r["tier"].as_str().unwrap_or_default().to_string(),
            r["capture_id"].as_str().unwrap_or_default().to_string(),
            result,
        ]);
    }
    emit(
        ctx.format(),
        &table,
        Some(&serde_json::Value::from(results)),
    )?;
    Ok(ExitCode::SUCCESS)
}
