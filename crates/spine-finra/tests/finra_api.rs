//! The `finra-api` source against a loopback server that behaves as FINRA's Query API does —
//! several pages, a 429 with `Retry-After`, an OAuth2 token that expires mid-run — ingests
//! exactly the rows served, on SQLite and (when configured) PostgreSQL: rows read and accepted,
//! the rejected row at its line, the summary totals, the request in the capture's metadata, the
//! week from `weekStartDate`; then "not modified" from one probe, and a re-publication captured
//! as a revision.
//!
//! One test in its own binary: it sets the credentials' environment variables, which no other
//! test thread may be reading at the time.

mod support;

use std::time::Duration;

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};
use spine_engine::RunContext;
use spine_engine::capture::ingest_fetched;
use spine_engine::sources::{self, NewSourceSpec, SourceFetch, SourceKind};
use spine_finra::sources::FINRA_API;
use spine_finra::test_server::{Dataset, OAuthOptions, RequestKind, ServerOptions, TestServer};
use spine_finra::{FinraDetail, FinraDomain};
use spine_model::{Domain, IngestStatus, PartitionKey, Tier};
use spine_store::test_support::for_each_backend;
use support::{api_rows, data_lines, engine, generate_week, now, totals};

const ID_VAR: &str = "SPINE_TEST_FINRA_API_CLIENT_ID";
const SECRET_VAR: &str = "SPINE_TEST_FINRA_API_CLIENT_SECRET";
const CLIENT_ID: &str = "spine-finra-test";
const SECRET: &str = "n0t-in-any-output-9d41";

#[tokio::test]
async fn finra_api_ingests_exactly_the_rows_served() {
    // SAFETY: this binary holds this one test, and it sets the variables before starting
    // anything that reads the environment.
    unsafe {
        std::env::set_var(ID_VAR, CLIENT_ID);
        std::env::set_var(SECRET_VAR, SECRET);
    }
    let ran = for_each_backend(|db| async move {
        let engine = engine(&db.store).await;
        let week = NaiveDate::from_ymd_opt(2025, 12, 19).unwrap();
        let monday = week - Days::new(4);
        let dir = tempfile::tempdir().unwrap();
        let file = generate_week(dir.path(), Tier::NmsTier1, week, 300);
        let lines = data_lines(&file);
        let mut rows = api_rows(&lines, monday, "T1");
        // One row FINRA sends with a quantity the file parser refuses: rejected at its line.
        const BAD: usize = 37;
        rows[BAD]["totalWeeklyShareQuantity"] = json!("12a");
        let served = rows.len();
        let page_limit = 250;
        assert!(served > 3 * page_limit, "{served} rows: several pages");

        let server = TestServer::start(
            Dataset::from([((monday, "T1".to_string()), rows.clone())]),
            ServerOptions {
                // The first request is told to wait a second.
                rate_limit_first: 1,
                retry_after: Some("1".into()),
                // Each token is refused after two pages: it expires mid-run.
                oauth: Some(OAuthOptions {
                    client_id: CLIENT_ID.into(),
                    client_secret: SECRET.into(),
                    expires_in_secs: 1_800,
                    max_requests_per_token: Some(2),
                }),
                ..ServerOptions::default()
            },
        )
        .await
        .unwrap();

        let source = sources::add_source(
            &engine,
            NewSourceSpec {
                name: Some("finra-api".into()),
                domain: Domain::parse(Domain::FINRA_OTC).unwrap(),
                kind: SourceKind::Plugin {
                    kind: FINRA_API.into(),
                    settings: json!({
                        "base_url": server.base_url(),
                        "token_url": server.token_url(),
                        "client_id_env": ID_VAR,
                        "client_secret_env": SECRET_VAR,
                        "page_limit": page_limit,
                    }),
                },
                since: NaiveDate::from_ymd_opt(2025, 11, 28),
            },
            now(),
        )
        .await
        .unwrap();
        let stored = spine_store::sources::by_name(db.store.conn(), "finra-api")
            .await
            .unwrap()
            .unwrap();
        assert!(
            !stored.settings_json.to_string().contains(SECRET),
            "only the variables' names are stored"
        );

        let partition = PartitionKey::week_tier(week, Tier::NmsTier1);
        let run = RunContext::quiet(now());
        let started = std::time::Instant::now();
        let SourceFetch::Fetched(f) = sources::fetch_partition(&engine, &source, &partition, &run)
            .await
            .expect("fetch")
        else {
            panic!("a first fetch downloads");
        };
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "the 429's wait was honoured"
        );

        // What the server saw: a 429, then every page; two 401s renewed the token.
        let pages = served.div_ceil(page_limit);
        let data = server.data_requests();
        let statuses: Vec<u16> = data.iter().map(|r| r.status).collect();
        assert_eq!(statuses[0], 429, "{statuses:?}");
        assert!(statuses.contains(&401), "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), pages);
        let offsets: Vec<u64> = data
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.offset.unwrap())
            .collect();
        let expected: Vec<u64> = (0..pages).map(|p| (p * page_limit) as u64).collect();
        assert_eq!(offsets, expected);
        assert!(data.iter().all(|r| r.bearer));
        let tokens = server.token_requests();
        assert_eq!(tokens.len(), pages.div_ceil(2), "one token per two pages");
        assert!(tokens.iter().all(|t| t.status == 200));
        assert!(data.iter().all(|r| r.kind == RequestKind::Data));

        // What was fetched: the request, replayable, and the week from weekStartDate.
        assert_eq!(f.hint, partition);
        assert_eq!(f.request.method, "POST");
        assert_eq!(f.request.source, "finra-api");
        assert_eq!(f.request.kind, FINRA_API);
        assert_eq!(
            f.request.url,
            format!(
                "{}/data/group/otcMarket/name/weeklySummary",
                server.base_url()
            )
        );
        assert_eq!(f.request.pages as usize, pages);
        assert_eq!(f.request.rows, Some(served as u64));
        assert_eq!(f.request.record_total, Some(served as u64));
        assert_eq!(f.request.summary_type.as_deref(), Some("ATS_W_SMBL_FIRM"));
        assert!(f.request.authenticated);
        let filters = &f.request.body.as_ref().unwrap()["compareFilters"];
        assert_eq!(filters[0]["fieldValue"], "2025-12-15");
        assert_eq!(filters[1]["fieldValue"], "T1");
        assert_eq!(filters[2]["fieldValue"], "ATS_W_SMBL_FIRM");
        assert_eq!(f.request.received.last_update_date, Some(file.last_update));
        // The bytes are FINRA's file format: the header, then one line per row in order.
        let written = std::fs::read_to_string(f.input.file().unwrap()).unwrap();
        let written: Vec<&str> = written.lines().collect();
        assert_eq!(written.len(), served + 1);
        assert_eq!(
            written[1..BAD + 1],
            lines[..BAD].iter().map(String::as_str).collect::<Vec<_>>()[..]
        );
        for shown in [
            f.input.locator.clone(),
            serde_json::to_string(&f.request).unwrap(),
        ] {
            assert!(!shown.contains(SECRET), "{shown}");
            for token in server.issued_tokens() {
                assert!(!shown.contains(&token), "{shown}");
            }
        }

        // Ingested through the same validation as a file: exactly the rows served.
        let report = ingest_fetched(&engine, &FinraDomain::default(), &f.input, &f.hint, &run)
            .await
            .expect("ingest");
        sources::record_fetched(&engine, &source, &partition, &f)
            .await
            .unwrap();
        assert_eq!(report.status, IngestStatus::Ingested);
        assert_eq!(report.partition, partition);
        assert_eq!(report.rows_read, served as i64);
        assert_eq!(report.rows_accepted, served as i64 - 1);
        assert_eq!(report.rows_rejected, 1);
        let rejects = spine_store::rejects::for_capture(db.store.conn(), &report.capture_id)
            .await
            .unwrap();
        assert_eq!(rejects.len(), 1);
        assert_eq!(
            rejects[0].line_number,
            Some(BAD as i64 + 2),
            "response row k (0-based) is the file's line k + 2"
        );
        let detail = report.detail_as::<FinraDetail>().unwrap();
        assert_eq!(detail.week_derivation.method(), "explicit");
        let summary =
            spine_store::finra_otc::symbol_summary(db.store.conn(), &report.capture_id, None)
                .await
                .unwrap();
        let mut accepted = lines.clone();
        accepted.remove(BAD);
        let (shares, trades) = totals(&accepted);
        assert_eq!(summary.iter().map(|s| s.total_shares).sum::<i64>(), shares);
        assert_eq!(summary.iter().map(|s| s.total_trades).sum::<i64>(), trades);
        let capture = spine_store::captures::get(db.store.conn(), &report.capture_id)
            .await
            .unwrap()
            .unwrap();
        let metadata = capture.metadata_json.unwrap();
        assert_eq!(
            metadata["source_request"],
            serde_json::to_value(&f.request).unwrap()
        );
        assert_eq!(metadata["source_request"]["pages"], json!(pages));
        assert!(capture.source_locator.starts_with("POST http://127.0.0.1:"));
        assert!(
            capture.source_locator.ends_with(
                "weekStartDate=2025-12-15 tierIdentifier=T1 summaryTypeCode=ATS_W_SMBL_FIRM"
            ),
            "{}",
            capture.source_locator
        );
        drop(f);

        // Asked again: one one-row probe finds the same lastUpdateDate, nothing downloaded.
        let before = server.data_requests().len();
        let outcome = sources::fetch_partition(&engine, &source, &partition, &run)
            .await
            .unwrap();
        let SourceFetch::NotModified { reason } = outcome else {
            panic!("unchanged week downloaded again");
        };
        assert!(reason.contains(&file.last_update.to_string()), "{reason}");
        let after = server.data_requests();
        let probes: Vec<_> = after[before..].iter().filter(|r| r.status == 200).collect();
        assert_eq!(probes.len(), 1);
        assert_eq!(probes[0].limit, Some(1));

        // FINRA re-publishes the week much later, with more rows and a new stamp whose lag
        // would derive another week: captured as a revision of the week asked for.
        let restamp = file.last_update + Days::new(45);
        let mut republished: Vec<Value> = api_rows(&lines, monday, "T1");
        for extra in 0..10 {
            let mut row = republished[extra].clone();
            row["issueSymbolIdentifier"] = json!(format!("ZZ{extra:02}"));
            republished.push(row);
        }
        for row in &mut republished {
            row["lastUpdateDate"] = json!(restamp.to_string());
        }
        server.republish(monday, "T1", republished.clone());
        let SourceFetch::Fetched(f) = sources::fetch_partition(&engine, &source, &partition, &run)
            .await
            .unwrap()
        else {
            panic!("a re-published week is fetched");
        };
        assert_eq!(f.request.sent.last_update_date, Some(file.last_update));
        assert_eq!(f.request.received.last_update_date, Some(restamp));
        let revision = ingest_fetched(&engine, &FinraDomain::default(), &f.input, &f.hint, &run)
            .await
            .unwrap();
        assert_eq!(revision.status, IngestStatus::Revised);
        assert_eq!(revision.partition, partition, "the week is weekStartDate's");
        assert_eq!(revision.rows_read, republished.len() as i64);
        assert_eq!(revision.rows_accepted, republished.len() as i64);
        let detail = revision.detail_as::<FinraDetail>().unwrap();
        assert_eq!(detail.week_ending, week);
        assert_eq!(detail.week_derivation.method(), "explicit");
    })
    .await;
    assert!(ran.contains(&"sqlite"));
}
