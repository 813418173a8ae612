//! `spine ingest finra-otc`: fetch, then every stage, then a summary.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{FinraIngestArgs, IngestCommand};
use crate::commands::Context;
use crate::domains::finra_otc::parse::PublicationLags;
use crate::domains::source::FetchOptions;
use crate::output::{Table, emit};
use crate::pipelines::finra_otc::{self, IngestReport, SourceRequest};

/// Runs a `spine ingest` command.
pub async fn run(ctx: &Context, cmd: IngestCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IngestCommand::FinraOtc(args) => {
            let store = ctx.open_store().await?;
            let report = ingest_finra(ctx, &store, &args).await?;
            print_report(ctx, &report)?;
            if report.status == "failed" {
                eprintln!(
                    "error: {} was captured but not processed: {}",
                    report.capture_id,
                    report.notes.join("; ")
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Fetches and ingests one FINRA file (shared by `ingest`, `run` and `demo`).
pub async fn ingest_finra(
    ctx: &Context,
    store: &spine_store::Store,
    args: &FinraIngestArgs,
) -> anyhow::Result<IngestReport> {
    let report = finra_otc::ingest_source(
        store,
        SourceRequest {
            source: args.file.clone(),
            tier: args.tier,
            week_ending: args.week_ending,
            lags: PublicationLags {
                nms_tier_1_days: args.lag_tier1_days,
                nms_tier_2_days: args.lag_tier2_otc_days,
                otc_days: args.lag_tier2_otc_days,
            },
            fetch: FetchOptions::default(),
            trigger: "cli".to_string(),
            run: ctx.run_context(),
        },
    )
    .await
    .context("ingest failed")?;
    Ok(report)
}

/// Prints an ingest report as a two-column table or as JSON.
pub fn print_report(ctx: &Context, report: &IngestReport) -> anyhow::Result<()> {
    let mut table = Table::new(["field", "value"]);
    table.push(["status", report.status]);
    table.push(["capture_id", report.capture_id.as_str()]);
    table.push(["partition_key", report.partition_key.as_str()]);
    table.push(["rows_read", &report.rows_read.to_string()]);
    table.push(["rows_accepted", &report.rows_accepted.to_string()]);
    table.push(["rows_rejected", &report.rows_rejected.to_string()]);
    for (reason, n) in &report.rejects_by_reason {
        table.push([format!("  {reason}"), n.to_string()]);
    }
    if let Some(prev) = &report.supersedes {
        table.push(["supersedes", prev.as_str()]);
    }
    table.push(["stage", report.stage.map(|s| s.as_str()).unwrap_or("-")]);
    table.push([
        "week_derivation",
        report.week_derivation["method"].as_str().unwrap_or("-"),
    ]);
    for a in &report.anomalies {
        let label = if a["resolved"] == true {
            "resolved"
        } else {
            "anomaly"
        };
        let severity = a["severity"].as_str().unwrap_or("");
        let line = format!("{severity} {}", a["message"].as_str().unwrap_or(""))
            .trim()
            .to_string();
        table.push([label.to_string(), line]);
    }
    for note in &report.notes {
        table.push(["note", note.as_str()]);
    }
    emit(ctx.format(), &table, Some(&serde_json::to_value(report)?))
}
