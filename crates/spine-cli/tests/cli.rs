//! The `spine` binary as a user meets it: exit codes, one-line errors, idempotent migrations,
//! JSON output. Each test uses its own SQLite file and a fixed clock.

use std::path::Path;
use std::process::{Command, Output};

use migration::{Migrator, MigratorTrait};

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
