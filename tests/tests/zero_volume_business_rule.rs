//! Scenario: zero-volume business rule. For the week ending 2025-10-17 the OTC file has rows
//! with trades but zero shares. NORMALIZED refuses the capture (CRITICAL BUSINESS_RULE with the
//! affected count and up to five samples), nothing downstream is computed from it, and the week
//! is NOT_READY for every use. The operator resolves the anomaly with a note — readiness still
//! blocks, because the capture never normalized — and FINRA's corrected file, ingested as a
//! revision, makes the week ready once it is past the preliminary window (READY_WITH_WARNINGS:
//! the revision itself stays on record as an open INFO FRESHNESS anomaly).

use serde_json::json;
use spine_gen::Fault;
use spine_model::{Domain, PartitionKey, ReadyFor, Stage, Tier};
use spine_scenarios::{
    CERTIFIER, assert_ran_on_every_backend, at, certify, certify_all_uses, config, date, file,
    finra_anomalies, generate_into, ingest_at, ingest_on_time, load_calendars, operator_view,
    report, scrub, settings, verdict,
};
use spine_store::finra_otc as repo;
use spine_store::test_support::for_each_backend;
use spine_store::{Store, anomalies, manifest};

/// Rows each calc table (and NORMALIZED) holds for a capture: all zero for a refused capture.
async fn rows_for(store: &Store, capture_id: &str) -> serde_json::Value {
    let conn = store.conn();
    json!({
        "normalized": repo::normalized_page(conn, capture_id, 0, 10_000).await.unwrap().len(),
        "symbol_summary": repo::symbol_summary(conn, capture_id, None).await.unwrap().len(),
        "venue_share": repo::venue_share(conn, capture_id).await.unwrap().len(),
        "hhi": repo::hhi(conn, capture_id, None).await.unwrap().len(),
        "volume_per_day": repo::volume_per_day(conn, capture_id, None).await.unwrap().0.len(),
    })
}

/// How far the capture got, from the manifest.
async fn furthest(
    store: &Store,
    tier: Tier,
    week: chrono::NaiveDate,
    capture_id: &str,
) -> Option<Stage> {
    let stages = manifest::stages(
        store.conn(),
        &Domain::parse(Domain::FINRA_OTC).unwrap(),
        &PartitionKey::week_tier(week, tier),
    )
    .await
    .unwrap();
    manifest::furthest_stage(&stages, capture_id)
}

#[tokio::test]
async fn trades_without_shares_stop_normalization_until_a_corrected_file_arrives() {
    let week = date(2025, 10, 17);
    let clean_dir = tempfile::tempdir().unwrap();
    let faulty_dir = tempfile::tempdir().unwrap();
    // The clean week of every tier (the corrected OTC file is its OTC file), and the OTC file as
    // first delivered, with zero-share rows. A fault never changes another file's data, so the
    // two OTC files differ only in the faulty rows.
    let clean = generate_into(clean_dir.path(), &config(week, 1, Tier::ALL, &[]));
    let faulty = generate_into(
        faulty_dir.path(),
        &config(week, 1, &[Tier::Otc], &[Fault::ZeroVolume]),
    );
    let ran = for_each_backend(|db| {
        let (clean, faulty) = (clean.clone(), faulty.clone());
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let key = PartitionKey::week(week);
            let bad_otc = file(&faulty, Tier::Otc, week, 0);
            let mut steps = Vec::new();

            for tier in [Tier::NmsTier1, Tier::NmsTier2] {
                let r = ingest_on_time(store, &file(&clean, tier, week, 0)).await;
                assert_eq!(r.stage, Some(Stage::Calc));
            }
            let failed = ingest_on_time(store, &bad_otc).await;
            assert_eq!(failed.status, spine_model::IngestStatus::Failed);
            assert_eq!(failed.stage, Some(Stage::Raw));
            let no_rows = rows_for(store, &failed.capture_id).await;
            assert!(
                no_rows.as_object().unwrap().values().all(|n| n == 0),
                "{}: nothing downstream of a refused capture: {no_rows}",
                db.backend
            );
            let split: Vec<_> = repo::tier_split(store.conn(), week)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.tier)
                .collect();
            steps.push(json!({
                "step": "OTC with zero-share rows ingested on time (2025-11-17 12:00)",
                "injected": bad_otc.faults,
                "ingest": report(&failed),
                "furthest_stage": furthest(store, Tier::Otc, week, &failed.capture_id).await,
                "rows_from_the_refused_capture": no_rows,
                "tier_split_tiers": split,
                "anomalies": finra_anomalies(store).await,
            }));

            // Past the preliminary window: still NOT_READY for every use.
            let blocked = certify_all_uses(store, &key, at(2025, 11, 20, 9, 0)).await;
            assert!(blocked.iter().all(|c| !c.is_ready));
            steps.push(json!({
                "step": "readiness on 2025-11-20 09:00, every use",
                "readiness": blocked.iter().map(verdict).collect::<Vec<_>>(),
                "operator_view_research": operator_view(&blocked[2]),
            }));

            // The operator resolves the anomaly (FINRA acknowledged the error)…
            let critical = anomalies::list(
                store.conn(),
                &anomalies::AnomalyFilter {
                    severity: Some(spine_model::Severity::Critical),
                    unresolved_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(critical.len(), 1);
            // (`spine anomalies resolve ID --note … --by ops-desk`)
            anomalies::resolve_as(
                store.conn(),
                critical[0].id,
                "FINRA confirmed the zero-share rows are a publication error; corrected file requested",
                Some(CERTIFIER),
                at(2025, 11, 20, 10, 0),
            )
            .await
            .unwrap();
            // …but the capture never normalized, so readiness still blocks on its stages.
            let still = certify(store, &key, ReadyFor::Trading, at(2025, 11, 20, 10, 5)).await;
            assert!(!still.is_ready && still.criteria.no_critical_anomalies);
            assert!(!still.criteria.all_stages_complete);
            steps.push(json!({
                "step": "operator resolves the CRITICAL at 10:00; readiness at 10:05 (trading)",
                "readiness": verdict(&still),
                "operator_view": operator_view(&still),
            }));

            // FINRA's corrected file arrives as a revision of the OTC partition.
            let corrected = ingest_at(
                store,
                &file(&clean, Tier::Otc, week, 0).path,
                at(2025, 11, 20, 14, 0),
            )
            .await;
            assert_eq!(corrected.status, spine_model::IngestStatus::Revised);
            assert_eq!(corrected.stage, Some(Stage::Calc));
            let anomalies = finra_anomalies(store).await;
            let revisions = anomalies
                .iter()
                .filter(|a| a["category"] == "FRESHNESS" && a["cause"] == "revision")
                .count();
            assert_eq!(
                revisions, 1,
                "{}: the corrected file supersedes the refused capture: a revision, recorded as one",
                db.backend
            );
            steps.push(json!({
                "step": "corrected OTC file ingested at 14:00",
                "ingest": report(&corrected),
                "furthest_stage": furthest(store, Tier::Otc, week, &corrected.capture_id).await,
                "rows_from_the_corrected_capture": rows_for(store, &corrected.capture_id).await,
                "anomalies": anomalies,
            }));

            let ready = certify_all_uses(store, &key, at(2025, 11, 23, 9, 0)).await;
            assert!(ready.iter().all(|c| c.is_ready));
            steps.push(json!({
                "step": "readiness on 2025-11-23 09:00, every use",
                "readiness": ready.iter().map(verdict).collect::<Vec<_>>(),
                "operator_view_trading": operator_view(&ready[0]),
            }));

            settings().bind(|| {
                insta::assert_json_snapshot!(
                    "zero_volume_business_rule",
                    scrub(json!({ "steps": steps }))
                );
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
