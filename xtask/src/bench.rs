//! `cargo xtask bench`: the end-to-end benchmark of one FINRA OTC week (issue 3).
//!
//! It is a measurement, not a timed test: it generates one week of exactly `--rows` rows with the
//! production generator, then, `--runs` times each and interleaved so that background load hits
//! both alike:
//!
//! - **pipeline**: the release `spine` binary ingests the file into a fresh SQLite database
//!   (`spine ingest finra-otc … --format json`): RAW + rejects, NORMALIZED, CALC and lineage, each
//!   stage in its own transaction. Migrating the schema and loading the shipped exchange calendar
//!   happen before the clock starts. Wall time and the child's peak RSS (`ru_maxrss` from
//!   `wait4`, exact and per process) are recorded.
//! - **floor**: the `sqlite3` shell loads the same file into one table of a fresh database
//!   (`.mode list`, `.separator |`, `.import FILE finra`): the cost of merely getting the bytes
//!   into SQLite, which no pipeline can beat.
//!
//! It reports the medians, the ratio pipeline/floor and the targets (on SQLite ratio ≤ 1.5 and
//! peak RSS < 200 MB; on PostgreSQL ratio ≤ 3.0 and peak RSS < 150 MB). `--check` turns a missed target into a non-zero exit; `--json` prints the results
//! for machines; `--breakdown` runs one more ingest, polled, to show how time and memory split
//! between the stages, and times `spine run finra_otc.calc` alone.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use clap::Args;
use serde::Serialize;
use spine_calendar::holidays::shipped_calendars;
use spine_gen::{WeekSpec, file_name, write_week};
use spine_model::Tier;

use crate::measure::{Target, median, note};

/// The throughput target on SQLite: the pipeline may take at most this many times the floor's
/// time (issue 14 tightened it from issue 3's 3.0: RAW no longer stores a second copy of every
/// line).
pub const MAX_RATIO: f64 = 1.5;
/// The throughput target on PostgreSQL, against `psql \copy` (issue 14).
pub const MAX_RATIO_POSTGRES: f64 = 3.0;
/// The memory target: the pipeline's peak resident set must stay below this many megabytes.
pub const MAX_PEAK_RSS_MB: f64 = 200.0;
/// The memory target on PostgreSQL (issue 14): the client holds less, the server the rest.
pub const MAX_PEAK_RSS_MB_POSTGRES: f64 = 150.0;

/// Which database the pipeline writes, and so which floor it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A fresh SQLite file; the floor is `sqlite3 .import`.
    Sqlite,
    /// A fresh PostgreSQL database per run; the floor is `psql \copy` into one table of a fresh
    /// database.
    Postgres,
}

/// Arguments of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Data rows in the generated week.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub rows: u64,
    /// How many times each measurement runs; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Working directory for the file and the databases, kept afterwards. Default: a fresh
    /// directory under the system temp dir, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The tier of the generated week.
    #[arg(long, default_value = "NMS_TIER_1", value_parser = parse_tier)]
    pub tier: Tier,
    /// The Friday ending the generated week.
    #[arg(long, default_value = "2025-12-19", value_parser = parse_date)]
    pub week_ending: NaiveDate,
    /// Venues (MPIDs) the rows are spread over.
    #[arg(long, default_value_t = 200)]
    pub mpids: usize,
    /// Generator seed (the same seed writes the same bytes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also run one ingest polled every 250 ms (stage commits, RSS) to show how time and memory
    /// split between the stages, and time `spine run finra_otc.calc` alone.
    #[arg(long)]
    pub breakdown: bool,
    /// Exit non-zero when a target is missed.
    #[arg(long)]
    pub check: bool,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Use the existing `target/release/spine` instead of running `cargo build --release`.
    #[arg(long)]
    pub no_build: bool,
    /// Benchmark this `spine` binary instead (implies `--no-build`): how two builds are compared
    /// in one run on one machine, e.g. before and after a change.
    #[arg(long)]
    pub spine: Option<PathBuf>,
    /// The database the pipeline writes (and the floor it is compared with).
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// With `--backend postgres`: the server, as a URL without a database (or with one, which is
    /// ignored). Each run creates a fresh database on it (`spine_bench_<pid>_<n>`) and drops it.
    #[arg(
        long,
        env = "SPINE_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub postgres_url: String,
    /// What to measure: one large week against its floor (`pipeline`), or costs that must not
    /// grow with history on a database of `--weeks` weeks (`scale`).
    #[arg(long, value_enum, default_value_t = Scenario::Pipeline)]
    pub scenario: Scenario,
    /// With `--scenario scale`: weeks in the big database (× 3 tiers).
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u32).range(1..=520))]
    pub weeks: u32,
    /// With `--scenario scale`: the Friday ending the first week.
    #[arg(long, default_value = "2024-01-05", value_parser = parse_date)]
    pub first_week_ending: NaiveDate,
    /// With `--scenario scale`: symbols per tier per week (the generator's default).
    #[arg(long, default_value_t = 3_000)]
    pub symbols: usize,
    /// With `--scenario scale`: sequential HTTP requests per series.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
}

/// What `cargo xtask bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One large week end to end against the floor.
    Pipeline,
    /// Doctor, readiness, /metrics and ingest on a database of many weeks.
    Scale,
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

/// Everything the benchmark measured; printed as tables or, with `--json`, as is.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// Data rows in the file.
    pub rows: u64,
    /// The file's tier.
    pub tier: String,
    /// The file's week.
    pub week_ending: NaiveDate,
    /// Distinct symbols in the file.
    pub symbols: u64,
    /// Distinct venues in the file.
    pub venues: usize,
    /// File size, header included.
    pub file_bytes: u64,
    /// Runs per measurement.
    pub runs: u32,
    /// Where it ran.
    pub machine: Machine,
    /// The backend the pipeline wrote.
    pub backend: Backend,
    /// The full pipeline (`spine ingest finra-otc`).
    pub pipeline: Series,
    /// The floor (`sqlite3 .import`).
    pub floor: Series,
    /// Median pipeline seconds / median floor seconds.
    pub ratio: f64,
    /// The targets and whether each was met.
    pub targets: Vec<Target>,
    /// Every target met.
    pub pass: bool,
    /// Stage timings, with `--breakdown`.
    pub breakdown: Option<Breakdown>,
}

/// The machine the numbers come from.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub nproc: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// `MemTotal` from /proc/meminfo, in MiB.
    pub memory_mib: u64,
    /// The kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `sqlite3 --version` (the shell used for the floor; the pipeline uses the SQLite that
    /// sqlx bundles).
    pub sqlite3: String,
    /// The PostgreSQL server's `version()`, with `--backend postgres`.
    pub postgres: Option<String>,
    /// /proc/loadavg (1, 5, 15 minutes) when the benchmark started: other work on the machine.
    pub load_at_start: String,
}

/// The runs of one measurement.
#[derive(Debug, Serialize)]
pub struct Series {
    /// Wall seconds of each run, in run order.
    pub seconds: Vec<f64>,
    /// CPU seconds (user + system, all threads) of each run: near `seconds` means CPU-bound on
    /// one core; well below means waiting (I/O, locks); above means more than one core busy.
    pub cpu_seconds: Vec<f64>,
    /// Peak RSS of the child of each run, in MB (10^6 bytes).
    pub peak_rss_mb: Vec<f64>,
    /// Median of `seconds`.
    pub median_seconds: f64,
    /// Rows per second at the median time.
    pub rows_per_second: f64,
    /// Largest of `peak_rss_mb` (what the memory target is checked against).
    pub max_peak_rss_mb: f64,
    /// Size of the database after the last run (main file plus WAL), in bytes.
    pub database_bytes: u64,
}

/// Where one ingest's time and memory go, stage by stage.
///
/// Each stage commits its own transaction and records a `core_manifest` row; the benchmark polls
/// the database (read-only, through the `sqlite3` shell) and the child's `VmRSS` every
/// [`SAMPLE_INTERVAL`] while the ingest runs, so each stage's end is known to within one interval.
/// The polling costs a little, so `ingest_seconds` here runs slightly above the unpolled runs.
#[derive(Debug, Serialize)]
pub struct Breakdown {
    /// Wall seconds of the polled ingest.
    pub ingest_seconds: f64,
    /// CPU seconds (user + system) of the polled ingest.
    pub ingest_cpu_seconds: f64,
    /// Exact peak RSS of the polled ingest, in MB.
    pub ingest_peak_rss_mb: f64,
    /// The phases, in order; their seconds add up to `ingest_seconds`.
    pub phases: Vec<Phase>,
    /// `spine run finra_otc.calc` alone on the ingested database (reads NORMALIZED back, then
    /// computes and replaces the calcs): wall seconds.
    pub calc_only_seconds: f64,
    /// Peak RSS of that run, in MB.
    pub calc_only_peak_rss_mb: f64,
    /// The polling interval, in milliseconds.
    pub sample_interval_ms: u64,
}

/// One phase of an ingest.
#[derive(Debug, Serialize)]
pub struct Phase {
    /// The stage whose commit ends the phase (or `exit` for the tail after the last commit).
    pub name: String,
    /// What the phase does.
    pub work: &'static str,
    /// Wall seconds, to within one sampling interval.
    pub seconds: f64,
    /// Largest sampled `VmRSS` during the phase, in MB.
    pub sampled_peak_rss_mb: f64,
}

/// How often the breakdown polls the ingest.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);

/// The domain string the FINRA pipeline records in `core_manifest`.
const FINRA_DOMAIN: &str = "finra.otc_transparency";

/// What one child process cost.
#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: i64,
    status: ExitStatus,
}

impl Measured {
    fn seconds(&self) -> f64 {
        self.wall.as_secs_f64()
    }

    fn cpu_seconds(&self) -> f64 {
        self.cpu.as_secs_f64()
    }

    fn rss_mb(&self) -> f64 {
        self.max_rss_kb as f64 * 1024.0 / 1e6
    }
}

/// A directory that is removed when dropped, unless it was given by the user.
struct WorkDir {
    path: PathBuf,
    remove: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs the benchmark and prints its report.
pub fn run(args: BenchArgs) -> Result<()> {
    let sqlite3 = sqlite3_version()?;
    let postgres = match args.backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(postgres_version(&args.postgres_url)?),
    };
    let root = workspace_root();
    let spine = match &args.spine {
        Some(path) => path.clone(),
        None => spine_binary(&root, args.no_build)?,
    };

    let work = match &args.dir {
        Some(dir) => WorkDir {
            path: dir.clone(),
            remove: false,
        },
        None => WorkDir {
            path: std::env::temp_dir().join(format!("spine-bench-{}", std::process::id())),
            remove: true,
        },
    };
    fs::create_dir_all(&work.path)
        .with_context(|| format!("cannot create {}", work.path.display()))?;
    let dir = work.path.canonicalize()?;
    if args.scenario == Scenario::Scale {
        let report = crate::scale::run(
            &spine,
            &dir,
            args.weeks,
            args.first_week_ending,
            args.symbols,
            args.runs,
            args.requests,
        )?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", crate::scale::render(&report));
        }
        if args.check && !report.pass {
            let missed: Vec<String> = report
                .targets
                .iter()
                .filter(|t| !t.pass)
                .map(|t| format!("{} = {:.2} (target {})", t.name, t.value, t.target))
                .collect();
            bail!("benchmark target missed: {}", missed.join("; "));
        }
        return Ok(());
    }
    let mut machine = machine(sqlite3)?;
    machine.postgres = postgres;

    // The input: one week, exactly `rows` rows, generated once and reused by every run.
    let csv = dir.join(file_name(args.tier, args.week_ending));
    note(format!(
        "generating {} rows into {}",
        thousands(args.rows),
        csv.display()
    ));
    let file = File::create(&csv).with_context(|| format!("cannot create {}", csv.display()))?;
    let stats = write_week(
        BufWriter::with_capacity(1 << 20, file),
        args.tier,
        args.week_ending,
        &WeekSpec {
            rows: args.rows,
            mpids: args.mpids,
            seed: args.seed,
        },
    )
    .with_context(|| format!("cannot generate {}", csv.display()))?;

    // The shipped holiday file of the week's year, so CALC computes volume per trading day too.
    let calendar = shipped_calendars()
        .into_iter()
        .find(|(name, _)| name.contains(&args.week_ending.year().to_string()))
        .map(|(name, text)| -> Result<PathBuf> {
            let path = dir.join(name);
            fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .transpose()?;
    if calendar.is_none() {
        note(format!(
            "no shipped exchange calendar covers {}; CALC runs without volume per trading day",
            args.week_ending.year()
        ));
    }

    let bench = Bench {
        spine: &spine,
        dir: &dir,
        csv: &csv,
        calendar: calendar.as_deref(),
        args: &args,
        runs: std::cell::Cell::new(0),
        pg_bytes: std::cell::Cell::new(0),
        pg_floor_bytes: std::cell::Cell::new(0),
    };
    let mut pipeline = Vec::new();
    let mut floor = Vec::new();
    for run in 1..=args.runs {
        note(format!("run {run}/{}: pipeline", args.runs));
        let p = bench.pipeline_run()?;
        note(format!(
            "  {:.2} s, peak RSS {:.1} MB",
            p.seconds(),
            p.rss_mb()
        ));
        pipeline.push(p);
        note(format!("run {run}/{}: floor", args.runs));
        let f = bench.floor_run()?;
        note(format!(
            "  {:.2} s, peak RSS {:.1} MB",
            f.seconds(),
            f.rss_mb()
        ));
        floor.push(f);
    }
    let (pipeline_bytes, floor_bytes) = match args.backend {
        Backend::Sqlite => (
            db_bytes(&dir.join(PIPELINE_DB)),
            db_bytes(&dir.join(FLOOR_DB)),
        ),
        Backend::Postgres => (bench.pg_bytes.take(), bench.pg_floor_bytes.take()),
    };
    let pipeline = series(&pipeline, args.rows, pipeline_bytes);
    let floor = series(&floor, args.rows, floor_bytes);
    let breakdown = if args.breakdown && args.backend == Backend::Sqlite {
        Some(bench.breakdown()?)
    } else {
        None
    };

    let ratio = pipeline.median_seconds / floor.median_seconds;
    let (max_ratio, max_rss) = match args.backend {
        Backend::Sqlite => (MAX_RATIO, MAX_PEAK_RSS_MB),
        Backend::Postgres => (MAX_RATIO_POSTGRES, MAX_PEAK_RSS_MB_POSTGRES),
    };
    let targets = vec![
        Target {
            name: "ratio pipeline/floor",
            value: ratio,
            target: format!("<= {max_ratio:.1}"),
            pass: ratio <= max_ratio,
        },
        Target {
            name: "pipeline peak RSS MB",
            value: pipeline.max_peak_rss_mb,
            target: format!("< {max_rss:.0}"),
            pass: pipeline.max_peak_rss_mb < max_rss,
        },
    ];
    let report = BenchReport {
        rows: stats.rows,
        tier: args.tier.to_string(),
        week_ending: args.week_ending,
        symbols: stats.symbols,
        venues: stats.venues,
        file_bytes: stats.bytes,
        runs: args.runs,
        machine,
        backend: args.backend,
        pass: targets.iter().all(|t| t.pass),
        pipeline,
        floor,
        ratio,
        targets,
        breakdown,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, &spine, &dir));
    }
    if args.check && !report.pass {
        let missed: Vec<String> = report
            .targets
            .iter()
            .filter(|t| !t.pass)
            .map(|t| format!("{} = {:.2} (target {})", t.name, t.value, t.target))
            .collect();
        bail!("benchmark target missed: {}", missed.join("; "));
    }
    Ok(())
}

/// The pipeline's database file name inside the work directory.
const PIPELINE_DB: &str = "bench.db";
/// The floor's database file name inside the work directory.
const FLOOR_DB: &str = "floor.db";
/// The breakdown's database file name inside the work directory.
const BREAKDOWN_DB: &str = "breakdown.db";

/// What every measurement needs.
struct Bench<'a> {
    spine: &'a Path,
    dir: &'a Path,
    csv: &'a Path,
    calendar: Option<&'a Path>,
    args: &'a BenchArgs,
    /// PostgreSQL databases created so far (each run's name is unique).
    runs: std::cell::Cell<u32>,
    /// Size of the last pipeline database on PostgreSQL, read before it is dropped.
    pg_bytes: std::cell::Cell<u64>,
    /// Size of the last floor database on PostgreSQL.
    pg_floor_bytes: std::cell::Cell<u64>,
}

impl Bench<'_> {
    /// A fresh, migrated database with the calendar loaded; returns its URL.
    fn fresh_pipeline_db(&self, name: &str) -> Result<String> {
        let url = match self.args.backend {
            Backend::Sqlite => {
                let db = self.dir.join(name);
                remove_db(&db)?;
                format!("sqlite://{}?mode=rwc", db.display())
            }
            Backend::Postgres => self.fresh_postgres_db()?,
        };
        self.spine_untimed(&url, &["db", "migrate"])?;
        if let Some(calendar) = self.calendar {
            let file = calendar.display().to_string();
            self.spine_untimed(&url, &["calendar", "ingest", "--file", &file])?;
        }
        Ok(url)
    }

    /// Runs `spine ARGS` against `url`, failing with its output if it fails.
    fn spine_untimed(&self, url: &str, args: &[&str]) -> Result<()> {
        let output = Command::new(self.spine)
            .args(args)
            .args(["--database-url", url])
            .output()
            .with_context(|| format!("cannot run {}", self.spine.display()))?;
        if !output.status.success() {
            bail!(
                "`spine {}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Runs `spine ARGS --database-url URL --format json` under measurement (calling `tick`
    /// every [`SAMPLE_INTERVAL`] while it runs, if given) and returns the measurement and the
    /// parsed JSON it printed.
    fn spine_timed(
        &self,
        url: &str,
        args: &[&str],
        tick: Option<Tick<'_>>,
    ) -> Result<(Measured, serde_json::Value)> {
        let stdout = self.dir.join("spine.stdout");
        let stderr = self.dir.join("spine.stderr");
        let mut cmd = Command::new(self.spine);
        cmd.args(args)
            .args(["--database-url", url, "--format", "json"]);
        let m = measure(&mut cmd, None, &stdout, &stderr, tick)?;
        let out = fs::read_to_string(&stdout)?;
        if !m.status.success() {
            bail!(
                "`spine {}` failed ({}): {}",
                args.join(" "),
                m.status,
                fs::read_to_string(&stderr).unwrap_or_default().trim()
            );
        }
        let json = serde_json::from_str(&out).with_context(|| {
            format!(
                "`spine {}` printed something that is not JSON: {out}",
                args.join(" ")
            )
        })?;
        Ok((m, json))
    }

    /// The arguments of the measured ingest.
    fn ingest_args(&self) -> Vec<String> {
        vec![
            "ingest".into(),
            "finra-otc".into(),
            "--file".into(),
            self.csv.display().to_string(),
            "--week-ending".into(),
            self.args.week_ending.to_string(),
            "--tier".into(),
            self.args.tier.to_string(),
        ]
    }

    /// One measured ingest into a fresh database, checked for completeness.
    fn ingest(&self, db: &str, tick: Option<Tick<'_>>) -> Result<Measured> {
        let url = self.fresh_pipeline_db(db)?;
        let args = self.ingest_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (m, report) = self.spine_timed(&url, &args, tick)?;
        let accepted = report["rows_accepted"].as_u64();
        let rejected = report["rows_rejected"].as_u64();
        let stage = report["stage"].as_str();
        let want_stage = if self.calendar.is_some() {
            "CALC"
        } else {
            "NORMALIZED"
        };
        if accepted != Some(self.args.rows) || rejected != Some(0) || stage != Some(want_stage) {
            bail!(
                "the pipeline did not ingest the whole file (expected {} rows accepted, 0 rejected, stage {want_stage}): {report}",
                self.args.rows
            );
        }
        Ok(m)
    }

    /// One pipeline measurement.
    fn pipeline_run(&self) -> Result<Measured> {
        let m = self.ingest(PIPELINE_DB, None)?;
        if self.args.backend == Backend::Postgres {
            let name = self.postgres_db_name();
            self.pg_bytes.set(self.postgres_db_bytes(&name)?);
            self.drop_postgres_db(&name)?;
        }
        Ok(m)
    }

    /// The PostgreSQL server's URL without a database.
    fn postgres_server(&self) -> String {
        postgres_server(&self.args.postgres_url)
    }

    /// The name of the PostgreSQL database of the current run.
    fn postgres_db_name(&self) -> String {
        format!("spine_bench_{}_{}", std::process::id(), self.runs.get())
    }

    /// Creates the next run's fresh PostgreSQL database; returns its URL.
    fn fresh_postgres_db(&self) -> Result<String> {
        self.runs.set(self.runs.get() + 1);
        let name = self.postgres_db_name();
        let server = self.postgres_server();
        psql(
            &format!("{server}/postgres"),
            &format!("DROP DATABASE IF EXISTS {name}"),
        )?;
        psql(
            &format!("{server}/postgres"),
            &format!("CREATE DATABASE {name}"),
        )?;
        Ok(format!("{server}/{name}"))
    }

    /// `pg_database_size` of a benchmark database.
    fn postgres_db_bytes(&self, name: &str) -> Result<u64> {
        let server = self.postgres_server();
        let out = psql(
            &format!("{server}/postgres"),
            &format!("SELECT pg_database_size('{name}')"),
        )?;
        Ok(out.trim().parse().unwrap_or(0))
    }

    /// Drops a benchmark database.
    fn drop_postgres_db(&self, name: &str) -> Result<()> {
        let server = self.postgres_server();
        psql(
            &format!("{server}/postgres"),
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )?;
        Ok(())
    }

    /// One floor measurement on PostgreSQL: `psql \copy` of the file into one table (eight text
    /// columns, no index, created before the clock starts) of a fresh database.
    fn postgres_floor_run(&self) -> Result<Measured> {
        let url = self.fresh_postgres_db()?;
        let name = self.postgres_db_name();
        psql(
            &url,
            "CREATE TABLE finra (tier text, symbol text, issue text, mpid text, participant text, \
             shares text, trades text, last_update text)",
        )?;
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c"])
            .arg(format!(
                "\\copy finra FROM '{}' WITH (FORMAT text, DELIMITER '|', HEADER true)",
                self.csv.display()
            ));
        let stdout = self.dir.join("psql.stdout");
        let stderr = self.dir.join("psql.stderr");
        let m = measure(&mut cmd, None, &stdout, &stderr, None)?;
        if !m.status.success() {
            bail!(
                "psql \\copy failed ({}): {}",
                m.status,
                fs::read_to_string(&stderr).unwrap_or_default().trim()
            );
        }
        let count = psql(&url, "SELECT count(*) FROM finra")?;
        if count.trim() != self.args.rows.to_string() {
            bail!(
                "psql \\copy loaded {} rows, expected {}",
                count.trim(),
                self.args.rows
            );
        }
        self.pg_floor_bytes.set(self.postgres_db_bytes(&name)?);
        self.drop_postgres_db(&name)?;
        Ok(m)
    }

    /// One floor measurement: `sqlite3 .import` of the file into a fresh database (or
    /// `psql \copy` on PostgreSQL).
    fn floor_run(&self) -> Result<Measured> {
        if self.args.backend == Backend::Postgres {
            return self.postgres_floor_run();
        }
        let db = self.dir.join(FLOOR_DB);
        remove_db(&db)?;
        let script = format!(
            ".bail on\n.mode list\n.separator |\n.import '{}' finra\n",
            self.csv.display()
        );
        let mut cmd = Command::new("sqlite3");
        cmd.arg(&db);
        let stdout = self.dir.join("sqlite3.stdout");
        let stderr = self.dir.join("sqlite3.stderr");
        let m = measure(&mut cmd, Some(script.as_bytes()), &stdout, &stderr, None)?;
        let errors = fs::read_to_string(&stderr).unwrap_or_default();
        if !m.status.success() || !errors.trim().is_empty() {
            bail!("sqlite3 .import failed ({}): {}", m.status, errors.trim());
        }
        let count = Command::new("sqlite3")
            .arg(&db)
            .arg("SELECT count(*) FROM finra;")
            .output()
            .context("cannot run sqlite3")?;
        let count = String::from_utf8_lossy(&count.stdout).trim().to_string();
        if count != self.args.rows.to_string() {
            bail!("sqlite3 imported {count} rows, expected {}", self.args.rows);
        }
        Ok(m)
    }

    /// One ingest polled stage by stage, then `spine run finra_otc.calc` alone on its database.
    fn breakdown(&self) -> Result<Breakdown> {
        note("breakdown: ingest, polled every 250 ms".to_string());
        let db = self.dir.join(BREAKDOWN_DB);
        let mut commits: Vec<(String, Duration)> = Vec::new();
        let mut rss: Vec<(Duration, f64)> = Vec::new();
        let mut tick = |pid: u32, at: Duration| {
            if let Some(mb) = vm_rss_mb(pid) {
                rss.push((at, mb));
            }
            for stage in committed_stages(&db) {
                if !commits.iter().any(|(s, _)| *s == stage) {
                    commits.push((stage, at));
                }
            }
        };
        let ingest = self.ingest(BREAKDOWN_DB, Some(&mut tick))?;
        // Stages committed after the last poll end at the exit, to within one interval too.
        for stage in committed_stages(&db) {
            if !commits.iter().any(|(s, _)| *s == stage) {
                commits.push((stage, ingest.wall));
            }
        }
        // Stages first seen in the same poll are ordered by the pipeline's order.
        commits.sort_by_key(|(stage, at)| (*at, stage_order(stage)));
        commits.push(("exit".to_string(), ingest.wall));
        let mut phases = Vec::new();
        let mut start = Duration::ZERO;
        for (name, end) in commits {
            let peak = rss
                .iter()
                .filter(|(t, _)| *t > start && *t <= end)
                .map(|(_, mb)| *mb)
                .fold(0.0, f64::max);
            phases.push(Phase {
                work: phase_work(&name),
                name,
                seconds: (end - start).as_secs_f64(),
                sampled_peak_rss_mb: peak,
            });
            start = end;
        }

        note("breakdown: spine run finra_otc.calc".to_string());
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let week = self.args.week_ending.to_string();
        let tier = self.args.tier.to_string();
        let args = [
            "run",
            "finra_otc.calc",
            "--week-ending",
            &week,
            "--tier",
            &tier,
        ];
        let (calc, out) = self.spine_timed(&url, &args, None)?;
        if self.calendar.is_some() && out["complete"] != serde_json::Value::Bool(true) {
            bail!("`spine run finra_otc.calc` did not complete: {out}");
        }
        Ok(Breakdown {
            ingest_seconds: ingest.seconds(),
            ingest_cpu_seconds: ingest.cpu_seconds(),
            ingest_peak_rss_mb: ingest.rss_mb(),
            phases,
            calc_only_seconds: calc.seconds(),
            calc_only_peak_rss_mb: calc.rss_mb(),
            sample_interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
        })
    }
}

/// Called every [`SAMPLE_INTERVAL`] while a measured child runs, with its pid and the time since
/// it started.
type Tick<'a> = &'a mut dyn FnMut(u32, Duration);

/// The pipeline's order of the stages, for ordering commits seen in the same poll.
fn stage_order(stage: &str) -> u8 {
    match stage {
        "RAW" => 0,
        "NORMALIZED" => 1,
        "CALC" => 2,
        _ => 3,
    }
}

/// What the phase ending with `stage`'s commit does.
fn phase_work(stage: &str) -> &'static str {
    match stage {
        "RAW" => "parse the file; insert RAW rows, rejects and the capture",
        "NORMALIZED" => {
            "re-parse the file (digest-checked against RAW); insert typed NORMALIZED rows; accumulate the calcs"
        }
        "CALC" => "write summary, venue share, HHI, volume per day and lineage",
        "exit" => "refresh the week's tier split, print the report, exit",
        _ => "other",
    }
}

/// The FINRA stages committed so far in `db`, read through the `sqlite3` shell (read-only, so
/// the writer is never blocked); empty when the database cannot be read at this instant.
fn committed_stages(db: &Path) -> Vec<String> {
    let sql = format!("SELECT DISTINCT stage FROM core_manifest WHERE domain = '{FINRA_DOMAIN}';");
    match Command::new("sqlite3")
        .args(["-readonly", "-cmd", ".timeout 50"])
        .arg(db)
        .arg(sql)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The resident set of a running process, in MB, from `/proc/<pid>/status`.
fn vm_rss_mb(pid: u32) -> Option<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024.0 / 1e6)
}

/// Runs `cmd` to completion with stdout and stderr sent to files and `stdin` (if any) written to
/// its standard input; returns its wall time, exit status and peak RSS.
///
/// The child is reaped with `wait4`, whose `rusage` is that one process's (and its waited-for
/// descendants'), so the peak RSS is exact and unaffected by any other child of this process
/// (unlike `getrusage(RUSAGE_CHILDREN)`, which would include the cargo build).
fn measure(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    stdout: &Path,
    stderr: &Path,
    mut tick: Option<Tick<'_>>,
) -> Result<Measured> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(File::create(stdout)?)
    .stderr(File::create(stderr)?);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes)
            .with_context(|| format!("cannot write to {program}'s standard input"))?;
        // Dropping the pipe closes it: the child sees end of input.
    }
    let pid = libc::pid_t::try_from(child.id()).context("child pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data; all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // Poll without blocking when there is something to do while the child runs.
    let flags = if tick.is_some() { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (`child` is never waited on); `status`
        // and `usage` are valid, exclusively borrowed out-parameters.
        let rc = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if rc == pid {
            break;
        }
        if rc == 0 {
            if let Some(tick) = tick.as_mut() {
                tick(child.id(), started.elapsed());
            }
            std::thread::sleep(SAMPLE_INTERVAL);
            continue;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).with_context(|| format!("cannot wait for {program}"));
        }
    }
    let wall = started.elapsed();
    let timeval = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok(Measured {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        max_rss_kb: usage.ru_maxrss,
        status: ExitStatus::from_raw(status),
    })
}

fn series(runs: &[Measured], rows: u64, database_bytes: u64) -> Series {
    let seconds: Vec<f64> = runs.iter().map(Measured::seconds).collect();
    let peak_rss_mb: Vec<f64> = runs.iter().map(Measured::rss_mb).collect();
    let cpu_seconds: Vec<f64> = runs.iter().map(Measured::cpu_seconds).collect();
    let median_seconds = median(&seconds);
    Series {
        rows_per_second: rows as f64 / median_seconds,
        max_peak_rss_mb: peak_rss_mb.iter().copied().fold(0.0, f64::max),
        median_seconds,
        seconds,
        cpu_seconds,
        peak_rss_mb,
        database_bytes,
    }
}

/// Removes a SQLite database and its WAL and shared-memory files, if present.
fn remove_db(db: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove {}", db.display()));
            }
        }
    }
    Ok(())
}

/// Size of a database file plus its WAL.
fn db_bytes(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut path = db.as_os_str().to_owned();
            path.push(suffix);
            fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Builds the release `spine` binary (unless `no_build`) and returns its path.
fn spine_binary(root: &Path, no_build: bool) -> Result<PathBuf> {
    if !no_build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        eprintln!("xtask bench: cargo build --release -p spine-cli");
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root)
            .args(["build", "--release", "-p", "spine-cli"]);
        crate::test::scrub_cargo_run_env(&mut cmd);
        let status = cmd.status().context("cannot run cargo build")?;
        if !status.success() {
            bail!("cargo build --release -p spine-cli failed ({status})");
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_relative() { root.join(t) } else { t })
        .unwrap_or_else(|| root.join("target"));
    let spine = target.join("release").join("spine");
    if !spine.is_file() {
        bail!(
            "{} does not exist; build it with `cargo build --release -p spine-cli` or drop --no-build",
            spine.display()
        );
    }
    Ok(spine)
}

/// The server part of a PostgreSQL URL: scheme, credentials, host and port, without the
/// database or parameters.
fn postgres_server(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// Runs one SQL command through `psql` (unaligned, tuples only) and returns what it printed.
fn psql(url: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .context("cannot run psql (the PostgreSQL floor needs the psql client)")?;
    if !out.status.success() {
        bail!(
            "psql failed on `{sql}` ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The server's `version()`.
fn postgres_version(url: &str) -> Result<String> {
    Ok(psql(
        &format!("{}/postgres", postgres_server(url)),
        "SELECT version()",
    )?
    .trim()
    .to_string())
}

/// `sqlite3 --version`, or an error saying how to install the shell.
fn sqlite3_version() -> Result<String> {
    match Command::new("sqlite3").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            // "3.40.1 2022-12-28 14:03:47 <hash>": keep the version and date.
            Ok(text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "))
        }
        Ok(out) => bail!("`sqlite3 --version` failed ({})", out.status),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "the floor measurement needs the sqlite3 command-line shell, which is not installed; \
             install it with `apt-get install sqlite3` (Debian/Ubuntu) and run again"
        ),
        Err(e) => Err(e).context("cannot run sqlite3"),
    }
}

/// Describes the machine from /proc and the tools' versions.
fn machine(sqlite3: String) -> Result<Machine> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let read_trimmed = |path: &str, words: usize| {
        fs::read_to_string(path)
            .map(|s| {
                s.split_whitespace()
                    .take(words)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|_| "unknown".to_string())
    };
    Ok(Machine {
        nproc: std::thread::available_parallelism()?.get(),
        cpu_model,
        memory_mib: memory_kib / 1024,
        kernel: read_trimmed("/proc/sys/kernel/osrelease", 1),
        rustc,
        sqlite3,
        postgres: None,
        load_at_start: read_trimmed("/proc/loadavg", 3),
    })
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The human-readable report.
fn render(r: &BenchReport, spine: &Path, dir: &Path) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "\nMarket Spine benchmark: one FINRA OTC week ({} {}), {} rows, {} symbols, {} venues, {:.1} MB",
        r.tier,
        r.week_ending,
        thousands(r.rows),
        thousands(r.symbols),
        r.venues,
        r.file_bytes as f64 / 1e6
    );
    let _ = writeln!(
        s,
        "machine: {} CPUs ({}), {:.1} GiB RAM, Linux {}, {}, sqlite3 {}, load at start {}",
        m.nproc,
        m.cpu_model,
        m.memory_mib as f64 / 1024.0,
        m.kernel,
        m.rustc,
        m.sqlite3,
        m.load_at_start
    );
    let _ = writeln!(
        s,
        "binary: {}   work dir: {}",
        spine.display(),
        dir.display()
    );
    match r.backend {
        Backend::Sqlite => {
            let _ = writeln!(
                s,
                "pipeline = spine ingest finra-otc (RAW + NORMALIZED + CALC + lineage) on a fresh migrated SQLite file"
            );
            let _ = writeln!(
                s,
                "floor    = sqlite3 .import of the same file into one table of a fresh database\n"
            );
        }
        Backend::Postgres => {
            let _ = writeln!(s, "postgres: {}", m.postgres.as_deref().unwrap_or("?"));
            let _ = writeln!(
                s,
                "pipeline = spine ingest finra-otc (RAW + NORMALIZED + CALC + lineage) into a fresh migrated PostgreSQL database"
            );
            let _ = writeln!(
                s,
                "floor    = psql \\copy of the same file into one table of a fresh database (client CPU and RSS only)\n"
            );
        }
    }

    let _ = write!(s, "{:<22}", "run");
    for i in 1..=r.runs {
        let _ = write!(s, "{:>10}", i);
    }
    let _ = writeln!(s);
    let mut row = |label: &str, values: &[f64], decimals: usize| {
        let _ = write!(s, "{label:<22}");
        for v in values {
            let _ = write!(s, "{v:>10.decimals$}");
        }
        let _ = writeln!(s);
    };
    row("pipeline seconds", &r.pipeline.seconds, 2);
    row("pipeline CPU seconds", &r.pipeline.cpu_seconds, 2);
    row("pipeline peak RSS MB", &r.pipeline.peak_rss_mb, 1);
    row("floor seconds", &r.floor.seconds, 2);
    row("floor CPU seconds", &r.floor.cpu_seconds, 2);
    row("floor peak RSS MB", &r.floor.peak_rss_mb, 1);
    let _ = writeln!(s);

    let rows: Vec<[String; 4]> = vec![
        [
            "rows".into(),
            thousands(r.rows),
            String::new(),
            String::new(),
        ],
        [
            "pipeline seconds (median)".into(),
            format!("{:.2}", r.pipeline.median_seconds),
            String::new(),
            String::new(),
        ],
        [
            "pipeline rows/s".into(),
            thousands(r.pipeline.rows_per_second.round() as u64),
            String::new(),
            String::new(),
        ],
        [
            "pipeline peak RSS MB (max)".into(),
            format!("{:.1}", r.pipeline.max_peak_rss_mb),
            r.targets[1].target.clone(),
            verdict(r.targets[1].pass).into(),
        ],
        [
            "floor seconds (median)".into(),
            format!("{:.2}", r.floor.median_seconds),
            String::new(),
            String::new(),
        ],
        [
            "floor rows/s".into(),
            thousands(r.floor.rows_per_second.round() as u64),
            String::new(),
            String::new(),
        ],
        [
            "ratio pipeline/floor".into(),
            format!("{:.2}", r.ratio),
            r.targets[0].target.clone(),
            verdict(r.targets[0].pass).into(),
        ],
        [
            "database MB pipeline/floor".into(),
            format!(
                "{:.0} / {:.0}",
                r.pipeline.database_bytes as f64 / 1e6,
                r.floor.database_bytes as f64 / 1e6
            ),
            String::new(),
            String::new(),
        ],
    ];
    let _ = writeln!(s, "{:<28}{:>14}  {:<8}result", "metric", "value", "target");
    for [a, b, c, d] in &rows {
        let line = format!("{a:<28}{b:>14}  {c:<8}{d}");
        let _ = writeln!(s, "{}", line.trim_end());
    }
    if let Some(b) = &r.breakdown {
        let _ = writeln!(
            s,
            "\nbreakdown: one more ingest, polled every {} ms: {:.2} s wall, {:.2} s CPU, peak RSS {:.1} MB",
            b.sample_interval_ms, b.ingest_seconds, b.ingest_cpu_seconds, b.ingest_peak_rss_mb
        );
        let _ = writeln!(
            s,
            "  {:<12}{:>9}{:>7}{:>10}  work",
            "phase", "seconds", "share", "RSS MB"
        );
        for p in &b.phases {
            let _ = writeln!(
                s,
                "  {:<12}{:>9.2}{:>6.0}%{:>10.1}  {}",
                p.name,
                p.seconds,
                100.0 * p.seconds / b.ingest_seconds,
                p.sampled_peak_rss_mb,
                p.work
            );
        }
        let _ = writeln!(
            s,
            "  spine run finra_otc.calc alone (reads NORMALIZED back): {:.2} s, peak RSS {:.1} MB",
            b.calc_only_seconds, b.calc_only_peak_rss_mb
        );
    }
    let _ = writeln!(
        s,
        "\noverall: {}",
        if r.pass {
            "PASS"
        } else {
            "FAIL (see the targets above)"
        }
    );
    s
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn measure_reports_exit_status_and_rss() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (out, err) = (dir.join("out"), dir.join("err"));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "cat; exit 3"]);
        let m = measure(&mut cmd, Some(b"hello"), &out, &err, None).unwrap();
        assert_eq!(m.status.code(), Some(3));
        assert!(m.max_rss_kb > 0);
        assert_eq!(fs::read_to_string(&out).unwrap(), "hello");

        let mut ticks = 0;
        let mut tick = |pid: u32, _at: Duration| {
            assert!(pid > 0);
            ticks += 1;
        };
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.6"]);
        let m = measure(&mut cmd, None, &out, &err, Some(&mut tick)).unwrap();
        assert!(m.status.success());
        assert!(m.wall >= Duration::from_millis(600));
        assert!(ticks >= 2, "{ticks} ticks");
        let _ = fs::remove_dir_all(&dir);
    }
}
