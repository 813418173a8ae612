//! Schema and database administration for operators and developer tooling (`cargo xtask
//! migrate|test`): apply, roll back, rebuild and inspect the migrations, and create or drop a
//! scratch PostgreSQL database. Here rather than in the tools so that only this crate (and
//! `migration`) ever speaks SQL.

use migration::sea_orm_migration::seaql_migrations;
use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, EntityTrait, QuerySelect};
use spine_model::entities::{core_anomalies, core_captures, core_data_readiness};

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

/// How a database's schema compares with the migrations this binary was built with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaDrift {
    /// Migrations this binary has that the database has not applied (it was rolled back, or
    /// nothing migrated it since this binary was built): queries may name missing columns.
    pub pending: Vec<String>,
    /// Migrations the database has applied that this binary does not know (a newer `spine`
    /// migrated it): queries may read tables whose meaning has changed.
    pub unknown: Vec<String>,
}

impl SchemaDrift {
    /// True when the database has exactly this binary's migrations.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty()
    }
}

/// Compares the applied migrations with this binary's, naming both kinds of difference.
///
/// [`status`] cannot say this: it fails outright on a migration it does not know, which a
/// health check must report by name rather than as a database error. Reads only.
pub async fn schema_drift(store: &Store) -> StoreResult<SchemaDrift> {
    let applied: Vec<String> = seaql_migrations::Entity::find()
        .all(store.conn())
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    Ok(SchemaDrift {
        pending: known
            .iter()
            .filter(|k| !applied.contains(k))
            .cloned()
            .collect(),
        unknown: applied
            .iter()
            .filter(|a| !known.contains(a))
            .cloned()
            .collect(),
    })
}

/// A data table that [`probe_data`] could not read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{table}`: {source}")]
pub struct ProbeFailure {
    /// The table.
    pub table: &'static str,
    /// Why.
    #[source]
    pub source: StoreError,
}

/// The tables every read of the HTTP API starts from, in the order [`probe_data`] reads them.
pub const PROBED_TABLES: &[&str] = &["core_captures", "core_anomalies", "core_data_readiness"];

/// Reads at most one row of each of [`PROBED_TABLES`] with every column this binary maps: a
/// cheap query that fails, as the real ones would, when a table is missing, renamed, unreadable
/// for this database user or lacks a column. A reachable database (`ping`) proves none of that.
pub async fn probe_data(store: &Store) -> Result<(), ProbeFailure> {
    let conn = store.conn();
    let fail = |table: &'static str| {
        move |e: sea_orm::DbErr| ProbeFailure {
            table,
            source: e.into(),
        }
    };
    core_captures::Entity::find()
        .limit(1)
        .all(conn)
        .await
        .map_err(fail(PROBED_TABLES[0]))?;
    core_anomalies::Entity::find()
        .limit(1)
        .all(conn)
        .await
        .map_err(fail(PROBED_TABLES[1]))?;
    core_data_readiness::Entity::find()
        .limit(1)
        .all(conn)
        .await
        .map_err(fail(PROBED_TABLES[2]))?;
    Ok(())
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
