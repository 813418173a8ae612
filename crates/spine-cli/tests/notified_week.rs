//! The automated week of `worker_week.rs`, told to two subscribers: a trading desk's signed
//! webhook (its receiver fails the first request) and compliance's daily email digest (an SMTP
//! sink). Each receiver gets exactly what it should, once: the webhook every move of a trading
//! verdict with a stable delivery id that survives the retry and a signature that verifies, the
//! mailbox one digest per day with events. Passes repeated at the same clock deliver nothing new.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::Value;
use spine_model::Tier;
use spine_store::test_support::{TestDbRef, for_each_backend};

mod common;

use common::site::{Site, file, start_site, week};

#[path = "../../spine-notify/tests/support/mod.rs"]
mod support;

const DESK_SECRET: &str = "desk-signing-key";

const WORKER: &str = "worker-test";

fn spine(db: &TestDbRef, smtp: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .env("DATABASE_URL", &db.cli_url)
        .env("DESK_HOOK_KEY", DESK_SECRET)
        .env("SPINE_SMTP_URL", smtp)
        .env_remove("SPINE_NOW")
        .env_remove("SPINE_WORKER_ID")
        .args(args)
        .output()
        .expect("run spine")
}

/// One `spine worker --once` pass at `now` (delivery included).
fn pass(db: &TestDbRef, smtp: &str, now: &str) {
    let out = spine(
        db,
        smtp,
        &["worker", "--once", "--worker-id", WORKER, "--now", now],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: pass at {now}: {}",
        db.backend,
        String::from_utf8_lossy(&out.stderr)
    );
}

// Multi-threaded: the test blocks one thread on each `spine` process while the loopback site and
// receivers answer it from another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automated_week_is_told_once_to_each_subscriber() {
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
                site.lock()
                    .unwrap()
                    .insert(path.to_string(), bytes.to_vec());
            };
            let desk = support::Receiver::start(DESK_SECRET, 1, 500).await;
            let mailbox = support::SmtpSink::start().await;
            let smtp = mailbox.url.clone();
            let run = |args: &[&str]| {
                let out = spine(&db, &smtp, args);
                assert!(
                    out.status.success(),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            run(&["db", "migrate"]);
            let template = format!("http://{addr}/${{TIER}}/${{WEEK_ENDING}}.csv");
            run(&[
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
            ]);
            run(&[
                "subscriptions",
                "add",
                "--name",
                "desk",
                "--channel",
                "webhook",
                "--target",
                &desk.url,
                "--domain",
                "finra.otc_transparency",
                "--for",
                "trading",
                "--events",
                "readiness.changed",
                "--secret-env",
                "DESK_HOOK_KEY",
            ]);
            run(&[
                "subscriptions",
                "add",
                "--name",
                "compliance",
                "--channel",
                "email",
                "--target",
                "compliance@example.com",
                "--domain",
                "finra.otc_transparency",
                "--for",
                "compliance",
                "--digest",
                "daily",
            ]);

            publish("NMS_TIER_1/2025-10-10.csv", &t1);
            pass(&db, &smtp, "2025-10-27T10:00:00Z");
            publish("NMS_TIER_1/2025-10-17.csv", &t1_next);
            pass(&db, &smtp, "2025-11-03T10:00:00Z");
            publish("NMS_TIER_2/2025-10-10.csv", &t2);
            publish("NMS_TIER_1/2025-10-24.csv", &t1_after);
            pass(&db, &smtp, "2025-11-10T10:00:00Z");
            publish("OTC/2025-10-10.csv", &otc);
            pass(&db, &smtp, "2025-11-10T14:00:00Z");
            pass(&db, &smtp, "2025-11-12T14:30:00Z");
            publish("NMS_TIER_1/2025-10-10.csv", &t1_republished);
            pass(&db, &smtp, "2025-11-13T16:00:00Z");
            pass(&db, &smtp, "2025-11-15T17:00:00Z");
            // Sunday morning: Saturday's digest is due.
            pass(&db, &smtp, "2025-11-16T09:00:00Z");
            let requests = desk.received().len();
            let mails = mailbox.mails().len();
            // The same clock again: nothing new for anyone.
            pass(&db, &smtp, "2025-11-16T09:00:00Z");
            assert_eq!(desk.received().len(), requests, "{}", db.backend);
            assert_eq!(mailbox.mails().len(), mails, "{}", db.backend);

            // The desk: every move of a trading verdict, once, signed; the first request failed
            // and its retry carried the same delivery id.
            let received = desk.received();
            assert_eq!(received[0].status, 500, "{}", db.backend);
            assert!(received.iter().all(|r| r.signature_ok), "{}", db.backend);
            let accepted = desk.accepted();
            let ids: BTreeSet<&str> = accepted.iter().map(|r| r.delivery_id.as_str()).collect();
            assert_eq!(
                ids.len(),
                accepted.len(),
                "{}: a delivery arrived twice",
                db.backend
            );
            assert!(
                ids.contains(received[0].delivery_id.as_str()),
                "{}: the failed delivery was never delivered",
                db.backend
            );
            assert_eq!(received.len(), accepted.len() + 1, "{}", db.backend);
            let moves: Vec<String> = accepted
                .iter()
                .map(|r| {
                    let body: Value = serde_json::from_str(&r.body).unwrap();
                    assert_eq!(body["event"], "readiness.changed");
                    assert_eq!(body["ready_for"], "trading");
                    assert_eq!(body["id"].as_str(), Some(r.delivery_id.as_str()));
                    let key: Value = match body["partition_key"].as_str() {
                        Some(text) => serde_json::from_str(text).unwrap(),
                        None => body["partition_key"].clone(),
                    };
                    format!(
                        "{} {} -> {}",
                        key["week_ending"].as_str().unwrap_or("?"),
                        body["previous_status"].as_str().unwrap_or("none"),
                        body["status"].as_str().unwrap()
                    )
                })
                .collect();
            let mut sorted = moves.clone();
            sorted.sort();
            assert_eq!(
                sorted,
                [
                    "2025-10-10 NOT_READY -> READY",
                    "2025-10-10 NOT_READY -> READY",
                    "2025-10-10 READY -> NOT_READY",
                    "2025-10-10 none -> NOT_READY",
                    "2025-10-17 none -> NOT_READY",
                    "2025-10-24 none -> NOT_READY",
                ],
                "{}: {moves:?}",
                db.backend
            );

            // Compliance: one digest per day that had events, to the one address.
            let mails = mailbox.mails();
            let days: Vec<String> = mails
                .iter()
                .map(|m| {
                    assert_eq!(m.to, ["<compliance@example.com>"], "{}", db.backend);
                    let subject = m
                        .data
                        .lines()
                        .find(|l| l.starts_with("Subject:"))
                        .unwrap_or_default()
                        .to_string();
                    assert!(subject.contains("Daily digest for "), "{subject}");
                    subject
                        .split("Daily digest for ")
                        .nth(1)
                        .unwrap_or_default()
                        .chars()
                        .take(10)
                        .collect()
                })
                .collect();
            assert_eq!(
                days,
                [
                    "2025-10-27",
                    "2025-11-03",
                    "2025-11-10",
                    "2025-11-12",
                    "2025-11-13",
                    "2025-11-15",
                ],
                "{}",
                db.backend
            );
            assert!(
                mails.iter().any(|m| m.data.contains("2025-10-10")),
                "{}",
                db.backend
            );
        }
    })
    .await;
}
