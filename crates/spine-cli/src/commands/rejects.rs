//! `spine rejects list`: every rejected line with its line number, reason and the line as
//! received (escaped where it held bytes a terminal or a database cannot take), so nothing a
//! capture refused is out of sight.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;
use spine_model::PartitionKey;
use spine_store::{captures, rejects};

use crate::cli::{RejectsCommand, RejectsListArgs};
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs a `spine rejects` command.
pub async fn run(ctx: &Context, cmd: RejectsCommand) -> anyhow::Result<ExitCode> {
    let RejectsCommand::List(args) = cmd;
    list(ctx, args).await
}

async fn list(ctx: &Context, args: RejectsListArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    let capture_ids: Vec<String> = match (&args.capture, args.week_ending) {
        (Some(id), _) => {
            if captures::get(store.conn(), id).await?.is_none() {
                bail!("no capture {id} (see `spine status` or `spine ingest` output for ids)");
            }
            vec![id.clone()]
        }
        (None, Some(week)) => {
            let mut key = PartitionKey::week(week);
            if let Some(tier) = args.tier {
                key = key.with(PartitionKey::TIER, tier.as_str());
            }
            captures::latest_covered(store.conn(), &args.domain, &key)
                .await?
                .into_iter()
                .map(|c| c.capture_id)
                .collect()
        }
        (None, None) => unreachable!("clap requires --capture or --week-ending"),
    };
    let rows = rejects::list(store.conn(), &capture_ids, args.reason.as_deref()).await?;
    let mut table = Table::new(["capture_id", "line", "reason", "detail", "raw_line"]);
    for r in &rows {
        table.push([
            r.capture_id.clone(),
            r.line_number.map(|n| n.to_string()).unwrap_or_default(),
            r.reason_code.clone(),
            r.detail.clone(),
            r.raw_line.clone(),
        ]);
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "capture_id": r.capture_id,
                "partition_key": r.partition_key,
                "line_number": r.line_number,
                "reason": r.reason_code,
                "detail": r.detail,
                "raw_line": r.raw_line,
                "stage": r.stage,
                "source": r.source_locator,
            })
        })
        .collect();
    emit(ctx.format(), &table, Some(&serde_json::Value::Array(json)))?;
    Ok(ExitCode::SUCCESS)
}
