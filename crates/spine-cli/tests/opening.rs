//! Databases are opened on purpose: only the set-up commands (`db migrate`, `ingest`, `demo`)
//! create or migrate a database; every other command refuses a missing, unmigrated, newer,
//! foreign or in-memory one with what to do, and changes nothing while refusing.

use std::path::Path;
use std::process::{Command, Output};

use spine_store::{ConnectionTrait, Store};

fn spine(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("SPINE_NOW", "2026-01-20T09:00:00Z")
        .env_remove("SPINE_NO_CREATE")
        .args(args)
        .output()
        .expect("run spine")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn url_of(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The tables of a SQLite file, by name.
async fn tables(url: &str) -> Vec<String> {
    let store = Store::connect(url).await.unwrap();
    spine_store::admin::tables(&store).await.unwrap()
}

async fn execute(url: &str, sql: &str) {
    let store = Store::connect(url).await.unwrap();
    store.conn().execute_unprepared(sql).await.unwrap();
}

/// Commands that only read (or that change an existing database) and must never create one.
const NOT_SET_UPS: &[&[&str]] = &[
    &["status"],
    &["doctor", "finra.otc_transparency"],
    &["anomalies", "list"],
    &["executions", "list"],
    &["schedules", "list"],
    &["deps", "list"],
    &[
        "query",
        "hhi",
        "--tier",
        "NMS_TIER_1",
        "--week-ending",
        "2025-12-05",
    ],
    &["db", "status"],
];

#[test]
fn a_mistyped_path_is_refused_by_every_command_that_does_not_set_up_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo").join("spine.db");
    let url = url_of(&db);
    for args in NOT_SET_UPS {
        let out = spine(dir.path(), &url, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("no Market Spine database at")
                && err.contains("run `spine db migrate`")
                && err.contains("typo/spine.db"),
            "{args:?}: {err}"
        );
        assert!(!db.exists(), "{args:?} created {}", db.display());
    }
    // Nor from the default URL in the working directory.
    let out = Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!dir.path().join("spine.db").exists());
}

#[tokio::test]
async fn another_applications_database_gets_no_tables_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("week.csv"),
        "any bytes: the database is refused first\n",
    )
    .unwrap();
    let url = url_of(&dir.path().join("crm.db"));
    execute(
        &url,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
    )
    .await;

    for args in [
        &["db", "migrate"][..],
        &["ingest", "finra-otc", "--file", "week.csv"][..],
        &["status"][..],
        &["doctor", "finra.otc_transparency"][..],
    ] {
        let out = spine(dir.path(), &url, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(tables(&url).await, ["customers"], "{args:?} added tables");
    }
    let err = stderr(&spine(dir.path(), &url, &["db", "migrate"]));
    assert!(
        err.contains("holds tables of another application (customers)") && err.contains("--force"),
        "{err}"
    );
    // `db status` reads only: it shows what is pending without creating the migrations table.
    let out = spine(dir.path(), &url, &["db", "status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["foreign_tables"], serde_json::json!(["customers"]));
    assert!(
        status["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "pending")
    );
    assert_eq!(tables(&url).await, ["customers"]);

    // Deliberately sharing it works, and from then on it is a Market Spine database.
    let out = spine(dir.path(), &url, &["db", "migrate", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = spine(dir.path(), &url, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(tables(&url).await.contains(&"customers".to_string()));
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_spine_is_refused_with_that_reason() {
    let dir = tempfile::tempdir().unwrap();
    let url = url_of(&dir.path().join("spine.db"));
    let out = spine(dir.path(), &url, &["db", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    execute(
        &url,
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20990101_000001_future', 0)",
    )
    .await;
    for args in [
        &["status"][..],
        &["db", "migrate"][..],
        &["doctor", "finra.otc_transparency"][..],
    ] {
        let out = spine(dir.path(), &url, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("migrated by a newer Market Spine")
                && err.contains("m20990101_000001_future"),
            "{args:?}: {err}"
        );
    }
    let out = spine(dir.path(), &url, &["db", "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("m20990101_000001_future"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn an_unmigrated_database_is_refused_until_db_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let url = url_of(&dir.path().join("spine.db"));
    let out = spine(dir.path(), &url, &["db", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let store = Store::connect(&url).await.unwrap();
    let rolled_back = spine_store::admin::down(&store, 1).await.unwrap();
    store.conn().clone().close().await.unwrap();

    let out = spine(dir.path(), &url, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("lacks 1 migration(s)")
            && err.contains(&rolled_back[0])
            && err.contains("run `spine db migrate`"),
        "{err}"
    );
    let out = spine(dir.path(), &url, &["--no-create", "db", "migrate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--no-create"), "{}", stderr(&out));

    let out = spine(dir.path(), &url, &["db", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = spine(dir.path(), &url, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn no_create_forbids_even_the_set_up_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("week.csv"),
        "any bytes: the database is refused first\n",
    )
    .unwrap();
    let db = dir.path().join("spine.db");
    let url = url_of(&db);
    for args in [
        &["db", "migrate"][..],
        &["ingest", "finra-otc", "--file", "week.csv"][..],
    ] {
        let out = spine(dir.path(), &url, &[&["--no-create"][..], args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("no Market Spine database at") && err.contains("--no-create"),
            "{args:?}: {err}"
        );
        assert!(!db.exists());
    }
    // The environment variable does the same, for a deployment that manages its schema.
    let out = Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir.path())
        .env("DATABASE_URL", &url)
        .env("SPINE_NO_CREATE", "true")
        .args(["db", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!db.exists());
}

#[test]
fn an_in_memory_database_is_refused_because_its_data_would_vanish() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("week.csv"),
        "any bytes: the database is refused first\n",
    )
    .unwrap();
    for url in ["sqlite::memory:", "sqlite://", "sqlite://x.db?mode=memory"] {
        for args in [
            &["ingest", "finra-otc", "--file", "week.csv"][..],
            &["db", "migrate"][..],
            &["status"][..],
        ] {
            let out = spine(dir.path(), url, args);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{url} {args:?}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("in-memory SQLite database"),
                "{url} {args:?}: {}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn first_commands_racing_on_a_fresh_database_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = url_of(&dir.path().join("spine.db"));
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_spine"))
                .current_dir(dir.path())
                .env("DATABASE_URL", &url)
                .env("SPINE_NOW", "2026-01-20T09:00:00Z")
                .args(["db", "migrate"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = spine(dir.path(), &url, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
