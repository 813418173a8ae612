//! `spine work list|retry|cancel`: the work queue the worker drains.

use std::process::ExitCode;

use serde_json::{Value, json};
use spine_store::work_attempts;
use spine_store::work_items::{self, WorkFilter, WorkItem};

use crate::cli::WorkCommand;
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs a `spine work` command.
pub async fn run(ctx: &Context, cmd: WorkCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    let conn = store.conn();
    let now = ctx.clock.now();
    match cmd {
        WorkCommand::List(args) => {
            let items = work_items::list(
                conn,
                &WorkFilter {
                    state: args.state,
                    domain: args.domain,
                    limit: Some(args.limit),
                },
            )
            .await?;
            let mut table = Table::new([
                "id",
                "domain",
                "partition",
                "kind",
                "state",
                "attempts",
                "next_attempt",
                "locked_by",
                "last_error",
            ]);
            let mut json = Vec::new();
            for i in &items {
                table.push([
                    i.id.to_string(),
                    i.domain.clone(),
                    i.partition_key.clone(),
                    i.kind.clone(),
                    i.state.clone(),
                    format!("{}/{}", i.attempt_count, i.max_attempts),
                    i.next_attempt_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "-".into()),
                    i.locked_by.clone().unwrap_or_else(|| "-".into()),
                    i.last_error
                        .as_deref()
                        .or(i.cancel_reason.as_deref())
                        .map(|e| spine_model::redact::error(e, 120))
                        .unwrap_or_default(),
                ]);
                let mut value = item_json(i);
                if args.attempts {
                    value["history"] = Value::Array(
                        work_attempts::of_item(conn, i.id)
                            .await?
                            .iter()
                            .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
                            .collect(),
                    );
                }
                json.push(value);
            }
            emit(ctx.format(), &table, Some(&Value::Array(json)))?;
        }
        WorkCommand::Retry { id } => {
            let item = work_items::retry(conn, id, now).await?;
            print_item(ctx, "retry", &item)?;
        }
        WorkCommand::Cancel { id, reason } => {
            if reason.trim().is_empty() {
                return Err(crate::errors::usage("--reason must say why"));
            }
            let item = work_items::cancel(conn, id, &reason, now).await?;
            print_item(ctx, "cancel", &item)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn item_json(i: &WorkItem) -> Value {
    json!({
        "id": i.id,
        "domain": i.domain,
        "pipeline": i.pipeline,
        "partition_key": i.partition_key,
        "kind": i.kind,
        "state": i.state,
        "attempts": i.attempt_count,
        "max_attempts": i.max_attempts,
        "next_attempt_at": i.next_attempt_at,
        "last_error": i.last_error,
        "last_error_at": i.last_error_at,
        "locked_by": i.locked_by,
        "lease_expires_at": i.lease_expires_at,
        "cancel_reason": i.cancel_reason,
        "params": i.params_json,
        "created_at": i.created_at,
        "completed_at": i.completed_at,
    })
}

fn print_item(ctx: &Context, action: &str, i: &WorkItem) -> anyhow::Result<()> {
    let mut table = Table::new(["action", "id", "partition", "kind", "state", "next_attempt"]);
    table.push([
        action.to_string(),
        i.id.to_string(),
        i.partition_key.clone(),
        i.kind.clone(),
        i.state.clone(),
        i.next_attempt_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "-".into()),
    ]);
    emit(ctx.format(), &table, Some(&item_json(i)))
}
