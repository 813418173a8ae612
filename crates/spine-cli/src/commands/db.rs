//! `spine db migrate|status`.

use std::process::ExitCode;

use spine_store::Store;
use spine_store::admin::{Refusal, inspect};

use crate::cli::DbCommand;
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs a `spine db` command.
pub async fn run(ctx: &Context, cmd: DbCommand) -> anyhow::Result<ExitCode> {
    let url = &ctx.global.database_url;
    let store = match cmd {
        // Migrating also loads the shipped exchange calendars as the first captures of
        // `reference.exchange_calendar`, so a fresh database computes volume per trading day.
        DbCommand::Migrate { force } => ctx.prepare_engine(force).await?.store().clone(),
        // Status reads only: it never creates the file nor the migrations table.
        DbCommand::Status => {
            match spine_store::sqlite_file(url) {
                Some(path) if !path.exists() => {
                    return Err(Refusal::Missing {
                        url: spine_store::redact_url(url),
                    }
                    .into());
                }
                None if url.starts_with("sqlite:") => {
                    return Err(Refusal::InMemory {
                        url: spine_store::redact_url(url),
                    }
                    .into());
                }
                _ => {}
            }
            Store::connect(url).await?
        }
    };
    let inspection = inspect(&store).await?;
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for name in &inspection.applied {
        rows.push((name, "applied"));
    }
    for name in &inspection.pending {
        rows.push((name, "pending"));
    }
    for name in &inspection.unknown {
        rows.push((name, "unknown (newer spine)"));
    }
    rows.sort();
    let mut table = Table::new(["migration", "status"]);
    for (name, status) in &rows {
        table.push([*name, *status]);
    }
    let json = serde_json::json!({
        "database_url": spine_store::redact_url(url),
        "migrations": rows
            .iter()
            .map(|(name, status)| serde_json::json!({
                "name": name,
                "applied": *status != "pending",
                "status": status.split(' ').next().unwrap_or(status),
            }))
            .collect::<Vec<_>>(),
        "foreign_tables": inspection.foreign_tables,
    });
    emit(ctx.format(), &table, Some(&json))?;
    Ok(ExitCode::SUCCESS)
}
