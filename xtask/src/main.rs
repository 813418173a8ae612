//! `cargo xtask`: developer and operator automation, written in Rust instead of shell scripts so
//! it runs the same on every machine and CI (the rust-analyzer convention).
//!
//! ```text
//! cargo xtask migrate [up|down|fresh|status] [--database-url URL] [--steps N]
//! cargo xtask test [--sqlite-only] [-- CARGO_TEST_ARGS]
//! cargo xtask bench [--rows N] [--runs N] [--dir DIR] [--breakdown] [--check] [--json]
//! ```
//!
//! The database URL comes from `--database-url`, else `DATABASE_URL`, else the embedded default
//! `sqlite://spine.db?mode=rwc` (created in the current directory if missing).

mod bench;
mod measure;
mod scale;
mod test;
mod tidy;

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use spine_store::{Store, admin};

/// Market Spine's developer and operator tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One task per variant; new tasks (e.g. `bench`) are added here.
#[derive(Debug, Subcommand)]
enum Command {
    /// Apply, roll back, rebuild or inspect the database schema (the `migration` crate).
    Migrate(MigrateArgs),
    /// Run every test on SQLite and, when a PostgreSQL server answers, on PostgreSQL too.
    Test(test::TestArgs),
    /// Benchmark one FINRA OTC week end to end against the `sqlite3 .import` floor
    /// (see docs/PERFORMANCE.md).
    Bench(bench::BenchArgs),
    /// Check the workspace's layering rules (docs/ARCHITECTURE.md): exit 1 naming each broken
    /// rule.
    Tidy,
}

/// Arguments of `cargo xtask migrate`.
#[derive(Debug, Args)]
struct MigrateArgs {
    /// Database to migrate, e.g. `sqlite://spine.db?mode=rwc` or
    /// `postgres://user@host:5432/spine`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://spine.db?mode=rwc",
        global = true
    )]
    database_url: String,

    /// What to do; `up` when omitted.
    #[command(subcommand)]
    action: Option<MigrateAction>,
}

/// The `migrate` actions.
#[derive(Debug, Clone, Copy, Subcommand)]
enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the most recently applied migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// Drop every table, then apply every migration: a clean schema, all data lost.
    Fresh,
    /// List every migration as applied or pending, without changing anything.
    Status,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Migrate(args) => migrate(args).await,
        Command::Test(args) => test::run(args).await,
        Command::Bench(args) => bench::run(args),
        Command::Tidy => tidy::run(),
    }
}

async fn migrate(args: MigrateArgs) -> Result<()> {
    let shown_url = spine_store::redact_url(&args.database_url);
    // Store::connect fails in seconds on an unreachable server and names it (password redacted).
    let store = Store::connect(&args.database_url).await?;
    match args.action.unwrap_or(MigrateAction::Up) {
        MigrateAction::Up => {
            let applied = admin::up(&store)
                .await
                .with_context(|| format!("migrating `{shown_url}` up failed"))?;
            report_changes("applied", &applied);
        }
        MigrateAction::Down { steps } => {
            let rolled_back = admin::down(&store, steps)
                .await
                .with_context(|| format!("rolling back `{shown_url}` failed"))?;
            report_changes("rolled back", &rolled_back);
        }
        MigrateAction::Fresh => {
            admin::fresh(&store)
                .await
                .with_context(|| format!("rebuilding `{shown_url}` from scratch failed"))?;
            println!("dropped every table and re-applied every migration");
        }
        MigrateAction::Status => {}
    }
    print_status(&store, &shown_url).await
}

/// Prints one line per migration that an action touched, or a line saying there was none.
fn report_changes(verb: &str, names: &[String]) {
    for name in names {
        println!("{verb} {name}");
    }
    if names.is_empty() {
        println!("nothing to do: no migration {verb}");
    }
}

/// Prints every migration with its status, without changing the database.
async fn print_status(store: &Store, shown_url: &str) -> Result<()> {
    let migrations = admin::status(store)
        .await
        .with_context(|| format!("cannot read migration status of `{shown_url}`"))?;
    let width = migrations.iter().map(|m| m.name.len()).max().unwrap_or(0);
    println!("database: {shown_url}");
    for m in &migrations {
        let status = if m.applied { "applied" } else { "pending" };
        println!("  {:<width$}  {status}", m.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn down_defaults_to_one_step() {
        let cli = Cli::try_parse_from(["cargo xtask", "migrate", "down"]).unwrap();
        let Command::Migrate(args) = cli.command else {
            panic!("expected migrate")
        };
        assert!(matches!(
            args.action,
            Some(MigrateAction::Down { steps: 1 })
        ));
    }

    #[test]
    fn database_url_is_accepted_after_the_action() {
        let cli = Cli::try_parse_from([
            "cargo xtask",
            "migrate",
            "status",
            "--database-url",
            "sqlite::memory:",
        ])
        .unwrap();
        let Command::Migrate(args) = cli.command else {
            panic!("expected migrate")
        };
        assert_eq!(args.database_url, "sqlite::memory:");
    }
}
