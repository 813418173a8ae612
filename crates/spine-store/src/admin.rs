//! Schema and database administration for operators and developer tooling (`cargo xtask
//! migrate|test`): apply, roll back, rebuild and inspect the migrations, and create or drop a
//! scratch PostgreSQL database. Here rather than in the tools so that only this crate (and
//! `migration`) ever speaks SQL.

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
    let Inspection {
        pending, unknown, ..
    } = inspect(store).await?;
    Ok(SchemaDrift { pending, unknown })
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

/// What a database holds, as far as Market Spine is concerned: whether it is one of ours, and
/// whether it is the schema this binary expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Migrations applied that this binary knows, in order.
    pub applied: Vec<String>,
    /// Migrations this binary has that the database lacks.
    pub pending: Vec<String>,
    /// Migrations applied that this binary does not know: a newer Market Spine migrated it.
    pub unknown: Vec<String>,
    /// Tables that are neither Market Spine's nor the migrator's: another application's.
    pub foreign_tables: Vec<String>,
}

impl Inspection {
    /// No Market Spine migration applied: a fresh (or foreign) database.
    pub fn is_empty_of_ours(&self) -> bool {
        self.applied.is_empty() && self.unknown.is_empty()
    }

    /// Every migration this binary knows is applied, and no other.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && !self.applied.is_empty()
    }
}

/// The tables of the database (of the current schema on PostgreSQL), sorted by name.
pub async fn tables(store: &Store) -> StoreResult<Vec<String>> {
    use sea_orm::{DatabaseBackend, Statement};
    let backend = store.backend();
    let sql = match backend {
        DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        }
    };
    Ok(store
        .conn()
        .query_all_raw(Statement::from_string(backend, sql))
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "name").ok())
        .collect())
}

/// Looks at a database without changing it (the migrations table is never created here).
pub async fn inspect(store: &Store) -> StoreResult<Inspection> {
    use sea_orm::Statement;
    let backend = store.backend();
    let tables = tables(store).await?;
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let ours: std::collections::BTreeSet<&str> = migration::expected_tables()
        .iter()
        .copied()
        .chain(["seaql_migrations"])
        .collect();
    let foreign_tables: Vec<String> = tables
        .iter()
        .filter(|t| !ours.contains(t.as_str()))
        .cloned()
        .collect();
    let applied_names: Vec<String> = if tables.iter().any(|t| t == "seaql_migrations") {
        store
            .conn()
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT version FROM seaql_migrations ORDER BY version",
            ))
            .await?
            .iter()
            .filter_map(|row| row.try_get::<String>("", "version").ok())
            .collect()
    } else {
        Vec::new()
    };
    Ok(Inspection {
        applied: known
            .iter()
            .filter(|k| applied_names.contains(k))
            .cloned()
            .collect(),
        pending: known
            .iter()
            .filter(|k| !applied_names.contains(k))
            .cloned()
            .collect(),
        unknown: applied_names
            .iter()
            .filter(|a| !known.contains(a))
            .cloned()
            .collect(),
        foreign_tables,
    })
}

/// How a command means to use a database, which decides what [`open`] may do to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Use a Market Spine database that exists and is migrated to this binary's schema; never
    /// create, migrate or seed anything. Every command that is not a deliberate setup uses this,
    /// so a mistyped path or the wrong working directory is an error, not an empty answer.
    Existing,
    /// Create the database if needed and apply pending migrations (`spine db migrate`,
    /// `spine ingest`, `spine worker`, `spine demo`).
    Prepare {
        /// Forbid creating or migrating (`--no-create`): behave like [`OpenMode::Existing`] but
        /// say why the database was refused in those terms.
        forbid_create: bool,
        /// Add Market Spine's tables even to a database that holds another application's
        /// (`spine db migrate --force`).
        force: bool,
    },
}

/// Why [`open`] refused a database. Each message names the database and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The SQLite file does not exist, or the database holds no Market Spine schema.
    #[error("no Market Spine database at `{url}`: run `spine db migrate`")]
    Missing {
        /// The database URL, redacted.
        url: String,
    },
    /// The database lacks migrations this binary needs.
    #[error(
        "the Market Spine database at `{url}` lacks {} migration(s) of this binary ({}): run `spine db migrate`",
        pending.len(),
        pending.join(", ")
    )]
    NotMigrated {
        /// The database URL, redacted.
        url: String,
        /// The migrations not applied yet.
        pending: Vec<String>,
    },
    /// A newer Market Spine migrated the database; this binary would misread it.
    #[error(
        "the database at `{url}` was migrated by a newer Market Spine (migrations this binary does not know: {}): use that version of spine",
        unknown.join(", ")
    )]
    Newer {
        /// The database URL, redacted.
        url: String,
        /// The applied migrations this binary does not have.
        unknown: Vec<String>,
    },
    /// The database holds another application's tables and no Market Spine schema.
    #[error(
        "the database at `{url}` holds tables of another application ({}{}): Market Spine will not add its tables there; give it a database of its own, or run `spine db migrate --force` if you mean to share this one",
        tables.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
        if tables.len() > 5 { ", …" } else { "" }
    )]
    Foreign {
        /// The database URL, redacted.
        url: String,
        /// The other application's tables.
        tables: Vec<String>,
    },
    /// An in-memory SQLite database: whatever a command writes is gone when it exits.
    #[error(
        "`{url}` is an in-memory SQLite database, which is gone when the command exits: give a file, e.g. sqlite://spine.db?mode=rwc"
    )]
    InMemory {
        /// The database URL, redacted.
        url: String,
    },
    /// `--no-create` forbids the creation or migration the database needs.
    #[error("{0} (--no-create forbids this command from doing so)")]
    CreationForbidden(Box<Refusal>),
}

/// Opens the database at `url` for a command, as `mode` allows, and checks it is Market
/// Spine's at this binary's schema (migrating it first when the mode allows).
///
/// The checks run before anything is written: a missing SQLite file is never created in
/// [`OpenMode::Existing`], a database of another application never gets a table without
/// `force`, a newer schema is never touched. Migrations run under a lock, so two first
/// commands on a fresh database take turns.
pub async fn open(url: &str, mode: OpenMode) -> StoreResult<Store> {
    let shown = redact_url(url);
    let is_sqlite = url.starts_with("sqlite:");
    let file = crate::sqlite_file(url);
    if is_sqlite && file.is_none() {
        return Err(Refusal::InMemory { url: shown }.into());
    }
    let (may_create, force) = match mode {
        OpenMode::Existing => (false, false),
        OpenMode::Prepare {
            forbid_create,
            force,
        } => (!forbid_create, force),
    };
    let forbidden = |refusal: Refusal| -> StoreError {
        match mode {
            OpenMode::Prepare {
                forbid_create: true,
                ..
            } => Refusal::CreationForbidden(Box::new(refusal)).into(),
            _ => refusal.into(),
        }
    };
    if let Some(path) = &file
        && !may_create
        && !path.exists()
    {
        return Err(forbidden(Refusal::Missing { url: shown }));
    }
    // A set-up may create the SQLite file even when the URL does not say `mode=rwc`.
    let connect_url = match (&file, may_create) {
        (Some(_), true) if !url.contains("mode=") => {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        }
        _ => url.to_string(),
    };
    let store = Store::connect(&connect_url).await?;
    let inspection = inspect(&store).await?;
    if !inspection.unknown.is_empty() {
        return Err(Refusal::Newer {
            url: shown,
            unknown: inspection.unknown,
        }
        .into());
    }
    if may_create
        && inspection.is_empty_of_ours()
        && !inspection.foreign_tables.is_empty()
        && !force
    {
        return Err(Refusal::Foreign {
            url: shown,
            tables: inspection.foreign_tables,
        }
        .into());
    }
    if inspection.is_current() {
        return Ok(store);
    }
    if !may_create {
        return Err(forbidden(if inspection.is_empty_of_ours() {
            Refusal::Missing { url: shown }
        } else {
            Refusal::NotMigrated {
                url: shown,
                pending: inspection.pending,
            }
        }));
    }
    store.migrate().await?;
    Ok(store)
}
