//! `spine ingest finra-otc`: fetch, then every stage, then a summary.

use std::process::ExitCode;

use anyhow::Context as _;
use spine_engine::capture::{self, SourceRequest};
use spine_engine::source::FetchOptions;
use spine_engine::{CaptureReport, Engine};
use spine_finra::parse::PublicationLags;
use spine_finra::{FinraDetail, FinraDomain};
use spine_model::{IngestStatus, PartitionKey};

use crate::cli::{FinraIngestArgs, IngestCommand};
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs a `spine ingest` command.
pub async fn run(ctx: &Context, cmd: IngestCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IngestCommand::FinraOtc(args) => {
            // A mistyped path must not leave a new, empty database behind: look first.
            let locator = spine_engine::source::SourceLocator::parse(&args.file)
                .map_err(|e| crate::errors::usage(e.to_string()))?;
            if let spine_engine::source::SourceLocator::File(path) = &locator
                && let Err(e) = std::fs::metadata(path)
            {
                anyhow::bail!("cannot read {}: {e}", path.display());
            }
            let engine = ctx.prepare_engine(false).await?;
            let report = ingest_finra(ctx, &engine, &args).await?;
            print_report(ctx, &report)?;
            if report.status == IngestStatus::Failed {
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

/// The partition an operator named with `--tier` / `--week-ending` (either may be absent).
pub fn hint(args: &FinraIngestArgs) -> PartitionKey {
    let mut hint = PartitionKey::new();
    if let Some(week) = args.week_ending {
        hint = hint.with(
            PartitionKey::WEEK_ENDING,
            week.format("%Y-%m-%d").to_string(),
        );
    }
    if let Some(tier) = args.tier {
        hint = hint.with(PartitionKey::TIER, tier.as_str());
    }
    hint
}

/// Fetches and ingests one FINRA file through the engine (shared by `ingest` and `demo`).
pub async fn ingest_finra(
    ctx: &Context,
    engine: &Engine,
    args: &FinraIngestArgs,
) -> anyhow::Result<CaptureReport> {
    let finra = FinraDomain::with_lags(PublicationLags::new(
        args.lag_tier1_days,
        args.lag_tier2_otc_days,
    ));
    let report = capture::ingest(
        engine,
        &finra,
        SourceRequest {
            source: args.file.clone(),
            hint: hint(args),
            fetch: FetchOptions::default(),
            trigger: "cli".to_string(),
            run: ctx.run_context(),
        },
    )
    .await
    .context("ingest failed")?;
    Ok(report)
}

/// Prints a capture report as a two-column table or as JSON.
pub fn print_report(ctx: &Context, report: &CaptureReport) -> anyhow::Result<()> {
    let mut table = Table::new(["field", "value"]);
    table.push(["status", report.status.as_str()]);
    table.push(["capture_id", report.capture_id.as_str()]);
    table.push(["partition_key", &report.partition.canonical()]);
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
    if let Some(finra) = report.detail_as::<FinraDetail>() {
        table.push(["week_derivation", finra.week_derivation.method()]);
    }
    if let Some(cal) = report.detail_as::<spine_calendar::CalendarDetail>() {
        calendar_rows(&mut table, cal);
    }
    for a in &report.anomalies {
        let (label, line) = if a.resolved {
            ("resolved", a.message.clone())
        } else {
            ("anomaly", format!("{} {}", a.severity, a.message))
        };
        table.push([label.to_string(), line]);
    }
    for note in &report.notes {
        table.push(["note", note.as_str()]);
    }
    emit(ctx.format(), &table, Some(&serde_json::to_value(report)?))
}

/// The rows a calendar capture adds to its report: holidays, trading days, what changed.
pub fn calendar_rows(table: &mut Table, cal: &spine_calendar::CalendarDetail) {
    table.push(["holidays", &cal.holidays.to_string()]);
    table.push([
        "trading_days_in_year",
        &cal.trading_days_in_year.to_string(),
    ]);
    for w in &cal.changed_weeks {
        table.push([
            "changed_week".to_string(),
            format!(
                "{}: {} → {} trading days",
                w.week_ending, w.previous_trading_days, w.trading_days
            ),
        ]);
    }
    for d in &cal.dependents {
        let (status, table_name, partition) = match d {
            spine_calendar::DependentCalc::Stale {
                calc_table,
                calc_partition,
                ..
            } => ("stale", calc_table, calc_partition),
            spine_calendar::DependentCalc::Revalidated {
                calc_table,
                calc_partition,
            } => ("revalidated", calc_table, calc_partition),
        };
        table.push([
            format!("dependent ({status})"),
            format!("{table_name} {partition}"),
        ]);
    }
}
