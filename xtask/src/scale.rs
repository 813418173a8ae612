//! `cargo xtask bench --scenario scale`: costs that must not grow with history (issue 14).
//!
//! It builds a database of `--weeks` weeks × 3 tiers with the production generator (`spine gen
//! finra-otc`'s defaults: 3,000 symbols per tier, 50 venues), each file ingested by the release
//! binary at its publication time (noon UTC on its `lastUpdateDate`), and a database of the first
//! week only, then measures:
//!
//! - **ingest flat in history**: the median wall time of the last `--runs`×5 NMS Tier 1 ingests
//!   against the first ones (target ≤ 1.2×);
//! - **doctor**: `spine doctor --weeks 52` against `--weeks 1` on the big database, interleaved
//!   (target ≤ 3×);
//! - **readiness over HTTP**: p50 of `--requests` sequential `GET /api/v1/readiness/…` over one
//!   kept-alive connection against `GET /health` on the same server (target ≤ 3×), and the
//!   readiness p50 on the big database against the one-week database (target ≤ 1.5×);
//! - **/metrics**: how many per-partition series it carries (bounded by its window) and its p50.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use spine_calendar::holidays::shipped_calendars;
use spine_gen::{GenConfig, generate};
use spine_model::Tier;

/// Target: doctor over 52 weeks against doctor over 1 week.
pub const MAX_DOCTOR_RATIO: f64 = 3.0;
/// Target: a readiness request against a `/health` request on the same server.
pub const MAX_READINESS_HEALTH_RATIO: f64 = 3.0;
/// Target: readiness on the big database against the one-week database.
pub const MAX_READINESS_HISTORY_RATIO: f64 = 1.5;
/// Target: the last weeks' ingests against the first weeks'.
pub const MAX_INGEST_HISTORY_RATIO: f64 = 1.2;

/// What the scale scenario measured.
#[derive(Debug, Serialize)]
pub struct ScaleReport {
    /// Weeks in the big database.
    pub weeks: u32,
    /// Symbols per tier per week.
    pub symbols: usize,
    /// Files ingested into the big database.
    pub files: usize,
    /// Data rows ingested into the big database.
    pub rows: u64,
    /// Seconds to build the big database (every ingest, sequentially).
    pub build_seconds: f64,
    /// /proc/loadavg when the measurements started.
    pub load_at_start: String,
    /// Every NMS Tier 1 ingest's wall seconds, in week order.
    pub tier1_ingest_seconds: Vec<f64>,
    /// How many ingests each end of the series compares.
    pub ingest_window: usize,
    /// Median of the first `ingest_window` Tier 1 ingests.
    pub ingest_first_median: f64,
    /// Median of the last `ingest_window` Tier 1 ingests.
    pub ingest_last_median: f64,
    /// `spine doctor --weeks 1` wall seconds, each run.
    pub doctor_1_seconds: Vec<f64>,
    /// `spine doctor --weeks 52` wall seconds, each run.
    pub doctor_52_seconds: Vec<f64>,
    /// p50 of `/health`, milliseconds, on the big database's server.
    pub health_p50_ms: f64,
    /// p50 of the readiness request on the big database, milliseconds.
    pub readiness_p50_ms: f64,
    /// p50 of `/health` on the one-week database's server.
    pub small_health_p50_ms: f64,
    /// p50 of the readiness request on the one-week database, milliseconds.
    pub small_readiness_p50_ms: f64,
    /// p50 of `/metrics` on the big database, milliseconds.
    pub metrics_p50_ms: f64,
    /// Per-partition series in `/metrics` on the big database.
    pub metrics_partition_series: usize,
    /// Partitions captured in the big database.
    pub partitions: usize,
    /// Requests per series.
    pub requests: usize,
    /// The targets and their verdicts.
    pub targets: Vec<crate::measure::Target>,
    /// Every target met.
    pub pass: bool,
}

/// One generated file to ingest, at its publication time.
struct Delivery {
    path: PathBuf,
    tier: Tier,
    week_ending: NaiveDate,
    published: DateTime<Utc>,
    rows: usize,
}

/// Noon UTC on the file's `lastUpdateDate`: when `spine demo` says FINRA published it.
fn published_at(last_update: NaiveDate) -> DateTime<Utc> {
    last_update
        .and_hms_opt(12, 0, 0)
        .expect("noon exists")
        .and_utc()
}

/// Runs the scenario with `spine` in `dir`.
pub fn run(
    spine: &Path,
    dir: &Path,
    weeks: u32,
    first_week_ending: NaiveDate,
    symbols: usize,
    runs: u32,
    requests: usize,
) -> Result<ScaleReport> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    crate::measure::note(format!(
        "scale: generating {weeks} weeks × 3 tiers ({symbols} symbols per tier) into {}",
        data.display()
    ));
    let files = generate(
        &GenConfig {
            weeks,
            symbols,
            first_week_ending,
            ..GenConfig::default()
        },
        &data,
    )
    .context("cannot generate the weeks")?;
    let mut deliveries: Vec<Delivery> = files
        .into_iter()
        .map(|f| Delivery {
            published: published_at(f.last_update),
            path: f.path,
            tier: f.tier,
            week_ending: f.week_ending,
            rows: f.rows,
        })
        .collect();
    deliveries.sort_by_key(|d| (d.published, d.tier));
    let clock = deliveries
        .iter()
        .map(|d| d.published)
        .max()
        .context("nothing generated")?
        + chrono::Duration::days(1);
    let last_week = deliveries
        .iter()
        .map(|d| d.week_ending)
        .max()
        .expect("not empty");

    // The one-week database: the first week's files only.
    let small = database(spine, dir, "scale-1-week.db")?;
    for d in deliveries
        .iter()
        .filter(|d| d.week_ending == first_week_ending)
    {
        ingest(spine, &small, d)?;
    }

    let big = database(spine, dir, "scale.db")?;
    let started = Instant::now();
    let mut tier1: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    let mut rows = 0u64;
    for (i, d) in deliveries.iter().enumerate() {
        let seconds = ingest(spine, &big, d)?;
        rows += d.rows as u64;
        if d.tier == Tier::NmsTier1 {
            tier1.insert(d.week_ending, seconds);
        }
        if (i + 1) % 50 == 0 {
            crate::measure::note(format!(
                "scale: {}/{} files ingested ({:.0} s)",
                i + 1,
                deliveries.len(),
                started.elapsed().as_secs_f64()
            ));
        }
    }
    let build_seconds = started.elapsed().as_secs_f64();
    let tier1: Vec<f64> = tier1.into_values().collect();
    let window = (tier1.len() / 4).clamp(1, 15);
    let ingest_first_median = crate::measure::median(&tier1[..window]);
    let ingest_last_median = crate::measure::median(&tier1[tier1.len() - window..]);

    let load_at_start = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string();
    // doctor, interleaved.
    let now = clock.to_rfc3339();
    let mut doctor_1 = Vec::new();
    let mut doctor_52 = Vec::new();
    let doctor_runs = runs.max(5);
    for run in 1..=doctor_runs {
        crate::measure::note(format!("scale: doctor run {run}/{doctor_runs}"));
        doctor_1.push(doctor(spine, &big, &now, 1)?);
        doctor_52.push(doctor(spine, &big, &now, 52)?);
    }

    // HTTP: one server per database, one kept-alive connection each.
    let readiness_path = |week: NaiveDate| {
        format!("/api/v1/readiness/finra.otc_transparency/{week}?ready_for=trading")
    };
    let (health_p50_ms, readiness_p50_ms, metrics_p50_ms, metrics_partition_series) = {
        let server = Server::start(spine, &big, &now, 18_931)?;
        let mut conn = server.connect()?;
        let (health, readiness) =
            interleaved(&mut conn, "/health", &readiness_path(last_week), requests)?;
        let mut metrics = Vec::new();
        let mut series = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let body = conn.get("/metrics")?;
            metrics.push(t.elapsed().as_secs_f64() * 1e3);
            series = body
                .lines()
                .filter(|l| l.starts_with("spine_latest_capture_age_seconds{"))
                .count();
        }
        (
            crate::measure::median(&health),
            crate::measure::median(&readiness),
            crate::measure::median(&metrics),
            series,
        )
    };
    let (small_health_p50_ms, small_readiness_p50_ms) = {
        let server = Server::start(spine, &small, &now, 18_932)?;
        let mut conn = server.connect()?;
        let (health, readiness) = interleaved(
            &mut conn,
            "/health",
            &readiness_path(first_week_ending),
            requests,
        )?;
        (
            crate::measure::median(&health),
            crate::measure::median(&readiness),
        )
    };

    let doctor_ratio = crate::measure::median(&doctor_52) / crate::measure::median(&doctor_1);
    let target = |name, value: f64, max: f64| crate::measure::Target {
        name,
        value,
        target: format!("<= {max:.1}"),
        pass: value <= max,
    };
    let targets = vec![
        target(
            "doctor --weeks 52 / --weeks 1",
            doctor_ratio,
            MAX_DOCTOR_RATIO,
        ),
        target(
            "readiness p50 / health p50",
            readiness_p50_ms / health_p50_ms,
            MAX_READINESS_HEALTH_RATIO,
        ),
        target(
            "readiness p50 150 weeks / 1 week",
            readiness_p50_ms / small_readiness_p50_ms,
            MAX_READINESS_HISTORY_RATIO,
        ),
        target(
            "ingest last weeks / first weeks",
            ingest_last_median / ingest_first_median,
            MAX_INGEST_HISTORY_RATIO,
        ),
    ];
    Ok(ScaleReport {
        weeks,
        symbols,
        files: deliveries.len(),
        rows,
        build_seconds,
        load_at_start,
        tier1_ingest_seconds: tier1,
        ingest_window: window,
        ingest_first_median,
        ingest_last_median,
        doctor_1_seconds: doctor_1,
        doctor_52_seconds: doctor_52,
        health_p50_ms,
        readiness_p50_ms,
        small_health_p50_ms,
        small_readiness_p50_ms,
        metrics_p50_ms,
        metrics_partition_series,
        partitions: deliveries
            .iter()
            .map(|d| (d.week_ending, d.tier))
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        requests,
        pass: targets.iter().all(|t| t.pass),
        targets,
    })
}

/// The human-readable report.
pub fn render(r: &ScaleReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nMarket Spine scale benchmark: {} weeks × 3 tiers, {} files, {} rows, {} symbols per tier; built in {:.0} s; load at start {}",
        r.weeks, r.files, r.rows, r.symbols, r.build_seconds, r.load_at_start
    );
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        s,
        "ingest (NMS Tier 1): first {} median {:.3} s, last {} median {:.3} s",
        r.ingest_window, r.ingest_first_median, r.ingest_window, r.ingest_last_median
    );
    let _ = writeln!(s, "doctor --weeks 1 s:  {}", list(&r.doctor_1_seconds));
    let _ = writeln!(s, "doctor --weeks 52 s: {}", list(&r.doctor_52_seconds));
    let _ = writeln!(
        s,
        "HTTP p50 ms ({} sequential requests each, one kept-alive connection): /health {:.3}, readiness {:.3}; one-week db: /health {:.3}, readiness {:.3}; /metrics {:.3} ({} per-partition series of {} partitions)",
        r.requests,
        r.health_p50_ms,
        r.readiness_p50_ms,
        r.small_health_p50_ms,
        r.small_readiness_p50_ms,
        r.metrics_p50_ms,
        r.metrics_partition_series,
        r.partitions
    );
    let _ = writeln!(s);
    for t in &r.targets {
        let _ = writeln!(
            s,
            "{:<36} {:>8.2}  {:<8} {}",
            t.name,
            t.value,
            t.target,
            if t.pass { "PASS" } else { "FAIL" }
        );
    }
    s
}

/// A fresh, migrated SQLite database with every shipped calendar loaded; returns its URL.
fn database(spine: &Path, dir: &Path, name: &str) -> Result<String> {
    let db = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    let url = format!("sqlite://{}?mode=rwc", db.display());
    spine_ok(spine, &url, &["db", "migrate"])?;
    for (file, text) in shipped_calendars() {
        let path = dir.join(file);
        std::fs::write(&path, text)?;
        let path = path.display().to_string();
        spine_ok(spine, &url, &["calendar", "ingest", "--file", &path])?;
    }
    Ok(url)
}

/// Runs `spine ARGS --database-url URL`, failing with its stderr.
fn spine_ok(spine: &Path, url: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(spine)
        .args(args)
        .args(["--database-url", url])
        .output()
        .with_context(|| format!("cannot run {}", spine.display()))?;
    if !out.status.success() {
        bail!(
            "`spine {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Ingests one delivery at its publication time; returns the wall seconds.
fn ingest(spine: &Path, url: &str, d: &Delivery) -> Result<f64> {
    let file = d.path.display().to_string();
    let week = d.week_ending.to_string();
    let tier = d.tier.to_string();
    let now = d.published.to_rfc3339();
    let started = Instant::now();
    spine_ok(
        spine,
        url,
        &[
            "ingest",
            "finra-otc",
            "--file",
            &file,
            "--week-ending",
            &week,
            "--tier",
            &tier,
            "--now",
            &now,
            "--format",
            "json",
        ],
    )?;
    Ok(started.elapsed().as_secs_f64())
}

/// One `spine doctor --weeks N`; returns the wall seconds. Exit 3 (something blocks) is an
/// answer, not a failure.
fn doctor(spine: &Path, url: &str, now: &str, weeks: u32) -> Result<f64> {
    let weeks = weeks.to_string();
    let started = Instant::now();
    let out = Command::new(spine)
        .args([
            "doctor",
            "finra.otc_transparency",
            "--weeks",
            &weeks,
            "--now",
            now,
            "--format",
            "json",
            "--database-url",
            url,
        ])
        .output()
        .with_context(|| format!("cannot run {}", spine.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if !matches!(out.status.code(), Some(0 | 3)) {
        bail!(
            "`spine doctor --weeks {weeks}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(seconds)
}

/// `n` requests of `a` and `n` of `b`, alternating, on one connection; their times in ms.
fn interleaved(conn: &mut Connection, a: &str, b: &str, n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    // Warm up both (first queries prepare statements, fill caches).
    for _ in 0..5 {
        conn.get(a)?;
        conn.get(b)?;
    }
    let mut ta = Vec::with_capacity(n);
    let mut tb = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        conn.get(a)?;
        ta.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        conn.get(b)?;
        tb.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok((ta, tb))
}

/// A `spine serve` child, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(spine: &Path, url: &str, now: &str, port: u16) -> Result<Server> {
        let bind = format!("127.0.0.1:{port}");
        let child = Command::new(spine)
            .args([
                "serve",
                "--bind",
                &bind,
                "--now",
                now,
                "--database-url",
                url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {} serve", spine.display()))?;
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut conn) = server.connect()
                && conn.get("/health").is_ok()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("spine serve did not answer on {bind} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn connect(&self) -> Result<Connection> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One kept-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    /// `GET path`; returns the body (any status: a 503 readiness is an answer).
    fn get(&mut self, path: &str) -> Result<String> {
        write!(
            self.writer,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
        )?;
        self.writer.flush()?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 ") {
            bail!("not an HTTP response: {line:?}");
        }
        let mut length: Option<usize> = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .context("bad chunk size")?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                chunk.truncate(size);
                body.extend(chunk);
                if size == 0 {
                    break;
                }
            }
        } else {
            let n = length.context("a response without Content-Length")?;
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}
