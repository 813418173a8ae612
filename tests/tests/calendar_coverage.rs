//! Calendars for every year FINRA has data for: a 2027 week (past the three hand-written files
//! Market Spine used to ship) is computed with the rule-derived XNYS calendar, holidays included;
//! a week outside the covered years is an ERROR that names the missing calendar, blocks
//! readiness, and the doctor says which command fixes it.

use spine_engine::RunContext;
use spine_engine::doctor::diagnose;
use spine_engine::readiness::evaluate_only;
use spine_model::{PartitionKey, ReadyFor, Stage, Tier};
use spine_scenarios::{
    assert_ran_on_every_backend, at, config, date, engine, finra, generate_into, ingest_on_time,
    load_calendars,
};
use spine_store::anomalies::{self, AnomalyFilter};
use spine_store::finra_otc as repo;
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn a_2027_holiday_week_is_counted_from_the_computed_calendar() {
    // Friday 2027-12-24 is Christmas observed: the week ending 2027-12-31 has 4 trading days
    // (Mon 27 – Thu 30 and Fri 31 open; Dec 24 belongs to the week before), and the week ending
    // 2027-12-24 has 4 (Mon 20 – Thu 23).
    let week = date(2027, 12, 24);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(week, 1, &[Tier::Otc], &[]));
    let ran = for_each_backend(|db| {
        let files = files.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let report = ingest_on_time(store, &files[0]).await;
            assert_eq!(report.stage, Some(Stage::Calc), "{:?}", report.notes);
            let (rows, calendar) = repo::volume_per_day(store.conn(), &report.capture_id, None)
                .await
                .unwrap();
            assert!(calendar.is_some());
            assert!(rows.iter().all(|r| r.trading_days == 4), "{}", db.backend);
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}

#[tokio::test]
async fn a_week_no_calendar_covers_names_the_missing_calendar_and_blocks() {
    let week = date(2040, 3, 9);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(week, 1, Tier::ALL, &[]));
    let ran = for_each_backend(|db| {
        let files = files.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let mut by_publication: Vec<_> = files.iter().collect();
            by_publication.sort_by_key(|f| (f.last_update, f.tier));
            for f in by_publication {
                let r = ingest_on_time(store, f).await;
                assert_eq!(r.stage, Some(Stage::Normalized), "{}", db.backend);
            }
            let missing = anomalies::list(
                store.conn(),
                &AnomalyFilter {
                    domain: Some(finra()),
                    unresolved_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let calendar: Vec<_> = missing
                .iter()
                .filter(|a| a.cause.as_deref() == Some("calendar_missing"))
                .collect();
            assert_eq!(calendar.len(), 3, "one per tier");
            assert_eq!(calendar[0].severity, "ERROR");
            assert!(
                calendar[0].message.contains("no XNYS calendar covers 2040"),
                "{}",
                calendar[0].message
            );
            let now = at(2040, 5, 1, 9, 0);
            for use_ in [ReadyFor::Trading, ReadyFor::Compliance] {
                let verdict = evaluate_only(
                    &engine(store),
                    &finra(),
                    &PartitionKey::week(week),
                    use_,
                    &RunContext::quiet(now),
                )
                .await
                .unwrap();
                assert!(!verdict.is_ready, "{use_}");
            }
            let doctor = diagnose(&engine(store), &finra(), 1, &RunContext::quiet(now))
                .await
                .unwrap();
            assert!(doctor.blocking);
            assert!(
                doctor
                    .remediation
                    .iter()
                    .any(|r| r == "spine calendar ingest --file <XNYS 2040 holiday file>"),
                "{:?}",
                doctor.remediation
            );
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
