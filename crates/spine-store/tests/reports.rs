//! The report read models (`spine_store::reports`), on SQLite and (when
//! `SPINE_TEST_POSTGRES_URL` is set) PostgreSQL: the same timestamps and groupings on both.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use spine_model::{Category, Domain, PartitionKey, Severity, Tier};
use spine_store::anomalies::{self, NewAnomaly};
use spine_store::lineage::{self, NewCalcInput};
use spine_store::reports::{self, MonthWindow};
use spine_store::test_support::for_each_backend;

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// One trend line as a comparable tuple: month, severity, category, count, domains affected,
/// resolved, mean days to resolution.
type Line<'a> = (&'a str, Severity, Category, u64, usize, u64, Option<f64>);

fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

#[tokio::test]
async fn trends_cover_the_window_up_to_the_clock_and_count_resolutions_known_then() {
    let ran = for_each_backend(|db| async move {
        let conn = db.store.conn();
        let record = |d: &'static str, severity, category, detected| {
            anomalies::record(
                conn,
                NewAnomaly::new(domain(d), severity, category, "x", detected),
            )
        };
        // Before the window: not counted.
        record(
            "a.one",
            Severity::Error,
            Category::Schedule,
            at(2025, 10, 31, 23),
        )
        .await
        .unwrap();
        // November: two domains, one resolved after 36 hours, one still open.
        let resolved = record(
            "a.one",
            Severity::Warn,
            Category::Freshness,
            at(2025, 11, 1, 0),
        )
        .await
        .unwrap();
        anomalies::resolve(conn, resolved.id, "late file arrived", at(2025, 11, 2, 12))
            .await
            .unwrap();
        record(
            "b.two",
            Severity::Warn,
            Category::Freshness,
            at(2025, 11, 30, 23),
        )
        .await
        .unwrap();
        // December, resolved after the report's clock: open as far as the report knows.
        let later = record(
            "a.one",
            Severity::Critical,
            Category::Dependency,
            at(2025, 12, 1, 0),
        )
        .await
        .unwrap();
        anomalies::resolve(conn, later.id, "recomputed", at(2025, 12, 20, 0))
            .await
            .unwrap();
        // After the clock: not counted.
        record(
            "a.one",
            Severity::Info,
            Category::Schedule,
            at(2025, 12, 15, 1),
        )
        .await
        .unwrap();

        let window = MonthWindow::ending_at(at(2025, 12, 15, 0), 2).unwrap();
        assert_eq!(
            window.first_day,
            NaiveDate::from_ymd_opt(2025, 11, 1).unwrap()
        );
        let trends = reports::anomaly_trends(conn, &window).await.unwrap();
        let lines: Vec<Line> = trends
            .iter()
            .map(|t| {
                (
                    t.month.as_str(),
                    t.severity,
                    t.category,
                    t.count,
                    t.domains.len(),
                    t.resolved,
                    t.mean_days_to_resolution,
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "2025-11",
                    Severity::Warn,
                    Category::Freshness,
                    2,
                    2,
                    1,
                    Some(1.5)
                ),
                (
                    "2025-12",
                    Severity::Critical,
                    Category::Dependency,
                    1,
                    1,
                    0,
                    None
                ),
            ],
            "{}",
            db.backend
        );
        assert_eq!(trends[0].domains, ["a.one", "b.two"]);

        let between =
            reports::anomalies_detected_between(conn, at(2025, 11, 1, 0), at(2025, 11, 30, 23))
                .await
                .unwrap();
        assert_eq!(between.len(), 2, "both ends are inclusive");
    })
    .await;
    assert!(ran.contains(&"sqlite"));
}

#[tokio::test]
async fn the_inputs_of_one_calc_table_span_its_partitions_and_captures() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let finra = domain(Domain::FINRA_OTC);
        let calendar = domain(Domain::EXCHANGE_CALENDAR);
        let week = |d| NaiveDate::from_ymd_opt(2025, 12, d).unwrap();
        let input = |calc_table: &str, d, capture: &str| NewCalcInput {
            calc_domain: finra.clone(),
            calc_table: calc_table.to_string(),
            calc_partition: PartitionKey::week_tier(week(d), Tier::Otc),
            calc_capture_id: capture.to_string(),
            input_domain: calendar.clone(),
            input_table: Some("ref_calendar_trading_days".to_string()),
            input_partition: PartitionKey::new()
                .with("exchange_code", "XNYS")
                .with("year", "2025"),
            input_capture_id: "cap_cal".to_string(),
            recorded_at: at(2026, 1, 5, 9),
        };
        for (table, d, capture) in [
            ("finra_otc_volume_per_day", 12, "cap_b"),
            ("finra_otc_volume_per_day", 5, "cap_a"),
            ("finra_otc_volume_per_day", 5, "cap_a2"),
            ("other_table", 5, "cap_a"),
        ] {
            lineage::record_calc_input(conn, input(table, d, capture))
                .await
                .unwrap();
        }
        let rows = reports::calc_inputs_of_table(conn, &finra, "finra_otc_volume_per_day")
            .await
            .unwrap();
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.calc_partition_key.as_str(), r.calc_capture_id.as_str()))
            .collect();
        let p5 = PartitionKey::week_tier(week(5), Tier::Otc).canonical();
        let p12 = PartitionKey::week_tier(week(12), Tier::Otc).canonical();
        assert_eq!(
            got,
            [
                (p5.as_str(), "cap_a"),
                (p5.as_str(), "cap_a2"),
                (p12.as_str(), "cap_b")
            ]
        );
        assert!(
            reports::calc_inputs_of_table(conn, &calendar, "finra_otc_volume_per_day")
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}
