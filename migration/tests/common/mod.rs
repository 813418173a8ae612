//! Test harness shared by the schema and entity tests: run one test body on every backend, and
//! read the database catalog the same way on each.
//!
//! Every test runs on an in-memory SQLite database, and also on PostgreSQL when
//! `SPINE_TEST_POSTGRES_URL` is set. On PostgreSQL each run gets its own fresh schema
//! (`mig_<pid>_<nanos>_<n>`), selected through the connection's search path and dropped
//! afterwards, so tests can run in parallel against one server and leave nothing behind.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use migration::sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, QueryResult,
    Statement,
};

/// The environment variable naming a PostgreSQL server to run the tests against as well.
pub const POSTGRES_URL_VAR: &str = "SPINE_TEST_POSTGRES_URL";

/// Runs `body` against a fresh SQLite in-memory database and, when [`POSTGRES_URL_VAR`] is set,
/// against a fresh PostgreSQL schema. The same body runs on both; a panic names the backend.
pub async fn on_every_backend<F, Fut>(body: F)
where
    F: Fn(DatabaseConnection) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let sqlite = Database::connect("sqlite::memory:")
        .await
        .expect("open an in-memory SQLite database");
    let result = tokio::spawn(body(sqlite.clone())).await;
    let _ = sqlite.close().await;
    rethrow("SQLite", result);

    let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
        return;
    };
    let admin = Database::connect(url.as_str())
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}: cannot connect to `{url}`: {e}"));
    let schema = unique_schema_name();
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create the test schema");
    let mut options = ConnectOptions::new(url.as_str());
    options
        .set_schema_search_path(schema.as_str())
        .sqlx_logging(false);
    let postgres = Database::connect(options)
        .await
        .expect("connect to the test schema");
    let result = tokio::spawn(body(postgres.clone())).await;
    let _ = postgres.close().await;
    admin
        .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop the test schema");
    let _ = admin.close().await;
    rethrow("PostgreSQL", result);
}

/// Re-raises a test body's panic after saying which backend it failed on.
fn rethrow(backend: &str, result: Result<(), tokio::task::JoinError>) {
    if let Err(err) = result {
        eprintln!("test body failed on {backend}");
        match err.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(err) => panic!("test body on {backend} did not finish: {err}"),
        }
    }
}

/// A schema name no other test run (in this or another process) is using.
fn unique_schema_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    format!(
        "mig_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a raw catalog query.
pub async fn query(db: &DatabaseConnection, sql: &str) -> Vec<QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("catalog query failed: {e}\n{sql}"))
}

/// Reads a text column of a catalog row.
pub fn text(row: &QueryResult, column: &str) -> String {
    row.try_get::<String>("", column)
        .unwrap_or_else(|e| panic!("catalog column `{column}`: {e}"))
}

/// Runs a catalog query and returns one text column of every row.
pub async fn strings(db: &DatabaseConnection, sql: &str, column: &str) -> Vec<String> {
    query(db, sql)
        .await
        .iter()
        .map(|row| text(row, column))
        .collect()
}

/// Every table in the database (or, on PostgreSQL, the current schema), including
/// `seaql_migrations`.
pub async fn tables(db: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    strings(db, sql, "name").await.into_iter().collect()
}

/// An index as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CatalogIndex {
    /// Index name.
    pub name: String,
    /// Table it is on.
    pub table: String,
    /// Its `CREATE INDEX` text, with quotes and parentheses removed so the two backends'
    /// renderings can be searched the same way.
    pub definition: String,
}

impl CatalogIndex {
    /// Whether the definition is `CREATE UNIQUE INDEX ...`.
    pub fn is_unique(&self) -> bool {
        self.definition.starts_with("CREATE UNIQUE INDEX")
    }

    /// Whether the definition has a `WHERE` clause.
    pub fn is_partial(&self) -> bool {
        self.definition.contains(" WHERE ")
    }
}

/// Every explicitly created index (primary keys and SQLite's automatic indexes excluded).
pub async fn indexes(db: &DatabaseConnection) -> BTreeSet<CatalogIndex> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name, tbl_name AS table_name, sql AS definition FROM sqlite_master \
             WHERE type = 'index' AND sql IS NOT NULL"
        }
        _ => {
            "SELECT indexname::text AS name, tablename::text AS table_name, \
                    indexdef AS definition \
             FROM pg_indexes \
             WHERE schemaname = current_schema() \
               AND indexname NOT IN ( \
                   SELECT constraint_name FROM information_schema.table_constraints \
                   WHERE table_schema = current_schema() AND constraint_type = 'PRIMARY KEY')"
        }
    };
    query(db, sql)
        .await
        .iter()
        .map(|row| CatalogIndex {
            name: text(row, "name"),
            table: text(row, "table_name"),
            definition: text(row, "definition").replace(['"', '(', ')'], ""),
        })
        .collect()
}

/// Every user-defined trigger.
pub async fn triggers(db: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        // pg_trigger rather than information_schema.triggers, which omits TRUNCATE triggers.
        _ => {
            "SELECT t.tgname::text AS name FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
        }
    };
    strings(db, sql, "name").await.into_iter().collect()
}

/// Every function in the current schema (PostgreSQL; SQLite has none).
pub async fn functions(db: &DatabaseConnection) -> BTreeSet<String> {
    match db.get_database_backend() {
        DbBackend::Sqlite => BTreeSet::new(),
        _ => strings(
            db,
            "SELECT p.proname::text AS name FROM pg_proc p \
             JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = current_schema()",
            "name",
        )
        .await
        .into_iter()
        .collect(),
    }
}

/// Number of rows in `table`.
pub async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count rows")
        .expect("COUNT returns a row");
    row.try_get::<i64>("", "n").expect("COUNT is an integer")
}
