//! `spine anomalies list|resolve`.

use std::process::ExitCode;

use serde_json::Value;
use spine_store::anomalies::{self, AnomalyFilter};

use crate::cli::AnomaliesCommand;
use crate::commands::Context;
use crate::output::{Table, anomaly_json, emit};
use crate::signer::{self, Signing};

/// Runs a `spine anomalies` command.
pub async fn run(ctx: &Context, cmd: AnomaliesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AnomaliesCommand::List(args) => {
            let store = ctx.open_store().await?;
            let rows = anomalies::list(
                store.conn(),
                &AnomalyFilter {
                    domain: args.domain,
                    week_ending: args.week_ending,
                    severity: args.severity,
                    category: args.category,
                    unresolved_only: args.unresolved,
                    ..Default::default()
                },
            )
            .await?;
            let mut table = Table::new([
                "id",
                "severity",
                "category",
                "partition_key",
                "message",
                "resolved",
            ]);
            for a in &rows {
                table.push([
                    a.id.to_string(),
                    a.severity.clone(),
                    a.category.clone(),
                    a.partition_key.clone().unwrap_or_else(|| "-".into()),
                    a.message.clone(),
                    a.resolved_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "open".into()),
                ]);
            }
            let json: Vec<Value> = rows.iter().map(anomaly_json).collect();
            emit(ctx.format(), &table, Some(&Value::Array(json)))?;
        }
        AnomaliesCommand::Resolve { id, note, by } => {
            // Before the database is opened: a resolution no one signs is refused, unwritten.
            let by = signer::resolve(by, Signing::Resolution)?;
            let store = ctx.open_store().await?;
            let a =
                anomalies::resolve_as(store.conn(), id, &note, Some(&by), ctx.clock.now()).await?;
            let mut table = Table::new(["id", "resolved_at", "resolved_by", "resolution_note"]);
            table.push([
                a.id.to_string(),
                a.resolved_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                a.resolved_by.clone().unwrap_or_else(|| "-".into()),
                a.resolution_note.clone().unwrap_or_default(),
            ]);
            emit(ctx.format(), &table, Some(&anomaly_json(&a)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
