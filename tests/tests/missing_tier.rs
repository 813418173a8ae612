//! Scenario: missing tier. For the week ending 2025-10-17, NMS Tier 1 and OTC ingest on time,
//! but FINRA's server answers HTTP 404 for NMS Tier 2 (a loopback server plays FINRA). The
//! pipeline records ERROR INCOMPLETE_INPUT with the status and expected vs actual tiers, and
//! readiness is NOT_READY naming the missing tier. The retry succeeds once the server serves the
//! file: the anomaly is resolved automatically with a note, and once the new capture is past the
//! 48 h preliminary window the week is READY for every use.

use serde_json::json;
use spine_engine::PipelineError;
use spine_gen::file_name;
use spine_model::{PartitionKey, ReadyFor, Tier};
use spine_scenarios::{
    assert_ran_on_every_backend, at, certify, certify_all_uses, config, date, file,
    finra_anomalies, generate_into, ingest_on_time, ingest_url_at, load_calendars, operator_view,
    report, scrub, serve, settings, verdict,
};
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn a_tier_answering_404_blocks_the_week_until_the_retry_succeeds() {
    let week = date(2025, 10, 17);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(week, 1, Tier::ALL, &[]));
    let ran = for_each_backend(|db| {
        let files = files.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let key = PartitionKey::week(week);
            let nms2 = file(&files, Tier::NmsTier2, week, 0);
            let mut steps = Vec::new();

            // Tier 1 (published 2025-11-03) and OTC (2025-11-17) arrive on time.
            for tier in [Tier::NmsTier1, Tier::Otc] {
                let f = file(&files, tier, week, 0);
                let r = ingest_on_time(store, &f).await;
                assert_eq!(r.stage, Some(spine_model::Stage::Calc));
                steps.push(
                    json!({"step": format!("{tier} ingested on time"), "ingest": report(&r)}),
                );
            }

            // NMS Tier 2 is due the same day, but FINRA's server answers 404.
            let (url, server) = serve(
                404,
                b"Not Found".to_vec(),
                1,
                &file_name(Tier::NmsTier2, week),
            )
            .await;
            let err = ingest_url_at(store, &url, Tier::NmsTier2, week, at(2025, 11, 17, 12, 5))
                .await
                .expect_err("a 404 is a failed fetch");
            server.await.unwrap();
            let PipelineError::Source {
                error,
                execution_id,
            } = &err
            else {
                panic!("{}: expected a source error, got {err}", db.backend)
            };
            assert_eq!(error.http_status(), Some(404));
            steps.push(json!({
                "step": "NMS_TIER_2 fetched at 12:05: HTTP 404",
                "error": err.to_string(),
                "error_code": error.code(),
                "http_status": error.http_status(),
                "execution_id": execution_id,
                "anomalies": finra_anomalies(store).await,
            }));

            // Readiness right away: the missing tier blocks every use; the ERROR also blocks
            // compliance (for trading it is a warning).
            let trading = certify(store, &key, ReadyFor::Trading, at(2025, 11, 17, 12, 30)).await;
            let compliance =
                certify(store, &key, ReadyFor::Compliance, at(2025, 11, 17, 12, 30)).await;
            assert!(!trading.is_ready && !compliance.is_ready);
            assert!(
                trading
                    .blocking_issues
                    .iter()
                    .any(|i| i.contains("missing tiers: NMS_TIER_2"))
            );
            steps.push(json!({
                "step": "readiness at 12:30 (trading, compliance)",
                "readiness": [verdict(&trading), verdict(&compliance)],
                "operator_view_compliance": operator_view(&compliance),
            }));

            // The retry at 15:00 finds the file (still before the 18:00 due time: on time).
            let body = std::fs::read(&nms2.path).unwrap();
            let (url, server) = serve(200, body, 1, &file_name(Tier::NmsTier2, week)).await;
            let retried = ingest_url_at(store, &url, Tier::NmsTier2, week, at(2025, 11, 17, 15, 0))
                .await
                .expect("the retry succeeds");
            server.await.unwrap();
            let anomalies = finra_anomalies(store).await;
            assert!(
                anomalies.iter().all(|a| a["resolved"] == json!(true)),
                "{}: the retry resolves the missing-tier anomaly",
                db.backend
            );
            steps.push(json!({
                "step": "retry at 15:00 succeeds",
                "ingest": report(&retried),
                "anomalies": anomalies,
            }));

            // Still inside the preliminary window of the retried capture…
            let early = certify(store, &key, ReadyFor::Trading, at(2025, 11, 17, 15, 30)).await;
            assert!(!early.is_ready);
            steps.push(json!({
                "step": "readiness at 15:30 (trading): only the preliminary window blocks",
                "readiness": verdict(&early),
            }));

            // …and ready for every use once the window has passed.
            let finals = certify_all_uses(store, &key, at(2025, 11, 20, 9, 0)).await;
            assert!(finals.iter().all(|c| c.is_ready));
            steps.push(json!({
                "step": "readiness on 2025-11-20 09:00, every use",
                "readiness": finals.iter().map(verdict).collect::<Vec<_>>(),
                "operator_view_trading": operator_view(&finals[0]),
            }));

            settings().bind(|| {
                insta::assert_json_snapshot!("missing_tier", scrub(json!({ "steps": steps })));
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
