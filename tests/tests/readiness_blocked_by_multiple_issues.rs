//! Scenario: readiness blocked by multiple issues. The week ending 2025-10-17 is missing its NMS
//! Tier 2 file (never delivered, so past its due time it is missed), its OTC file breaks the
//! trades-without-shares rule (CRITICAL BUSINESS_RULE, NORMALIZED refused), and the OTC capture
//! is still inside its 48 h preliminary window. Certified the next morning, the week is
//! NOT_READY for every use, and each verdict lists every blocking issue: the missing tier, the
//! stage OTC stopped at, the unresolved CRITICAL (and, for compliance, the ERROR SCHEDULE), and
//! the preliminary window. Only NMS Tier 1 is judged clean.

use serde_json::json;
use spine_gen::Fault;
use spine_model::{PartitionKey, ReadyFor, Tier};
use spine_scenarios::{
    anomalies_of, anomalies_view, anomaly, assert_ran_on_every_backend, at, certify_all_uses,
    config, date, file, finra, generate_into, ingest_on_time, load_calendars, operator_view,
    report, scrub, settings, verdict,
};
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn every_blocking_issue_is_listed_for_every_use() {
    let week = date(2025, 10, 17);
    let tiers_dir = tempfile::tempdir().unwrap();
    let otc_dir = tempfile::tempdir().unwrap();
    // Tier 1 is delivered, Tier 2 is withheld (`missing-tier`); OTC has zero-share rows.
    let delivered = generate_into(
        tiers_dir.path(),
        &config(
            week,
            1,
            &[Tier::NmsTier1, Tier::NmsTier2],
            &[Fault::MissingTier],
        ),
    );
    assert!(delivered.iter().all(|f| f.tier != Tier::NmsTier2));
    let otc = generate_into(
        otc_dir.path(),
        &config(week, 1, &[Tier::Otc], &[Fault::ZeroVolume]),
    );
    let ran = for_each_backend(|db| {
        let (delivered, otc) = (delivered.clone(), otc.clone());
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let nms1 = file(&delivered, Tier::NmsTier1, week, 0);
            let bad_otc = file(&otc, Tier::Otc, week, 0);
            let ingested = vec![
                report(&ingest_on_time(store, &nms1).await),
                report(&ingest_on_time(store, &bad_otc).await),
            ];

            // Tuesday 09:00: Tier 2 was due Monday 18:00; OTC was captured Monday noon.
            let certs =
                certify_all_uses(store, &PartitionKey::week(week), at(2025, 11, 18, 9, 0)).await;
            for c in &certs {
                assert!(!c.is_ready, "{}: {:?}", db.backend, c.ready_for);
                let criteria = c.criteria;
                assert!(!criteria.all_partitions_present);
                assert!(!criteria.all_stages_complete);
                assert!(!criteria.no_critical_anomalies);
                assert!(!criteria.age_exceeds_preliminary);
                assert!(criteria.dependencies_current);
                let expected_issues = if c.ready_for == ReadyFor::Compliance {
                    5
                } else {
                    4
                };
                assert_eq!(
                    c.blocking_issues.len(),
                    expected_issues,
                    "{:#?}",
                    c.blocking_issues
                );
            }
            let all = anomalies_of(store, &finra()).await;

            settings().bind(|| {
                insta::assert_json_snapshot!(
                    "readiness_blocked_by_multiple_issues",
                    scrub(json!({
                        "injected": [nms1.faults, bad_otc.faults],
                        "ingested": ingested,
                        "anomalies": all.iter().map(anomaly).collect::<Vec<_>>(),
                        "anomalies_operator_view": anomalies_view(&all),
                        "readiness_2025_11_18": certs.iter().map(verdict).collect::<Vec<_>>(),
                        "operator_view": certs.iter().map(operator_view).collect::<Vec<_>>(),
                    }))
                );
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
