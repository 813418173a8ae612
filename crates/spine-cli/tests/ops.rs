//! The operations surface over real pipeline output: `spine deps` (list, add with cycle refusal,
//! impact with stale partitions) and `spine report` (anomaly trends, readiness audit), on SQLite
//! and (when configured) PostgreSQL, plus the binary's behaviour on SQLite.
//!
//! Nothing here inserts the rows it expects to find: anomalies, lineage and history come from
//! ingesting generated FINRA files, correcting the exchange calendar, recomputing and certifying.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use spine_calendar::{CalendarDetail, ChangedWeek};
use spine_cli::commands::deps::impact_json;
use spine_cli::commands::report::{AuditReport, TrendsReport};
use spine_engine::calendar;
use spine_engine::lineage::{Impact, impact};
use spine_engine::readiness::certify;
use spine_engine::{CaptureReport, RunContext};
use spine_gen::{GenConfig, GeneratedFile, generate};
use spine_model::capture::content_hash;
use spine_model::{Category, Domain, IngestStatus, PartitionKey, ReadyFor, Severity};
use spine_rules::lineage::{StaleReason, parse_target};
use spine_store::anomalies::{self, AnomalyFilter};
use spine_store::reports::MonthWindow;
use spine_store::test_support::{TestDbRef, for_each_backend};
use spine_store::{Store, captures, lineage};

const CALENDAR_TARGET: &str = "reference.exchange_calendar.ref_calendar_trading_days";
const VOLUME_PER_DAY: &str = "finra_otc_volume_per_day";

fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The week whose trading days the corrected calendar changes (a closure on Wed 2025-12-03).
fn corrected_week() -> NaiveDate {
    date(2025, 12, 5)
}

fn finra() -> Domain {
    Domain::parse(Domain::FINRA_OTC).unwrap()
}

/// Two weeks, all three tiers, small: 2025-11-28 (Thanksgiving, 4 days) and 2025-12-05.
fn files(dir: &Path) -> Vec<GeneratedFile> {
    generate(
        &GenConfig {
            weeks: 2,
            symbols: 60,
            mpids: 8,
            seed: 11,
            first_week_ending: date(2025, 11, 28),
            ..GenConfig::default()
        },
        dir,
    )
    .unwrap()
}

async fn ingest(store: &Store, f: &GeneratedFile, now: DateTime<Utc>) -> CaptureReport {
    common::ingest(store, f, now).await
}

/// The shipped 2025 XNYS calendar with one more full-day closure, as an operator would load a
/// correction: the week ending 2025-12-05 loses a trading day.
fn corrected_2025_calendar() -> String {
    let (_, shipped) = spine_calendar::holidays::shipped_calendars()
        .into_iter()
        .find(|(name, _)| name == "xnys_2025.json")
        .unwrap();
    let mut json: Value = serde_json::from_str(&shipped).unwrap();
    let holidays = json["holidays"].as_array_mut().unwrap();
    holidays.push(serde_json::json!({"date": "2025-12-03", "name": "Unscheduled closure"}));
    holidays.sort_by_key(|h| h["date"].as_str().unwrap().to_string());
    serde_json::to_string_pretty(&json).unwrap()
}

async fn correct_calendar(store: &Store, now: DateTime<Utc>) -> CaptureReport {
    let report = spine_calendar::ingest_text(
        &common::engine(store),
        &corrected_2025_calendar(),
        "corrected:xnys_2025",
        &RunContext::quiet(now),
    )
    .await
    .unwrap();
    assert_eq!(report.status, IngestStatus::Revised);
    assert_eq!(
        report.detail_as::<CalendarDetail>().unwrap().changed_weeks,
        [ChangedWeek {
            week_ending: date(2025, 12, 5),
            previous_trading_days: 5,
            trading_days: 4
        }]
    );
    report
}

/// Loads the calendars and both weeks at 2026-01-05 09:00; returns the capture id of each
/// (week, tier) file.
async fn load_weeks(db: &TestDbRef, dir: &Path) -> Vec<(NaiveDate, String)> {
    common::load_calendars(&db.store, at(1, 5, 8)).await;
    let mut out = Vec::new();
    for f in files(dir) {
        let report = ingest(&db.store, &f, at(1, 5, 9)).await;
        assert_eq!(
            report.stage,
            Some(spine_model::Stage::Calc),
            "{:?}",
            report.notes
        );
        out.push((f.week_ending, report.capture_id));
    }
    out
}

fn spine(url: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spine"));
    cmd.env("DATABASE_URL", url)
        .env("SPINE_NOW", "2026-01-20T09:00:00Z")
        .env_remove("NO_COLOR")
        .args(args);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("run spine")
}

fn ok_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

#[tokio::test]
async fn a_calendar_correction_shows_up_in_impact_trends_and_the_audit_until_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let ran = for_each_backend(|db| {
        let dir = dir.path().to_path_buf();
        async move {
            let captured = load_weeks(&db, &dir).await;
            let conn = db.store.conn();
            let calendar_2025 = calendar::partition(calendar::EXCHANGE, 2025);
            let shipped = captures::latest(conn, &calendar::domain(), &calendar_2025)
                .await
                .unwrap()
                .unwrap()
                .capture_id;

            // Before any correction: the volume-per-day calc depends on the calendar, nothing
            // is stale.
            let target = parse_target(CALENDAR_TARGET).unwrap();
            let before = impact(&common::engine(&db.store), &target).await.unwrap();
            assert_eq!(before.dependents.len(), 1);
            let d = &before.dependents[0];
            assert_eq!(
                (
                    d.calc.to_string().as_str(),
                    d.depth,
                    d.dependency_type.as_str()
                ),
                (
                    "finra.otc_transparency.finra_otc_volume_per_day",
                    1,
                    "REQUIRED"
                )
            );
            assert!(before.stale.is_empty() && before.anomalies.is_empty());

            // The correction: only the week it changes goes stale, for every tier.
            let correction = correct_calendar(&db.store, at(1, 6, 9)).await;
            let after = impact(&common::engine(&db.store), &target).await.unwrap();
            let stale_week: Vec<&String> = captured
                .iter()
                .filter(|(w, _)| *w == corrected_week())
                .map(|(_, id)| id)
                .collect();
            assert_eq!(after.stale.len(), 3, "{:#?}", after.stale);
            for s in &after.stale {
                assert_eq!(s.calc.table, VOLUME_PER_DAY);
                assert_eq!(s.partition.week_ending(), Some(corrected_week()));
                assert!(stale_week.contains(&&s.calc_capture_id));
                assert_eq!(s.consumed_capture_id, shipped);
                assert_eq!(s.latest_capture_id, correction.capture_id);
                assert_eq!(s.reason, StaleReason::Superseded);
            }
            let json = impact_json(&after);
            assert_eq!(
                json["stale_partitions"][0]["remedy"],
                "spine recompute finra.otc_transparency --week-ending 2025-12-05"
            );
            assert_eq!(json["dependents"][0]["depends_on"], CALENDAR_TARGET);
            // The calendar pipeline flagged the same partitions with DEPENDENCY anomalies.
            assert_eq!(after.anomalies.len(), 3);
            let flagged: Vec<String> = after
                .anomalies
                .iter()
                .map(|a| a.partition_key.clone().unwrap())
                .collect();
            for s in &after.stale {
                assert!(flagged.contains(&s.partition.canonical()));
            }
            assert!(after.anomalies.iter().all(|a| a.severity == "WARN"));

            // The desk certifies the stale week: not current, on the three tier captures.
            let week = PartitionKey::week(corrected_week());
            let first = certify(
                &common::engine(&db.store),
                &finra(),
                &week,
                ReadyFor::Trading,
                "desk",
                &RunContext::quiet(at(1, 6, 10)),
            )
            .await
            .unwrap()
            .certification;
            assert!(!first.criteria.dependencies_current);

            // A recompute heals it and closes the anomalies three days after they opened.
            spine_engine::recompute::recompute(
                &common::engine(&db.store),
                &finra(),
                &PartitionKey::week(corrected_week()),
                &RunContext::quiet(at(1, 9, 9)),
            )
            .await
            .unwrap();
            let healed = impact(&common::engine(&db.store), &target).await.unwrap();
            assert!(healed.stale.is_empty(), "{:#?}", healed.stale);
            assert!(healed.anomalies.is_empty());
            assert_eq!(healed.dependents.len(), 1);
            let second = certify(
                &common::engine(&db.store),
                &finra(),
                &week,
                ReadyFor::Trading,
                "desk",
                &RunContext::quiet(at(1, 9, 10)),
            )
            .await
            .unwrap()
            .certification;
            assert!(second.criteria.dependencies_current);

            // Trends: the three DEPENDENCY warnings of January, resolved in 3 days on average.
            let trends =
                TrendsReport::load(&db.store, MonthWindow::ending_at(at(1, 20, 9), 1).unwrap())
                    .await
                    .unwrap();
            let dep = trends
                .trends
                .iter()
                .find(|t| t.category == Category::Dependency)
                .expect("a DEPENDENCY line");
            assert_eq!(
                (dep.month.as_str(), dep.severity, dep.count, dep.resolved),
                ("2026-01", Severity::Warn, 3, 3)
            );
            assert_eq!(dep.domains, [Domain::FINRA_OTC]);
            assert!((dep.mean_days_to_resolution.unwrap() - 3.0).abs() < 1e-9);
            // Every anomaly of the window is counted exactly once.
            let all = anomalies::list(conn, &AnomalyFilter::default())
                .await
                .unwrap();
            let in_window = all
                .iter()
                .filter(|a| a.detected_at >= at(1, 1, 0) && a.detected_at <= at(1, 20, 9))
                .count() as u64;
            assert_eq!(
                trends.trends.iter().map(|t| t.count).sum::<u64>(),
                in_window
            );
            // As of the day after the correction nothing was resolved yet.
            let earlier =
                TrendsReport::load(&db.store, MonthWindow::ending_at(at(1, 7, 0), 1).unwrap())
                    .await
                    .unwrap();
            let dep = earlier
                .trends
                .iter()
                .find(|t| t.category == Category::Dependency)
                .unwrap();
            assert_eq!(
                (dep.count, dep.resolved, dep.mean_days_to_resolution),
                (3, 0, None)
            );
            let json = earlier.to_json();
            assert_eq!(
                (json["from_month"].as_str(), json["to_month"].as_str()),
                (Some("2026-01"), Some("2026-01"))
            );
            let line = json["trends"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["category"] == "DEPENDENCY")
                .unwrap();
            assert_eq!(line["mean_days_to_resolution"], Value::Null);
            assert_eq!(line["domains_affected"], 1);
            // Twelve months back from January 2026 start in February 2025.
            let year =
                TrendsReport::load(&db.store, MonthWindow::ending_at(at(1, 20, 9), 12).unwrap())
                    .await
                    .unwrap();
            assert_eq!(year.to_json()["from_month"], "2025-02");

            // The audit trail: both certifications, with the captures judged.
            let audit = AuditReport::load(&db.store, finra(), None, None)
                .await
                .unwrap();
            assert_eq!(audit.events.len(), 2);
            let json = audit.to_json();
            let events = json["events"].as_array().unwrap();
            assert_eq!(events[0]["criteria"]["dependencies_current"], false);
            assert_eq!(events[1]["criteria"]["dependencies_current"], true);
            assert_eq!(events[0]["evaluated_by"], "desk");
            let mut judged: Vec<String> = events[0]["captures_judged"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            judged.sort();
            let mut expected: Vec<String> = stale_week.iter().map(|s| s.to_string()).collect();
            expected.sort();
            // The proof also names the calendar capture the calcs consumed (the superseded one,
            // at the first evaluation): "on which data" includes the reference data.
            assert!(expected.iter().all(|c| judged.contains(c)), "{judged:?}");
            assert_eq!(judged.len(), expected.len() + 1, "{judged:?}");
            let one_day = AuditReport::load(
                &db.store,
                finra(),
                Some(date(2026, 1, 9)),
                Some(date(2026, 1, 9)),
            )
            .await
            .unwrap();
            assert_eq!(one_day.events.len(), 1);
            assert_eq!(one_day.events[0].event.evaluated_at, at(1, 9, 10));

            if db.backend == "sqlite" {
                the_binary_says_the_same(&db, &healed).await;
            }
        }
    })
    .await;
    require_postgres_when_configured(&ran);
}

/// When `SPINE_TEST_POSTGRES_URL` is set, PostgreSQL must really have run.
fn require_postgres_when_configured(ran: &[&str]) {
    if std::env::var(spine_store::test_support::POSTGRES_URL_VAR).is_ok_and(|v| !v.is_empty()) {
        assert!(ran.contains(&"postgres"), "ran on {ran:?}");
    }
}

/// The binary on the same (SQLite) database prints what the library computed, in every format.
async fn the_binary_says_the_same(db: &TestDbRef, healed: &Impact) {
    let url = db.url.as_str();
    let out = spine(
        url,
        &["deps", "impact", CALENDAR_TARGET, "--format", "json"],
        &[],
    );
    assert_eq!(ok_json(&out), impact_json(healed));

    let out = spine(url, &["deps", "list", "--format", "json"], &[]);
    let list = ok_json(&out);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["calc_table"], VOLUME_PER_DAY);
    assert_eq!(list[0]["depends_on_domain"], "reference.exchange_calendar");
    let out = spine(
        url,
        &[
            "deps",
            "list",
            "--domain",
            "reference.exchange_calendar",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(ok_json(&out), serde_json::json!([]));

    let out = spine(
        url,
        &[
            "report",
            "anomaly-trends",
            "--months",
            "1",
            "--format",
            "json",
        ],
        &[],
    );
    let expected = TrendsReport::load(&db.store, MonthWindow::ending_at(at(1, 20, 9), 1).unwrap())
        .await
        .unwrap()
        .to_json();
    assert_eq!(ok_json(&out), expected);

    let out = spine(
        url,
        &[
            "report",
            "readiness-audit",
            "--domain",
            Domain::FINRA_OTC,
            "--format",
            "json",
        ],
        &[],
    );
    let audit = ok_json(&out);
    assert_eq!(audit["events"].as_array().unwrap().len(), 2);
    assert_eq!(audit["domain"], Domain::FINRA_OTC);

    let out = spine(
        url,
        &[
            "report",
            "readiness-audit",
            "--domain",
            Domain::FINRA_OTC,
            "--format",
            "csv",
        ],
        &[],
    );
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "evaluated_at");
    assert!(headers.iter().any(|h| h == "captures_judged"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let judged = headers.iter().position(|h| h == "captures_judged").unwrap();
    // Three tier captures and the calendar capture they consumed, full ids.
    assert_eq!(rows[0][judged].split(' ').count(), 4, "full ids in CSV");
    assert!(
        rows[0][judged]
            .split(' ')
            .all(|id| id.starts_with("cap_") && id.len() == 28)
    );

    // Tables for people: aligned, titled, and never coloured into a pipe (with or without
    // NO_COLOR).
    for env in [&[][..], &[("NO_COLOR", "1")][..]] {
        let out = spine(
            url,
            &["report", "readiness-audit", "--domain", Domain::FINRA_OTC],
            env,
        );
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains('\x1b'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("Readiness evaluations of finra.otc_transparency, all time (2)")
        );
        assert!(lines[1].starts_with("evaluated_at"));
        // Columns line up: "partition" starts where each row's partition starts.
        let col = lines[1].find("partition").unwrap();
        for row in &lines[2..] {
            assert_eq!(&row[col..col + 2], "{\"", "{row}");
        }
        // Captures are compact in the table: a count and short ids.
        assert!(lines[2].contains("4: "), "{}", lines[2]);
    }
    let out = spine(
        url,
        &["report", "anomaly-trends", "--months", "1"],
        &[("NO_COLOR", "1")],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Anomalies detected 2026-01 to 2026-01 (as of 2026-01-20T09:00:00Z)"),
        "{text}"
    );
    assert!(
        text.contains("DEPENDENCY") && !text.contains('\x1b'),
        "{text}"
    );
    let out = spine(url, &["deps", "impact", CALENDAR_TARGET], &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "Calcs depending on reference.exchange_calendar.ref_calendar_trading_days (1)"
        ),
        "{text}"
    );
    assert!(text.contains("Stale partitions (0)\n  (none)"), "{text}");
}

#[tokio::test]
async fn a_calc_downstream_of_a_stale_calc_is_stale_too() {
    let dir = tempfile::tempdir().unwrap();
    let ran = for_each_backend(|db| {
        let dir = dir.path().to_path_buf();
        async move {
            let captured = load_weeks(&db, &dir).await;
            let conn = db.store.conn();
            // A desk analytics pipeline computes routing scores per week from volume per day:
            // it declares the dependency and records what it consumed, as a pipeline does.
            let desk = Domain::parse("analytics.desk").unwrap();
            lineage::register_dependency(
                conn,
                lineage::NewDependency {
                    calc_domain: desk.clone(),
                    calc_pipeline: "desk.routing".into(),
                    calc_table: Some("desk_routing_scores".into()),
                    depends_on_domain: finra(),
                    depends_on_table: VOLUME_PER_DAY.into(),
                    dependency_type: spine_model::DependencyType::Optional,
                    description: None,
                },
                at(1, 5, 10),
            )
            .await
            .unwrap();
            for week in [date(2025, 11, 28), corrected_week()] {
                let partition = PartitionKey::week(week);
                let capture = captures::record(
                    conn,
                    captures::NewCapture {
                        domain: desk.clone(),
                        partition: partition.clone(),
                        content_hash: content_hash(week.to_string().as_bytes()),
                        source_locator: "computed".into(),
                        source_last_update: None,
                        captured_at: at(1, 5, 10),
                        rows_read: 1,
                        rows_accepted: 1,
                        rows_rejected: 0,
                        metadata: None,
                    },
                )
                .await
                .unwrap();
                for (w, finra_capture) in captured.iter().filter(|(w, _)| *w == week) {
                    let input = captures::get(conn, finra_capture).await.unwrap().unwrap();
                    assert_eq!(
                        PartitionKey::parse(&input.partition_key)
                            .unwrap()
                            .week_ending(),
                        Some(*w)
                    );
                    lineage::record_calc_input(
                        conn,
                        lineage::NewCalcInput {
                            calc_domain: desk.clone(),
                            calc_table: "desk_routing_scores".into(),
                            calc_partition: partition.clone(),
                            calc_capture_id: capture.capture().capture_id.clone(),
                            input_domain: finra(),
                            input_table: Some(VOLUME_PER_DAY.into()),
                            input_partition: PartitionKey::parse(&input.partition_key).unwrap(),
                            input_capture_id: input.capture_id.clone(),
                            recorded_at: at(1, 5, 10),
                        },
                    )
                    .await
                    .unwrap();
                }
            }

            correct_calendar(&db.store, at(1, 6, 9)).await;
            let found = impact(
                &common::engine(&db.store),
                &parse_target(CALENDAR_TARGET).unwrap(),
            )
            .await
            .unwrap();
            let dependents: Vec<(String, usize, &str)> = found
                .dependents
                .iter()
                .map(|d| (d.calc.to_string(), d.depth, d.dependency_type.as_str()))
                .collect();
            assert_eq!(
                dependents,
                [
                    (
                        "finra.otc_transparency.finra_otc_volume_per_day".to_string(),
                        1,
                        "REQUIRED"
                    ),
                    (
                        "analytics.desk.desk_routing_scores".to_string(),
                        2,
                        "OPTIONAL"
                    ),
                ]
            );
            let desk_stale: Vec<_> = found
                .stale
                .iter()
                .filter(|s| s.calc.domain == "analytics.desk")
                .collect();
            assert_eq!(desk_stale.len(), 1, "{:#?}", found.stale);
            assert_eq!(
                desk_stale[0].partition,
                PartitionKey::week(corrected_week())
            );
            assert_eq!(desk_stale[0].reason, StaleReason::UpstreamStale);
            assert_eq!(found.stale.len(), 4);

            // Asking about the intermediate calc table itself lists only the desk calc.
            let mid = impact(
                &common::engine(&db.store),
                &parse_target("finra.otc_transparency.finra_otc_volume_per_day").unwrap(),
            )
            .await
            .unwrap();
            assert_eq!(mid.dependents.len(), 1);
            assert_eq!(mid.dependents[0].depth, 1);
        }
    })
    .await;
    require_postgres_when_configured(&ran);
}

#[test]
fn deps_add_refuses_cycles_and_bad_names_and_impact_explains_unknown_targets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("spine.db").display()
    );
    let out = spine(&url, &["db", "migrate"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let add = |calc: &str, upstream: &str, ty: &str| {
        let c = parse_target(calc).unwrap();
        let u = parse_target(upstream).unwrap();
        spine(
            &url,
            &[
                "deps",
                "add",
                "--calc-domain",
                &c.domain,
                "--calc-pipeline",
                "p.calc",
                "--calc-table",
                &c.table,
                "--depends-on-domain",
                &u.domain,
                "--depends-on-table",
                &u.table,
                "--dependency-type",
                ty,
                "--format",
                "json",
            ],
            &[],
        )
    };
    let out = add(
        "finra.otc_transparency.finra_otc_volume_per_day",
        CALENDAR_TARGET,
        "REQUIRED",
    );
    let json = ok_json(&out);
    assert_eq!(json["action"], "created");
    assert_eq!(json["dependency"]["dependency_type"], "REQUIRED");
    let out = add(
        "finra.otc_transparency.desk_routing_scores",
        "finra.otc_transparency.finra_otc_volume_per_day",
        "OPTIONAL",
    );
    assert_eq!(ok_json(&out)["action"], "created");
    // Declaring again updates in place.
    let out = add(
        "finra.otc_transparency.desk_routing_scores",
        "finra.otc_transparency.finra_otc_volume_per_day",
        "REFERENCE",
    );
    let json = ok_json(&out);
    assert_eq!(
        (
            json["action"].as_str(),
            json["dependency"]["dependency_type"].as_str()
        ),
        (Some("updated"), Some("REFERENCE"))
    );
    // A description, once given, survives a re-declaration that only changes the type.
    let out = spine(
        &url,
        &[
            "deps",
            "add",
            "--calc-domain",
            Domain::FINRA_OTC,
            "--calc-pipeline",
            "p.calc",
            "--calc-table",
            "desk_routing_scores",
            "--depends-on-domain",
            Domain::FINRA_OTC,
            "--depends-on-table",
            VOLUME_PER_DAY,
            "--description",
            "scores weigh venues by daily volume",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(ok_json(&out)["dependency"]["dependency_type"], "REQUIRED");
    let out = add(
        "finra.otc_transparency.desk_routing_scores",
        "finra.otc_transparency.finra_otc_volume_per_day",
        "OPTIONAL",
    );
    assert_eq!(
        ok_json(&out)["dependency"]["description"],
        "scores weigh venues by daily volume"
    );

    // Closing the loop is refused, with the loop spelled out.
    let out = add(
        CALENDAR_TARGET,
        "finra.otc_transparency.desk_routing_scores",
        "REQUIRED",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "reference.exchange_calendar.ref_calendar_trading_days → finra.otc_transparency.desk_routing_scores → finra.otc_transparency.finra_otc_volume_per_day → reference.exchange_calendar.ref_calendar_trading_days"
        ),
        "{err}"
    );
    let out = add(
        "finra.otc_transparency.desk_routing_scores",
        "finra.otc_transparency.desk_routing_scores",
        "REQUIRED",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("depend on itself"));
    let out = spine(
        &url,
        &[
            "deps",
            "add",
            "--calc-domain",
            Domain::FINRA_OTC,
            "--calc-pipeline",
            "p",
            "--depends-on-domain",
            Domain::EXCHANGE_CALENDAR,
            "--depends-on-table",
            "x.y",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--depends-on-table `x.y` is not a table name")
    );

    // A domain no registered domain owns is a usage error naming the registered ones.
    let out = spine(
        &url,
        &[
            "deps",
            "add",
            "--calc-domain",
            "analytics.desk",
            "--calc-pipeline",
            "p",
            "--depends-on-domain",
            Domain::FINRA_OTC,
            "--depends-on-table",
            VOLUME_PER_DAY,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown domain `analytics.desk`; registered domains: finra.otc_transparency, reference.exchange_calendar"),
        "{err}"
    );

    // Nothing refused was stored: the two declared here, and the one the FINRA domain declares
    // for itself when the database is prepared.
    let list = ok_json(&spine(&url, &["deps", "list", "--format", "json"], &[]));
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|d| d["calc_pipeline"] == "finra_otc.calc"),
        "{list}"
    );
    let desk = ok_json(&spine(
        &url,
        &[
            "deps",
            "list",
            "--domain",
            Domain::EXCHANGE_CALENDAR,
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(desk.as_array().unwrap().len(), 0);
    let out = spine(&url, &["deps", "list", "--format", "csv"], &[]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("calc_domain,calc_pipeline,calc_table,depends_on_domain,depends_on_table,dependency_type"), "{csv}");
    assert_eq!(csv.lines().count(), 4);

    // Impact is transitive, through the binary too.
    let json = ok_json(&spine(
        &url,
        &["deps", "impact", CALENDAR_TARGET, "--format", "json"],
        &[],
    ));
    let deps: Vec<(String, u64)> = json["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["calc_table"].as_str().unwrap().to_string(),
                d["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        deps,
        [
            (VOLUME_PER_DAY.to_string(), 1),
            ("desk_routing_scores".to_string(), 2)
        ]
    );
    assert_eq!(
        json["target"],
        serde_json::json!({"domain": "reference.exchange_calendar", "table": "ref_calendar_trading_days"})
    );
    let out = spine(
        &url,
        &["deps", "impact", CALENDAR_TARGET, "--format", "csv"],
        &[],
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.starts_with(
            "calc_domain,calc_table,calc_pipeline,depth,dependency_type,depends_on,stale_partition"
        ),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);

    // A typo says what exists; a malformed target says what shape is expected.
    let out = spine(
        &url,
        &[
            "deps",
            "impact",
            "reference.exchange_calendar.ref_calendar_tradingdays",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no dependency mentions reference.exchange_calendar.ref_calendar_tradingdays")
            && err.contains(CALENDAR_TARGET),
        "{err}"
    );
    // A malformed target is a usage error (exit 2), not a runtime one.
    let out = spine(&url, &["deps", "impact", "exchange_calendar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<domain>.<table>"));

    // Report argument mistakes are usage errors (exit 2) that say what to do.
    let out = spine(&url, &["report", "anomaly-trends", "--months", "0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--months"));
    let out = spine(
        &url,
        &[
            "report",
            "readiness-audit",
            "--domain",
            Domain::FINRA_OTC,
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("swap them"));
    // An empty audit says how to make one.
    let out = spine(
        &url,
        &["report", "readiness-audit", "--domain", Domain::FINRA_OTC],
        &[],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "(0) — certify with `spine readiness finra.otc_transparency --week-ending <FRIDAY>`"
        ),
        "{text}"
    );
    let json = ok_json(&spine(
        &url,
        &["report", "anomaly-trends", "--format", "json"],
        &[],
    ));
    assert_eq!(json["trends"], serde_json::json!([]));
    assert_eq!(json["months"], 12);
}
