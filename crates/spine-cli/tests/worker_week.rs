//! The automated week, end to end: `spine worker --once` at successive `--now` clocks against a
//! loopback HTTP source that behaves as FINRA's download site does. Autumn 2025, clear of
//! exchange holidays (a holiday moves a due time, counted in trading hours, by a day):
//!
//! - Mon 27 Oct 10:00: NMS Tier 1 of the week ending 10 Oct is due and fetched;
//! - Mon 3 Nov 10:00: Tier 1 of the next week; the first revision check finds nothing new;
//! - Mon 10 Nov 10:00: NMS Tier 2 and OTC of 10 Oct are due; OTC answers 404 (not published
//!   yet): an ERROR anomaly, the item waits to retry, the week is not ready; a second pass at the
//!   same clock enqueues and attempts nothing;
//! - Mon 10 Nov 14:00: the retry claims OTC and succeeds; the anomaly resolves itself with a note;
//! - Wed 12 Nov 14:30: the 48 h preliminary window has passed: the week is certified, signed by
//!   the worker;
//! - Thu 13 Nov 16:00: FINRA republished Tier 1 of 10 Oct with 200 more symbols at noon: the
//!   daily revision check captures it, an INFO anomaly records the revision, the week is not
//!   ready again until the new capture's window passes;
//! - Sat 15 Nov 17:00: re-certified on the new capture.
//!
//! The story (what each pass enqueued, attempted and decided), the anomalies, the work items
//! and the audit trail are snapshotted; the same snapshot holds on PostgreSQL.

use std::process::{Command, Output};

use serde_json::{Value, json};
use spine_model::Tier;
use spine_store::test_support::{TestDbRef, for_each_backend};

mod common;

use common::site::{Site, file, start_site, week};

const WORKER: &str = "worker-test";

fn spine(db: &TestDbRef, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .env("DATABASE_URL", &db.cli_url)
        .env_remove("SPINE_NOW")
        .env_remove("SPINE_WORKER_ID")
        .args(args)
        .output()
        .expect("run spine")
}

fn json_of(out: &Output, codes: &[i32]) -> Value {
    assert!(
        codes.contains(&out.status.code().unwrap_or(-1)),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// One `spine worker --once` pass at `now`, condensed to what the story needs.
fn pass(db: &TestDbRef, now: &str) -> Value {
    let report = json_of(
        &spine(
            db,
            &[
                "worker",
                "--once",
                "--worker-id",
                WORKER,
                "--now",
                now,
                "--format",
                "json",
            ],
        ),
        &[0],
    );
    json!({
        "now": now,
        "enqueued": report["enqueued"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{} {}", e["kind"].as_str().unwrap(), e["partition_key"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        "attempts": report["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let mut line = format!(
                    "{} {} attempt {}: {}",
                    i["kind"].as_str().unwrap(),
                    i["partition_key"].as_str().unwrap(),
                    i["attempt"],
                    i["outcome"].as_str().unwrap()
                );
                if let Some(status) = i["ingest"].as_str() {
                    line.push_str(&format!(" ({status})"));
                }
                if let Some(next) = i["next_attempt_at"].as_str() {
                    line.push_str(&format!(", next attempt {next}"));
                }
                line
            })
            .collect::<Vec<_>>(),
        "verdicts": report["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!(
                "{} {}: {} -> {}",
                v["partition_key"].as_str().unwrap(),
                v["ready_for"].as_str().unwrap(),
                v["previous"].as_str().unwrap_or("none"),
                v["status"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
    })
}

// Multi-threaded: the test blocks one thread on each `spine` process while the loopback site
// answers it from another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automated_week_runs_itself() {
    let dir = tempfile::tempdir().unwrap();
    let w = week("2025-10-10");
    let t1 = file(dir.path(), Tier::NmsTier1, w, 300);
    let t1_republished = file(dir.path(), Tier::NmsTier1, w, 500);
    let t2 = file(dir.path(), Tier::NmsTier2, w, 300);
    let otc = file(dir.path(), Tier::Otc, w, 300);
    let t1_next = file(dir.path(), Tier::NmsTier1, week("2025-10-17"), 300);
    let t1_after = file(dir.path(), Tier::NmsTier1, week("2025-10-24"), 300);

    for_each_backend(|db| {
        let (t1, t1_republished, t2, otc, t1_next, t1_after) = (
            t1.clone(),
            t1_republished.clone(),
            t2.clone(),
            otc.clone(),
            t1_next.clone(),
            t1_after.clone(),
        );
        async move {
            let site = Site::default();
            let (addr, _stop) = start_site(site.clone()).await;
            let publish = |path: &str, bytes: &[u8]| {
                site.lock().unwrap().insert(path.to_string(), bytes.to_vec());
            };
            let out = spine(&db, &["db", "migrate"]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let template = format!("http://{addr}/${{TIER}}/${{WEEK_ENDING}}.csv");
            let out = spine(
                &db,
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
                    "2025-10-10",
                    "--name",
                    "finra-site",
                    "--now",
                    "2025-10-26T00:00:00Z",
                ],
            );
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

            let mut story = Vec::new();
            publish("NMS_TIER_1/2025-10-10.csv", &t1);
            story.push(pass(&db, "2025-10-27T10:00:00Z"));
            publish("NMS_TIER_1/2025-10-17.csv", &t1_next);
            story.push(pass(&db, "2025-11-03T10:00:00Z"));
            // Monday 10 November: Tier 2 is out, OTC is not (404), Tier 1 of 24 Oct is.
            publish("NMS_TIER_2/2025-10-10.csv", &t2);
            publish("NMS_TIER_1/2025-10-24.csv", &t1_after);
            let monday = pass(&db, "2025-11-10T10:00:00Z");
            story.push(monday);
            // Idempotent: the same clock again enqueues and attempts nothing.
            let again = pass(&db, "2025-11-10T10:00:00Z");
            assert_eq!(again["enqueued"], json!([]), "{}: {again}", db.backend);
            assert_eq!(again["attempts"], json!([]), "{}: {again}", db.backend);
            let anomalies = json_of(
                &spine(&db, &["anomalies", "list", "--unresolved", "--format", "json"]),
                &[0],
            );
            assert!(
                anomalies.as_array().unwrap().iter().any(|a| a["cause"]
                    == "source_unavailable"
                    && a["severity"] == "ERROR"
                    && a["partition_key"]
                        .to_string()
                        .contains("OTC")),
                "{}: {anomalies}",
                db.backend
            );
            publish("OTC/2025-10-10.csv", &otc);
            story.push(pass(&db, "2025-11-10T14:00:00Z"));
            story.push(pass(&db, "2025-11-12T14:30:00Z"));
            // Thursday noon: FINRA republishes Tier 1 of 10 Oct with 200 more symbols.
            publish("NMS_TIER_1/2025-10-10.csv", &t1_republished);
            story.push(pass(&db, "2025-11-13T16:00:00Z"));
            story.push(pass(&db, "2025-11-15T17:00:00Z"));

            // The anomalies: the 404 opened one and the retry resolved it; the revision is
            // recorded.
            let anomalies: Vec<Value> = json_of(
                &spine(&db, &["anomalies", "list", "--format", "json"]),
                &[0],
            )
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                json!({
                    "severity": a["severity"],
                    "category": a["category"],
                    "cause": a["cause"],
                    "partition_key": a["partition_key"],
                    "resolved": !a["resolved_at"].is_null(),
                    "resolution_note": a["resolution_note"].as_str().map(|n| n.split(" capture ").next().unwrap_or(n).to_string()),
                })
            })
            .collect();
            // The queue: nothing left running; OTC needed two attempts.
            let items = json_of(
                &spine(&db, &["work", "list", "--attempts", "--format", "json"]),
                &[0],
            );
            let mut queue: Vec<Value> = items
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    json!({
                        "partition_key": i["partition_key"],
                        "kind": i["kind"],
                        "state": i["state"],
                        "history": i["history"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| format!(
                                "{} {}{}",
                                a["attempt"],
                                a["outcome"].as_str().unwrap(),
                                a["http_status"].as_i64().map(|s| format!(" (HTTP {s})")).unwrap_or_default()
                            ))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            queue.sort_by_key(|q| (q["partition_key"].to_string(), q["kind"].to_string()));
            assert!(
                queue.iter().all(|q| q["state"] != "RUNNING"),
                "{}: {queue:?}",
                db.backend
            );
            // The audit trail: who decided what, on the business clock.
            let audit = json_of(
                &spine(
                    &db,
                    &[
                        "report",
                        "readiness-audit",
                        "--domain",
                        "finra.otc_transparency",
                        "--format",
                        "json",
                    ],
                ),
                &[0],
            );
            let trail: Vec<String> = audit["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["partition_key"].to_string().contains("2025-10-10"))
                .map(|e| {
                    format!(
                        "{} {} {} by {}{}",
                        e["evaluated_at"].as_str().unwrap(),
                        e["ready_for"].as_str().unwrap(),
                        e["status"].as_str().unwrap(),
                        e["evaluated_by"].as_str().unwrap(),
                        if e["certified_at"].is_null() { "" } else { " (certified)" }
                    )
                })
                .collect();
            insta::assert_json_snapshot!(
                "the_automated_week",
                json!({
                    "story": story,
                    "anomalies": anomalies,
                    "queue": queue,
                    "audit_2025_10_10": trail,
                })
            );
        }
    })
    .await;
}
