//! Scenario: full readiness pass. Every tier of the week ending 2025-10-17 arrives on time (Tier
//! 1 on 2025-11-03, Tier 2 and OTC on 2025-11-17), nothing is wrong with the data, and on
//! 2025-11-20 — past the 48 h preliminary window — the week is READY for trading, compliance and
//! research: all five criteria hold, certified_at and certified_by are set, and captures_judged
//! names the captures the verdict rests on: the three tier captures and the calendar capture
//! their calcs consumed. Re-running the check later keeps the original
//! certification (same captures, same certificate) and, the outcome being the same, appends no
//! history row: the current verdict stays the one reached on 2025-11-20 and its
//! `last_checked_at` moves to the re-check.

use serde_json::json;
use spine_model::{PartitionKey, ReadinessStatus, ReadyFor, Tier};
use spine_scenarios::{
    CERTIFIER, assert_ran_on_every_backend, at, certify, certify_all_uses, config, date, file,
    finra, finra_anomalies, generate_into, ingest_on_time, load_calendars, operator_view, report,
    scrub, settings, verdict,
};
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn a_clean_on_time_week_is_certified_for_every_use() {
    let week = date(2025, 10, 17);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(week, 1, Tier::ALL, &[]));
    let ran = for_each_backend(|db| {
        let files = files.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let key = PartitionKey::week(week);
            let mut ingested = Vec::new();
            let mut capture_ids = Vec::new();
            for tier in Tier::ALL {
                let r = ingest_on_time(store, &file(&files, *tier, week, 0)).await;
                capture_ids.push(r.capture_id.clone());
                ingested.push(report(&r));
            }
            // The verdict rests on the three tier captures and on the calendar capture their
            // volume-per-day calcs consumed.
            let (_, calendar) =
                spine_store::finra_otc::volume_per_day(store.conn(), &capture_ids[0], None)
                    .await
                    .unwrap();
            let mut judged = capture_ids.clone();
            judged.push(calendar.expect("volume per day names its calendar capture"));
            judged.sort();
            let anomalies = finra_anomalies(store).await;
            assert!(anomalies.is_empty(), "{}: {anomalies:#?}", db.backend);

            let certs = certify_all_uses(store, &key, at(2025, 11, 20, 9, 0)).await;
            for c in &certs {
                assert_eq!(
                    c.status,
                    ReadinessStatus::Ready,
                    "{}: {:?}",
                    db.backend,
                    c.ready_for
                );
                assert!(c.criteria.all());
                assert_eq!(c.captures_judged, judged);
                assert_eq!(c.certified_at, Some(at(2025, 11, 20, 9, 0)));
                assert_eq!(c.certified_by.as_deref(), Some(CERTIFIER));
            }
            // The next day's routine check re-judges the same captures: the certificate stands.
            let again = certify(store, &key, ReadyFor::Trading, at(2025, 11, 21, 9, 0)).await;
            assert_eq!(again.certified_at, certs[0].certified_at);
            let history = spine_store::readiness::history(store.conn(), &finra(), None, None)
                .await
                .unwrap();
            assert_eq!(
                history.len(),
                3,
                "one row per use; the re-check appends none"
            );
            let current: Vec<_> =
                spine_store::readiness::list_current(store.conn(), Some(&finra()))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| {
                        json!({
                            "partition_key": r.partition_key,
                            "ready_for": r.ready_for,
                            "status": r.status,
                            "evaluated_at": r.evaluated_at,
                            "last_checked_at": r.last_checked_at,
                            "certified_at": r.certified_at,
                            "certified_by": r.certified_by,
                            "captures_judged": r.captures_judged,
                        })
                    })
                    .collect();

            settings().bind(|| {
                insta::assert_json_snapshot!(
                    "full_readiness_pass",
                    scrub(json!({
                        "ingested_on_time": ingested,
                        "anomalies": anomalies,
                        "readiness_2025_11_20": certs.iter().map(verdict).collect::<Vec<_>>(),
                        "operator_view": certs.iter().map(operator_view).collect::<Vec<_>>(),
                        "recheck_2025_11_21_trading": verdict(&again),
                        "current_status": current,
                    }))
                );
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
