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
use sea_orm_migration::sea_orm::{ConnectionTrait, Database};

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
        let admin = Database::connect(args.postgres_admin_url.as_str())
            .await
            .with_context(|| {
                format!(
                    "a PostgreSQL server answers at {} but refused the connection",
                    spine_store::redact_url(&args.postgres_admin_url)
                )
            })?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("cannot create test database {name}"))?;
        admin.close().await.ok();
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
    let status = cmd.status().context("cannot run cargo test")?;

    if let Some(name) = created
        && let Ok(admin) = Database::connect(args.postgres_admin_url.as_str()).await
    {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .ok();
        admin.close().await.ok();
    }
    if !status.success() {
        bail!("cargo test failed ({status})");
    }
    Ok(())
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
