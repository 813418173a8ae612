//! `spine demo`: a few generated weeks for all tiers, ingested with the calendar into an
//! embedded SQLite database as FINRA would publish them, each week certified, and what happened.

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use spine_engine::Clock;
use spine_engine::readiness::certify;
use spine_finra::parse::PublicationLags;
use spine_gen::{GenConfig, generate};
use spine_model::{Domain, PartitionKey, ReadyFor, Tier};

use crate::cli::{DemoArgs, FinraIngestArgs};
use crate::commands::ingest::ingest_finra;
use crate::commands::{Context, status};
use crate::output::{Format, Table, emit};

/// Runs `spine demo`.
pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let data = args.dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    // The demo lives on its clock (`--now`, else the system clock): it generates the weeks
    // FINRA would have published by then, and only those files, so `doctor`, `schedules check`
    // and `readiness` run later on the same clock agree with what the demo printed.
    let clock = ctx.clock.now();
    let plan = DemoWeeks::ending_before(clock, args.weeks);
    let mut files = generate(
        &GenConfig {
            weeks: plan.generated,
            first_week_ending: plan.first_week_ending,
            ..GenConfig::default()
        },
        &data,
    )?;
    // What FINRA has not published by the clock does not exist yet.
    files.retain(|f| {
        let published = published_at(f.last_update) <= clock;
        if !published {
            let _ = std::fs::remove_file(&f.path);
        }
        published
    });
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
        file_ctx.clock = Clock::fixed(published_at(f.last_update).min(clock));
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

    // Certify every week whose tiers have all been published, on the command's clock; the
    // newer weeks have only their first tier so far, and are not due yet.
    let weeks: Vec<_> = plan.fully_published.clone();
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
        "Market Spine demo: {} files generated in {}, ingested into {}",
        files.len(),
        data.display(),
        db_path.display()
    );
    println!(
        "Clock: {} ({}); every file is captured when FINRA would have published it, \
         and pass the same --now to explore the database on this clock.\n",
        clock.to_rfc3339(),
        if ctx.clock.is_fixed() {
            "--now"
        } else {
            "the system clock"
        }
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
    println!("  spine --database-url '{url}' doctor finra.otc_transparency");
    Ok(ExitCode::SUCCESS)
}

/// When the demo says FINRA published a file: noon UTC on its `lastUpdateDate`.
fn published_at(last_update: NaiveDate) -> DateTime<Utc> {
    last_update
        .and_hms_opt(12, 0, 0)
        .expect("noon exists")
        .and_utc()
}

/// Which weeks the demo generates for its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DemoWeeks {
    /// The Friday ending the first generated week.
    first_week_ending: NaiveDate,
    /// How many weeks to generate: the fully published ones and the newer ones of which only
    /// NMS Tier 1 is out (FINRA publishes it two weeks before the other tiers).
    generated: u32,
    /// The weeks every tier of which is published by the clock, oldest first.
    fully_published: Vec<NaiveDate>,
}

impl DemoWeeks {
    /// The `weeks` most recent fully published weeks before `clock`, and the newer weeks with a
    /// published tier.
    fn ending_before(clock: DateTime<Utc>, weeks: u32) -> DemoWeeks {
        let published = |tier: Tier, week: NaiveDate| {
            published_at(spine_gen::last_update_date(tier, week)) <= clock
        };
        // The latest Friday with any tier out (NMS Tier 1 is always first).
        let mut newest = clock.date_naive();
        while newest.weekday() != Weekday::Fri || !published(Tier::NmsTier1, newest) {
            newest = newest - Days::new(1);
        }
        let mut latest_full = newest;
        while !Tier::ALL.iter().all(|t| published(*t, latest_full)) {
            latest_full = latest_full - Days::new(7);
        }
        let partial = ((newest - latest_full).num_days() / 7) as u32;
        let first_week_ending = latest_full - Days::new(7 * u64::from(weeks - 1));
        DemoWeeks {
            first_week_ending,
            generated: weeks + partial,
            fully_published: (0..weeks)
                .map(|i| first_week_ending + Days::new(7 * u64::from(i)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_demo_weeks_end_before_its_clock() {
        // Tuesday 1 December 2026: NMS Tier 1 of the week ending 13 November came out on
        // Monday 30 November; every tier of the week ending 30 October did.
        let plan = DemoWeeks::ending_before(at("2026-12-01T09:00:00Z"), 3);
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            plan.fully_published,
            [d("2026-10-16"), d("2026-10-23"), d("2026-10-30")]
        );
        assert_eq!(plan.generated, 5);
        assert_eq!(plan.first_week_ending, d("2026-10-16"));
        // Before noon on a publication Monday, that Monday's files are not out yet.
        let plan = DemoWeeks::ending_before(at("2026-11-30T11:59:00Z"), 1);
        assert_eq!(plan.fully_published, [d("2026-10-23")]);
        assert_eq!(plan.generated, 3);
    }
}
