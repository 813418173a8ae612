//! `spine status`: the state of every domain at a glance.

use std::process::ExitCode;

use crate::commands::Context;
use crate::output::{Format, Table, emit};

/// Runs `spine status`.
pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    let mut domains = spine_store::overview::domains(store.conn()).await?;
    // Runs whose process died without finishing them (their heartbeat stopped).
    let abandoned_after = spine_engine::capture::Liveness::from_env().abandoned_after_chrono();
    let wall_now = chrono::Utc::now();
    for e in spine_store::executions::list(
        store.conn(),
        &spine_store::executions::ExecutionFilter {
            statuses: vec![spine_model::ExecutionStatus::Running],
            ..Default::default()
        },
    )
    .await?
    {
        if spine_store::executions::reported_status(&e, abandoned_after, wall_now)
            == spine_model::ExecutionStatus::Abandoned
            && let Some(d) = domains.iter_mut().find(|d| d.domain == e.domain)
        {
            d.abandoned_runs += 1;
        }
    }
    let mut table = Table::new([
        "domain",
        "partitions",
        "captures",
        "latest_capture",
        "open_anomalies",
        "ready",
        "not_ready",
        "abandoned_runs",
    ]);
    for d in &domains {
        table.push([
            d.domain.clone(),
            d.partitions.to_string(),
            d.captures.to_string(),
            d.latest_captured_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".into()),
            d.open_anomalies.to_string(),
            d.ready.to_string(),
            d.not_ready.to_string(),
            d.abandoned_runs.to_string(),
        ]);
    }
    if domains.is_empty() && ctx.format() == Format::Table {
        println!(
            "No data yet in {}. Ingest a week with `spine ingest finra-otc --file PATH`, or run `spine demo`.",
            spine_store::redact_url(&ctx.global.database_url)
        );
        return Ok(ExitCode::SUCCESS);
    }
    emit(ctx.format(), &table, Some(&serde_json::to_value(&domains)?))?;
    Ok(ExitCode::SUCCESS)
}
