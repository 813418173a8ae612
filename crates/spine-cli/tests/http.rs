//! The readiness HTTP API over real HTTP: the router runs on an ephemeral loopback port in a
//! tokio task, on SQLite and (when `SPINE_TEST_POSTGRES_URL` is set) PostgreSQL, over data
//! prepared by the real pipelines (generated FINRA files, the shipped calendar, certification).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use spine_cli::server::{AppState, Endpoint, Location, ParamKind, ROUTES, ServerConfig, serve};
use spine_engine::RunContext;
use spine_engine::capture::{self, FetchedInput};
use spine_engine::readiness::{certify, evaluate_only};
use spine_finra::FinraDomain;
use spine_gen::{GenConfig, generate};
use spine_model::{Domain, PartitionKey, ReadyFor, Severity, Tier};
use spine_store::anomalies::{self, AnomalyFilter};
use spine_store::test_support::for_each_backend;
use spine_store::{Store, captures, overview};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const FINRA: &str = "finra.otc_transparency";

/// The server's clock: every generated week is past due and past its preliminary window.
fn clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 20, 9, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn finra() -> Domain {
    Domain::parse(FINRA).unwrap()
}

/// The API running on `127.0.0.1:0`, and a client for it.
struct Server {
    base: String,
    client: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// One answer, read whole.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Server {
    async fn start(store: Store, fixed_now: Option<DateTime<Utc>>) -> Server {
        Server::start_with(store, fixed_now, ServerConfig::default()).await
    }

    async fn start_with(
        store: Store,
        fixed_now: Option<DateTime<Utc>>,
        config: ServerConfig,
    ) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            AppState::new(common::engine(&store), fixed_now),
            config,
            async move {
                stopped.await.ok();
            },
        ));
        // reqwest is built without a bundled crypto provider (see the `https` feature); plain
        // HTTP needs none, but building a client with TLS support compiled in needs one.
        #[cfg(feature = "https")]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Server {
            base: format!("http://{addr}"),
            client,
            stop,
            task,
        }
    }

    async fn request(&self, method: reqwest::Method, path: &str) -> Reply {
        let response = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().await.unwrap();
        Reply {
            status,
            content_type,
            headers,
            text,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.request(reqwest::Method::GET, path).await
    }

    /// Stops the server gracefully and waits (bounded) for it to finish.
    async fn stop(self) {
        self.stop.send(()).ok();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the server stops within 30 s")
            .expect("the server task does not panic")
            .expect("the server exits cleanly");
    }
}

/// Asserts a JSON error answer: the status, `{"error", "status"}`, and that the message names
/// `mentions`.
#[track_caller]
fn assert_error(reply: &Reply, status: u16, mentions: &[&str]) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(
        reply.content_type.starts_with("application/json"),
        "{}: {}",
        reply.content_type,
        reply.text
    );
    let body = reply.json();
    assert_eq!(body["status"], json!(status), "{body}");
    let error = body["error"].as_str().expect("an error message");
    for m in mentions {
        assert!(error.contains(m), "`{error}` should mention `{m}`");
    }
}

/// SQLite always; PostgreSQL too when it is configured (a CI run that meant to test it must
/// not pass by skipping it).
fn assert_ran_everywhere(ran: &[&str]) {
    assert!(ran.contains(&"sqlite"), "{ran:?}");
    if std::env::var(spine_store::test_support::POSTGRES_URL_VAR).is_ok_and(|u| !u.is_empty()) {
        assert!(ran.contains(&"postgres"), "{ran:?}");
    }
}

/// What the fixture prepared.
struct Fixture {
    /// A complete, certified week.
    ready_week: NaiveDate,
    /// A week whose OTC file never arrived.
    missing_otc_week: NaiveDate,
}

/// Three weeks of every tier, captured when FINRA publishes them, except the last week's OTC
/// file; then certified for trading, which also records the missed OTC partition.
async fn prepare(store: &Store, dir: &std::path::Path) -> Fixture {
    let files = generate(
        &GenConfig {
            weeks: 3,
            symbols: 60,
            mpids: 10,
            seed: 11,
            first_week_ending: date(2025, 12, 5),
            ..GenConfig::default()
        },
        dir,
    )
    .unwrap();
    let missing_otc_week = date(2025, 12, 19);
    let ready_week = date(2025, 12, 12);
    let late_week = date(2025, 12, 5);
    common::load_calendars(store, clock()).await;
    let mut by_publication: Vec<_> = files
        .iter()
        .filter(|f| !(f.tier == Tier::Otc && f.week_ending == missing_otc_week))
        .collect();
    by_publication.sort_by_key(|f| (f.last_update, f.tier));
    for f in by_publication {
        // One file arrives weeks late: detection records a WARN FRESHNESS anomaly, which
        // operations then resolve (below), so the anomaly filters have something to tell apart.
        let late = f.tier == Tier::NmsTier2 && f.week_ending == late_week;
        let at = if late {
            clock() - chrono::Duration::days(1)
        } else {
            f.last_update.and_hms_opt(12, 0, 0).unwrap().and_utc()
        };
        let input = FetchedInput {
            locator: f.path.file_name().unwrap().to_string_lossy().into_owned(),
            ..FetchedInput::local_file(&f.path).unwrap()
        };
        capture::ingest_fetched(
            &common::engine(store),
            &FinraDomain::default(),
            &input,
            &PartitionKey::week_tier(f.week_ending, f.tier),
            &RunContext::quiet(at),
        )
        .await
        .unwrap_or_else(|e| panic!("ingest {}: {e}", f.path.display()));
    }
    let late = anomalies::list(
        store.conn(),
        &AnomalyFilter {
            category: Some(spine_model::Category::Freshness),
            week_ending: Some(late_week),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(late.len(), 1, "the late file is flagged: {late:?}");
    anomalies::resolve(
        store.conn(),
        late[0].id,
        "FINRA confirmed the late publication",
        clock() - chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    for week in [ready_week, missing_otc_week] {
        certify(
            &common::engine(store),
            &finra(),
            &PartitionKey::week(week),
            ReadyFor::Trading,
            "spine-test",
            &RunContext::quiet(clock()),
        )
        .await
        .unwrap();
    }
    Fixture {
        ready_week,
        missing_otc_week,
    }
}

/// Everything a read-only API must leave alone.
async fn written_state(store: &Store) -> Value {
    let conn = store.conn();
    let history = spine_store::readiness::history(conn, &finra(), None, None)
        .await
        .unwrap();
    let current = spine_store::readiness::list_current(conn, None)
        .await
        .unwrap();
    let all = anomalies::list(conn, &AnomalyFilter::default())
        .await
        .unwrap();
    json!({
        "history": history.len(),
        "current": current.iter().map(|r| (r.id, r.evaluated_at)).collect::<Vec<_>>(),
        "anomalies": all.iter().map(|a| (a.id, a.resolved_at)).collect::<Vec<_>>(),
        "overview": overview::domains(conn).await.unwrap(),
    })
}

#[tokio::test]
async fn the_api_answers_from_the_pipelines_data_without_writing() {
    let ran = for_each_backend(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let fx = prepare(&db.store, dir.path()).await;
        let before = written_state(&db.store).await;
        let server = Server::start(db.store.clone(), Some(clock())).await;

        check_readiness(&server, &db.store, &fx).await;
        check_anomalies(&server, &db.store, &fx).await;
        check_doctor(&server, &fx).await;
        check_metrics(&server, &db.store, &fx).await;
        check_openapi(&server).await;

        assert_eq!(
            written_state(&db.store).await,
            before,
            "{}: the API wrote to the database",
            db.backend
        );
        server.stop().await;
    })
    .await;
    assert_ran_everywhere(&ran);
}

async fn check_readiness(server: &Server, store: &Store, fx: &Fixture) {
    let run = RunContext::quiet(clock());
    let engine = common::engine(store);

    // Ready: 200 with the certification, the same JSON the pipeline returns.
    let ready = server
        .get(&format!("/api/v1/readiness/{FINRA}/{}", fx.ready_week))
        .await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert!(ready.content_type.starts_with("application/json"));
    let body = ready.json();
    let direct = evaluate_only(
        &engine,
        &finra(),
        &PartitionKey::week(fx.ready_week),
        ReadyFor::Trading,
        &run,
    )
    .await
    .unwrap();
    assert_eq!(body, serde_json::to_value(&direct).unwrap());
    assert_eq!(body["is_ready"], json!(true));
    assert_eq!(
        body["ready_for"],
        json!("trading"),
        "ready_for defaults to trading"
    );
    assert!(
        ["READY", "READY_WITH_WARNINGS"].contains(&body["status"].as_str().unwrap()),
        "{body}"
    );
    assert_eq!(body["blocking_issues"], json!([]));
    for (name, value) in body["criteria"].as_object().unwrap() {
        assert_eq!(value, &json!(true), "criterion {name}");
    }
    // The judged captures include the latest capture of each of the week's three tiers.
    let judged = body["captures_judged"].as_array().unwrap();
    for tier in Tier::ALL {
        let key = PartitionKey::week_tier(fx.ready_week, *tier);
        let latest = captures::latest(store.conn(), &finra(), &key)
            .await
            .unwrap()
            .unwrap();
        assert!(
            judged.contains(&json!(latest.capture_id)),
            "{tier}: {judged:?}"
        );
    }
    // The recorded certification judged the same captures: it is reported, not re-made.
    assert_eq!(
        body["certified_by"],
        json!("spine-test"),
        "evaluate_only must judge the same captures `certify` records (upstream ones included), \
         or a certified week never shows its certification"
    );
    assert_eq!(body["evaluated_at"], json!(clock()));

    // Not ready: 503 with the reasons, the same JSON shape.
    let missing = server
        .get(&format!(
            "/api/v1/readiness/{FINRA}/{}?ready_for=trading",
            fx.missing_otc_week
        ))
        .await;
    assert_eq!(missing.status, 503, "{}", missing.text);
    let body = missing.json();
    assert_eq!(body["is_ready"], json!(false));
    assert_eq!(body["status"], json!("NOT_READY"));
    assert_eq!(body["criteria"]["all_partitions_present"], json!(false));
    let issues = body["blocking_issues"].as_array().unwrap();
    assert!(
        issues.iter().any(|i| i.as_str().unwrap().contains("OTC")),
        "{issues:?}"
    );
    assert_eq!(body["certified_at"], Value::Null);

    // Each use and tier is its own question; vocabulary is case-insensitive, as in the CLI.
    let compliance = server
        .get(&format!(
            "/api/v1/readiness/{FINRA}/{}?ready_for=Compliance&tier=nms_tier_1",
            fx.missing_otc_week
        ))
        .await;
    assert!(
        [200, 503].contains(&compliance.status),
        "{}",
        compliance.text
    );
    let body = compliance.json();
    assert_eq!(body["ready_for"], json!("compliance"));
    assert_eq!(
        body["partition_key"],
        json!(PartitionKey::week_tier(fx.missing_otc_week, Tier::NmsTier1).canonical())
    );
    let direct = evaluate_only(
        &engine,
        &finra(),
        &PartitionKey::week_tier(fx.missing_otc_week, Tier::NmsTier1),
        ReadyFor::Compliance,
        &run,
    )
    .await
    .unwrap();
    assert_eq!(body, serde_json::to_value(&direct).unwrap());
    assert_eq!(compliance.status == 200, direct.is_ready);

    // A week with nothing at all is not ready (everything expected is missing), not unknown.
    let empty = server
        .get(&format!("/api/v1/readiness/{FINRA}/2025-10-03"))
        .await;
    assert_eq!(empty.status, 503, "{}", empty.text);

    // Extreme but valid dates are answered, never a 500.
    for week in ["9999-12-31", "0001-01-05"] {
        let r = server
            .get(&format!("/api/v1/readiness/{FINRA}/{week}"))
            .await;
        assert_eq!(r.status, 503, "{week}: {}", r.text);
    }
}

async fn check_anomalies(server: &Server, store: &Store, fx: &Fixture) {
    let conn = store.conn();
    let all = anomalies::list(conn, &AnomalyFilter::default())
        .await
        .unwrap();
    assert!(!all.is_empty(), "the fixture records anomalies");
    let week = fx.missing_otc_week;
    let cases: Vec<(String, AnomalyFilter)> = vec![
        (String::new(), AnomalyFilter::default()),
        (
            format!("?domain={FINRA}"),
            AnomalyFilter {
                domain: Some(finra()),
                ..Default::default()
            },
        ),
        (
            "?unresolved=true".into(),
            AnomalyFilter {
                unresolved_only: true,
                ..Default::default()
            },
        ),
        (
            "?severity=ERROR&unresolved=false".into(),
            AnomalyFilter {
                severity: Some(Severity::Error),
                ..Default::default()
            },
        ),
        (
            format!("?week_ending={week}"),
            AnomalyFilter {
                week_ending: Some(week),
                ..Default::default()
            },
        ),
        (
            "?category=SCHEDULE&severity=".into(),
            AnomalyFilter {
                category: Some(spine_model::Category::Schedule),
                ..Default::default()
            },
        ),
        (
            format!(
                "?domain={FINRA}&severity=ERROR&unresolved=true&week_ending={week}&category=SCHEDULE"
            ),
            AnomalyFilter {
                domain: Some(finra()),
                severity: Some(Severity::Error),
                unresolved_only: true,
                week_ending: Some(week),
                category: Some(spine_model::Category::Schedule),
                ..Default::default()
            },
        ),
    ];
    for (query, filter) in cases {
        let reply = server.get(&format!("/api/v1/anomalies{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        let expected: Vec<Value> = anomalies::list(conn, &filter)
            .await
            .unwrap()
            .iter()
            .map(spine_cli::output::anomaly_json)
            .collect();
        // Round-tripped through text, as a client sees it.
        let expected: Value = serde_json::from_str(&Value::Array(expected).to_string()).unwrap();
        assert_eq!(reply.json(), expected, "{query}");
    }

    // The narrowest filter finds the missed OTC partition the certification recorded, and only
    // what matches every filter.
    let reply = server
        .get(&format!(
            "/api/v1/anomalies?domain={FINRA}&severity=ERROR&unresolved=true&week_ending={week}&category=SCHEDULE"
        ))
        .await;
    let rows = reply.json();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.len() < all.len());
    for r in rows {
        assert_eq!(r["severity"], json!("ERROR"));
        assert_eq!(r["category"], json!("SCHEDULE"));
        assert_eq!(r["resolved_at"], Value::Null);
        assert_eq!(r["partition_key"]["week_ending"], json!(week.to_string()));
    }
    assert!(
        rows.iter()
            .any(|r| r["partition_key"] == json!({"tier": "OTC", "week_ending": week.to_string()})),
        "{rows:?}"
    );
}

async fn check_doctor(server: &Server, fx: &Fixture) {
    // The missed OTC file blocks: 503 with the report. At the server's clock the newest weeks
    // are the ones the doctor looks at first (missed, since nothing was ingested after
    // December); ten weeks reach back to the fixture's.
    let reply = server
        .get(&format!("/api/v1/doctor/{FINRA}?weeks=10"))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    let report = reply.json();
    assert_eq!(report["blocking"], json!(true));
    assert_eq!(report["domain"], json!(FINRA));
    assert_eq!(report["checked_at"], json!(clock()));
    let weeks = report["weeks"].as_array().unwrap();
    assert!(!weeks.is_empty() && weeks.len() <= 10);
    let missing_week = weeks
        .iter()
        .find(|w| w["week_ending"] == json!(fx.missing_otc_week.to_string()))
        .expect("the week with the missing OTC file is examined");
    assert!(
        missing_week["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["partition_key"]
                == json!(PartitionKey::week_tier(fx.missing_otc_week, Tier::Otc).canonical())),
        "{missing_week}"
    );
    assert!(!report["remediation"].as_array().unwrap().is_empty());

    // `weeks` bounds the fully due weeks examined (newer, partly due ones are shown besides);
    // the default is 4, and the latest fully due week is named first.
    let fully_due = |body: &Value| {
        body["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["fully_due"] == json!(true))
            .count()
    };
    let one = server.get(&format!("/api/v1/doctor/{FINRA}?weeks=1")).await;
    let one = one.json();
    assert_eq!(fully_due(&one), 1, "{one}");
    let latest = one["latest_due_week"].as_str().unwrap().to_string();
    assert!(
        one["headline"]
            .as_str()
            .unwrap()
            .starts_with(&format!("latest fully due week {latest}"))
    );
    let default = server.get(&format!("/api/v1/doctor/{FINRA}")).await;
    let four = server.get(&format!("/api/v1/doctor/{FINRA}?weeks=4")).await;
    assert_eq!(default.json(), four.json());
    assert_eq!(fully_due(&four.json()), 4);
    let zero = server.get(&format!("/api/v1/doctor/{FINRA}?weeks=0")).await;
    assert_eq!(zero.status, 400, "{}", zero.text);

    // A domain with nothing blocking answers 200, and the status always follows `blocking`.
    let calendar = server
        .get(&format!("/api/v1/doctor/{}", Domain::EXCHANGE_CALENDAR))
        .await;
    let body = calendar.json();
    assert_eq!(body["blocking"], json!(false), "{body}");
    assert_eq!(calendar.status, 200);
}

/// Parses one sample line of the text format into (name, labels, value), unescaping labels.
fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let Some(open) = line.find('{') else {
        let (name, value) = line.split_once(' ').expect("name value");
        let value = value.trim().parse::<f64>().expect("a numeric value");
        return (name.to_string(), BTreeMap::new(), value);
    };
    let name = line[..open].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[open + 1..];
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            let value = after.trim().parse::<f64>().expect("a numeric value");
            return (name, labels, value);
        }
        rest = rest.strip_prefix(',').unwrap_or(rest);
        let eq = rest.find("=\"").expect("label=\"value\"");
        let key = rest[..eq].to_string();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            let (i, c) = chars.next().expect("a closing quote");
            match c {
                '\\' => match chars.next().expect("an escaped character").1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.insert(key, value);
        rest = &rest[eq + 2 + end + 1..];
    }
}

async fn check_metrics(server: &Server, store: &Store, fx: &Fixture) {
    let reply = server.get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.content_type
    );
    let mut families = BTreeSet::new();
    let mut samples = Vec::new();
    for line in reply.text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            let expected = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            assert_eq!(kind, expected, "{name}");
            families.insert(name.to_string());
        } else if !line.starts_with("# HELP ") {
            let sample = parse_sample(line);
            assert!(families.contains(&sample.0), "{line}: no TYPE before it");
            samples.push(sample);
        }
    }
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|s| s.2)
    };

    // Open anomalies: every severity of the domain, zeros included, matching the store.
    let open = anomalies::list(
        store.conn(),
        &AnomalyFilter {
            domain: Some(finra()),
            unresolved_only: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for severity in Severity::ALL {
        let count = open
            .iter()
            .filter(|a| a.severity == severity.as_str())
            .count();
        assert_eq!(
            value(
                "spine_open_anomalies",
                &[("domain", FINRA), ("severity", severity.as_str())]
            ),
            Some(count as f64),
            "{severity}"
        );
    }

    // Notifications: every delivery state, zeros included (no subscription here).
    for state in ["PENDING", "DELIVERED", "FAILED"] {
        assert_eq!(
            value("spine_notification_deliveries", &[("state", state)]),
            Some(0.0),
            "{state}"
        );
    }
    assert_eq!(value("spine_notification_failures_total", &[]), Some(0.0));

    // Readiness: the two certified weeks, one ready and one not.
    let readiness = |status: &str| {
        value(
            "spine_readiness",
            &[
                ("domain", FINRA),
                ("ready_for", "trading"),
                ("status", status),
            ],
        )
        .unwrap_or_else(|| panic!("spine_readiness for {status}"))
    };
    assert_eq!(readiness("NOT_READY"), 1.0);
    assert_eq!(readiness("READY") + readiness("READY_WITH_WARNINGS"), 1.0);

    // Capture age per partition: the JSON partition key survives the label escaping.
    let key = PartitionKey::week_tier(fx.missing_otc_week, Tier::NmsTier1);
    let latest = captures::latest(store.conn(), &finra(), &key)
        .await
        .unwrap()
        .unwrap();
    assert!(
        reply
            .text
            .contains(r#"partition_key="{\"tier\":\"NMS_TIER_1\","#)
    );
    assert_eq!(
        value(
            "spine_latest_capture_age_seconds",
            &[("domain", FINRA), ("partition_key", &key.canonical())]
        ),
        Some((clock() - latest.captured_at).num_seconds() as f64)
    );
    let otc = PartitionKey::week_tier(fx.missing_otc_week, Tier::Otc).canonical();
    assert_eq!(
        value(
            "spine_latest_capture_age_seconds",
            &[("domain", FINRA), ("partition_key", &otc)]
        ),
        None,
        "a partition never captured has no age"
    );
    let partitions = samples
        .iter()
        .filter(|(n, l, _)| n == "spine_latest_capture_age_seconds" && l["domain"] == FINRA)
        .count();
    assert_eq!(
        partitions, 8,
        "three weeks of three tiers, minus the missing OTC file"
    );
}

/// Resolves a `$ref` of the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {r}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "$ref {r} does not resolve");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// Validates `value` against an OpenAPI 3.0 schema (the subset the document uses).
#[track_caller]
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Err(e) = conforms(doc, schema, value, at) {
        panic!("{e}");
    }
}

/// Whether `value` conforms to `schema`, or the first reason it does not.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let errors: Vec<String> = options
            .iter()
            .filter_map(|option| conforms(doc, option, value, at).err())
            .collect();
        return match options.len() - errors.len() {
            1 => Ok(()),
            0 => Err(format!("{at}: matches none of oneOf: {errors:?}")),
            n => Err(format!("{at}: matches {n} schemas of oneOf, not one")),
        };
    }
    if value.is_null() {
        return if schema["nullable"] == json!(true) || schema.get("type").is_none() {
            Ok(())
        } else {
            Err(format!("{at}: null where the schema is not nullable"))
        };
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let expect = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("{at}: not {what}"))
        }
    };
    match schema.get("type").and_then(Value::as_str) {
        None => Ok(()),
        Some("object") => {
            let object = value
                .as_object()
                .ok_or_else(|| format!("{at}: not an object"))?;
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap();
                if !object.contains_key(key) {
                    return Err(format!("{at}: missing `{key}`"));
                }
            }
            for (key, v) in object {
                let path = format!("{at}.{key}");
                match schema["properties"].get(key) {
                    Some(property) => conforms(doc, property, v, &path)?,
                    None => match schema.get("additionalProperties") {
                        Some(extra) if extra.is_object() => conforms(doc, extra, v, &path)?,
                        Some(Value::Bool(true)) => {}
                        // Stricter than OpenAPI's default on purpose: a field the server
                        // writes but the document does not describe is drift.
                        _ => return Err(format!("{path}: not in the documented schema")),
                    },
                }
            }
            Ok(())
        }
        Some("array") => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("{at}: not an array"))?;
            for (i, item) in items.iter().enumerate() {
                conforms(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        Some("string") => {
            let s = value
                .as_str()
                .ok_or_else(|| format!("{at}: not a string"))?;
            match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => DateTime::parse_from_rfc3339(s)
                    .map(|_| ())
                    .map_err(|e| format!("{at}: `{s}` is not a date-time: {e}")),
                Some("date") => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|_| ())
                    .map_err(|e| format!("{at}: `{s}` is not a date: {e}")),
                _ => Ok(()),
            }
        }
        Some("integer") => expect(value.is_i64() || value.is_u64(), "an integer"),
        Some("number") => expect(value.is_number(), "a number"),
        Some("boolean") => expect(value.is_boolean(), "a boolean"),
        Some(other) => Err(format!("{at}: the validator does not know type {other}")),
    }
}

/// Every `$ref` in the document resolves.
fn check_refs(doc: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if map.contains_key("$ref") {
                resolve(doc, node);
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

/// The document describes exactly the routes served, with their parameters, and real answers
/// match the documented responses.
async fn check_openapi(server: &Server) {
    let reply = server.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    assert_eq!(doc["openapi"], json!("3.0.3"));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    check_refs(&doc, &doc);

    // Every route the router serves (it is built from ROUTES) is in `paths`, and nothing else.
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let served: BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
    assert_eq!(documented, served);
    assert_eq!(served.len(), ROUTES.len(), "one route per path");
    let endpoints: BTreeSet<String> = ROUTES.iter().map(|r| format!("{:?}", r.endpoint)).collect();
    assert_eq!(endpoints.len(), ROUTES.len(), "one route per endpoint");

    for route in ROUTES {
        let item = doc["paths"][route.path].as_object().unwrap();
        assert_eq!(
            item.keys().collect::<Vec<_>>(),
            ["get"],
            "{}: read-only",
            route.path
        );
        let op = &item["get"];
        let params = op["parameters"].as_array().unwrap();

        // Path parameters are exactly the `{captures}` of the template, all required.
        let captures: BTreeSet<&str> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let in_path: BTreeSet<&str> = params
            .iter()
            .filter(|p| p["in"] == json!("path"))
            .map(|p| {
                assert_eq!(p["required"], json!(true));
                p["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(in_path, captures, "{}", route.path);
        // The document lists what the parser accepts, and enums list the vocabulary.
        assert_eq!(params.len(), route.params.len(), "{}", route.path);
        for declared in route.params {
            let p = params
                .iter()
                .find(|p| p["name"] == json!(declared.name))
                .unwrap_or_else(|| panic!("{}: `{}` undocumented", route.path, declared.name));
            assert_eq!(p["in"], json!(declared.location.as_str()));
            if let ParamKind::Enum(values) = declared.kind {
                assert_eq!(p["schema"]["enum"], json!(values));
            }
        }

        // The documented example answers: neither 404/405 (the route exists) nor 400 (every
        // documented parameter is accepted), with a documented status and body.
        let query: Vec<String> = route
            .params
            .iter()
            .filter(|p| p.location == Location::Query)
            .map(|p| format!("{}={}", p.name, p.example))
            .collect();
        let url = if query.is_empty() {
            route.example_path()
        } else {
            format!("{}?{}", route.example_path(), query.join("&"))
        };
        let reply = server.get(&url).await;
        assert!(
            ![400, 404, 405].contains(&reply.status),
            "{url}: {} {}",
            reply.status,
            reply.text
        );
        let response = &op["responses"][reply.status.to_string()];
        assert!(
            response.is_object(),
            "{url}: status {} is not documented",
            reply.status
        );
        let (media, content) = response["content"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        assert!(
            reply.content_type.starts_with(media.as_str()),
            "{url}: {} vs documented {media}",
            reply.content_type
        );
        if media == "application/json" {
            validate(&doc, &content["schema"], &reply.json(), &url);
        }

        // Every value of every documented enum is accepted.
        for declared in route.params {
            let ParamKind::Enum(values) = declared.kind else {
                continue;
            };
            for v in values {
                let url = format!("{}?{}={v}", route.example_path(), declared.name);
                let reply = server.get(&url).await;
                assert!(
                    ![400, 404, 405].contains(&reply.status),
                    "{url}: {}",
                    reply.text
                );
                validate(
                    &doc,
                    &op["responses"][reply.status.to_string()]["content"]["application/json"]["schema"],
                    &reply.json(),
                    &url,
                );
            }
        }
    }
    // The routes the endpoints name are the ones in the table.
    for route in ROUTES {
        assert_eq!(route.endpoint.route().path, route.path);
    }
    assert_eq!(Endpoint::Readiness.route().params.len(), 4);
}

#[tokio::test]
async fn bad_parameters_are_json_400s_and_unknown_things_404s() {
    let ran = for_each_backend(|db| async move {
        let server = Server::start(db.store.clone(), Some(clock())).await;
        let r = |path: &'static str| {
            let server = &server;
            async move { server.get(path).await }
        };
        let readiness = "/api/v1/readiness/finra.otc_transparency";

        // Vocabulary: the message names the parameter and what it accepts.
        assert_error(
            &server
                .get(&format!("{readiness}/2025-12-19?ready_for=weekly"))
                .await,
            400,
            &["`ready_for`", "weekly", "trading, compliance, research"],
        );
        assert_error(
            &server
                .get(&format!("{readiness}/2025-12-19?tier=OTCX"))
                .await,
            400,
            &["`tier`", "NMS_TIER_1, NMS_TIER_2, OTC"],
        );
        assert_error(
            &r("/api/v1/anomalies?severity=SEVERE").await,
            400,
            &["`severity`", "INFO, WARN, ERROR, CRITICAL"],
        );
        assert_error(
            &r("/api/v1/anomalies?category=NOPE").await,
            400,
            &["`category`", "SCHEDULE"],
        );
        assert_error(
            &r("/api/v1/anomalies?unresolved=yes").await,
            400,
            &["`unresolved`", "true", "false"],
        );
        // Dates: the shape, the calendar and the weekday.
        for (path, mentions) in [
            (
                format!("{readiness}/19-12-2025"),
                vec!["`week_ending`", "YYYY-MM-DD"],
            ),
            (
                format!("{readiness}/2025-02-30"),
                vec!["`week_ending`", "YYYY-MM-DD"],
            ),
            (
                format!("{readiness}/2025-12-18"),
                vec!["`week_ending`", "Thursday", "2025-12-19"],
            ),
            (
                "/api/v1/anomalies?week_ending=2025-12-20".to_string(),
                vec!["query parameter `week_ending`", "Saturday"],
            ),
            (
                "/api/v1/anomalies?week_ending=yesterday".to_string(),
                vec!["`week_ending`", "YYYY-MM-DD"],
            ),
        ] {
            assert_error(&server.get(&path).await, 400, &mentions);
        }
        // Domains: malformed is 400 (even when the rest is also wrong), unknown is 404.
        assert_error(
            &r("/api/v1/readiness/FINRA/2025-12-19").await,
            400,
            &["path parameter `domain`", "FINRA"],
        );
        assert_error(
            &r("/api/v1/readiness/nope.nothing/2025-12-18").await,
            400,
            &["`week_ending`"],
        );
        assert_error(
            &r("/api/v1/anomalies?domain=no%20dots").await,
            400,
            &["`domain`"],
        );
        assert_error(
            &r("/api/v1/readiness/%FF%FE/2025-12-19").await,
            400,
            &["path"],
        );
        for path in [
            "/api/v1/readiness/nope.nothing/2025-12-19",
            "/api/v1/doctor/nope.nothing",
            "/api/v1/anomalies?domain=nope.nothing",
        ] {
            assert_error(
                &r(path).await,
                404,
                &["unknown domain `nope.nothing`", "finra.otc_transparency"],
            );
        }
        // Numbers, unknown and repeated parameters.
        for weeks in ["0", "53", "abc", "-1", "4.5"] {
            assert_error(
                &server
                    .get(&format!(
                        "/api/v1/doctor/finra.otc_transparency?weeks={weeks}"
                    ))
                    .await,
                400,
                &["`weeks`", "1 to 52"],
            );
        }
        assert_error(
            &r("/api/v1/anomalies?sevrity=ERROR").await,
            400,
            &["unknown query parameter `sevrity`", "severity", "category"],
        );
        assert_error(
            &server
                .get(&format!("{readiness}/2025-12-19?for=trading"))
                .await,
            400,
            &["`for`", "ready_for, tier"],
        );
        assert_error(
            &r("/api/v1/anomalies?severity=ERROR&severity=WARN").await,
            400,
            &["`severity`", "more than once"],
        );
        assert_error(&r("/health?verbose=1").await, 400, &["`verbose`"]);
        // Unknown routes and methods are JSON too.
        assert_error(
            &r("/api/v1/nothing").await,
            404,
            &["/api/v1/nothing", "openapi.json"],
        );
        assert_error(
            &r("/api/v1/readiness/finra.otc_transparency").await,
            404,
            &[],
        );
        let post = server.request(reqwest::Method::POST, "/health").await;
        assert_error(&post, 405, &["POST", "read-only"]);
        assert!(post.headers.get("allow").is_some());
        let delete = server
            .request(reqwest::Method::DELETE, "/api/v1/anomalies")
            .await;
        assert_error(&delete, 405, &["DELETE"]);
        // A valid request on an empty database is answered, not refused: 503 (nothing there).
        let ok = server.get(&format!("{readiness}/2025-12-19")).await;
        assert_eq!(ok.status, 503, "{}", ok.text);
        server.stop().await;
    })
    .await;
    assert_ran_everywhere(&ran);
}

#[tokio::test]
async fn health_follows_the_database_and_failures_do_not_leak_it() {
    let ran = for_each_backend(|db| async move {
        let server = Server::start(db.store.clone(), None).await;
        let health = server.get("/health").await;
        assert_eq!(health.status, 200, "{}", health.text);
        assert_eq!(
            health.json(),
            json!({"status": "ok", "database": "ok", "schema": "ok", "data": "ok", "error": null})
        );

        // Without --now, each request reads the system clock.
        let before = Utc::now();
        let reply = server
            .get("/api/v1/readiness/finra.otc_transparency/2025-12-19")
            .await;
        let after = Utc::now();
        let at: DateTime<Utc> = reply.json()["evaluated_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(before <= at && at <= after, "{at} not in {before}..{after}");

        // The database goes away: health says so, queries are 500 JSON without the URL.
        db.store.clone().close().await.unwrap();
        let health = server.get("/health").await;
        assert_eq!(health.status, 503, "{}", health.text);
        let body = health.json();
        assert_eq!(
            (
                &body["status"],
                &body["database"],
                &body["schema"],
                &body["data"]
            ),
            (
                &json!("unavailable"),
                &json!("failed"),
                &json!("skipped"),
                &json!("skipped")
            ),
            "{body}"
        );
        assert!(
            body["error"].as_str().unwrap().starts_with("database: "),
            "{body}"
        );
        for path in [
            "/api/v1/anomalies",
            "/api/v1/readiness/finra.otc_transparency/2025-12-19",
            "/api/v1/doctor/finra.otc_transparency",
            "/metrics",
        ] {
            let reply = server.get(path).await;
            assert_error(&reply, 500, &["internal error"]);
            for secret in [db.url.as_str(), "postgres://", "sqlite://", "spine.db"] {
                assert!(
                    !reply.text.contains(secret),
                    "{path} leaks {secret}: {}",
                    reply.text
                );
            }
        }
        // Bad input is still a 400 without the database.
        assert_error(
            &server.get("/api/v1/anomalies?severity=nope").await,
            400,
            &["`severity`"],
        );
        server.stop().await;
    })
    .await;
    assert_ran_everywhere(&ran);
}

/// Asserts a `/health` answer: its status, which check failed (and that later ones were
/// skipped), that `error` names the check and `mentions`, and that the body is the documented
/// one.
#[track_caller]
fn assert_health(reply: &Reply, failed: Option<&str>, mentions: &[&str]) {
    let body = reply.json();
    let doc = spine_cli::server::openapi::document();
    let documented = &doc["paths"]["/health"]["get"]["responses"][reply.status.to_string()]["content"]
        ["application/json"]["schema"];
    validate(&doc, documented, &body, "/health");
    let checks = ["database", "schema", "data"];
    match failed {
        None => {
            assert_eq!(reply.status, 200, "{body}");
            assert_eq!(body["status"], json!("ok"));
            for check in checks {
                assert_eq!(body[check], json!("ok"), "{body}");
            }
            assert_eq!(body["error"], Value::Null);
        }
        Some(failed) => {
            assert_eq!(reply.status, 503, "{body}");
            assert_eq!(body["status"], json!("unavailable"));
            let at = checks.iter().position(|c| *c == failed).unwrap();
            for (i, check) in checks.iter().enumerate() {
                let expected = match i.cmp(&at) {
                    std::cmp::Ordering::Less => "ok",
                    std::cmp::Ordering::Equal => "failed",
                    std::cmp::Ordering::Greater => "skipped",
                };
                assert_eq!(body[check], json!(expected), "{check}: {body}");
            }
            let error = body["error"].as_str().unwrap();
            assert!(error.starts_with(&format!("{failed}: ")), "{error}");
            for m in mentions {
                assert!(error.contains(m), "`{error}` should mention `{m}`");
            }
        }
    }
}

#[tokio::test]
async fn health_fails_naming_the_schema_or_the_table_the_data_routes_could_not_use() {
    use spine_store::ConnectionTrait;
    let ran = for_each_backend(|db| async move {
        let conn = db.store.conn();
        let server = Server::start(db.store.clone(), Some(clock())).await;
        let readiness = "/api/v1/readiness/finra.otc_transparency/2025-12-19";
        assert_health(&server.get("/health").await, None, &[]);

        // A newer spine migrated the database: the ping still answers, the schema is not ours.
        conn.execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_from_a_newer_spine', 0)",
        )
        .await
        .unwrap();
        assert_health(
            &server.get("/health").await,
            Some("schema"),
            &["does not know", "m29990101_000001_from_a_newer_spine"],
        );
        conn.execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = 'm29990101_000001_from_a_newer_spine'",
        )
        .await
        .unwrap();
        assert_health(&server.get("/health").await, None, &[]);

        // A table the routes read is gone: the data routes fail, and health says so first.
        conn.execute_unprepared("ALTER TABLE core_captures RENAME TO core_captures_moved")
            .await
            .unwrap();
        assert_health(
            &server.get("/health").await,
            Some("data"),
            &["core_captures"],
        );
        assert_error(&server.get(readiness).await, 500, &["internal error"]);
        conn.execute_unprepared("ALTER TABLE core_captures_moved RENAME TO core_captures")
            .await
            .unwrap();
        assert_health(&server.get("/health").await, None, &[]);
        assert_eq!(server.get(readiness).await.status, 503, "not ready, answered");
        server.stop().await;
    })
    .await;
    assert_ran_everywhere(&ran);
}
