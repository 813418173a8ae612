//! `cargo xtask test`: the project's one test command (the README's, and `.ci/run`'s).
//!
//! Runs `cargo test --workspace` on SQLite always and, when a PostgreSQL server answers, on
//! PostgreSQL too: it creates a fresh database, exports `SPINE_TEST_POSTGRES_URL` so every
//! backend-aware test runs its body a second time there, and drops the database afterwards.
//! A developer gets exactly what CI runs, with no manual database set-up.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;

/// Arguments of `cargo xtask test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A PostgreSQL server URL with rights to create databases; the tests run in a fresh
    /// database created on it.
    #[arg(
        long,
        env = "SPINE_TEST_POSTGRES_ADMIN_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_admin_url: String,
    /// Run on SQLite only, even when a PostgreSQL server answers.
    #[arg(long)]
    sqlite_only: bool,
    /// Extra arguments passed to `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

/// Host and port of a `postgres://user@host:port/db` URL (port 5432 when omitted).
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    match host_port.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((host_port.to_string(), 5432)),
    }
}

/// Whether something accepts TCP connections at the URL's host and port within a second.
fn answers(url: &str) -> bool {
    let Some((host, port)) = host_port(url) else {
        return false;
    };
    let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return false,
    };
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok())
}

/// The same URL pointing at another database.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// Removes what `cargo run` (how `cargo xtask` starts this process) sets for the program it
/// runs: the inner `cargo test` must see the shell's environment, not xtask's. Build scripts
/// that watch a variable such as `CARGO_MANIFEST_DIR` (ring's does) would otherwise see it
/// change between `cargo xtask` and the test build and rebuild half the dependency tree every
/// run.
pub fn scrub_cargo_run_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_by_cargo_run = key.starts_with("CARGO_PKG_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "OUT_DIR"
            );
        if set_by_cargo_run {
            cmd.env_remove(key);
        }
    }
}

/// Runs the workspace tests on every available backend.
pub async fn run(args: TestArgs) -> Result<()> {
    let mut created: Option<String> = None;
    let preset = std::env::var("SPINE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let pg_url = if args.sqlite_only {
        println!("xtask test: SQLite only (--sqlite-only)");
        None
    } else if let Some(url) = preset {
        println!(
            "xtask test: SQLite and PostgreSQL (SPINE_TEST_POSTGRES_URL={})",
            spine_store::redact_url(&url)
        );
        Some(url)
    } else if answers(&args.postgres_admin_url) {
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
        let name = format!("spine_test_{}_{stamp}", std::process::id());
        spine_store::admin::create_database(&args.postgres_admin_url, &name)
            .await
            .with_context(|| {
                format!(
                    "a PostgreSQL server answers at {} but the test database {name} could not be created",
                    spine_store::redact_url(&args.postgres_admin_url)
                )
            })?;
        created = Some(name.clone());
        let url = with_database(&args.postgres_admin_url, &name);
        println!(
            "xtask test: SQLite and PostgreSQL (fresh database {name} on {})",
            spine_store::redact_url(&args.postgres_admin_url)
        );
        Some(url)
    } else {
        println!(
            "xtask test: no PostgreSQL server answers at {}; running SQLite only",
            spine_store::redact_url(&args.postgres_admin_url)
        );
        None
    };

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--workspace"]).args(&args.cargo_args);
    scrub_cargo_run_env(&mut cmd);
    match &pg_url {
        Some(url) => cmd.env("SPINE_TEST_POSTGRES_URL", url),
        None => cmd.env_remove("SPINE_TEST_POSTGRES_URL"),
    };
    // The real FINRA week beside the project: when it is there, the tests that check against
    // it must run (they fail rather than skip); when it is not, say so loudly at the end.
    let sample = real_sample();
    if sample.is_some() {
        cmd.env(REQUIRE_SAMPLE_VAR, "1");
    } else {
        cmd.env_remove(REQUIRE_SAMPLE_VAR);
    }
    let log = tempfile_path("spine_backend_runs");
    cmd.env(BACKEND_LOG_VAR, &log);
    let status = run_and_count(&mut cmd)?;

    if let Some(name) = created {
        spine_store::admin::drop_database(&args.postgres_admin_url, &name)
            .await
            .ok();
    }
    let (sqlite, postgres) = backend_runs(&log);
    std::fs::remove_file(&log).ok();
    println!(
        "xtask test: {} tests passed, {} failed; database test bodies run: {sqlite} on SQLite, {postgres} on PostgreSQL{}",
        status.passed,
        status.failed,
        if pg_url.is_none() {
            " (no PostgreSQL server)"
        } else {
            ""
        }
    );
    match sample {
        Some(path) => println!(
            "xtask test: the real FINRA sample ({}) was checked",
            path.display()
        ),
        None => println!(
            "xtask test: SKIPPED: the real FINRA sample ../shared/data/finra/{SAMPLE_FILE} is absent; \
             the checks against real data did not run"
        ),
    }
    if !status.success {
        bail!("cargo test failed");
    }
    Ok(())
}

/// Set for the tests when the real FINRA sample is present: its tests must not skip.
const REQUIRE_SAMPLE_VAR: &str = "SPINE_REQUIRE_REAL_SAMPLE";
/// Set for the tests: where each database test body logs its backend.
const BACKEND_LOG_VAR: &str = "SPINE_TEST_BACKEND_LOG";
/// The real FINRA week the correctness tests check against.
const SAMPLE_FILE: &str = "finra_otc_weekly_otc_20251215.csv";

/// The real FINRA sample beside the workspace, if present.
fn real_sample() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::canonicalize(root.join("../shared/data/finra").join(SAMPLE_FILE)).ok()
}

fn tempfile_path(stem: &str) -> std::path::PathBuf {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("{stem}_{}_{stamp}", std::process::id()))
}

/// How many database test bodies ran on each backend.
fn backend_runs(log: &std::path::Path) -> (usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let count = |b: &str| {
        text.lines()
            .filter(|l| l.split('\t').next() == Some(b))
            .count()
    };
    (count("sqlite"), count("postgres"))
}

/// What `cargo test` reported.
struct Outcome {
    success: bool,
    passed: u64,
    failed: u64,
}

/// Runs `cargo test`, streaming its output, and adds up its `test result:` lines.
fn run_and_count(cmd: &mut Command) -> Result<Outcome> {
    use std::io::{BufRead, BufReader, Write};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read cargo test's output")?;
        if let Some(rest) = line.strip_prefix("test result: ") {
            let number = |word: &str| -> u64 {
                rest.split(';')
                    .find_map(|part| {
                        let part = part
                            .trim()
                            .trim_start_matches("ok. ")
                            .trim_start_matches("FAILED. ");
                        part.strip_suffix(word).and_then(|n| n.trim().parse().ok())
                    })
                    .unwrap_or(0)
            };
            passed += number("passed");
            failed += number("failed");
        }
        writeln!(out, "{line}").ok();
    }
    let status = child.wait().context("cargo test did not finish")?;
    Ok(Outcome {
        success: status.success(),
        passed,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_and_retargeted() {
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5432/postgres"),
            Some(("127.0.0.1".to_string(), 5432))
        );
        assert_eq!(
            host_port("postgres://u:p@db/x"),
            Some(("db".to_string(), 5432))
        );
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://h:1/a?sslmode=disable", "t2"),
            "postgres://h:1/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "t3"), "postgres://h:1/t3");
    }

    #[test]
    fn a_closed_port_does_not_answer() {
        assert!(!answers("postgres://x@127.0.0.1:1/db"));
    }
}
