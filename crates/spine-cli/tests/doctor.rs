//! `spine doctor` on data built by the real pipelines: a clean week, a week whose Tier 1 file
//! broke a business rule, and a newest week still waiting for Tier 2 and OTC.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use spine_engine::RunContext;
use spine_engine::doctor::{MissingStatus, diagnose};
use spine_gen::{Fault, GenConfig, GeneratedFile, generate};
use spine_model::{Domain, Tier};
use spine_store::Store;
use spine_store::test_support::for_each_backend;

async fn ingest_at(store: &Store, f: &GeneratedFile, at: DateTime<Utc>) {
    common::ingest(store, f, at).await;
}

fn published(f: &GeneratedFile) -> DateTime<Utc> {
    f.last_update.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

#[tokio::test]
async fn doctor_separates_broken_weeks_from_waiting_ones_and_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = GenConfig {
        weeks: 2,
        symbols: 80,
        mpids: 10,
        seed: 5,
        first_week_ending: NaiveDate::from_ymd_opt(2025, 12, 5).unwrap(),
        faults: vec![Fault::ZeroVolume],
        ..GenConfig::default()
    };
    let files = generate(&config, dir.path()).unwrap();
    let clean_dir = dir.path().join("clean");
    std::fs::create_dir_all(&clean_dir).unwrap();
    let clean = generate(
        &GenConfig {
            faults: vec![],
            ..config.clone()
        },
        &clean_dir,
    )
    .unwrap();
    let week1 = NaiveDate::from_ymd_opt(2025, 12, 5).unwrap();
    let week2 = NaiveDate::from_ymd_opt(2025, 12, 12).unwrap();
    for_each_backend(|db| {
        let files = files.clone();
        let clean = clean.clone();
        async move {
            let store = &db.store;
            let loaded_at = Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap();
            common::load_calendars(store, loaded_at).await;
            // Week 1: every tier clean and on time. Week 2: Tier 1 arrives with zero-share
            // rows (NORMALIZED fails); Tier 2 and OTC are not due yet at the doctor's clock.
            for f in clean.iter().filter(|f| f.week_ending == week1) {
                ingest_at(store, f, published(f)).await;
            }
            let broken = files
                .iter()
                .find(|f| f.week_ending == week2 && f.tier == Tier::NmsTier1)
                .unwrap();
            ingest_at(store, broken, published(broken)).await;

            // After week 1 is past its preliminary window, before week 2's Tier 2/OTC are due.
            let now = Utc.with_ymd_and_hms(2026, 1, 8, 9, 0, 0).unwrap();
            let domain = Domain::parse(Domain::FINRA_OTC).unwrap();
            let report = diagnose(&common::engine(store), &domain, 4, &RunContext::quiet(now))
                .await
                .unwrap();

            let by_week = |w| report.weeks.iter().find(|d| d.week_ending == w).unwrap();
            assert_eq!(
                by_week(week1).summary,
                "READY",
                "{}: {:?}",
                db.backend,
                by_week(week1).readiness[0].blocking_issues
            );
            let w2 = by_week(week2);
            assert!(w2.summary.starts_with("NOT READY"), "{}", w2.summary);
            let incomplete = w2
                .missing
                .iter()
                .find(|m| m.status == MissingStatus::Incomplete)
                .unwrap();
            assert_eq!(incomplete.stopped_at, Some(spine_model::Stage::Raw));
            assert!(
                incomplete.remedy.contains("--severity CRITICAL"),
                "{}",
                incomplete.remedy
            );
            assert_eq!(
                w2.missing
                    .iter()
                    .filter(|m| m.status == MissingStatus::Pending)
                    .count(),
                2
            );
            assert!(report.blocking);
            assert_eq!(
                report.open_anomalies[0].severity,
                spine_model::Severity::Critical
            );
            assert!(
                report
                    .remediation
                    .iter()
                    .any(|r| r.contains("spine anomalies list"))
            );

            // Doctor is read-only: the audit trail is untouched.
            assert!(
                spine_store::readiness::history(store.conn(), &domain, None, None)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    })
    .await;
}
