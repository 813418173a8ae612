//! `spine demo`: a few generated weeks for all tiers, ingested with the calendar into an
//! embedded SQLite database, and what happened.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{DemoArgs, FinraIngestArgs};
use crate::commands::ingest::ingest_finra;
use crate::commands::{Context, status};
use crate::domains::finra_otc::generate::{GenConfig, generate};
use crate::output::{Format, Table, emit};

/// Runs `spine demo`.
pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let data = args.dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let files = generate(
        &GenConfig {
            weeks: args.weeks,
            ..GenConfig::default()
        },
        &data,
    )?;
    let db_path = args.dir.join("spine.db");
    let mut demo_ctx = ctx.clone();
    demo_ctx.global.database_url = format!("sqlite://{}?mode=rwc", db_path.display());
    let store = demo_ctx.open_store().await?;
    let mut table = Table::new([
        "file",
        "status",
        "rows_read",
        "rejected",
        "stage",
        "capture_id",
    ]);
    let mut reports = Vec::new();
    for f in &files {
        let report = ingest_finra(
            &demo_ctx,
            &store,
            &FinraIngestArgs {
                file: f.path.display().to_string(),
                tier: Some(f.tier),
                week_ending: Some(f.week_ending),
                lag_tier1_days: 14,
                lag_tier2_otc_days: 28,
            },
        )
        .await?;
        table.push([
            f.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            report.status.to_string(),
            report.rows_read.to_string(),
            report.rows_rejected.to_string(),
            report
                .stage
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            report.capture_id.clone(),
        ]);
        reports.push(report);
    }
    if ctx.format() == Format::Table {
        println!(
            "Market Spine demo: {} files generated in {}, ingested into {}\n",
            files.len(),
            data.display(),
            db_path.display()
        );
    }
    emit(ctx.format(), &table, Some(&serde_json::to_value(&reports)?))?;
    if ctx.format() == Format::Table {
        println!();
        status::run(&demo_ctx).await?;
        println!(
            "\nTry: spine --database-url sqlite://{}?mode=rwc query tier-split --week-ending {}",
            db_path.display(),
            files
                .last()
                .map(|f| f.week_ending.to_string())
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
