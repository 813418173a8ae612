//! `spine recompute <domain> --week-ending D`.

use std::process::ExitCode;

use spine_engine::domain::RecomputeOutcome;
use spine_model::PartitionKey;

use crate::cli::RecomputeArgs;
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs `spine recompute`.
pub async fn run(ctx: &Context, args: RecomputeArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.open_engine().await?;
    let results = spine_engine::recompute::recompute(
        &engine,
        &args.domain,
        &PartitionKey::week(args.week_ending),
        &ctx.run_context(),
    )
    .await?;
    let mut table = Table::new(["partition_key", "capture_id", "result"]);
    for r in &results {
        let result = match r.outcome {
            RecomputeOutcome::NeverNormalized => "skipped: never normalized".to_string(),
            RecomputeOutcome::Recomputed => "recomputed".to_string(),
            RecomputeOutcome::Incomplete => format!("incomplete: {}", r.notes.join("; ")),
        };
        table.push([r.partition_key.clone(), r.capture_id.clone(), result]);
    }
    emit(ctx.format(), &table, Some(&serde_json::to_value(&results)?))?;
    Ok(ExitCode::SUCCESS)
}
