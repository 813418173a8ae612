//! `spine pipelines` and `spine run <pipeline>`: every stage by its registered name.

use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::{FinraIngestArgs, RunArgs};
use crate::commands::Context;
use crate::commands::ingest::{ingest_finra, print_report};
use crate::output::{Table, emit};
use crate::pipelines::{exchange_calendar, finra_otc};

/// The registered pipelines: (name, what it needs, what it does).
pub const REGISTRY: &[(&str, &str, &str)] = &[
    (
        finra_otc::INGEST,
        "--file [--tier] [--week-ending]",
        "fetch a FINRA OTC weekly file and run RAW → NORMALIZED → CALC",
    ),
    (
        finra_otc::NORMALIZE,
        "--week-ending --tier",
        "re-run NORMALIZED (and CALC) for the latest capture from its RAW rows",
    ),
    (
        finra_otc::CALC,
        "--week-ending --tier",
        "recompute the calcs of the latest capture from its NORMALIZED rows",
    ),
    (
        exchange_calendar::INGEST,
        "--file",
        "ingest an exchange holiday file and its trading-day counts",
    ),
];

/// Runs `spine pipelines`.
pub fn list(ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut table = Table::new(["pipeline", "arguments", "description"]);
    for (name, args, what) in REGISTRY {
        table.push([*name, *args, *what]);
    }
    emit(ctx.format(), &table, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `spine run <pipeline>`.
pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    let partition = || -> anyhow::Result<_> {
        match (args.week_ending, args.tier) {
            (Some(w), Some(t)) => Ok((w, t)),
            _ => bail!("{} needs --week-ending and --tier", args.pipeline),
        }
    };
    match args.pipeline.as_str() {
        finra_otc::INGEST => {
            let Some(file) = args.file.clone() else {
                bail!("{} needs --file", finra_otc::INGEST);
            };
            let report = ingest_finra(
                ctx,
                &store,
                &FinraIngestArgs {
                    file,
                    tier: args.tier,
                    week_ending: args.week_ending,
                    lag_tier1_days: 14,
                    lag_tier2_otc_days: 28,
                },
            )
            .await?;
            print_report(ctx, &report)?;
        }
        finra_otc::NORMALIZE => {
            let (week, tier) = partition()?;
            let capture = finra_otc::resolve_capture(&store, week, tier, None).await?;
            let calcs = finra_otc::normalize(&store, &capture, &ctx.run_context()).await?;
            let notes = finra_otc::calc(&store, &capture, Some(calcs.calcs), &ctx.run_context())
                .await?
                .notes;
            print_stage(ctx, finra_otc::NORMALIZE, &capture.capture_id, &notes)?;
        }
        finra_otc::CALC => {
            let (week, tier) = partition()?;
            let capture = finra_otc::resolve_capture(&store, week, tier, None).await?;
            let notes = finra_otc::calc(&store, &capture, None, &ctx.run_context())
                .await?
                .notes;
            print_stage(ctx, finra_otc::CALC, &capture.capture_id, &notes)?;
        }
        exchange_calendar::INGEST => {
            let Some(file) = &args.file else {
                bail!("{} needs --file", exchange_calendar::INGEST);
            };
            let text =
                std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
            let report = exchange_calendar::ingest(&store, &text, file, ctx.clock.now()).await?;
            emit(
                ctx.format(),
                &Table::new(["status"]),
                Some(&serde_json::to_value(&report)?),
            )?;
        }
        other => {
            let known: Vec<&str> = REGISTRY.iter().map(|(n, _, _)| *n).collect();
            bail!(
                "unknown pipeline `{other}`; registered: {} (see `spine pipelines`)",
                known.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stage(
    ctx: &Context,
    pipeline: &str,
    capture_id: &str,
    notes: &[String],
) -> anyhow::Result<()> {
    let mut table = Table::new(["pipeline", "capture_id", "result"]);
    let result = if notes.is_empty() {
        "complete".to_string()
    } else {
        notes.join("; ")
    };
    table.push([pipeline, capture_id, result.as_str()]);
    let json = serde_json::json!({"pipeline": pipeline, "capture_id": capture_id, "complete": notes.is_empty(), "notes": notes});
    emit(ctx.format(), &table, Some(&json))
}
