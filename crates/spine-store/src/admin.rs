//! Schema and database administration for operators and developer tooling (`cargo xtask
//! migrate|test`): apply, roll back, rebuild and inspect the migrations, and create or drop a
//! scratch PostgreSQL database. Here rather than in the tools so that only this crate (and
//! `migration`) ever speaks SQL.

use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};

use crate::{Store, StoreError, StoreResult, redact_url};

/// One migration and whether the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's name, e.g. `m20260101_000001_core`.
    pub name: String,
    /// Whether it is applied.
    pub applied: bool,
}

/// Every migration with its state, read without creating the migrations table (so inspecting
/// a database never changes it).
pub async fn status(store: &Store) -> StoreResult<Vec<MigrationState>> {
    Ok(Migrator::get_migration_with_status_read_only(store.conn())
        .await?
        .iter()
        .map(|m| MigrationState {
            name: m.name().to_string(),
            applied: m.status() == MigrationStatus::Applied,
        })
        .collect())
}

/// Applies every pending migration; returns the names applied.
pub async fn up(store: &Store) -> StoreResult<Vec<String>> {
    let pending: Vec<String> = Migrator::get_pending_migrations(store.conn())
        .await?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    Migrator::up(store.conn(), None).await?;
    Ok(pending)
}

/// Rolls back the `steps` most recent migrations; returns the names rolled back, newest first.
pub async fn down(store: &Store, steps: u32) -> StoreResult<Vec<String>> {
    let applied: Vec<String> = Migrator::get_applied_migrations(store.conn())
        .await?
        .iter()
        .rev()
        .take(steps as usize)
        .map(|m| m.name().to_string())
        .collect();
    Migrator::down(store.conn(), Some(steps)).await?;
    Ok(applied)
}

/// Drops every table and re-applies every migration: a clean schema, all data lost.
pub async fn fresh(store: &Store) -> StoreResult<()> {
    Migrator::fresh(store.conn()).await?;
    Ok(())
}

fn plain_identifier(name: &str) -> StoreResult<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "`{name}` is not a plain database name (lower-case letters, digits, `_`)"
        )))
    }
}

/// Creates database `name` on the PostgreSQL server at `admin_url` (a URL with the right to).
pub async fn create_database(admin_url: &str, name: &str) -> StoreResult<()> {
    plain_identifier(name)?;
    let admin = Database::connect(admin_url)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(admin_url),
            source,
        })?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    admin.close().await.ok();
    Ok(())
}

/// Drops database `name` on the PostgreSQL server at `admin_url`, disconnecting its sessions.
pub async fn drop_database(admin_url: &str, name: &str) -> StoreResult<()> {
    plain_identifier(name)?;
    let admin = Database::connect(admin_url)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(admin_url),
            source,
        })?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    admin.close().await.ok();
    Ok(())
}
