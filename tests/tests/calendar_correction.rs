//! Scenario: calendar correction with dependency invalidation. The weeks ending 2025-10-10 and
//! 2025-10-17 are computed with the shipped XNYS calendar (five trading days each) and the
//! second is certified READY. Then a corrected XNYS 2025 holiday file closes the exchange on
//! Wednesday 2025-10-15. Every volume-per-day calc of the week ending 2025-10-17 is now wrong:
//! WARN DEPENDENCY on each, with the previous and new trading days, and the week is NOT_READY
//! (dependencies_current false); the week ending 2025-10-10 is untouched and revalidated.
//! `recompute` resolves the anomalies, the calcs use four trading days, and the week is READY.

use chrono::NaiveDate;
use serde_json::{Value, json};
use spine_calendar::CalendarDetail;
use spine_calendar::holidays::shipped_calendars;
use spine_engine::RunContext;
use spine_model::{Domain, PartitionKey, ReadyFor, Tier};
use spine_scenarios::{
    assert_ran_on_every_backend, at, certify, config, date, engine, finra_anomalies, generate_into,
    ingest_on_time, load_calendars, operator_view, scrub, settings, verdict,
};
use spine_store::test_support::for_each_backend;
use spine_store::{Store, captures, finra_otc as repo};

/// The corrected holiday file: the shipped XNYS 2025 closures plus an unscheduled closure on
/// Wednesday 2025-10-15, written out as an operator would receive it.
fn corrected_calendar(dir: &std::path::Path) -> std::path::PathBuf {
    let (_, shipped) = shipped_calendars()
        .into_iter()
        .find(|(name, _)| name == "xnys_2025.json")
        .expect("XNYS 2025 ships");
    let mut doc: Value = serde_json::from_str(&shipped).unwrap();
    let holidays = doc["holidays"].as_array_mut().unwrap();
    holidays.push(
        json!({"date": "2025-10-15", "name": "Unscheduled closure (exchange systems outage)"}),
    );
    holidays.sort_by(|a, b| a["date"].as_str().cmp(&b["date"].as_str()));
    let path = dir.join("xnys_2025_corrected.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path
}

/// The first symbol's volume per trading day for each tier of `week`, with the calendar capture
/// it used.
async fn volume_per_day(store: &Store, week: NaiveDate) -> Vec<Value> {
    let mut out = Vec::new();
    for tier in Tier::ALL {
        let capture = captures::latest(
            store.conn(),
            &Domain::parse(Domain::FINRA_OTC).unwrap(),
            &PartitionKey::week_tier(week, *tier),
        )
        .await
        .unwrap()
        .unwrap();
        let (rows, calendar) = repo::volume_per_day(store.conn(), &capture.capture_id, None)
            .await
            .unwrap();
        let first = &rows[0];
        out.push(json!({
            "tier": tier,
            "rows": rows.len(),
            "all_rows_trading_days": rows.iter().map(|r| r.trading_days).collect::<std::collections::BTreeSet<_>>(),
            "first_symbol": first.symbol,
            "total_shares": first.total_shares,
            "trading_days": first.trading_days,
            "shares_per_day": format!("{:.2}", first.shares_per_day),
            "calendar_capture_id": calendar,
        }));
    }
    out
}

#[tokio::test]
async fn a_calendar_correction_makes_dependent_calcs_stale_until_recomputed() {
    let week = date(2025, 10, 17);
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(date(2025, 10, 10), 2, Tier::ALL, &[]));
    let corrected = corrected_calendar(dir.path());
    let ran = for_each_backend(|db| {
        let files = files.clone();
        let corrected = corrected.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let key = PartitionKey::week(week);
            let mut steps = Vec::new();
            let mut by_publication: Vec<_> = files.iter().collect();
            by_publication.sort_by_key(|f| (f.last_update, f.tier));
            for f in by_publication {
                ingest_on_time(store, f).await;
            }
            let before = volume_per_day(store, week).await;
            let certified = certify(store, &key, ReadyFor::Trading, at(2025, 11, 20, 9, 0)).await;
            assert!(certified.is_ready);
            steps.push(json!({
                "step": "both weeks on time with the shipped calendar; readiness 2025-11-20 09:00 (trading)",
                "volume_per_day_2025_10_17": before,
                "readiness": verdict(&certified),
            }));

            // The corrected calendar arrives.
            let text = std::fs::read_to_string(&corrected).unwrap();
            let cal = spine_calendar::ingest_text(
                &engine(store),
                &text,
                "xnys_2025_corrected.json",
                &RunContext::quiet(at(2025, 11, 20, 10, 0)),
            )
            .await
            .unwrap();
            assert_eq!(cal.status, spine_model::IngestStatus::Revised);
            let detail = cal.detail_as::<CalendarDetail>().expect("a calendar capture");
            let anomalies = finra_anomalies(store).await;
            assert_eq!(anomalies.len(), 3, "{}: one per tier of the week", db.backend);
            steps.push(json!({
                "step": "corrected XNYS 2025 calendar ingested 2025-11-20 10:00",
                "calendar": {
                    "status": cal.status,
                    "capture_id": cal.capture_id,
                    "supersedes": cal.supersedes,
                    "holidays": detail.holidays,
                    "trading_days_in_year": detail.trading_days_in_year,
                    "changed_weeks": detail.changed_weeks,
                    "dependents": detail.dependents,
                },
                "anomalies": anomalies,
            }));

            let stale = certify(store, &key, ReadyFor::Trading, at(2025, 11, 20, 10, 30)).await;
            assert!(!stale.is_ready && !stale.criteria.dependencies_current);
            let untouched = certify(
                store,
                &PartitionKey::week(date(2025, 10, 10)),
                ReadyFor::Trading,
                at(2025, 11, 20, 10, 30),
            )
            .await;
            assert!(untouched.is_ready);
            steps.push(json!({
                "step": "readiness at 10:30 (trading)",
                "readiness_2025_10_17": verdict(&stale),
                "operator_view_2025_10_17": operator_view(&stale),
                "readiness_2025_10_10": {
                    "status": untouched.status,
                    "criteria": untouched.criteria,
                },
            }));

            // `spine recompute finra.otc_transparency --week-ending 2025-10-17`.
            let recomputed = spine_engine::recompute::recompute(
                &engine(store),
                &spine_scenarios::finra(),
                &PartitionKey::week(week),
                &RunContext::quiet(at(2025, 11, 20, 11, 0)),
            )
            .await
            .unwrap();
            let anomalies = finra_anomalies(store).await;
            assert!(anomalies.iter().all(|a| a["resolved"] == json!(true)));
            let after = volume_per_day(store, week).await;
            assert!(after.iter().all(|v| v["trading_days"] == json!(4)));
            steps.push(json!({
                "step": "recompute at 11:00",
                "recompute": recomputed.iter().map(|r| json!({
                    "tier": PartitionKey::parse(&r.partition_key).unwrap().tier(),
                    "capture_id": r.capture_id,
                    "complete": r.outcome == spine_engine::domain::RecomputeOutcome::Recomputed,
                    "notes": r.notes,
                    "anomalies": r.anomalies,
                })).collect::<Vec<_>>(),
                "anomalies": anomalies,
                "volume_per_day_2025_10_17": after,
            }));

            let ready = certify(store, &key, ReadyFor::Trading, at(2025, 11, 20, 11, 30)).await;
            assert!(ready.is_ready);
            steps.push(json!({
                "step": "readiness at 11:30 (trading)",
                "readiness": verdict(&ready),
                "operator_view": operator_view(&ready),
            }));

            settings().bind(|| {
                insta::assert_json_snapshot!(
                    "calendar_correction",
                    scrub(json!({ "steps": steps }))
                );
            });
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
