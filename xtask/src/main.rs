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
mod test;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::{Args, Parser, Subcommand};
use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm_migration::DbErr;
use sea_orm_migration::sea_orm::{ConnectOptions, Database, DatabaseConnection};

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
    }
}

async fn migrate(args: MigrateArgs) -> Result<()> {
    let shown_url = spine_store::redact_url(&args.database_url);
    let mut options = ConnectOptions::new(args.database_url.as_str());
    // An unreachable server should fail in seconds, not after the pool's 30 s default.
    options
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .sqlx_logging(false);
    let db = Database::connect(options).await.map_err(db_error(format!(
        "cannot connect to database `{shown_url}`"
    )))?;

    match args.action.unwrap_or(MigrateAction::Up) {
        MigrateAction::Up => {
            let pending = Migrator::get_pending_migrations(&db)
                .await
                .map_err(db_error(format!(
                    "cannot read migration status of `{shown_url}`"
                )))?;
            Migrator::up(&db, None)
                .await
                .map_err(db_error(format!("migrating `{shown_url}` up failed")))?;
            report_changes("applied", pending.iter().map(|m| m.name()));
        }
        MigrateAction::Down { steps } => {
            let applied = Migrator::get_applied_migrations(&db)
                .await
                .map_err(db_error(format!(
                    "cannot read migration status of `{shown_url}`"
                )))?;
            Migrator::down(&db, Some(steps))
                .await
                .map_err(db_error(format!("rolling back `{shown_url}` failed")))?;
            report_changes(
                "rolled back",
                applied.iter().rev().take(steps as usize).map(|m| m.name()),
            );
        }
        MigrateAction::Fresh => {
            Migrator::fresh(&db).await.map_err(db_error(format!(
                "rebuilding `{shown_url}` from scratch failed"
            )))?;
            println!("dropped every table and re-applied every migration");
        }
        MigrateAction::Status => {}
    }
    print_status(&db, &shown_url).await
}

/// How long to wait for the database to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Turns a [`DbErr`] into an error that says what was being attempted, on which database.
///
/// The `DbErr` is formatted into the message rather than chained as a source: its display
/// already includes its source's text, so `{:#}` would print every cause twice.
fn db_error(context: String) -> impl FnOnce(DbErr) -> anyhow::Error {
    move |err| anyhow!("{context}: {err}")
}

/// Prints one line per migration that an action touched, or a line saying there was none.
fn report_changes<'a>(verb: &str, names: impl Iterator<Item = &'a str>) {
    let mut any = false;
    for name in names {
        println!("{verb} {name}");
        any = true;
    }
    if !any {
        println!("nothing to do: no migration {verb}");
    }
}

/// Prints every migration with its status.
///
/// Uses the read-only status query, so `status` never creates the `seaql_migrations` table.
async fn print_status(db: &DatabaseConnection, shown_url: &str) -> Result<()> {
    let migrations = Migrator::get_migration_with_status_read_only(db)
        .await
        .map_err(db_error(format!(
            "cannot read migration status of `{shown_url}`"
        )))?;
    let width = migrations.iter().map(|m| m.name().len()).max().unwrap_or(0);
    println!("database: {shown_url}");
    for migration in &migrations {
        let status = match migration.status() {
            MigrationStatus::Applied => "applied",
            MigrationStatus::Pending => "pending",
        };
        println!("  {:<width$}  {status}", migration.name());
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
