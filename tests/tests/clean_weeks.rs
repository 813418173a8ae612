//! Scenario: three clean weeks of all three tiers, with the shipped calendar. Every partition
//! reaches CALC, nothing is rejected, and the same analytics come out on SQLite and PostgreSQL
//! (one snapshot for both backends).

use chrono::NaiveDate;
use serde_json::json;
use spine_gen::{GenConfig, generate};

use spine_scenarios::{clock, ingest_at, published_at};
use spine_store::finra_otc as repo;
use spine_store::overview;
use spine_store::test_support::for_each_backend;

#[tokio::test]
async fn three_clean_weeks_reach_calc_with_the_same_analytics_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(
        &GenConfig {
            weeks: 3,
            symbols: 60,
            mpids: 10,
            seed: 11,
            first_week_ending: NaiveDate::from_ymd_opt(2025, 12, 5).unwrap(),
            ..GenConfig::default()
        },
        dir.path(),
    )
    .unwrap();
    for_each_backend(|db| {
        let files = files.clone();
        async move {
            spine_calendar::load_shipped(&spine_scenarios::engine(&db.store), clock())
                .await
                .unwrap();
            let mut ingested = Vec::new();
            // Each file is captured when FINRA publishes it: on time, nothing to flag.
            let mut by_publication: Vec<_> = files.iter().collect();
            by_publication.sort_by_key(|f| (f.last_update, f.tier));
            for f in by_publication {
                let r = ingest_at(&db.store, &f.path, published_at(f.last_update)).await;
                let hhi = repo::hhi(db.store.conn(), &r.capture_id, None).await.unwrap();
                let (vpd, _) = repo::volume_per_day(db.store.conn(), &r.capture_id, None).await.unwrap();
                ingested.push(json!({
                    "file": f.path.file_name().unwrap().to_string_lossy(),
                    "status": r.status,
                    "capture_id": r.capture_id,
                    "partition_key": r.partition.canonical(),
                    "week_derivation": r
                        .detail_as::<spine_finra::FinraDetail>()
                        .map(|d| d.week_derivation.method()),
                    "rows": [r.rows_read, r.rows_accepted, r.rows_rejected],
                    "stage": r.stage,
                    "max_hhi": format!("{:.6}", hhi.iter().map(|h| h.hhi).fold(0.0, f64::max)),
                    "trading_days": vpd.first().map(|v| v.trading_days),
                }));
            }
            let week = NaiveDate::from_ymd_opt(2025, 12, 19).unwrap();
            let split: Vec<_> = repo::tier_split(db.store.conn(), week)
                .await
                .unwrap()
                .into_iter()
                .map(|s| json!({"tier": s.tier, "shares": s.shares, "share": format!("{:.6}", s.share)}))
                .collect();
            let status = overview::domains(db.store.conn()).await.unwrap();
            insta::assert_json_snapshot!(
                "three_clean_weeks",
                json!({"ingested": ingested, "tier_split_2025_12_19": split, "status": status})
            );
        }
    })
    .await;
}
