//! Test support: run the same test body on every backend available.
//!
//! SQLite always (a fresh file in a temporary directory, so WAL and file locking are exercised
//! as in production); PostgreSQL too when `SPINE_TEST_POSTGRES_URL` is set, in a fresh schema
//! per test that is dropped afterwards, so tests can run in parallel against one database.
//! When the variable is set but the server does not answer, the test fails: a CI run that
//! meant to test PostgreSQL must not pass by quietly skipping it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnectOptions, ConnectionTrait, Database};

use crate::Store;

/// The environment variable naming the PostgreSQL server to test against.
pub const POSTGRES_URL_VAR: &str = "SPINE_TEST_POSTGRES_URL";

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A migrated, empty database for one test.
pub struct TestDb {
    /// The store to test against.
    pub store: Store,
    /// `sqlite` or `postgres`, for messages.
    pub backend: &'static str,
    /// The URL the store was opened with (SQLite file or PostgreSQL server).
    pub url: String,
    /// A URL that reaches this same database from another process (the `spine` binary): on
    /// PostgreSQL it selects the test's schema with `options[search_path]`.
    pub cli_url: String,
    pg_schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh SQLite file database, migrated.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("spine.db").display()
        );
        let store = Store::connect(&url).await.expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        TestDb {
            store,
            backend: "sqlite",
            cli_url: url.clone(),
            url,
            pg_schema: None,
            _dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL schema, migrated, when `SPINE_TEST_POSTGRES_URL` is set.
    pub async fn postgres() -> Option<TestDb> {
        let url = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())?;
        let schema = format!(
            "spine_t_{}_{}_{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros()
        );
        let admin = Database::connect(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set but {url} does not answer: {e}"));
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .expect("create test schema");
        admin.close().await.ok();
        let mut options = ConnectOptions::new(url.clone());
        options
            .set_schema_search_path(schema.clone())
            .max_connections(4);
        let store = Store::connect_with(options).await.expect("open PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        let separator = if url.contains('?') { '&' } else { '?' };
        Some(TestDb {
            store,
            backend: "postgres",
            cli_url: format!("{url}{separator}options[search_path]={schema}"),
            url,
            pg_schema: Some(schema),
            _dir: None,
        })
    }

    /// Closes the store and drops what the test created.
    pub async fn cleanup(self) {
        let TestDb {
            store,
            url,
            pg_schema,
            ..
        } = self;
        store.close().await.ok();
        if let Some(schema) = pg_schema
            && let Ok(admin) = Database::connect(url.as_str()).await
        {
            admin
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .ok();
            admin.close().await.ok();
        }
    }
}

/// The environment variable naming a file to which every finished backend run appends one line
/// (`backend<TAB>test`): how `cargo xtask test` counts what ran on each backend.
pub const BACKEND_LOG_VAR: &str = "SPINE_TEST_BACKEND_LOG";

/// Appends one line to the backend log, when one is configured.
fn log_backend_run(backend: &str) {
    let Some(path) = std::env::var_os(BACKEND_LOG_VAR) else {
        return;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    // One small O_APPEND write per line: concurrent tests do not interleave within a line.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        use std::io::Write;
        let _ = f.write_all(format!("{backend}\t{test}\n").as_bytes());
    }
}

/// Runs `test` on SQLite, then on PostgreSQL when configured: the same body, not a copy.
/// Returns the backends it ran on, so a test can assert PostgreSQL really ran when required.
pub async fn for_each_backend<F, Fut>(test: F) -> Vec<&'static str>
where
    F: Fn(TestDbRef) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ran = Vec::new();
    let sqlite = TestDb::sqlite().await;
    test(TestDbRef::of(&sqlite)).await;
    ran.push(sqlite.backend);
    log_backend_run(sqlite.backend);
    sqlite.cleanup().await;
    if let Some(pg) = TestDb::postgres().await {
        test(TestDbRef::of(&pg)).await;
        ran.push(pg.backend);
        log_backend_run(pg.backend);
        pg.cleanup().await;
    }
    ran
}

/// What a test body gets: a store handle and the backend's name (cheap to clone into `async`).
#[derive(Clone)]
pub struct TestDbRef {
    /// The store to test against.
    pub store: Store,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The database URL (for tests that run the CLI against the same database).
    pub url: String,
    /// A URL for another process to reach this same database (see [`TestDb::cli_url`]).
    pub cli_url: String,
}

impl TestDbRef {
    fn of(db: &TestDb) -> TestDbRef {
        TestDbRef {
            store: db.store.clone(),
            backend: db.backend,
            url: db.url.clone(),
            cli_url: db.cli_url.clone(),
        }
    }
}
