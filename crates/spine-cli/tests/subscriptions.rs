//! `spine subscriptions add|list|remove|deliveries|deliver` as an operator meets them: bad input
//! refused with exit 2 before any database is opened (a database that does not exist stays
//! missing), a duplicate name refused with exit 2, and the round trip — add, list as JSON,
//! deliver to a loopback receiver, read the delivery log, remove — on SQLite and, when
//! configured, PostgreSQL.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use spine_store::test_support::{TestDbRef, for_each_backend};

const NOW: &str = "2026-01-20T09:00:00Z";

fn spine_at(url: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("SPINE_NOW", NOW)
        .env("DESK_HOOK_KEY", "k3y")
        .env_remove("SPINE_SMTP_URL")
        .env_remove("SPINE_NO_CREATE")
        .args(args)
        .output()
        .expect("run spine")
}

fn spine(db: &TestDbRef, args: &[&str]) -> Output {
    spine_at(&db.cli_url, &std::env::temp_dir(), args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_out(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("JSON output")
}

#[test]
fn bad_subscription_input_exits_2_and_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("never.db").display()
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--channel",
                "webhook",
                "--target",
                "not a url",
                "--secret-env",
                "K",
            ],
            "not a URL",
        ),
        (
            &[
                "--channel",
                "webhook",
                "--target",
                "ftp://x/y",
                "--secret-env",
                "K",
            ],
            "http:// or https://",
        ),
        (
            &["--channel", "webhook", "--target", "https://h.example/x"],
            "--secret-env",
        ),
        (
            &[
                "--channel",
                "webhook",
                "--target",
                "https://h.example/x",
                "--secret-env",
                "s3cret!",
            ],
            "not an environment variable name",
        ),
        (
            &["--channel", "email", "--target", "not an address"],
            "not an email address",
        ),
        (
            &[
                "--channel",
                "slack",
                "--target",
                "https://h.example/x",
                "--events",
                "readiness.changed,bogus",
            ],
            "unknown event `bogus`",
        ),
        (
            &[
                "--channel",
                "slack",
                "--target",
                "https://h.example/x",
                "--domain",
                "acme.nothing",
            ],
            "unknown domain",
        ),
        (
            &[
                "--channel",
                "slack",
                "--target",
                "https://h.example/x",
                "--for",
                "gambling",
            ],
            "ready_for",
        ),
        (
            &["--channel", "pigeon", "--target", "https://h.example/x"],
            "channel",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["subscriptions", "add", "--name", "x"];
        args.extend_from_slice(extra);
        let out = spine_at(&url, dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: expected `{expected}` in {}",
            stderr(&out)
        );
    }
    assert!(
        !dir.path().join("never.db").exists(),
        "bad input opened (created) the database"
    );
}

/// An HTTP receiver on loopback answering 200 to `n` requests, one connection each, then
/// stopping: returns what it received.
fn receiver(n: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..n {
            let Ok((mut stream, _)) = listener.accept() else {
                break;
            };
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .ok();
            got.push(String::from_utf8_lossy(&buf).to_string());
        }
        got
    });
    (url, handle)
}

#[tokio::test]
async fn subscriptions_round_trip_through_the_binary() {
    for_each_backend(|db| async move {
        let (url, handle) = receiver(2);
        let added = json_out(&spine(
            &db,
            &[
                "subscriptions",
                "add",
                "--name",
                "trading-desk",
                "--channel",
                "webhook",
                "--target",
                &url,
                "--for",
                "trading",
                "--secret-env",
                "DESK_HOOK_KEY",
                "--events",
                "readiness.changed,anomaly.opened",
                "--format",
                "json",
            ],
        ));
        assert_eq!(added["name"], "trading-desk");
        assert_eq!(added["secret_env"], "DESK_HOOK_KEY");
        let again = spine(
            &db,
            &[
                "subscriptions",
                "add",
                "--name",
                "trading-desk",
                "--channel",
                "slack",
                "--target",
                &url,
            ],
        );
        assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
        assert!(stderr(&again).contains("already exists"));
        let listed = json_out(&spine(&db, &["subscriptions", "list", "--format", "json"]));
        assert_eq!(listed.as_array().unwrap().len(), 1);

        // `test` sends now, signed, and records nothing.
        let tested = json_out(&spine(
            &db,
            &["subscriptions", "test", "trading-desk", "--format", "json"],
        ));
        assert_eq!(tested["delivered"], true, "{tested}");

        // An anomaly recorded by the store is an event; `deliver` sends it.
        spine_store::anomalies::record(
            db.store.conn(),
            spine_store::anomalies::NewAnomaly::new(
                spine_model::Domain::parse("finra.otc_transparency").unwrap(),
                spine_model::Severity::Error,
                spine_model::Category::Completeness,
                "fewer symbols than the baseline",
                chrono::Utc::now(),
            ),
        )
        .await
        .unwrap();
        let delivered = json_out(&spine(
            &db,
            &["subscriptions", "deliver", "--format", "json"],
        ));
        assert_eq!(delivered["delivered"], 1, "{delivered}");
        let got = handle.join().unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].contains("\"event\":\"test\""), "{}", got[0]);
        let sent = got[1].to_ascii_lowercase();
        assert!(sent.contains("x-spine-signature: sha256="), "{sent}");
        assert!(
            got[1].contains("\"event\":\"anomaly.opened\""),
            "{}",
            got[1]
        );

        let log = json_out(&spine(
            &db,
            &[
                "subscriptions",
                "deliveries",
                "trading-desk",
                "--format",
                "json",
            ],
        ));
        assert_eq!(log[0]["state"], "DELIVERED", "{log}");
        assert_eq!(log[0]["attempts"], 1);

        let removed = spine(&db, &["subscriptions", "remove", "trading-desk"]);
        assert_eq!(removed.status.code(), Some(0), "{}", stderr(&removed));
        let missing = spine(&db, &["subscriptions", "remove", "trading-desk"]);
        assert_eq!(missing.status.code(), Some(2));
    })
    .await;
}
