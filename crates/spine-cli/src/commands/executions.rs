//! `spine executions list`: every pipeline run with its parameters (credentials redacted when
//! they were recorded), duration and error; a run whose process died shows as ABANDONED.

use std::process::ExitCode;

use serde_json::json;
use spine_engine::capture::Liveness;
use spine_model::ExecutionStatus;
use spine_store::executions::{self, ExecutionFilter, reported_status};

use crate::cli::{ExecutionsCommand, ExecutionsListArgs};
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs a `spine executions` command.
pub async fn run(ctx: &Context, cmd: ExecutionsCommand) -> anyhow::Result<ExitCode> {
    let ExecutionsCommand::List(args) = cmd;
    list(ctx, args).await
}

async fn list(ctx: &Context, args: ExecutionsListArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    // ABANDONED is not stored: it is a RUNNING run whose heartbeat stopped.
    let stored = match args.status {
        Some(ExecutionStatus::Abandoned) => vec![ExecutionStatus::Running],
        Some(s) => vec![s],
        None => Vec::new(),
    };
    let rows = executions::list(
        store.conn(),
        &ExecutionFilter {
            statuses: stored,
            since: args
                .since
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
            limit: Some(args.limit),
        },
    )
    .await?;
    let wall_now = chrono::Utc::now();
    let abandoned_after = Liveness::from_env().abandoned_after_chrono();
    let mut table = Table::new([
        "execution_id",
        "pipeline",
        "status",
        "started_at",
        "duration",
        "partition",
        "error",
    ]);
    let mut json = Vec::new();
    for e in &rows {
        let status = reported_status(e, abandoned_after, wall_now);
        if args.status.is_some_and(|s| s != status) {
            continue;
        }
        let duration = e
            .finished_at
            .map(|f| {
                format!(
                    "{:.1}s",
                    (f - e.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".into());
        let error = e
            .error
            .as_deref()
            .map(|t| spine_model::redact::error(t, 200))
            .unwrap_or_default();
        table.push([
            e.execution_id.clone(),
            e.pipeline.clone(),
            status.to_string(),
            e.started_at.to_rfc3339(),
            duration,
            e.partition_key.clone().unwrap_or_else(|| "-".into()),
            error,
        ]);
        json.push(json!({
            "execution_id": e.execution_id,
            "pipeline": e.pipeline,
            "domain": e.domain,
            "status": status,
            "partition_key": e.partition_key,
            "trigger": e.trigger_source,
            "started_at": e.started_at,
            "finished_at": e.finished_at,
            "heartbeat_at": e.heartbeat_at,
            "duration_seconds": e.finished_at.map(|f| (f - e.started_at).num_milliseconds() as f64 / 1000.0),
            "rows_processed": e.rows_processed,
            "params": e.params_json,
            "error": e.error.as_deref().map(|t| spine_model::redact::error(t, spine_model::redact::MAX_ERROR_CHARS)),
        }));
    }
    emit(ctx.format(), &table, Some(&serde_json::Value::Array(json)))?;
    Ok(ExitCode::SUCCESS)
}
