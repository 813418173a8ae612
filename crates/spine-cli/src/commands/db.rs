//! `spine db migrate|status`.

use std::process::ExitCode;

use spine_store::Store;

use crate::cli::DbCommand;
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs a `spine db` command.
pub async fn run(ctx: &Context, cmd: DbCommand) -> anyhow::Result<ExitCode> {
    let store = match cmd {
        // Migrating also loads the shipped exchange calendars as the first captures of
        // `reference.exchange_calendar`, so a fresh database computes volume per trading day.
        DbCommand::Migrate => ctx.open_store().await?,
        DbCommand::Status => Store::connect(&ctx.global.database_url).await?,
    };
    let migrations = spine_store::overview::migrations(store.conn()).await?;
    let mut table = Table::new(["migration", "status"]);
    for (name, applied) in &migrations {
        table.push([name.as_str(), if *applied { "applied" } else { "pending" }]);
    }
    let json = serde_json::json!({
        "database_url": spine_store::redact_url(&ctx.global.database_url),
        "migrations": migrations
            .iter()
            .map(|(name, applied)| serde_json::json!({"name": name, "applied": applied}))
            .collect::<Vec<_>>(),
    });
    emit(ctx.format(), &table, Some(&json))?;
    Ok(ExitCode::SUCCESS)
}
