//! Many workers, one queue: three `spine worker` processes started at once on PostgreSQL over
//! twelve due weeks of three tiers (and the two later Tier 1 weeks already due) capture every
//! partition exactly once and leave nothing RUNNING; one of them killed (`kill -9`) while it
//! holds an item leaves that item to be taken over by another worker once its lease expires.
//!
//! PostgreSQL only: it is the backend on which several workers share a queue (SQLite runs one
//! worker per file; `tests/processes.rs` checks that a second one refuses).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use chrono::NaiveDate;
use serde_json::Value;
use spine_gen::{GenConfig, generate};
use spine_model::{Domain, PartitionKey, Tier};
use spine_store::captures;
use spine_store::test_support::TestDb;

/// The business clock of every pass: OTC and Tier 2 of the week ending 19 Dec are due (the
/// year-end holidays, counted in trading hours, moved them past Monday the 19th).
const NOW: &str = "2026-01-22T12:00:00Z";

/// What the loopback site serves, and how many times each file was asked for.
#[derive(Default)]
struct Site {
    files: HashMap<String, Vec<u8>>,
    requests: BTreeMap<String, usize>,
}

type Shared = Arc<Mutex<Site>>;

async fn serve_file(
    State(site): State<Shared>,
    UrlPath((tier, file)): UrlPath<(String, String)>,
) -> Result<Vec<u8>, StatusCode> {
    let path = format!("{tier}/{file}");
    let body = {
        let mut site = site.lock().unwrap();
        *site.requests.entry(path.clone()).or_default() += 1;
        site.files.get(&path).cloned()
    };
    // Slow enough that a worker is caught holding an item.
    tokio::time::sleep(Duration::from_millis(400)).await;
    body.ok_or(StatusCode::NOT_FOUND)
}

async fn start_site(site: Shared) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    common::site::serve(
        axum::Router::new()
            .route("/{tier}/{file}", get(serve_file))
            .with_state(site),
    )
    .await
}

fn spine(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spine"));
    cmd.env("DATABASE_URL", url)
        .env_remove("SPINE_NOW")
        .env_remove("SPINE_WORKER_ID")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn worker(url: &str, id: &str) -> Child {
    spine(
        url,
        &[
            "worker",
            "--once",
            "--worker-id",
            id,
            "--lease",
            "3s",
            "--now",
            NOW,
        ],
    )
    .spawn()
    .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn work_items(url: &str) -> Vec<Value> {
    let out = spine(url, &["work", "list", "--attempts", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn wait_exit(child: &mut Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("a worker did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    if let Some(mut s) = child.stderr.take() {
        s.read_to_end(&mut out.stderr).ok();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_the_queue_and_a_killed_one_is_taken_over() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first: NaiveDate = "2025-10-03".parse().unwrap();
    let files = generate(
        &GenConfig {
            weeks: 14,
            symbols: 60,
            mpids: 8,
            seed: 11,
            first_week_ending: first,
            tiers: Tier::ALL.to_vec(),
            faults: Vec::new(),
        },
        dir.path(),
    )
    .unwrap();
    let site: Shared = Arc::default();
    {
        let mut s = site.lock().unwrap();
        for f in &files {
            s.files.insert(
                format!("{}/{}.csv", f.tier, f.week_ending),
                std::fs::read(&f.path).unwrap(),
            );
        }
    }
    let (addr, _stop) = start_site(site.clone()).await;
    let url = db.cli_url.clone();
    let template = format!("http://{addr}/${{TIER}}/${{WEEK_ENDING}}.csv");
    let out = spine(
        &url,
        &[
            "sources",
            "add",
            "--domain",
            "finra.otc_transparency",
            "--kind",
            "url-template",
            "--url-template",
            &template,
            "--since",
            "2025-10-03",
            "--name",
            "finra-site",
            "--now",
            "2025-10-10T00:00:00Z",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // Three workers at once; the first is killed while it holds an item.
    let mut victim = worker(&url, "w-victim");
    let mut others = vec![worker(&url, "w-one"), worker(&url, "w-two")];
    let deadline = Instant::now() + Duration::from_secs(120);
    let held = loop {
        let running: Vec<Value> = work_items(&url)
            .into_iter()
            .filter(|i| i["state"] == "RUNNING" && i["locked_by"] == "w-victim")
            .collect();
        if let Some(item) = running.first() {
            break item["id"].as_i64().unwrap();
        }
        assert!(
            victim.try_wait().unwrap().is_none(),
            "the victim finished before it was caught holding an item"
        );
        assert!(
            Instant::now() < deadline,
            "the victim never claimed an item"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // SAFETY: sending a signal to a child we spawned.
    unsafe { libc::kill(victim.id() as libc::pid_t, libc::SIGKILL) };
    victim.wait().unwrap();
    for child in &mut others {
        let out = wait_exit(child, Duration::from_secs(300));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    // Once the dead worker's lease (3 s, wall clock) has expired, a worker takes its item over.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let out = spine(
        &url,
        &["worker", "--once", "--worker-id", "w-three", "--now", NOW],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let items = work_items(&url);
    assert!(
        items.iter().all(|i| i["state"] != "RUNNING"),
        "items left RUNNING: {items:#?}"
    );
    let taken: &Value = items
        .iter()
        .find(|i| i["id"].as_i64() == Some(held))
        .unwrap();
    let history = taken["history"].as_array().unwrap();
    assert!(
        history.iter().any(|a| a["took_over_from"] == "w-victim"),
        "item {held} was not taken over from the killed worker: {taken:#}"
    );
    assert_eq!(taken["state"], "COMPLETE", "{taken:#}");

    // Every served file that was due is captured exactly once.
    let domain = Domain::parse("finra.otc_transparency").unwrap();
    let mut captured = BTreeMap::new();
    for item in items.iter().filter(|i| i["kind"] == "FETCH") {
        let key = PartitionKey::parse(item["partition_key"].as_str().unwrap()).unwrap();
        let n = captures::history(db.store.conn(), &domain, &key)
            .await
            .unwrap()
            .len();
        captured.insert(key.canonical(), n);
    }
    assert!(
        captured.values().all(|n| *n == 1),
        "a partition was captured other than once: {captured:#?}"
    );
    // Twelve weeks of three tiers, plus Tier 1 of the two later weeks (its lag is shorter).
    assert_eq!(captured.len(), 12 * 3 + 2, "{captured:#?}");
    assert!(
        items
            .iter()
            .filter(|i| i["kind"] == "FETCH")
            .all(|i| i["state"] == "COMPLETE"),
        "{items:#?}"
    );
    db.cleanup().await;
}
