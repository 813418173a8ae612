//! `spine demo`: a few generated weeks for all tiers, ingested with the calendar into an
//! embedded SQLite database as FINRA would publish them, each week certified, and what happened.

use std::process::ExitCode;

use anyhow::Context as _;
use spine_engine::Clock;
use spine_engine::readiness::certify;
use spine_finra::parse::PublicationLags;
use spine_gen::{GenConfig, generate};
use spine_model::{Domain, PartitionKey, ReadyFor};

use crate::cli::{DemoArgs, FinraIngestArgs};
use crate::commands::ingest::ingest_finra;
use crate::commands::{Context, status};
use crate::output::{Format, Table, emit};

/// Runs `spine demo`.
pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let data = args.dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let mut files = generate(
        &GenConfig {
            weeks: args.weeks,
            ..GenConfig::default()
        },
        &data,
    )?;
    let db_path = args.dir.join("spine.db");
    let mut demo_ctx = ctx.clone();
    demo_ctx.global.database_url = format!("sqlite://{}?mode=rwc", db_path.display());
    let engine = demo_ctx.prepare_engine(false).await?;

    // Files are ingested in publication order.
    files.sort_by_key(|f| (f.last_update, f.tier));
    let mut table = Table::new([
        "file",
        "captured_at",
        "status",
        "rows_read",
        "rejected",
        "stage",
        "capture_id",
    ]);
    let mut reports = Vec::new();
    for f in &files {
        // Captured when FINRA publishes it (noon UTC on its lastUpdateDate), or at the command's
        // clock if that is earlier (a backfill): realistic, and reproducible with `--now`.
        let mut file_ctx = demo_ctx.clone();
        let published = f
            .last_update
            .and_hms_opt(12, 0, 0)
            .expect("noon exists")
            .and_utc();
        file_ctx.clock = Clock::fixed(published.min(ctx.clock.now()));
        let report = ingest_finra(
            &file_ctx,
            &engine,
            &FinraIngestArgs {
                file: f.path.display().to_string(),
                tier: Some(f.tier),
                week_ending: Some(f.week_ending),
                lag_tier1_days: PublicationLags::NMS_TIER_1_DAYS,
                lag_tier2_otc_days: PublicationLags::NMS_TIER_2_AND_OTC_DAYS,
            },
        )
        .await?;
        table.push([
            f.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            file_ctx.clock.now().to_rfc3339(),
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

    // Certify every week for trading, on the command's clock.
    let mut weeks: Vec<_> = files.iter().map(|f| f.week_ending).collect();
    weeks.sort();
    weeks.dedup();
    let domain = Domain::parse(Domain::FINRA_OTC)?;
    let mut verdicts = Table::new(["week_ending", "trading", "blocking_issues", "certified_at"]);
    let mut certifications = Vec::new();
    for week in &weeks {
        let cert = certify(
            &engine,
            &domain,
            &PartitionKey::week(*week),
            ReadyFor::Trading,
            "spine demo",
            &demo_ctx.run_context(),
        )
        .await?
        .certification;
        verdicts.push([
            week.to_string(),
            cert.status.to_string(),
            cert.blocking_issues.len().to_string(),
            cert.certified_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".into()),
        ]);
        certifications.push(cert);
    }

    if ctx.format() != Format::Table {
        let json = serde_json::json!({"ingested": reports, "readiness": certifications});
        emit(ctx.format(), &table, Some(&json))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Market Spine demo: {} files generated in {}, ingested into {}\n",
        files.len(),
        data.display(),
        db_path.display()
    );
    emit(ctx.format(), &table, None)?;
    println!();
    verdicts.write_aligned(&mut std::io::stdout())?;
    println!();
    status::run(&demo_ctx).await?;
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    let last = weeks.last().map(|w| w.to_string()).unwrap_or_default();
    println!("\nTry:");
    println!("  spine --database-url '{url}' query tier-split --week-ending {last}");
    println!(
        "  spine --database-url '{url}' readiness finra.otc_transparency --week-ending {last} --for compliance"
    );
    println!("  spine --database-url '{url}' anomalies list");
    Ok(ExitCode::SUCCESS)
}
