//! Configured sources of the FINRA domain, end to end through the engine, on SQLite and (when
//! configured) PostgreSQL: `url-template` over a loopback HTTP server (ETag → 304, an identical
//! body, a revision, a 404), a drop folder (plain path and `file://`), a 200 whose body is not
//! FINRA data, the anonymous `finra-api` source's failures, and one rate budget shared by two
//! engines on two store handles.

mod support;

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::json;
use spine_engine::capture::ingest_fetched;
use spine_engine::sources::{
    self, AddSourceError, FetchedPartition, InvalidSource, NewSourceSpec, SourceConfig,
    SourceFetch, SourceFetchError, SourceKind,
};
use spine_engine::{Engine, RunContext};
use spine_finra::FinraDomain;
use spine_finra::sources::FINRA_API;
use spine_finra::test_server::{Dataset, ServerOptions, TestServer};
use spine_model::{Domain, IngestStatus, PartitionKey, Tier};
use spine_store::Store;
use spine_store::test_support::for_each_backend;
use support::{FileServer, api_rows, data_lines, engine, generate_week, now};

fn finra() -> Domain {
    Domain::parse(Domain::FINRA_OTC).unwrap()
}

fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 19).unwrap()
}

fn monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 15).unwrap()
}

async fn add(engine: &Engine, name: &str, kind: SourceKind) -> SourceConfig {
    sources::add_source(
        engine,
        NewSourceSpec {
            name: Some(name.to_string()),
            domain: finra(),
            kind,
            since: NaiveDate::from_ymd_opt(2025, 11, 28),
        },
        now(),
    )
    .await
    .unwrap_or_else(|e| panic!("add {name}: {e}"))
}

fn template(template: String) -> SourceKind {
    SourceKind::UrlTemplate {
        template,
        requests_per_second: None,
    }
}

fn fetched(outcome: SourceFetch) -> FetchedPartition {
    match outcome {
        SourceFetch::Fetched(f) => f,
        SourceFetch::NotModified { reason } => panic!("expected bytes, got not modified: {reason}"),
    }
}

fn not_modified(outcome: SourceFetch) -> String {
    match outcome {
        SourceFetch::NotModified { reason } => reason,
        SourceFetch::Fetched(f) => panic!("expected not modified, got {}", f.input.locator),
    }
}

async fn fetch(
    engine: &Engine,
    source: &SourceConfig,
    partition: &PartitionKey,
) -> Result<SourceFetch, SourceFetchError> {
    sources::fetch_partition(engine, source, partition, &RunContext::quiet(now())).await
}

/// Ingests what was fetched under its hint, records its validators, and returns the report.
async fn land(
    engine: &Engine,
    source: &SourceConfig,
    partition: &PartitionKey,
    f: &FetchedPartition,
) -> spine_engine::CaptureReport {
    let report = ingest_fetched(
        engine,
        &FinraDomain::default(),
        &f.input,
        &f.hint,
        &RunContext::quiet(now()),
    )
    .await
    .expect("ingest the fetched bytes");
    sources::record_fetched(engine, source, partition, f)
        .await
        .expect("record validators");
    report
}

async fn capture_metadata(store: &Store, capture_id: &str) -> serde_json::Value {
    spine_store::captures::get(store.conn(), capture_id)
        .await
        .unwrap()
        .expect("capture")
        .metadata_json
        .expect("metadata")
}

#[tokio::test]
async fn url_template_over_http_fetches_only_what_changed() {
    for_each_backend(|db| async move {
        let engine = engine(&db.store).await;
        let dir = tempfile::tempdir().unwrap();
        let file = generate_week(dir.path(), Tier::Otc, week(), 150);
        let original = std::fs::read(&file.path).unwrap();
        let server = FileServer::start().await;
        server.put(
            "/finra/OTC/2025-12-19.psv",
            original.clone(),
            Some("\"otc-1\""),
        );

        let source = add(
            &engine,
            "finra-cdn",
            template(format!(
                "{}/finra/${{TIER}}/${{WEEK_ENDING}}.psv",
                server.base()
            )),
        )
        .await;
        assert_eq!(
            sources::active_sources(&engine, &finra()).await.unwrap(),
            vec![source.clone()]
        );
        let otc = PartitionKey::week_tier(week(), Tier::Otc);

        // First fetch: the bytes, with the server's ETag to ask with next time.
        let f = fetched(fetch(&engine, &source, &otc).await.unwrap());
        assert_eq!(f.hint, otc);
        assert_eq!(
            f.content_hash(),
            spine_model::capture::content_hash(&original)
        );
        assert_eq!(std::fs::read(f.input.file().unwrap()).unwrap(), original);
        assert_eq!(f.request.method, "GET");
        assert_eq!(f.request.source, "finra-cdn");
        assert_eq!(f.request.kind, "url-template");
        assert_eq!(
            f.request.url,
            format!("{}/finra/OTC/2025-12-19.psv", server.base())
        );
        assert_eq!(f.request.received.etag.as_deref(), Some("\"otc-1\""));
        assert_eq!(f.request.sent.etag, None);
        let report = land(&engine, &source, &otc, &f).await;
        assert_eq!(report.status, IngestStatus::Ingested);
        assert_eq!(report.partition, otc);
        assert_eq!(report.rows_read, file.rows as i64);
        assert_eq!(report.rows_accepted, file.rows as i64);
        let metadata = capture_metadata(&db.store, &report.capture_id).await;
        assert_eq!(
            metadata["source_request"],
            serde_json::to_value(&f.request).unwrap()
        );
        assert_eq!(metadata["source_request"]["method"], "GET");
        let temp = f.input.file().unwrap().to_path_buf();
        drop(f);
        assert!(
            !temp.exists(),
            "the temporary file goes with the fetched partition"
        );

        // Unchanged: the ETag is sent back and the server answers 304.
        let reason = not_modified(fetch(&engine, &source, &otc).await.unwrap());
        assert!(
            reason.contains("HTTP 304") && reason.contains("\"otc-1\""),
            "{reason}"
        );
        let last = server.seen().last().cloned().unwrap();
        assert_eq!(
            (last.if_none_match.as_deref(), last.status),
            (Some("\"otc-1\""), 304)
        );

        // A new ETag on the same bytes: downloaded, but identical, so not modified; the new
        // ETag is kept, and the next fetch is a 304 again.
        server.put(
            "/finra/OTC/2025-12-19.psv",
            original.clone(),
            Some("\"otc-2\""),
        );
        let reason = not_modified(fetch(&engine, &source, &otc).await.unwrap());
        assert!(reason.contains("identical"), "{reason}");
        assert_eq!(server.seen().last().unwrap().status, 200);
        let reason = not_modified(fetch(&engine, &source, &otc).await.unwrap());
        assert!(reason.contains("\"otc-2\""), "{reason}");
        let state = spine_store::sources::fetch_state(db.store.conn(), source.id, &otc)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.etag.as_deref(), Some("\"otc-2\""));
        assert_eq!(state.checked_at, now());

        // A re-publication: new bytes, a revision of the week.
        let mut revised = original.clone();
        let mut extra: Vec<String> = data_lines(&file)[0].split('|').map(str::to_owned).collect();
        extra[1] = "ZZZZZ".to_string();
        revised.extend_from_slice(format!("{}\n", extra.join("|")).as_bytes());
        server.put(
            "/finra/OTC/2025-12-19.psv",
            revised.clone(),
            Some("\"otc-3\""),
        );
        let f = fetched(fetch(&engine, &source, &otc).await.unwrap());
        assert_eq!(f.request.sent.etag.as_deref(), Some("\"otc-2\""));
        let report = land(&engine, &source, &otc, &f).await;
        assert_eq!(report.status, IngestStatus::Revised);
        assert_eq!(report.rows_read, file.rows as i64 + 1);
        assert_eq!(report.rows_accepted, file.rows as i64 + 1);

        // Another tier not published yet: a 404, recognisable as "not published".
        let t1 = PartitionKey::week_tier(week(), Tier::NmsTier1);
        let err = fetch(&engine, &source, &t1).await.expect_err("404");
        assert!(err.is_not_published(), "{err}");
        assert!(!err.is_retryable());
        assert_eq!(err.http_status(), Some(404));
        assert_eq!(err.code(), "SOURCE_NOT_FOUND");

        // Before the source's `since`: not served, nothing requested.
        let before = server.seen().len();
        let old =
            PartitionKey::week_tier(NaiveDate::from_ymd_opt(2025, 11, 21).unwrap(), Tier::Otc);
        let err = fetch(&engine, &source, &old)
            .await
            .expect_err("before since");
        assert_eq!(err.code(), "SOURCE_NOT_SERVED");
        assert_eq!(server.seen().len(), before);
        // A week-level partition cannot fill ${TIER}: a configuration error naming it.
        let err = fetch(&engine, &source, &PartitionKey::week(week()))
            .await
            .expect_err("no tier");
        assert_eq!(err.code(), "SOURCE_CONFIG");
        assert!(err.to_string().contains("${TIER}"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_drop_folder_template_reads_plain_paths_and_file_urls() {
    for_each_backend(|db| async move {
        let engine = engine(&db.store).await;
        let gen_dir = tempfile::tempdir().unwrap();
        let drop = tempfile::tempdir().unwrap();
        let t1 = generate_week(gen_dir.path(), Tier::NmsTier1, week(), 120);
        let t2 = generate_week(gen_dir.path(), Tier::NmsTier2, week(), 120);
        let folder = drop.path().join("2025-12-15");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(&t1.path, folder.join("NMS_TIER_1.psv")).unwrap();
        std::fs::copy(&t2.path, folder.join("NMS_TIER_2.psv")).unwrap();

        let plain = add(
            &engine,
            "drop-plain",
            template(format!(
                "{}/${{WEEK_START}}/${{TIER}}.psv",
                drop.path().display()
            )),
        )
        .await;
        let url = add(
            &engine,
            "drop-url",
            template(format!(
                "file://{}/${{WEEK_START}}/${{TIER}}.psv",
                drop.path().display()
            )),
        )
        .await;

        let p1 = PartitionKey::week_tier(week(), Tier::NmsTier1);
        let f = fetched(fetch(&engine, &plain, &p1).await.unwrap());
        assert_eq!(f.request.method, "READ");
        assert_eq!(
            f.input.locator,
            folder.join("NMS_TIER_1.psv").display().to_string()
        );
        assert_ne!(
            f.input.file().unwrap(),
            folder.join("NMS_TIER_1.psv"),
            "a drop-folder file is copied before it is ingested"
        );
        let report = land(&engine, &plain, &p1, &f).await;
        assert_eq!(report.status, IngestStatus::Ingested);
        assert_eq!(report.rows_accepted, t1.rows as i64);
        // The same file again: identical bytes, not modified.
        let reason = not_modified(fetch(&engine, &plain, &p1).await.unwrap());
        assert!(reason.contains("identical"), "{reason}");

        let p2 = PartitionKey::week_tier(week(), Tier::NmsTier2);
        let f = fetched(fetch(&engine, &url, &p2).await.unwrap());
        let report = land(&engine, &url, &p2, &f).await;
        assert_eq!(report.status, IngestStatus::Ingested);
        assert_eq!(report.partition, p2);
        assert_eq!(report.rows_accepted, t2.rows as i64);

        // OTC has not been dropped yet.
        let otc = PartitionKey::week_tier(week(), Tier::Otc);
        let err = fetch(&engine, &url, &otc).await.expect_err("missing file");
        assert!(err.is_not_published(), "{err}");
        assert_eq!(err.http_status(), None);
    })
    .await;
}

#[tokio::test]
async fn a_200_that_is_not_finra_data_fails_the_ingest_and_keeps_the_body_sample() {
    for_each_backend(|db| async move {
        let engine = engine(&db.store).await;
        let server = FileServer::start().await;
        let page = "<!DOCTYPE html>\n<html><body>\u{1b}[1mMaintenance</body></html>\n";
        server.put_html("/finra/OTC/2025-12-19.psv", page);
        let source = add(
            &engine,
            "finra-portal",
            template(format!(
                "{}/finra/${{TIER}}/${{WEEK_ENDING}}.psv",
                server.base()
            )),
        )
        .await;
        let otc = PartitionKey::week_tier(week(), Tier::Otc);
        let f = fetched(fetch(&engine, &source, &otc).await.unwrap());
        let err = ingest_fetched(
            &engine,
            &FinraDomain::default(),
            &f.input,
            &f.hint,
            &RunContext::quiet(now()),
        )
        .await
        .expect_err("not FINRA data");
        assert!(
            err.to_string().contains("not a FINRA OTC weekly header"),
            "{err}"
        );
        let sample = f.body_sample().unwrap();
        assert_eq!(
            sample.sha256,
            spine_model::capture::content_hash(page.as_bytes())
        );
        assert_eq!(sample.bytes, page.len() as u64);
        assert!(
            sample
                .prefix
                .starts_with("<!DOCTYPE html>\\n<html><body>\\x1b[1mMaintenance"),
            "{}",
            sample.prefix
        );
        // Nothing landed, so nothing was recorded: the next fetch downloads it again.
        assert!(
            spine_store::captures::latest(db.store.conn(), &finra(), &otc)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            fetch(&engine, &source, &otc).await.unwrap(),
            SourceFetch::Fetched(_)
        ));
    })
    .await;
}

async fn api_source(
    engine: &Engine,
    name: &str,
    server: &TestServer,
    extra: serde_json::Value,
) -> SourceConfig {
    let mut settings = json!({
        "base_url": server.base_url(),
        "page_limit": 100,
    });
    settings
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    add(
        engine,
        name,
        SourceKind::Plugin {
            kind: FINRA_API.to_string(),
            settings,
        },
    )
    .await
}

#[tokio::test]
async fn finra_api_failures_are_typed_for_the_worker() {
    for_each_backend(|db| async move {
        let engine = engine(&db.store).await;
        let otc = PartitionKey::week_tier(week(), Tier::Otc);

        // A 200 that is not JSON: not retryable, with the body's hash and first bytes.
        let page = "<html>please log in</html>";
        let server = TestServer::start(
            Dataset::new(),
            ServerOptions {
                garbage_body: Some(page.to_owned()),
                ..ServerOptions::default()
            },
        )
        .await
        .unwrap();
        let source = api_source(&engine, "api-portal", &server, json!({})).await;
        let err = fetch(&engine, &source, &otc).await.expect_err("html");
        assert_eq!(err.code(), "FINRA_API_INVALID_RESPONSE");
        assert!(!err.is_retryable());
        let sample = err.body_sample().expect("sample");
        assert_eq!(
            sample.sha256,
            spine_model::capture::content_hash(page.as_bytes())
        );
        assert_eq!(sample.prefix, page);

        // A long Retry-After: retryable, carrying the wait, without sleeping through it.
        let server = TestServer::start(
            Dataset::new(),
            ServerOptions {
                rate_limit_first: 1,
                retry_after: Some("3600".into()),
                ..ServerOptions::default()
            },
        )
        .await
        .unwrap();
        let source = api_source(&engine, "api-busy", &server, json!({})).await;
        let started = std::time::Instant::now();
        let err = fetch(&engine, &source, &otc).await.expect_err("429");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3_600)));
        assert_eq!(err.http_status(), Some(429));
        assert_eq!(err.code(), "FINRA_API_RATE_LIMITED");

        // An empty week: not published yet.
        let server = TestServer::start(Dataset::new(), ServerOptions::default())
            .await
            .unwrap();
        let source = api_source(&engine, "api-empty", &server, json!({})).await;
        let err = fetch(&engine, &source, &otc).await.expect_err("empty");
        assert!(err.is_not_published(), "{err}");
        assert_eq!(err.code(), "SOURCE_NOT_PUBLISHED");
        assert!(
            err.to_string().contains("week starting 2025-12-15"),
            "{err}"
        );
        assert_eq!(
            server.data_requests()[0].body["compareFilters"][1]["fieldValue"],
            "OTCE"
        );

        // Credentials named by variables that are not set: a configuration error naming the
        // variable, and nothing sent.
        let source = api_source(
            &engine,
            "api-oauth-unset",
            &server,
            json!({
                "token_url": server.token_url(),
                "client_id_env": "SPINE_TEST_FINRA_ID_NEVER_SET_71c2",
                "client_secret_env": "SPINE_TEST_FINRA_SECRET_NEVER_SET_71c2",
            }),
        )
        .await;
        let asked = server.requests().len();
        let err = fetch(&engine, &source, &otc).await.expect_err("unset");
        assert_eq!(err.code(), "SOURCE_CONFIG");
        assert!(!err.is_retryable());
        assert!(
            err.to_string()
                .contains("environment variable SPINE_TEST_FINRA_ID_NEVER_SET_71c2 is not set"),
            "{err}"
        );
        assert_eq!(server.requests().len(), asked);
    })
    .await;
}

#[tokio::test]
async fn bad_sources_are_refused_before_anything_is_stored() {
    for_each_backend(|db| async move {
        let engine = engine(&db.store).await;
        let spec = |kind: SourceKind| NewSourceSpec {
            name: None,
            domain: finra(),
            kind,
            since: None,
        };
        let invalid = |e: AddSourceError| match e {
            AddSourceError::Invalid(i) => i,
            other => panic!("expected bad input, got {other}"),
        };
        let e = invalid(
            sources::add_source(&engine, spec(template("/drop/${TIER}/${WEEK}.psv".into())), now())
                .await
                .unwrap_err(),
        );
        assert!(matches!(e, InvalidSource::Template(_)), "{e}");
        let e = invalid(
            sources::add_source(
                &engine,
                spec(SourceKind::Plugin {
                    kind: "finra-ftp".into(),
                    settings: json!({}),
                }),
                now(),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(
            e.to_string(),
            "finra.otc_transparency has no source kind `finra-ftp`; its kinds: url-template, finra-api"
        );
        let e = invalid(
            sources::add_source(
                &engine,
                spec(SourceKind::Plugin {
                    kind: FINRA_API.into(),
                    settings: json!({"client_id_env": "FINRA_ID"}),
                }),
                now(),
            )
            .await
            .unwrap_err(),
        );
        assert!(e.to_string().contains("--client-id-env needs --client-secret-env"), "{e}");
        let e = invalid(
            sources::add_source(
                &engine,
                NewSourceSpec {
                    since: NaiveDate::from_ymd_opt(2026, 1, 21),
                    ..spec(template("/drop/${TIER}.psv".into()))
                },
                now(),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(e.to_string(), "--since 2026-01-21 is after today (2026-01-20)");
        let e = invalid(
            sources::add_source(
                &engine,
                NewSourceSpec {
                    domain: Domain::parse(Domain::EXCHANGE_CALENDAR).unwrap(),
                    ..spec(template("/drop/${YEAR}.json".into()))
                },
                now(),
            )
            .await
            .unwrap_err(),
        );
        assert!(matches!(e, InvalidSource::UnknownKind { .. }), "{e}");
        assert!(sources::list_sources(&engine, None).await.unwrap().is_empty());

        // The default name is <domain>/<kind>; the same name twice is refused.
        let first = sources::add_source(&engine, spec(template("/drop/${TIER}.psv".into())), now())
            .await
            .unwrap();
        assert_eq!(first.name, "finra.otc_transparency/url-template");
        let e = invalid(
            sources::add_source(&engine, spec(template("/other/${TIER}.psv".into())), now())
                .await
                .unwrap_err(),
        );
        assert!(matches!(e, InvalidSource::NameTaken { .. }), "{e}");
        assert_eq!(sources::list_sources(&engine, None).await.unwrap(), vec![first.clone()]);
        assert_eq!(
            sources::remove_source(&engine, &first.name).await.unwrap(),
            Some(first)
        );
        assert!(sources::list_sources(&engine, None).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn two_engines_on_one_database_share_the_api_rate_budget() {
    for_each_backend(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let file = generate_week(dir.path(), Tier::NmsTier1, week(), 100);
        let lines = data_lines(&file);
        let mut data = Dataset::new();
        data.insert(
            (monday(), "T1".to_string()),
            api_rows(&lines, monday(), "T1"),
        );
        data.insert(
            (monday(), "T2".to_string()),
            api_rows(&lines, monday(), "T2"),
        );
        let server = TestServer::start(data, ServerOptions::default())
            .await
            .unwrap();

        // Two workers: two engines, each on its own connection pool to the same database.
        let first = engine(&db.store).await;
        let other_store = Store::connect(&db.cli_url).await.unwrap();
        let second = engine(&other_store).await;
        // 5 requests a second: 200 ms apart across both.
        let source = api_source(
            &first,
            "api-shared",
            &server,
            json!({"page_limit": 60, "requests_per_second": 5.0}),
        )
        .await;
        let pages = lines.len().div_ceil(60);
        assert!(pages >= 2, "{pages}");

        let t1 = PartitionKey::week_tier(week(), Tier::NmsTier1);
        let t2 = PartitionKey::week_tier(week(), Tier::NmsTier2);
        let (a, b) = tokio::join!(fetch(&first, &source, &t1), fetch(&second, &source, &t2),);
        let (a, b) = (fetched(a.unwrap()), fetched(b.unwrap()));
        assert_eq!(a.request.pages as usize, pages);
        assert_eq!(b.request.pages as usize, pages);

        let mut times: Vec<_> = server
            .data_requests()
            .iter()
            .map(|r| r.received_at)
            .collect();
        assert_eq!(times.len(), 2 * pages);
        times.sort();
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            // The slots are 200 ms apart; allow for when each request left and arrived.
            assert!(gap >= Duration::from_millis(170), "requests {gap:?} apart");
        }
        other_store.close().await.unwrap();
    })
    .await;
}
