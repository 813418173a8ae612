//! The `spine` binary as a user meets it: exit codes, one-line errors, idempotent migrations,
//! JSON output. Each test uses its own SQLite file and a fixed clock.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use migration::{Migrator, MigratorTrait};
use serde_json::Value;
use spine_gen::{GenConfig, generate};
use spine_model::Tier;
use spine_store::Store;

fn spine(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("spine.db").display()),
        )
        .env("SPINE_NOW", "2026-01-20T09:00:00Z")
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .expect("run spine")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `spine` as run by someone the system cannot name: no `--by`, no `SPINE_CERTIFIED_BY` or
/// `SPINE_USER`, and neither `USER` nor `LOGNAME` in the environment.
fn spine_nameless(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("spine.db").display()),
        )
        .env("SPINE_NOW", "2026-01-20T09:00:00Z")
        .env_remove("NO_COLOR")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("SPINE_CERTIFIED_BY")
        .env_remove("SPINE_USER")
        .args(args)
        .output()
        .expect("run spine")
}

/// A scratch directory whose `spine.db` was created with `spine db migrate`, as an operator
/// sets one up: commands other than the set-ups refuse a missing database.
fn migrated_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = spine(dir.path(), &["db", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

/// stdout as JSON, after checking the exit code.
fn json_out(o: &Output, code: i32) -> Value {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

/// The readiness audit trail of FINRA OTC as `spine report readiness-audit --format json`
/// prints it: its events.
fn audit_events(dir: &Path) -> Vec<Value> {
    let out = spine(
        dir,
        &[
            "report",
            "readiness-audit",
            "--domain",
            FINRA,
            "--format",
            "json",
        ],
    );
    json_out(&out, 0)["events"].as_array().unwrap().clone()
}

const FINRA: &str = "finra.otc_transparency";

/// `spine readiness` for FINRA OTC with `extra` arguments, in the given environment runner.
fn readiness_args<'a>(week: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "readiness",
        FINRA,
        "--week-ending",
        week,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn migrating_twice_is_a_no_op_and_loads_the_calendar() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = spine(dir.path(), &["db", "migrate", "--format", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let migrations = json["migrations"].as_array().unwrap();
        assert_eq!(migrations.len(), Migrator::migrations().len());
        assert!(migrations.iter().all(|m| m["applied"] == true));
    }
    let out = spine(dir.path(), &["status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let calendar = json
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "reference.exchange_calendar")
        .expect("the shipped calendar is loaded by migrate");
    assert_eq!(calendar["captures"], 26, "XNYS 2010 to 2035");
}

#[test]
fn a_usage_error_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = spine(dir.path(), &["query", "summary"]);
    assert_eq!(out.status.code(), Some(2));
    let out = spine(
        dir.path(),
        &["ingest", "finra-otc", "--file", "x", "--tier", "NMS_TIER_3"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("NMS_TIER_1, NMS_TIER_2, OTC"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_domain_no_registered_domain_owns_is_a_usage_error_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &[
            "schedules",
            "add",
            "--domain",
            "acme.prices",
            "--pipeline",
            "acme.ingest",
            "--schedule-type",
            "WEEKLY",
            "--partition-template",
            r#"{"week_ending":"${FRIDAY}"}"#,
            "--expected-delay-hours",
            "24",
        ],
        &[
            "--now",
            "2026-01-20T12:00:00Z",
            "schedules",
            "check",
            "--domain",
            "acme.prices",
            "--from",
            "2026-01-02",
            "--to",
            "2026-01-09",
        ],
        &["readiness", "foo.bar", "--week-ending", "2026-01-09"],
        &["doctor", "foo.bar"],
        &["recompute", "foo.bar", "--week-ending", "2026-01-09"],
        &["schedules", "list", "--domain", "foo.bar"],
        &["anomalies", "list", "--domain", "foo.bar"],
        &["deps", "list", "--domain", "foo.bar"],
        &["report", "readiness-audit", "--domain", "foo.bar"],
    ];
    for args in commands {
        let out = spine(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("registered domains: finra.otc_transparency, reference.exchange_calendar"),
            "{args:?}: {err}"
        );
        // Refused before anything was opened: not even a database file.
        assert!(!dir.path().join("spine.db").exists(), "{args:?}");
    }
    // A week ending that is not a Friday: a usage error naming the nearest Fridays.
    let out = spine(
        dir.path(),
        &[
            "readiness",
            "finra.otc_transparency",
            "--week-ending",
            "2026-01-08",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is a Thursday, not a Friday")
            && stderr(&out).contains("2026-01-02 and 2026-01-09"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("spine.db").exists());
}

#[test]
fn a_runtime_error_exits_1_with_one_line_saying_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let out = spine(
        dir.path(),
        &["ingest", "finra-otc", "--file", "missing.csv"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("missing.csv"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_spine"))
        .args([
            "status",
            "--database-url",
            "postgres://u:secret@127.0.0.1:1/x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect to database `postgres://u:***@127.0.0.1:1/x`"),
        "{err}"
    );
    assert!(!err.contains("secret"));
}

#[test]
fn generate_ingest_and_query_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = spine(
        dir.path(),
        &[
            "gen",
            "finra-otc",
            "--out",
            "data",
            "--weeks",
            "1",
            "--symbols",
            "50",
            "--mpids",
            "8",
            "--first-week-ending",
            "2025-12-19",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let file = "data/finra_otc_weekly_otc_20251219.csv";
    let out = spine(
        dir.path(),
        &["ingest", "finra-otc", "--file", file, "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "capture_id",
        "domain",
        "partition_key",
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "status",
        "anomalies",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    assert_eq!(report["status"], "ingested");
    assert_eq!(
        report["partition_key"],
        r#"{"tier":"OTC","week_ending":"2025-12-19"}"#
    );
    assert_eq!(report["week_derivation"]["method"], "derived");

    let out = spine(
        dir.path(),
        &[
            "ingest",
            "finra-otc",
            "--file",
            file,
            "--tier",
            "NMS_TIER_1",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("contradicts"));

    for (kind, keys) in [
        (
            "summary",
            vec!["symbol", "total_shares", "total_trades", "venue_count"],
        ),
        ("venue-share", vec!["mpid", "shares", "share"]),
        ("hhi", vec!["symbol", "hhi", "venue_count"]),
        (
            "volume-per-day",
            vec!["symbol", "trading_days", "shares_per_day"],
        ),
    ] {
        let out = spine(
            dir.path(),
            &[
                "query",
                kind,
                "--week-ending",
                "2025-12-19",
                "--tier",
                "OTC",
                "--format",
                "json",
            ],
        );
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let first = &rows.as_array().unwrap()[0];
        for key in keys {
            assert!(first.get(key).is_some(), "{kind}: missing {key} in {first}");
        }
    }
    let out = spine(
        dir.path(),
        &[
            "query",
            "tier-split",
            "--week-ending",
            "2025-12-19",
            "--format",
            "csv",
        ],
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.starts_with("tier,shares,share,capture_id\nOTC,"),
        "{csv}"
    );
    let out = spine(dir.path(), &["pipelines"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("finra_otc.normalize"));

    // Any line as received, from the bytes the capture kept.
    let capture_id = report["capture_id"].as_str().unwrap();
    let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
    let out = spine(
        dir.path(),
        &[
            "captures", "lines", capture_id, "--line", "2", "--count", "3", "--format", "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown: Vec<(i64, &str)> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line_number"].as_i64().unwrap(),
                l["text"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(i64, &str)> = text
        .lines()
        .skip(1)
        .take(3)
        .zip(2..)
        .map(|(l, n)| (n, l))
        .collect();
    assert_eq!(shown, expected);
    let out = spine(
        dir.path(),
        &["captures", "lines", capture_id, "--line", "99999"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no line 99999"),
        "{}",
        stderr(&out)
    );

    // NORMALIZED re-run by hand reads the kept bytes back.
    let out = spine(
        dir.path(),
        &[
            "run",
            "finra_otc.normalize",
            "--week-ending",
            "2025-12-19",
            "--tier",
            "OTC",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = spine(
        dir.path(),
        &[
            "run",
            "finra_otc.calc",
            "--week-ending",
            "2025-12-19",
            "--tier",
            "OTC",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["complete"], true);
}

#[test]
fn every_command_has_an_example_in_its_help() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let path = format!("{path} {}", cmd.get_name()).trim().to_string();
        let subcommands: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subcommands.is_empty() {
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !help.contains("Example") {
                missing.push(path);
            }
        } else {
            for sub in subcommands {
                walk(sub, &path, missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&spine_cli::cli::Cli::command(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "commands without an example in --help: {missing:?}"
    );
}

#[test]
fn completions_are_generated_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = spine(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("readiness") && script.contains("doctor"),
            "{shell}"
        );
    }
}

#[test]
fn readiness_dry_run_evaluates_and_prints_but_records_nothing() {
    let dir = migrated_dir();
    // No signer needed: a dry run signs nothing.
    let out = spine_nameless(dir.path(), &readiness_args("2025-12-05", &["--dry-run"]));
    let verdict = json_out(&out, 3);
    assert_eq!(verdict["status"], "NOT_READY");
    assert_eq!(verdict["recorded"], "dry_run");
    assert!(
        audit_events(dir.path()).is_empty(),
        "a dry run appends no history row"
    );
    // Nor does it record the missed partitions a real certification would detect.
    let out = spine(dir.path(), &["anomalies", "list", "--format", "json"]);
    assert_eq!(json_out(&out, 0), serde_json::json!([]));
}

#[test]
fn readiness_without_by_user_or_logname_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = spine(dir.path(), &["db", "migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = spine_nameless(dir.path(), &readiness_args("2025-12-05", &[]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    // `readiness_args` asks for JSON, so the refusal is a JSON object on stderr.
    let refusal: Value = serde_json::from_str(&err).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(refusal["error"]["kind"], "usage");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pass --by"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    assert!(audit_events(dir.path()).is_empty());
    // Not even the missed-partition detection a certification runs first.
    let out = spine(dir.path(), &["anomalies", "list", "--format", "json"]);
    assert_eq!(json_out(&out, 0), serde_json::json!([]));
}

#[test]
fn readiness_records_the_by_name_then_the_os_user_and_only_changes_of_verdict() {
    let dir = migrated_dir();
    let out = spine_nameless(
        dir.path(),
        &readiness_args("2025-12-05", &["--by", "desk-ops"]),
    );
    assert_eq!(json_out(&out, 3)["recorded"], "changed");
    let events = audit_events(dir.path());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["evaluated_by"], "desk-ops");

    // Without --by, the OS user signs: $USER, else $LOGNAME. The outcome is the same as the
    // current verdict, so nothing is appended.
    let logname_only = Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("spine.db").display()
            ),
        )
        .env("SPINE_NOW", "2026-01-20T10:00:00Z")
        .env_remove("USER")
        .env_remove("SPINE_CERTIFIED_BY")
        .env("LOGNAME", "night-shift")
        .args(readiness_args("2025-12-05", &[]))
        .output()
        .unwrap();
    assert_eq!(json_out(&logname_only, 3)["recorded"], "unchanged");
    assert_eq!(audit_events(dir.path()).len(), 1);

    // A different use is a different verdict: appended, signed by $USER.
    let out = Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("spine.db").display()
            ),
        )
        .env("SPINE_NOW", "2026-01-20T11:00:00Z")
        .env_remove("SPINE_CERTIFIED_BY")
        .env("USER", "compliance-officer")
        .env("LOGNAME", "ignored")
        .args(readiness_args("2025-12-05", &["--for", "compliance"]))
        .output()
        .unwrap();
    assert_eq!(json_out(&out, 3)["recorded"], "changed");
    let events = audit_events(dir.path());
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["evaluated_by"], "compliance-officer");
}

#[test]
fn anomalies_resolve_without_a_user_refuses_and_with_by_records_the_resolver() {
    let dir = migrated_dir();
    // A certification of a week nothing arrived for records its missed partitions.
    let out = spine(
        dir.path(),
        &readiness_args("2025-12-05", &["--by", "desk-ops"]),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = spine(dir.path(), &["anomalies", "list", "--format", "json"]);
    let anomalies = json_out(&out, 0);
    let id = anomalies[0]["id"]
        .as_i64()
        .expect("a missed partition anomaly");
    let id = id.to_string();

    let out = spine_nameless(
        dir.path(),
        &["anomalies", "resolve", &id, "--note", "FINRA confirmed"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pass --by"), "{}", stderr(&out));
    let out = spine(dir.path(), &["anomalies", "list", "--format", "json"]);
    assert_eq!(json_out(&out, 0)[0]["resolved_at"], Value::Null);

    let out = spine_nameless(
        dir.path(),
        &[
            "anomalies",
            "resolve",
            &id,
            "--note",
            "FINRA confirmed",
            "--by",
            "ops-oncall",
            "--format",
            "json",
        ],
    );
    assert_eq!(json_out(&out, 0)["resolved_by"], "ops-oncall");
}

/// The week ending 2025-10-17, every tier generated clean; Tier 1 and Tier 2 arrive when FINRA
/// publishes them, OTC two days after it was due (a WARN FRESHNESS "late" anomaly, which blocks
/// no use).
async fn a_week_ready_with_warnings(dir: &Path) {
    let week = NaiveDate::from_ymd_opt(2025, 10, 17).unwrap();
    let out = spine(dir, &["db", "migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let files = generate(
        &GenConfig {
            weeks: 1,
            symbols: 60,
            mpids: 10,
            seed: 11,
            first_week_ending: week,
            ..GenConfig::default()
        },
        &dir.join("data"),
    )
    .unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("spine.db").display()
    ))
    .await
    .unwrap();
    for f in &files {
        let published: DateTime<Utc> = f.last_update.and_hms_opt(12, 0, 0).unwrap().and_utc();
        let at = if f.tier == Tier::Otc {
            published + Duration::days(2)
        } else {
            published
        };
        common::ingest(&store, f, at).await;
    }
}

#[tokio::test]
async fn readiness_strict_exits_3_on_ready_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    a_week_ready_with_warnings(dir.path()).await;
    let out = spine(dir.path(), &["anomalies", "list", "--format", "json"]);
    let anomalies = json_out(&out, 0);
    assert!(
        anomalies
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["severity"] == "WARN" && a["category"] == "FRESHNESS"),
        "{anomalies:#}"
    );

    let out = spine(
        dir.path(),
        &readiness_args("2025-10-17", &["--by", "desk-ops"]),
    );
    let verdict = json_out(&out, 0);
    assert_eq!(verdict["status"], "READY_WITH_WARNINGS", "{verdict:#}");
    assert_eq!(verdict["is_ready"], true);

    for extra in [
        &["--by", "desk-ops", "--strict"][..],
        &["--dry-run", "--strict"],
    ] {
        let out = spine(dir.path(), &readiness_args("2025-10-17", extra));
        let verdict = json_out(&out, 3);
        assert_eq!(verdict["status"], "READY_WITH_WARNINGS", "{extra:?}");
    }
}

#[tokio::test]
async fn report_readiness_audit_json_shows_both_clocks_and_the_signer() {
    let dir = tempfile::tempdir().unwrap();
    a_week_ready_with_warnings(dir.path()).await;
    let before = Utc::now();
    let out = spine(
        dir.path(),
        &readiness_args("2025-10-17", &["--by", "desk-ops"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Evaluated "as of" 1999: recorded for the trail, marked backdated, not made current.
    let out = spine(
        dir.path(),
        &[
            &["--now", "1999-06-30T16:00:00Z"][..],
            &readiness_args("2025-10-17", &["--by", "auditor"]),
        ]
        .concat(),
    );
    // (Whatever it judged as of then: the exit code follows that verdict.)
    let old = json_out(&out, out.status.code().unwrap());
    assert_eq!(old["recorded"], "backdated");
    let after = Utc::now();

    let events = audit_events(dir.path());
    assert_eq!(events.len(), 2, "{events:#?}");
    let clock = |v: &Value| -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    // Oldest as-of first: the backdated evaluation, then the certification.
    let (backdated, certified) = (&events[0], &events[1]);
    assert_eq!(
        clock(&backdated["evaluated_at"]).to_rfc3339(),
        "1999-06-30T16:00:00+00:00"
    );
    assert_eq!(backdated["backdated"], true);
    assert_eq!(certified["backdated"], false);
    assert_eq!(
        clock(&certified["evaluated_at"]).to_rfc3339(),
        "2026-01-20T09:00:00+00:00"
    );
    for e in &events {
        let recorded = clock(&e["recorded_at"]);
        assert!(
            before - Duration::seconds(1) <= recorded && recorded <= after,
            "recorded_at is the wall clock: {e:#}"
        );
        for key in [
            "status",
            "is_ready",
            "ready_for",
            "blocking_issues",
            "captures_judged",
            "certified_at",
            "certified_by",
            "evaluated_by",
        ] {
            assert!(e.get(key).is_some(), "missing {key}: {e:#}");
        }
        for criterion in [
            "all_partitions_present",
            "all_stages_complete",
            "no_critical_anomalies",
            "dependencies_current",
            "age_exceeds_preliminary",
        ] {
            assert!(e["criteria"][criterion].is_boolean(), "{criterion}: {e:#}");
        }
    }
    assert_eq!(certified["status"], "READY_WITH_WARNINGS");
    assert_eq!(certified["certified_by"], "desk-ops");
    assert_eq!(certified["certified_at"], certified["evaluated_at"]);
    assert_eq!(backdated["evaluated_by"], "auditor");
    assert_eq!(backdated["certified_by"], Value::Null);
    assert_eq!(backdated["certified_at"], Value::Null);

    // The table for people shows both clocks.
    let out = spine(
        dir.path(),
        &["report", "readiness-audit", "--domain", FINRA],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().nth(1).unwrap();
    assert!(
        header.starts_with("evaluated_at") && header.contains("recorded_at"),
        "{text}"
    );
    assert!(text.contains("(backdated)"), "{text}");
}

#[test]
fn argument_mistakes_are_usage_errors_that_exit_2_before_any_database_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &["query", "summary", "--week-ending", "2025-12-05"],
        &["report", "anomaly-trends", "--months", "0"],
        &[
            "report",
            "readiness-audit",
            "--domain",
            FINRA,
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
        ],
        &["run", "finra.no_such_pipeline"],
        &["gen", "finra-otc", "--out", "x", "--weeks", "0"],
        &["doctor", FINRA, "--weeks", "0"],
        &["demo", "--dir", "d", "--weeks", "0"],
        &["ingest", "finra-otc", "--file", "ftp://example.com/x.csv"],
    ];
    for args in cases {
        let out = spine(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a usage error created files"
    );
}

#[test]
fn with_format_json_a_failure_is_one_json_object_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let error_of = |args: &[&str], code: i32| -> Value {
        let out = spine(dir.path(), args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} wrote to stdout");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        serde_json::from_str::<Value>(&err).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"))
            ["error"]
            .clone()
    };
    // A runtime failure.
    let e = error_of(&["status", "--format", "json"], 1);
    assert_eq!(e["kind"], "runtime");
    assert_eq!(e["exit_code"], 1);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no Market Spine database at"),
        "{e}"
    );
    // A usage error found after parsing, and one clap finds.
    let e = error_of(
        &[
            "--format",
            "json",
            "query",
            "hhi",
            "--week-ending",
            "2025-12-05",
        ],
        2,
    );
    assert_eq!(e["kind"], "usage");
    let e = error_of(&["status", "--format=json", "--no-such-flag"], 2);
    assert_eq!(e["kind"], "usage");
    assert!(
        e["message"].as_str().unwrap().contains("--no-such-flag"),
        "{e}"
    );
}

#[test]
fn an_error_says_each_cause_once_on_one_bounded_line_without_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = format!("x\u{1b}[31m{}.csv", "y".repeat(200));
    let out = spine(dir.path(), &["ingest", "finra-otc", "--file", &hostile]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
    assert!(err.contains("\\u{1b}[31m"), "{err}");

    // A file that exists but is not a FINRA file: the error names it, and no part of the
    // message repeats (the same cause printed by each layer).
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "not|a|finra|header\n1|2|3|4\n").unwrap();
    let out = spine(
        dir.path(),
        &["ingest", "finra-otc", "--file", bad.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let parts: Vec<&str> = err.trim_start_matches("error: ").split(": ").collect();
    for (i, a) in parts.iter().enumerate() {
        for b in &parts[i + 1..] {
            assert!(a.len() < 12 || !b.contains(a), "`{a}` repeats in {err}");
        }
    }
}
