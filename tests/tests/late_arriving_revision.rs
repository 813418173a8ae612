//! Scenario: late-arriving revision. The week ending 2025-10-17 is ingested on time and
//! certified READY for trading once past the preliminary window. Three days after publishing it,
//! FINRA re-delivers the OTC file re-stamped (a few symbols removed and added, some volumes
//! changed). The new capture supersedes the old one: INFO FRESHNESS with both capture ids, the
//! symbol counts, the symbols added and removed and the HHI moves; readiness is re-judged on the
//! new capture (NOT_READY inside its preliminary window, then certified again with a new
//! certified_at and new captures_judged), and the readiness history keeps every change of
//! verdict, with both clocks: the desk's 13:00 check finds what the automatic re-evaluation at
//! 12:00 found, so it appends nothing.

use serde_json::json;
use spine_gen::Fault;
use spine_model::{Category, PartitionKey, ReadyFor, Stage, Tier};
use spine_scenarios::{
    assert_ran_on_every_backend, at, certify, config, date, file, finra, finra_anomalies,
    generate_into, ingest_on_time, load_calendars, operator_view, report, scrub, settings, verdict,
};
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn a_revision_after_certification_is_recorded_and_re_certified() {
    let week = date(2025, 10, 17);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(week, 1, Tier::ALL, &[Fault::Revision]));
    let ran = for_each_backend(|db| {
        let files = files.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let key = PartitionKey::week(week);
            let mut steps = Vec::new();

            for tier in Tier::ALL {
                let r = ingest_on_time(store, &file(&files, *tier, week, 0)).await;
                assert_eq!(r.stage, Some(Stage::Calc));
            }
            let certified = certify(store, &key, ReadyFor::Trading, at(2025, 11, 20, 9, 0)).await;
            assert!(certified.is_ready);
            steps.push(json!({
                "step": "originals on time; readiness on 2025-11-20 09:00 (trading)",
                "readiness": verdict(&certified),
            }));

            // FINRA re-stamps OTC on Thursday 2025-11-20; it is captured at noon.
            let revised_file = file(&files, Tier::Otc, week, 1);
            let revised = ingest_on_time(store, &revised_file).await;
            assert_eq!(revised.status, spine_model::IngestStatus::Revised);
            let anomalies = finra_anomalies(store).await;
            let revision_anomalies: Vec<_> = anomalies
                .iter()
                .filter(|a| a["category"] == json!(Category::Freshness.as_str()))
                .filter(|a| a["cause"] == "revision")
                .collect();
            assert_eq!(
                revision_anomalies.len(),
                1,
                "{}: a revision records one INFO FRESHNESS anomaly, found {anomalies:#?}",
                db.backend
            );
            steps.push(json!({
                "step": "OTC revision captured 2025-11-20 12:00",
                "injected": revised_file.faults,
                "ingest": report(&revised),
                "anomalies": anomalies,
            }));

            let inside = certify(store, &key, ReadyFor::Trading, at(2025, 11, 20, 13, 0)).await;
            assert!(!inside.is_ready);
            steps.push(json!({
                "step": "readiness at 13:00 (trading): the revision is preliminary",
                "readiness": verdict(&inside),
            }));

            let recertified = certify(store, &key, ReadyFor::Trading, at(2025, 11, 23, 9, 0)).await;
            assert!(recertified.is_ready);
            assert_ne!(recertified.certified_at, certified.certified_at);
            assert_ne!(recertified.captures_judged, certified.captures_judged);
            assert!(recertified.captures_judged.contains(&revised.capture_id));
            steps.push(json!({
                "step": "readiness on 2025-11-23 09:00 (trading): re-certified on the revision",
                "readiness": verdict(&recertified),
                "operator_view": operator_view(&recertified),
            }));

            let rows = spine_store::readiness::history(store.conn(), &finra(), None, None)
                .await
                .unwrap();
            // Written in as-of order here, so the wall clock never runs backwards along them.
            assert!(
                rows.windows(2)
                    .all(|w| w[0].recorded_at <= w[1].recorded_at)
            );
            let history: Vec<_> = rows
                .into_iter()
                .map(|h| {
                    json!({
                        "partition_key": h.partition_key,
                        "ready_for": h.ready_for,
                        "evaluated_at": h.evaluated_at,
                        "recorded_at": h.recorded_at,
                        "backdated": h.backdated,
                        "evaluated_by": h.evaluated_by,
                        "status": h.status,
                        "is_ready": h.is_ready,
                        "captures_judged": h.captures_judged,
                        "certified_at": h.certified_at,
                        "blocking_issues": h.blocking_issues,
                    })
                })
                .collect();
            assert_eq!(history.len(), 3);

            settings().bind(|| {
                insta::assert_json_snapshot!(
                    "late_arriving_revision",
                    scrub(json!({ "steps": steps, "readiness_history": history }))
                );
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
