//! Workspace-level scenario tests: one file per scenario under `tests/`, each driven through the
//! real pipelines from generated input and pinned with an insta snapshot. This library holds
//! what the scenarios share: the fixed clocks, the ingest helpers, a loopback HTTP server, and
//! the projections that turn anomalies, verdicts and operator tables into stable snapshots.
//!
//! Stability rules every scenario follows:
//! - every step runs at an explicit time (`at(…)` or [`published_at`]), never the system clock;
//! - anomaly, schedule and execution ids are redacted ([`settings`]), in structured fields by
//!   insta redactions and inside text (`anomaly #12`, a loopback port) by [`scrub`]; capture ids
//!   are content hashes, identical on every backend, and are kept; the one clock no scenario
//!   controls, the wall clock the store records readiness at (`recorded_at`), is redacted too;
//! - the same body runs on SQLite and PostgreSQL ([`assert_ran_on_every_backend`]) against one
//!   snapshot, so a backend difference is a test failure.

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use spine_cli::commands::readiness::table as readiness_table;
use spine_cli::output::Table;
use spine_engine::capture::{self, FetchedInput, SourceRequest};
use spine_engine::readiness::{Certification, certify as certify_pipeline};
use spine_engine::schedules::ScheduleCheck;
use spine_engine::source::FetchOptions;
use spine_engine::{CaptureReport, Engine, PipelineResult, RunContext};
use spine_finra::FinraDomain;
use spine_gen::{Fault, GenConfig, GeneratedFile, generate};
use spine_model::{Domain, PartitionKey, ReadyFor, Tier};
use spine_store::Store;
use spine_store::anomalies::{self, Anomaly, AnomalyFilter};

/// Who certifies in the scenarios (`certified_by`).
pub const CERTIFIER: &str = "ops-desk";

/// The scenarios' fixed clock, so snapshots are stable.
pub fn clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 20, 9, 0, 0).unwrap()
}

/// An explicit UTC instant: every step of a scenario names its own time.
pub fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
        .single()
        .expect("a valid UTC instant")
}

/// A date, for weeks and windows.
pub fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
}

/// `finra.otc_transparency`.
pub fn finra() -> Domain {
    Domain::parse(Domain::FINRA_OTC).expect("a valid domain")
}

/// The scenarios' generator configuration: small (60 symbols per tier over 10 venues) so nine
/// scenarios on two backends stay quick, yet every tier, calc and rule is exercised.
pub fn config(
    first_week_ending: NaiveDate,
    weeks: u32,
    tiers: &[Tier],
    faults: &[Fault],
) -> GenConfig {
    GenConfig {
        weeks,
        symbols: 60,
        mpids: 10,
        seed: 11,
        first_week_ending,
        tiers: tiers.to_vec(),
        faults: faults.to_vec(),
    }
}

/// Generates the files of `cfg` into `dir` (the generator is deterministic: same bytes for the
/// same configuration, and a fault never changes another file's data).
pub fn generate_into(dir: &Path, cfg: &GenConfig) -> Vec<GeneratedFile> {
    generate(cfg, dir).expect("generate FINRA files")
}

/// The engine the `spine` binary runs, over a test database: FINRA and the exchange calendar
/// registered.
pub fn engine(store: &Store) -> Engine {
    Engine::new(store.clone(), spine_cli::registry::registry())
}

/// Loads the shipped XNYS calendars (2024–2026), as `spine calendar load-shipped` would at the
/// start of the year.
pub async fn load_calendars(store: &Store) {
    spine_calendar::load_shipped(&engine(store), at(2025, 1, 2, 8, 0))
        .await
        .expect("load the shipped calendars");
}

/// Ingests one generated file with the file's own tier and week, on the scenarios' clock.
pub async fn ingest(store: &Store, path: &Path) -> CaptureReport {
    ingest_at(store, path, clock()).await
}

/// The moment FINRA publishes a file stamped `last_update`: noon UTC that day, before the
/// schedules' 18:00 due time, so an on-time scenario is on time.
pub fn published_at(last_update: chrono::NaiveDate) -> DateTime<Utc> {
    last_update
        .and_hms_opt(12, 0, 0)
        .expect("noon exists")
        .and_utc()
}

/// Ingests one generated file at time `at` (the capture's `captured_at`).
pub async fn ingest_at(store: &Store, path: &Path, at: DateTime<Utc>) -> CaptureReport {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let input = FetchedInput {
        locator: name,
        ..FetchedInput::local_file(path).expect("read generated file")
    };
    capture::ingest_fetched(
        &engine(store),
        &FinraDomain::default(),
        &input,
        &PartitionKey::new(),
        &RunContext::quiet(at),
    )
    .await
    .expect("ingest")
}

/// Ingests a file at `at` as `spine ingest finra-otc --file PATH --tier T --week-ending W` does
/// (the operator names the partition), returning the engine's answer as is.
pub async fn ingest_named_at(
    store: &Store,
    path: &Path,
    tier: Tier,
    week: NaiveDate,
    at: DateTime<Utc>,
) -> PipelineResult<CaptureReport> {
    let input = FetchedInput::local_file(path)?;
    capture::ingest_fetched(
        &engine(store),
        &FinraDomain::default(),
        &input,
        &PartitionKey::week_tier(week, tier),
        &RunContext::quiet(at),
    )
    .await
}

/// Ingests a generated file the moment FINRA publishes it (on time).
pub async fn ingest_on_time(store: &Store, file: &GeneratedFile) -> CaptureReport {
    ingest_at(store, &file.path, published_at(file.last_update)).await
}

/// The generated file of `tier` (original delivery, or the `_rev1` file when `revision` is 1)
/// for the week ending `week`.
pub fn file(files: &[GeneratedFile], tier: Tier, week: NaiveDate, revision: u32) -> GeneratedFile {
    files
        .iter()
        .find(|f| f.tier == tier && f.week_ending == week && f.revision == revision)
        .unwrap_or_else(|| panic!("no generated {tier} file (rev {revision}) for {week}"))
        .clone()
}

/// Fetches `url` through the real source path (`spine ingest finra-otc --url …`): the run is
/// recorded as an execution, and a failed fetch is detected as a missing tier.
pub async fn ingest_url_at(
    store: &Store,
    url: &str,
    tier: Tier,
    week: NaiveDate,
    at: DateTime<Utc>,
) -> PipelineResult<CaptureReport> {
    capture::ingest(
        &engine(store),
        &FinraDomain::default(),
        SourceRequest {
            source: url.to_string(),
            hint: PartitionKey::week_tier(week, tier),
            fetch: FetchOptions {
                timeout: std::time::Duration::from_secs(10),
                ..FetchOptions::default()
            },
            trigger: "scenario".into(),
            run: RunContext::quiet(at),
        },
    )
    .await
}

/// What an ingestion reported, trimmed to what the scenarios assert on.
pub fn report(r: &CaptureReport) -> Value {
    json!({
        "status": r.status,
        "partition_key": r.partition.canonical(),
        "capture_id": r.capture_id,
        "supersedes": r.supersedes,
        "stage": r.stage,
        "rows_read_accepted_rejected": [r.rows_read, r.rows_accepted, r.rows_rejected],
        "anomalies": r.anomalies,
        "notes": r.notes,
    })
}

/// One anomaly as `spine anomalies list --format json` prints it
/// (`spine_cli::output::anomaly_json`), without the columns that repeat others
/// (`created_at` is `detected_at`; the domain and pipeline are the scenario's).
pub fn anomaly(a: &Anomaly) -> Value {
    let mut v = spine_cli::output::anomaly_json(a);
    if let Value::Object(map) = &mut v {
        for noise in ["created_at", "pipeline", "batch_id"] {
            map.remove(noise);
        }
        map.insert("resolved".into(), json!(a.resolved_at.is_some()));
    }
    v
}

/// Every anomaly of `domain` (resolved ones too: the lifecycle is part of the story), oldest
/// first.
pub async fn anomalies_of(store: &Store, domain: &Domain) -> Vec<Anomaly> {
    anomalies::list(
        store.conn(),
        &AnomalyFilter {
            domain: Some(domain.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("list anomalies")
}

/// Every FINRA OTC anomaly, projected with [`anomaly`].
pub async fn finra_anomalies(store: &Store) -> Vec<Value> {
    anomalies_of(store, &finra())
        .await
        .iter()
        .map(anomaly)
        .collect()
}

/// What `spine anomalies list` shows people (ids are shown redacted, so column widths do not
/// depend on how a backend numbers rows).
pub fn anomalies_view(rows: &[Anomaly]) -> Vec<String> {
    let mut table = Table::new([
        "id",
        "severity",
        "category",
        "partition_key",
        "message",
        "resolved",
    ]);
    for a in rows {
        table.push([
            "[id]".to_string(),
            a.severity.clone(),
            a.category.clone(),
            a.partition_key.clone().unwrap_or_else(|| "-".into()),
            a.message.clone(),
            a.resolved_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "open".into()),
        ]);
    }
    lines(&table)
}

/// Certifies `partition` for `ready_for` at `at` with the default blocking policy, exactly as
/// `spine readiness` does (detects missed partitions of the week, records the evaluation).
pub async fn certify(
    store: &Store,
    partition: &PartitionKey,
    ready_for: ReadyFor,
    at: DateTime<Utc>,
) -> Certification {
    certify_pipeline(
        &engine(store),
        &finra(),
        partition,
        ready_for,
        CERTIFIER,
        &RunContext::quiet(at),
    )
    .await
    .expect("certify")
    .certification
}

/// Certifies the week for each use, in `ReadyFor::ALL` order.
pub async fn certify_all_uses(
    store: &Store,
    partition: &PartitionKey,
    at: DateTime<Utc>,
) -> Vec<Certification> {
    let mut out = Vec::new();
    for use_ in ReadyFor::ALL {
        out.push(certify(store, partition, *use_, at).await);
    }
    out
}

/// A verdict as `spine readiness --format json` prints it.
pub fn verdict(cert: &Certification) -> Value {
    serde_json::to_value(cert).expect("a certification serializes")
}

/// What `spine readiness` prints for people, line by line.
pub fn operator_view(cert: &Certification) -> Vec<String> {
    lines(&readiness_table(cert))
}

/// What `spine schedules check` prints for people, line by line.
pub fn schedule_view(check: &ScheduleCheck) -> Vec<String> {
    let mut table = Table::new([
        "partition_key",
        "business_date",
        "due",
        "first_captured_at",
        "status",
    ]);
    for e in &check.expected {
        table.push([
            e.partition_key.clone(),
            e.business_date.to_string(),
            e.due.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into()),
            e.first_captured_at
                .map(|d| d.to_rfc3339())
                .unwrap_or_else(|| "-".into()),
            e.status.to_string(),
        ]);
    }
    lines(&table)
}

/// A table rendered as `--format table` does, one string per line.
pub fn lines(table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    table.write_aligned(&mut out).expect("write to a Vec");
    String::from_utf8(out)
        .expect("tables are UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The insta settings every scenario snapshot is taken with: ids redacted (a row id is the
/// backend's numbering, not a fact of the scenario), the wall clock of readiness records
/// redacted (it is when the test ran, not a fact of the scenario; its presence is kept), nulls
/// left as nulls so "no execution" stays visible.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_sort_maps(true);
    for selector in [".**.id", ".**.anomaly_id"] {
        s.add_redaction(selector, "[id]");
    }
    s.add_redaction(".**.recorded_at", "[recorded_at]");
    s.add_dynamic_redaction(".**.execution_id", |value, _| {
        if value.is_nil() {
            value
        } else {
            "[execution_id]".into()
        }
    });
    s
}

/// Replaces what varies between runs inside text: anomaly ids (`#12` → `#[id]`) and loopback
/// ports (`127.0.0.1:40123` → `127.0.0.1:[port]`). Applied to every string of a snapshot value.
pub fn scrub(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(scrub_text(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, scrub(v))).collect()),
        other => other,
    }
}

fn scrub_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((i, marker)) = ["#", "127.0.0.1:"]
        .iter()
        .filter_map(|m| rest.find(m).map(|i| (i, *m)))
        .min()
    {
        let after = &rest[i + marker.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..i + marker.len()]);
        if digits > 0 {
            out.push_str(if marker == "#" { "[id]" } else { "[port]" });
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// A one-connection-at-a-time loopback HTTP server answering `requests` requests with `status`
/// and `body`: FINRA's server, as far as the pipeline can tell. Returns the URL and the task.
pub async fn serve(
    status: u16,
    body: Vec<u8>,
    requests: usize,
    file_name: &str,
) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        for _ in 0..requests {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
            let _ = socket.shutdown().await;
        }
    });
    (format!("http://{addr}/{file_name}"), handle)
}

/// Asserts the scenario ran on SQLite, and on PostgreSQL whenever `SPINE_TEST_POSTGRES_URL` is
/// set (as `cargo xtask test` and CI set it): a CI run meant for PostgreSQL cannot pass by
/// quietly running SQLite alone.
pub fn assert_ran_on_every_backend(ran: &[&str]) {
    let postgres_configured = std::env::var("SPINE_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
    let expected: &[&str] = if postgres_configured {
        &["sqlite", "postgres"]
    } else {
        &["sqlite"]
    };
    assert_eq!(ran, expected, "backends the scenario ran on");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_redacts_ids_and_ports_only() {
        assert_eq!(
            scrub_text("anomaly #12: http://127.0.0.1:40123/x.csv # 3 #"),
            "anomaly #[id]: http://127.0.0.1:[port]/x.csv # 3 #"
        );
        assert_eq!(scrub_text("no ids here"), "no ids here");
    }
}
