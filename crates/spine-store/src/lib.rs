//! Market Spine's repositories: the only crate that issues SQL (besides `migration`).
//!
//! Each module owns one table family and exposes functions generic over
//! [`sea_orm::ConnectionTrait`], so the same function runs on the pooled connection or inside a
//! caller's transaction: a unit of work that must be all-or-nothing passes one
//! [`sea_orm::DatabaseTransaction`] through every call and commits once. Functions take the typed
//! vocabulary of `spine-model` and never build SQL from strings, which keeps every query portable
//! between SQLite and PostgreSQL.

pub mod admin;
pub mod anomalies;
mod bulk;
pub mod capture_chunks;
pub mod captures;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod exchange_calendar;
pub mod executions;
pub mod finra_otc;
pub mod lineage;
pub mod locks;
pub mod manifest;
pub mod overview;
pub mod quality;
pub mod readiness;
pub mod rejects;
pub mod reports;
pub mod schedules;
pub mod sources;
pub mod stage_txn;
pub mod subscriptions;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod work_attempts;
pub mod work_items;
pub mod workers;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseBackend};

pub use error::{StoreError, StoreResult};
pub use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionSession,
    TransactionTrait,
};

/// The default database: an embedded SQLite file in the working directory, created on demand.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://spine.db?mode=rwc";

/// A handle on one Market Spine database (SQLite or PostgreSQL).
///
/// Cheap to clone: it wraps SeaORM's pooled connection.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// The database file, for SQLite on disk (where its locks live).
    sqlite_path: Option<std::path::PathBuf>,
}

/// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
/// taken (waiting out the busy timeout) before the first read, so two processes never meet in
/// the middle of a unit of work, where SQLite cannot wait and fails at once with "database is
/// locked" (a deferred transaction that read an older snapshot cannot be upgraded). Nested
/// calls (savepoints) and PostgreSQL ignore the mode.
pub async fn begin_write<C: TransactionTrait>(conn: &C) -> Result<C::Transaction, DbErr> {
    conn.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// The wall clock as the store records it: to the microsecond, the precision both backends
/// keep, so a value read back equals the value written.
pub(crate) fn wall_clock() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// The file of a `sqlite:` URL, or `None` for an in-memory database or another backend.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory =
        path.is_empty() || path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory");
    (!in_memory).then(|| std::path::PathBuf::from(path))
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    ///
    /// SQLite runs in WAL mode with foreign keys on and a busy timeout, so a reader (the HTTP
    /// server) and a writer (an ingest) can share the file.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        Self::connect_with(ConnectOptions::new(url.to_string())).await
    }

    /// Connects with explicit options (tests use this to pin a PostgreSQL schema).
    pub async fn connect_with(mut options: ConnectOptions) -> StoreResult<Store> {
        let url = options.get_url().to_string();
        options
            .sqlx_logging(false)
            // A wrong URL or a server that is down should fail in seconds, not hang: the pool
            // retries refused connections until the acquire timeout.
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30))
            });
        let db = Database::connect(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(&url),
                source,
            })?;
        Ok(Store {
            db,
            sqlite_path: sqlite_file(&url),
        })
    }

    /// Wraps an existing connection (an in-memory or PostgreSQL database: no file to lock).
    pub fn from_connection(db: DatabaseConnection) -> Store {
        Store {
            db,
            sqlite_path: None,
        }
    }

    /// The SQLite database file, when this is SQLite on disk.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref()
    }

    /// The pooled connection, for calling repository functions outside a transaction.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which backend this store talks to.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Applies every pending migration. Applying twice is a no-op, and two processes migrating
    /// a fresh database at once take turns (a lock), so neither fails on the other's tables.
    pub async fn migrate(&self) -> StoreResult<()> {
        let lock = self
            .lock("schema migrations", Duration::from_secs(120))
            .await?;
        let result = Migrator::up(&self.db, None).await;
        lock.release().await?;
        result?;
        Ok(())
    }

    /// Starts a transaction: pass it to every repository call of one unit of work, then
    /// `commit()`. Dropping it without commit rolls everything back.
    ///
    /// On SQLite it takes the write lock at `BEGIN` (see [`begin_write`]).
    pub async fn begin(&self) -> StoreResult<DatabaseTransaction> {
        Ok(begin_write(&self.db).await?)
    }

    /// Starts the write transaction of a bulk stage (a million rows in one unit of work): on
    /// PostgreSQL one that holds its connection, so the bulk inserts send their rows with `COPY`
    /// inside it; on SQLite the same `BEGIN IMMEDIATE` transaction as [`Store::begin`]. See
    /// [`stage_txn`].
    pub async fn begin_stage(&self) -> StoreResult<stage_txn::StageTxn> {
        Ok(match self.backend() {
            DatabaseBackend::Postgres => stage_txn::StageTxn::Pg(
                stage_txn::PgTxn::begin(self.db.get_postgres_connection_pool()).await?,
            ),
            _ => stage_txn::StageTxn::Sea(begin_write(&self.db).await?),
        })
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(self) -> StoreResult<()> {
        self.db.close().await?;
        Ok(())
    }
}

/// The URL with its password and credential-like parameters replaced by `***`, so error
/// messages and output can name the database without leaking credentials into terminals, logs
/// and CI output (`spine_model::redact::url`).
pub fn redact_url(url: &str) -> String {
    spine_model::redact::url(url)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://spine:hunter2@db:5432/spine"),
            "postgres://spine:***@db:5432/spine"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redact_url("sqlite://spine.db?mode=rwc"),
            "sqlite://spine.db?mode=rwc"
        );
        assert_eq!(
            redact_url("postgres://spine@db/spine?sslmode=require&x=a@b"),
            "postgres://spine@db/spine?sslmode=require&x=a@b"
        );
        assert_eq!(redact_url("foo://x"), "foo://x");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
