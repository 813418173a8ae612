//! Scenario: missed-run detection. For the week ending 2025-10-17 only NMS Tier 1 arrives (on
//! time, 2025-11-03). NMS Tier 2 and OTC were due Monday 2025-11-17 18:00 UTC; the schedule check
//! the next morning records ERROR SCHEDULE (missed) for each, once — checking again adds nothing.
//! NMS Tier 2 then arrives late: its missed anomaly is resolved automatically and WARN FRESHNESS
//! (late) is recorded, while OTC stays missed and the week stays NOT_READY.

use serde_json::json;
use spine_engine::RunContext;
use spine_engine::schedules::check;
use spine_model::{PartitionKey, ReadyFor, Tier};
use spine_scenarios::{
    anomalies_of, anomalies_view, assert_ran_on_every_backend, at, certify, config, date, file,
    finra, finra_anomalies, generate_into, ingest_at, ingest_on_time, load_calendars,
    operator_view, report, schedule_view, scrub, settings, verdict,
};
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn partitions_past_due_are_missed_once_and_late_when_they_arrive() {
    let week = date(2025, 10, 17);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(week, 1, Tier::ALL, &[]));
    let ran = for_each_backend(|db| {
        let files = files.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let key = PartitionKey::week(week);
            let mut steps = Vec::new();
            ingest_on_time(store, &file(&files, Tier::NmsTier1, week, 0)).await;

            // Tuesday morning: Tier 2 and OTC were due Monday 18:00.
            let first = check(
                store,
                &finra(),
                week,
                week,
                &RunContext::quiet(at(2025, 11, 18, 9, 0)),
            )
            .await
            .unwrap();
            assert_eq!(first.anomalies.len(), 2);
            steps.push(json!({
                "step": "schedule check 2025-11-18 09:00",
                "check": first,
                "operator_view": schedule_view(&first),
            }));
            let second = check(
                store,
                &finra(),
                week,
                week,
                &RunContext::quiet(at(2025, 11, 18, 9, 30)),
            )
            .await
            .unwrap();
            assert!(second.anomalies.is_empty(), "{}: no duplicates", db.backend);
            let all = anomalies_of(store, &finra()).await;
            assert_eq!(
                all.len(),
                2,
                "{}: still one anomaly per partition",
                db.backend
            );
            steps.push(json!({
                "step": "schedule check again at 09:30: nothing new",
                "anomalies_recorded_by_this_check": second.anomalies,
                "anomalies": finra_anomalies(store).await,
                "operator_view": anomalies_view(&all),
            }));

            // NMS Tier 2 arrives late.
            let late = ingest_at(
                store,
                &file(&files, Tier::NmsTier2, week, 0).path,
                at(2025, 11, 18, 10, 0),
            )
            .await;
            let all = anomalies_of(store, &finra()).await;
            let open: Vec<_> = all
                .iter()
                .filter(|a| a.resolved_at.is_none())
                .map(|a| {
                    (
                        a.category.as_str(),
                        a.cause.as_deref(),
                        a.partition_key.as_deref(),
                    )
                })
                .collect();
            assert_eq!(
                open,
                [
                    (
                        "SCHEDULE",
                        Some("missed"),
                        Some(r#"{"tier":"OTC","week_ending":"2025-10-17"}"#)
                    ),
                    (
                        "FRESHNESS",
                        Some("late"),
                        Some(r#"{"tier":"NMS_TIER_2","week_ending":"2025-10-17"}"#)
                    ),
                ],
                "{}",
                db.backend
            );
            let after = check(
                store,
                &finra(),
                week,
                week,
                &RunContext::quiet(at(2025, 11, 18, 10, 30)),
            )
            .await
            .unwrap();
            assert!(after.anomalies.is_empty());
            steps.push(json!({
                "step": "NMS_TIER_2 ingested late at 10:00",
                "ingest": report(&late),
                "anomalies": finra_anomalies(store).await,
                "operator_view": anomalies_view(&all),
                "schedule_check_at_10_30": schedule_view(&after),
            }));

            let trading = certify(store, &key, ReadyFor::Trading, at(2025, 11, 18, 10, 30)).await;
            let compliance =
                certify(store, &key, ReadyFor::Compliance, at(2025, 11, 18, 10, 30)).await;
            assert!(!trading.is_ready && !compliance.is_ready);
            steps.push(json!({
                "step": "readiness at 10:30 (trading, compliance)",
                "readiness": [verdict(&trading), verdict(&compliance)],
                "operator_view_compliance": operator_view(&compliance),
            }));

            settings().bind(|| {
                insta::assert_json_snapshot!(
                    "missed_run_detection",
                    scrub(json!({ "steps": steps }))
                );
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
