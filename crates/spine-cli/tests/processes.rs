//! What happens between processes: several `spine` processes writing one partition at once, a
//! run killed with SIGKILL half-way, a run stopped with SIGTERM, and a run whose process died
//! without a word. Each test runs the real binary against the same database on SQLite and, when
//! configured, PostgreSQL.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::Value;
use spine_gen::{Fault, GenConfig, GeneratedFile, generate};
use spine_model::{Domain, PartitionKey, Stage, Tier};
use spine_store::test_support::{TestDbRef, for_each_backend};
use spine_store::{captures, finra_otc, manifest};

const NOW: &str = "2026-01-20T09:00:00Z";

fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, 28).unwrap()
}

fn finra() -> Domain {
    Domain::parse(Domain::FINRA_OTC).unwrap()
}

fn key() -> PartitionKey {
    PartitionKey::week_tier(week(), Tier::NmsTier1)
}

/// An original NMS Tier 1 file and its revision (`symbols` per file sets how long a run takes).
fn files(dir: &Path, symbols: usize) -> (GeneratedFile, GeneratedFile) {
    let mut files = generate(
        &GenConfig {
            weeks: 1,
            symbols,
            mpids: 30,
            seed: 7,
            first_week_ending: week(),
            tiers: vec![Tier::NmsTier1],
            faults: vec![Fault::Revision],
        },
        &dir.join("data"),
    )
    .unwrap();
    files.sort_by_key(|f| f.revision);
    let revision = files.pop().unwrap();
    let original = files.pop().unwrap();
    assert_eq!((original.revision, revision.revision), (0, 1));
    (original, revision)
}

fn spine(db: &TestDbRef, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spine"));
    cmd.env("DATABASE_URL", &db.cli_url)
        .env("SPINE_NOW", NOW)
        .env("SPINE_HEARTBEAT_SECS", "1")
        .env_remove("SPINE_NO_CREATE")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn ingest(db: &TestDbRef, file: &Path) -> Child {
    spine(
        db,
        &[
            "ingest",
            "finra-otc",
            "--file",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .spawn()
    .expect("start spine ingest")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The report of a finished `spine ingest --format json`, after checking it exited 0.
fn report(out: Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn json(db: &TestDbRef, args: &[&str]) -> Value {
    let out = spine(db, &[args, &["--format", "json"]].concat())
        .output()
        .unwrap();
    // `doctor` exits 3 when something needs attention; its JSON is the same.
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{args:?}: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The furthest stage the partition's latest capture reached, and that capture's id.
async fn latest_progress(db: &TestDbRef) -> Option<(String, Option<Stage>)> {
    let latest = captures::latest(db.store.conn(), &finra(), &key())
        .await
        .unwrap()?;
    let stages = manifest::stages(db.store.conn(), &finra(), &key())
        .await
        .unwrap();
    let reached = manifest::furthest_stage(&stages, &latest.capture_id);
    Some((latest.capture_id, reached))
}

/// Waits (bounded) until the partition's latest capture has committed RAW but not CALC.
async fn wait_for_raw(db: &TestDbRef, child: &mut Child) -> Option<Stage> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((_, reached)) = latest_progress(db).await
            && reached.is_some()
        {
            return reached;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before RAW was seen");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("RAW never committed");
}

/// The partition agrees with itself: the latest capture in the supersede chain reached CALC,
/// is the one every older capture leads to, and is the one the tier split used.
async fn assert_consistent(db: &TestDbRef) -> String {
    let (latest, reached) = latest_progress(db).await.expect("a capture");
    assert_eq!(
        reached,
        Some(Stage::Calc),
        "{}: latest {latest}",
        db.backend
    );
    let history = captures::history(db.store.conn(), &finra(), &key())
        .await
        .unwrap();
    // The chain is linear and ends at the latest: each capture supersedes the one before.
    for pair in history.windows(2) {
        assert_eq!(
            pair[1].supersedes_capture_id.as_deref(),
            Some(pair[0].capture_id.as_str()),
            "{}: chain {history:#?}",
            db.backend
        );
    }
    assert_eq!(history.last().unwrap().capture_id, latest, "{}", db.backend);
    let split = finra_otc::tier_split(db.store.conn(), week())
        .await
        .unwrap();
    assert_eq!(
        split
            .iter()
            .find(|r| r.tier == Tier::NmsTier1)
            .map(|r| r.capture_id.clone()),
        Some(latest.clone()),
        "{}: the tier split uses another capture",
        db.backend
    );
    latest
}

/// Readiness judges the latest capture and does not call it stuck.
fn assert_readiness_not_stuck(db: &TestDbRef, latest: &str) {
    let out = spine(
        db,
        &[
            "readiness",
            Domain::FINRA_OTC,
            "--week-ending",
            "2025-11-28",
            "--dry-run",
            "--format",
            "json",
        ],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("reached no stage") && text.contains(latest),
        "{}: {text}",
        db.backend
    );
}

#[tokio::test]
async fn an_original_and_a_revision_racing_agree_on_the_latest_capture() {
    let dir = tempfile::tempdir().unwrap();
    let (original, revision) = files(dir.path(), 3_000);
    let ran = for_each_backend(|db| {
        let (original, revision) = (original.path.clone(), revision.path.clone());
        async move {
            // Started 0.3 s apart: the second arrives while the first is still in its stages.
            let first = ingest(&db, &original);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let second = ingest(&db, &revision);
            let first = report(first.wait_with_output().unwrap());
            let second = report(second.wait_with_output().unwrap());
            // Either may take the partition first (the first process also prepares the fresh
            // database); the one that commits second is the revision of the other.
            let (earlier, later, superseded) = if first["status"] == "ingested" {
                (&first, &second, &original)
            } else {
                (&second, &first, &revision)
            };
            assert_eq!(earlier["status"], "ingested", "{}: {earlier}", db.backend);
            assert_eq!(later["status"], "revised", "{}: {later}", db.backend);
            let latest = assert_consistent(&db).await;
            assert_eq!(Some(latest.as_str()), later["capture_id"].as_str());
            assert_readiness_not_stuck(&db, &latest);

            // The superseded bytes arriving again change nothing: they never jump back in
            // front of the capture that replaced them.
            let again = report(ingest(&db, superseded).wait_with_output().unwrap());
            assert_eq!(again["status"], "unchanged", "{}: {again}", db.backend);
            assert_consistent(&db).await;
        }
    })
    .await;
    assert!(ran.contains(&"sqlite"));
}

#[tokio::test]
async fn the_same_file_ingested_by_three_processes_at_once_is_captured_once() {
    let dir = tempfile::tempdir().unwrap();
    let (original, _) = files(dir.path(), 1_000);
    for_each_backend(|db| {
        let path = original.path.clone();
        async move {
            let children: Vec<Child> = (0..3).map(|_| ingest(&db, &path)).collect();
            let mut statuses: Vec<String> = children
                .into_iter()
                .map(|c| report(c.wait_with_output().unwrap())["status"].to_string())
                .collect();
            statuses.sort();
            assert_eq!(
                statuses,
                ["\"ingested\"", "\"unchanged\"", "\"unchanged\""],
                "{}",
                db.backend
            );
            let history = captures::history(db.store.conn(), &finra(), &key())
                .await
                .unwrap();
            assert_eq!(history.len(), 1, "{}", db.backend);
            assert_consistent(&db).await;
        }
    })
    .await;
}

fn kill(child: &Child, signal: libc::c_int) {
    // SAFETY: sending a signal to a child we started and have not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({signal})");
}

#[tokio::test]
async fn a_run_killed_half_way_is_reported_abandoned_and_the_same_ingest_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (original, _) = files(dir.path(), 40_000);
    for_each_backend(|db| {
        let path: PathBuf = original.path.clone();
        async move {
            let mut child = ingest(&db, &path);
            let reached = wait_for_raw(&db, &mut child).await;
            kill(&child, libc::SIGKILL);
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), None, "killed by a signal");
            let (capture, at_kill) = latest_progress(&db).await.unwrap();
            assert!(
                reached <= at_kill && at_kill < Some(Stage::Calc),
                "{at_kill:?}"
            );

            // The run is still RUNNING while its heartbeat is fresh, ABANDONED once it is
            // older than six beats (SPINE_HEARTBEAT_SECS=1: six seconds).
            let runs = json(&db, &["executions", "list"]);
            assert_eq!(runs[0]["status"], "RUNNING", "{}: {runs}", db.backend);
            let dead = runs[0]["execution_id"].as_str().unwrap().to_string();
            assert_eq!(runs[0]["partition_key"], key().canonical(), "{runs}");
            tokio::time::sleep(Duration::from_secs(7)).await;
            let runs = json(&db, &["executions", "list", "--status", "ABANDONED"]);
            assert_eq!(
                runs[0]["execution_id"],
                dead.as_str(),
                "{}: {runs}",
                db.backend
            );
            let status = json(&db, &["status"]);
            let finra_status = status
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["domain"] == Domain::FINRA_OTC)
                .unwrap();
            assert_eq!(finra_status["abandoned_runs"], 1, "{status}");
            let doctor = json(&db, &["doctor", Domain::FINRA_OTC]);
            assert_eq!(
                doctor["abandoned"][0]["execution_id"],
                dead.as_str(),
                "{doctor}"
            );

            // Running the same ingest again resumes the capture rather than calling it done.
            let again = report(ingest(&db, &path).wait_with_output().unwrap());
            assert_eq!(again["status"], "resumed", "{}: {again}", db.backend);
            assert_eq!(again["capture_id"], capture.as_str());
            assert_consistent(&db).await;
            // The dead run stays ABANDONED in the history, but doctor has nothing left to do.
            let doctor = json(&db, &["doctor", Domain::FINRA_OTC]);
            assert_eq!(doctor["abandoned"], serde_json::json!([]), "{doctor}");
        }
    })
    .await;
}

#[tokio::test]
async fn sigterm_stops_the_run_at_a_stage_boundary_as_aborted_and_the_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (original, _) = files(dir.path(), 40_000);
    for_each_backend(|db| {
        let path: PathBuf = original.path.clone();
        async move {
            let mut child = ingest(&db, &path);
            wait_for_raw(&db, &mut child).await;
            kill(&child, libc::SIGTERM);
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("SIGTERM received") && err.contains("stopped before"),
                "{err}"
            );
            let (capture, at_stop) = latest_progress(&db).await.unwrap();
            assert!(at_stop < Some(Stage::Calc), "{at_stop:?}");

            let runs = json(&db, &["executions", "list"]);
            assert_eq!(runs[0]["status"], "ABORTED", "{}: {runs}", db.backend);
            assert!(
                runs[0]["error"].as_str().unwrap().contains("SIGTERM"),
                "{runs}"
            );
            assert!(!runs[0]["finished_at"].is_null());

            let again = report(ingest(&db, &path).wait_with_output().unwrap());
            assert_eq!(again["status"], "resumed", "{}: {again}", db.backend);
            assert_eq!(again["capture_id"], capture.as_str());
            assert_consistent(&db).await;
        }
    })
    .await;
}

#[tokio::test]
async fn first_commands_racing_on_a_fresh_postgres_schema_all_succeed() {
    use spine_store::ConnectionTrait;
    let Ok(url) = std::env::var(spine_store::test_support::POSTGRES_URL_VAR) else {
        return; // SQLite's race is in tests/opening.rs; this one needs the server.
    };
    let schema = format!("spine_race_{}", std::process::id());
    let admin = spine_store::Store::connect(&url).await.unwrap();
    admin
        .conn()
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let cli_url = format!("{url}{separator}options[search_path]={schema}");
    let children: Vec<Child> = (0..4)
        .map(|i| {
            let args: &[&str] = if i % 2 == 0 {
                &["db", "migrate"]
            } else {
                &["db", "migrate", "--format", "json"]
            };
            Command::new(env!("CARGO_BIN_EXE_spine"))
                .env("DATABASE_URL", &cli_url)
                .env("SPINE_NOW", NOW)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    admin
        .conn()
        .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    for out in outcomes {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

#[test]
fn a_second_worker_on_one_sqlite_file_refuses_and_sigterm_stops_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("spine.db").display()
    );
    let worker = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spine"));
        cmd.env("DATABASE_URL", &url)
            .env_remove("SPINE_NOW")
            .arg("worker")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let mut first = worker(&["--worker-id", "first", "--interval", "1h"])
        .spawn()
        .unwrap();
    // Wait (bounded) until the first worker has finished its first pass: it holds the database
    // from then on (before that, a second worker started now could take it first).
    let stdout = first.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the first worker printed no pass");
    assert!(line.starts_with("first: pass at"), "{line}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = worker(&["--once", "--worker-id", "second"])
            .output()
            .unwrap();
        if out.status.code() == Some(1) {
            let err = stderr(&out);
            assert!(
                err.contains("another spine worker is running on this SQLite database"),
                "{err}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second worker never met the first: {}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    kill(&first, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = first.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the worker");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(143));
    // Once it has stopped, a worker may run.
    let out = worker(&["--once", "--worker-id", "second"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
