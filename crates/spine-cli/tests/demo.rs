//! `spine demo`, the README's main command, as a new user runs it: on a fixed clock (the story
//! must happen: the late file, its retry, the certification, the revision and the
//! re-certification) and on the real clock from another directory (it must end at now and leave
//! a database the other commands agree with).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const NOW: &str = "2026-12-01T09:00:00Z";

fn spine(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(cwd)
        .env_remove("SPINE_NOW")
        .env_remove("DATABASE_URL")
        .args(args)
        .output()
        .expect("run spine")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_demo_tells_the_week_happening_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = spine(dir.path(), &["--now", NOW, "demo", "--dir", "d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let story = String::from_utf8_lossy(&out.stdout).into_owned();
    // The week ending 23 October 2026 (its last tiers published Monday 23 November) is the
    // story: OTC answers 404 at 10:00 and the retry fetches it.
    for expected in [
        "Mon 2026-11-23 10:00 UTC",
        "2026-10-23 OTC: ",
        "(HTTP 404)",
        "Mon 2026-11-23 14:00 UTC",
        "fetched   2026-10-23 OTC",
        "Fri 2026-11-27 16:00 UTC",
        "fetched   2026-10-23 NMS_TIER_1 (revision check)",
        "certified by spine-demo-worker",
        "Try:",
    ] {
        assert!(story.contains(expected), "missing {expected:?} in\n{story}");
    }
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("d").join("spine.db").display()
    );
    let run = |args: &[&str]| {
        let mut all = vec!["--database-url", db.as_str(), "--now", NOW];
        all.extend_from_slice(args);
        spine(dir.path(), &all)
    };
    // The story week is certified for trading, on the revised capture.
    let out = run(&[
        "readiness",
        "finra.otc_transparency",
        "--week-ending",
        "2026-10-23",
        "--for",
        "trading",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The audit trail says who certified it, and that it was certified twice (original, then the
    // revision).
    let out = run(&[
        "report",
        "readiness-audit",
        "--domain",
        "finra.otc_transparency",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let audit: Value = serde_json::from_slice(&out.stdout).unwrap();
    let certified: Vec<&Value> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["partition_key"].to_string().contains("2026-10-23")
                && e["ready_for"] == "trading"
                && !e["certified_at"].is_null()
        })
        .collect();
    assert!(
        certified.len() >= 2,
        "expected a certification and a re-certification: {audit:#}"
    );
    assert!(
        certified.iter().all(|e| e["evaluated_by"]
            .as_str()
            .unwrap()
            .contains("spine-demo-worker")),
        "{certified:#?}"
    );
    // Nothing is left running or failed in the queue; the 404's anomaly is resolved.
    let out = run(&["work", "list", "--format", "json"]);
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "COMPLETE"),
        "{items:#}"
    );
    let out = run(&["anomalies", "list", "--unresolved", "--format", "json"]);
    let open: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .all(|a| a["cause"] != "source_unavailable"),
        "{open:#}"
    );
    // Doctor on the same clock finds nothing broken (the newest week waits out its window).
    let out = run(&["doctor", "finra.otc_transparency"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn the_demo_on_the_real_clock_ends_now_and_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let out = spine(dir.path(), &["demo", "--dir", "d", "--weeks", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Run again into the same directory: the database exists; the worker finds its work done.
    let out = spine(dir.path(), &["demo", "--dir", "d", "--weeks", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("d").join("spine.db").display()
    );
    let out = spine(
        dir.path(),
        &["--database-url", &db, "work", "list", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] != "RUNNING" && i["state"] != "FAILED"),
        "{items:#}"
    );
}
