//! `spine sources add|list|remove` as an operator meets them: sources stored for every worker,
//! listed as table, JSON and CSV (with variable names, never secrets), removed by name; and bad
//! input refused with exit 2 and nothing written, before any database is opened. The round trip
//! runs on SQLite and, when configured, PostgreSQL.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use spine_store::test_support::{TestDbRef, for_each_backend};

const NOW: &str = "2026-01-20T09:00:00Z";
const FINRA: &str = "finra.otc_transparency";

fn spine_at(url: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("SPINE_NOW", NOW)
        .env_remove("SPINE_NO_CREATE")
        .env_remove("FINRA_CLIENT_SECRET")
        .args(args)
        .output()
        .expect("run spine")
}

fn spine(db: &TestDbRef, args: &[&str]) -> Output {
    spine_at(&db.cli_url, &std::env::temp_dir(), args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_out(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[tokio::test]
async fn sources_are_added_listed_and_removed_through_the_binary() {
    for_each_backend(|db| async move {
        let added = json_out(&spine(
            &db,
            &[
                "sources",
                "add",
                "--domain",
                FINRA,
                "--kind",
                "url-template",
                "--url-template",
                "https://files.example.com/finra/${TIER}/${WEEK_ENDING}.psv",
                "--since",
                "2025-11-28",
                "--format",
                "json",
            ],
        ));
        assert_eq!(added["name"], "finra.otc_transparency/url-template");
        assert_eq!(added["kind"], "url-template");
        assert_eq!(added["since"], "2025-11-28");
        assert_eq!(added["active"], true);
        assert_eq!(
            added["settings"],
            json!({"url_template": "https://files.example.com/finra/${TIER}/${WEEK_ENDING}.psv"})
        );

        let api = json_out(&spine(
            &db,
            &[
                "sources",
                "add",
                "--domain",
                FINRA,
                "--kind",
                "finra-api",
                "--name",
                "finra-api",
                "--client-id-env",
                "FINRA_CLIENT_ID",
                "--client-secret-env",
                "FINRA_CLIENT_SECRET",
                "--page-limit",
                "2000",
                "--format",
                "json",
            ],
        ));
        assert_eq!(
            api["settings"],
            json!({
                "client_id_env": "FINRA_CLIENT_ID",
                "client_secret_env": "FINRA_CLIENT_SECRET",
                "page_limit": 2000,
            }),
            "only the variables' names are stored; a variable need not be set to configure it"
        );

        let listed = json_out(&spine(&db, &["sources", "list", "--format", "json"]));
        let names: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["finra-api", "finra.otc_transparency/url-template"]);
        let table = spine(&db, &["sources", "list", "--domain", FINRA]);
        assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
        let text = stdout(&table);
        assert!(text.starts_with("name"), "{text}");
        assert!(text.contains("FINRA_CLIENT_SECRET"), "{text}");
        let csv = spine(&db, &["sources", "list", "--format", "csv"]);
        assert!(
            stdout(&csv).starts_with("name,domain,kind,since,active,settings\n"),
            "{}",
            stdout(&csv)
        );

        let removed = json_out(&spine(
            &db,
            &["sources", "remove", "finra-api", "--format", "json"],
        ));
        assert_eq!(removed["removed"]["name"], "finra-api");
        let again = spine(&db, &["sources", "remove", "finra-api"]);
        assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
        assert!(
            stderr(&again).contains(
                "no source named `finra-api`; configured sources: finra.otc_transparency/url-template"
            ),
            "{}",
            stderr(&again)
        );
        let listed = json_out(&spine(&db, &["sources", "list", "--format", "json"]));
        assert_eq!(listed.as_array().unwrap().len(), 1);
    })
    .await;
}

/// `sources add` with `extra` arguments after `--domain D`.
fn add_args<'a>(domain: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["sources", "add", "--domain", domain];
    args.extend_from_slice(extra);
    args
}

#[test]
fn bad_sources_exit_2_naming_the_mistake_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("spine.db").display()
    );
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &[
                "--kind",
                "url-template",
                "--url-template",
                "/drop/${TIER}/${WEEK}.psv",
            ],
            FINRA,
            "unknown variable `${WEEK}` in `/drop/${TIER}/${WEEK}.psv`; this domain's variables: ${TIER}, ${WEEK_ENDING}, ${WEEK_START}",
        ),
        (
            &[
                "--kind",
                "url-template",
                "--url-template",
                "/drop/${TIER}.psv",
            ],
            "acme.prices",
            "unknown domain `acme.prices`; registered domains: finra.otc_transparency, reference.exchange_calendar",
        ),
        (
            &[
                "--kind",
                "url-template",
                "--url-template",
                "/drop/${TIER}.psv",
                "--since",
                "2026-02-06",
            ],
            FINRA,
            "--since 2026-02-06 is after today (2026-01-20)",
        ),
        (
            &["--kind", "finra-ftp"],
            FINRA,
            "finra.otc_transparency has no source kind `finra-ftp`; its kinds: url-template, finra-api",
        ),
        (
            &[
                "--kind",
                "url-template",
                "--url-template",
                "/drop/${YEAR}.json",
            ],
            "reference.exchange_calendar",
            "reference.exchange_calendar has no source kind `url-template`",
        ),
        (
            &["--kind", "finra-api", "--client-id-env", "FINRA_CLIENT_ID"],
            FINRA,
            "--client-id-env needs --client-secret-env",
        ),
        (
            &[
                "--kind",
                "finra-api",
                "--client-id-env",
                "FINRA_CLIENT_ID",
                "--client-secret-env",
                "hunter2 is my secret",
            ],
            FINRA,
            "is not an environment variable name",
        ),
        (
            &[
                "--kind",
                "finra-api",
                "--base-url",
                "https://u:pw@api.finra.org",
            ],
            FINRA,
            "--base-url holds credentials",
        ),
        (
            &["--kind", "url-template"],
            FINRA,
            "--kind url-template needs --url-template",
        ),
        (
            &[
                "--kind",
                "url-template",
                "--url-template",
                "/drop/${TIER}.psv",
                "--page-limit",
                "10",
            ],
            FINRA,
            "--page-limit does not apply to --kind url-template",
        ),
        (
            &[
                "--kind",
                "url-template",
                "--url-template",
                "https://h/finra/${TIER}.psv?token=abc",
            ],
            FINRA,
            "holds credentials",
        ),
        (
            &[
                "--kind",
                "url-template",
                "--url-template",
                "/drop/${TIER}.psv",
                "--since",
                "2025-13-01",
            ],
            FINRA,
            "`2025-13-01` is not a date",
        ),
    ];
    for (extra, domain, expected) in cases {
        let args = add_args(domain, extra);
        let out = spine_at(&url, dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            !dir.path().join("spine.db").exists(),
            "{args:?}: refused before any database was opened"
        );
    }

    // On a database that exists, a duplicate name is refused the same way and changes nothing.
    let migrate = spine_at(&url, dir.path(), &["db", "migrate"]);
    assert_eq!(migrate.status.code(), Some(0), "{}", stderr(&migrate));
    let good = add_args(
        FINRA,
        &[
            "--kind",
            "url-template",
            "--url-template",
            "/drop/${TIER}.psv",
            "--name",
            "drop",
        ],
    );
    let out = spine_at(&url, dir.path(), &good);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dup = add_args(FINRA, &["--kind", "finra-api", "--name", "drop"]);
    let out = spine_at(&url, dir.path(), &dup);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "a source named `drop` already exists (finra.otc_transparency, url-template)"
        ),
        "{}",
        stderr(&out)
    );
    let listed = spine_at(&url, dir.path(), &["sources", "list", "--format", "json"]);
    let listed = json_out(&listed);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["kind"], "url-template");
    for (extra, domain, _) in cases {
        let out = spine_at(&url, dir.path(), &add_args(domain, extra));
        assert_eq!(out.status.code(), Some(2));
    }
    let listed = json_out(&spine_at(
        &url,
        dir.path(),
        &["sources", "list", "--format", "json"],
    ));
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "nothing written by bad input"
    );
}

#[test]
fn sources_add_opens_an_existing_database_and_never_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("spine.db").display()
    );
    let out = spine_at(
        &url,
        dir.path(),
        &add_args(
            FINRA,
            &[
                "--kind",
                "url-template",
                "--url-template",
                "/drop/${TIER}.psv",
            ],
        ),
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(!dir.path().join("spine.db").exists(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("spine db migrate"),
        "{}",
        stderr(&out)
    );
}
