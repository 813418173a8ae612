//! Scenario: partial venue coverage. Five clean weeks (2025-09-12 … 2025-10-10) ingested on
//! time build each tier's venue baseline; in the sixth week (2025-10-17) NMS Tier 1 reports only
//! ~40% of its venues. CALC records the venue-coverage anomaly with the current count and the
//! baseline's p10/p50/p90 — an ERROR, since 4 of a median 10 is below the completeness policy's
//! 50% — and the HHI caveat WARN INCOMPLETE_INPUT. The week also lost more than half of its rows
//! against the tier's trailing baseline, which the landing step's completeness check records as
//! ERROR COMPLETENESS (with both numbers and the weeks used). Compliance, which must report the
//! complete week, is blocked; trading and research are READY_WITH_WARNINGS, and the warnings say
//! why.

use serde_json::json;
use spine_gen::Fault;
use spine_model::{PartitionKey, Tier};
use spine_scenarios::{
    assert_ran_on_every_backend, at, certify_all_uses, config, date, file, finra_anomalies,
    generate_into, ingest_on_time, load_calendars, operator_view, scrub, settings, verdict,
};
use spine_store::finra_otc as repo;
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn a_week_with_few_venues_is_flagged_and_blocked_for_compliance_only() {
    let first = date(2025, 9, 12);
    let week = date(2025, 10, 17);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(
        dir.path(),
        &config(first, 6, Tier::ALL, &[Fault::LowVenueCoverage]),
    );
    let ran = for_each_backend(|db| {
        let files = files.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            // Every file is captured when FINRA publishes it: on time.
            let mut by_publication: Vec<_> = files.iter().collect();
            by_publication.sort_by_key(|f| (f.last_update, f.tier));
            let mut history = Vec::new();
            for f in by_publication {
                let r = ingest_on_time(store, f).await;
                let venues = repo::venue_share(store.conn(), &r.capture_id)
                    .await
                    .unwrap();
                history.push(json!({
                    "partition_key": r.partition.canonical(),
                    "status": r.status,
                    "stage": r.stage,
                    "venues": venues.len(),
                    "anomalies_recorded": r.anomalies.len(),
                }));
            }
            let faulty = file(&files, Tier::NmsTier1, week, 0);
            let anomalies = finra_anomalies(store).await;
            let categories: Vec<_> = anomalies
                .iter()
                .map(|a| (a["severity"].clone(), a["category"].clone()))
                .collect();
            assert_eq!(
                categories,
                [
                    (json!("ERROR"), json!("COMPLETENESS")),
                    (json!("WARN"), json!("INCOMPLETE_INPUT")),
                    (json!("ERROR"), json!("COMPLETENESS"))
                ],
                "{}",
                db.backend
            );

            // The HHI caveat names the baseline median it compares against.
            let hhi_caveat = anomalies[1]["message"].as_str().unwrap_or_default();
            assert!(
                hhi_caveat.contains("against a baseline median of 10"),
                "{}: the HHI caveat must name the baseline median, got: {hhi_caveat}",
                db.backend
            );

            let certs =
                certify_all_uses(store, &PartitionKey::week(week), at(2025, 11, 20, 9, 0)).await;
            let ready: Vec<bool> = certs.iter().map(|c| c.is_ready).collect();
            // ReadyFor::ALL order: trading, compliance, research.
            assert_eq!(ready, [true, false, true], "{}", db.backend);
            assert!(certs.iter().all(|c| !c.warnings.is_empty() || !c.is_ready));
            assert!(
                certs[1]
                    .blocking_issues
                    .iter()
                    .any(|i| i.contains("accepted rows")),
                "{:?}",
                certs[1].blocking_issues
            );

            settings().bind(|| {
                insta::assert_json_snapshot!(
                    "partial_venue_coverage",
                    scrub(json!({
                        "injected": faulty.faults,
                        "ingested_in_publication_order": history,
                        "anomalies": anomalies,
                        "readiness_2025_11_20": certs.iter().map(verdict).collect::<Vec<_>>(),
                        "operator_view_trading": operator_view(&certs[0]),
                    }))
                );
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
