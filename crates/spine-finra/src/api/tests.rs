//! Loopback tests of the FINRA API client against `crate::test_server`.

use std::io::{Read, Seek};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::test_server::{Dataset, OAuthOptions, ServerOptions, TestServer, sample_row};

const SECRET: &str = "s3cr3t-Never-Print-9f2c";
const CLIENT_ID: &str = "spine-test-client";

fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 1).unwrap()
}

fn rows(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| sample_row(week(), "T1", "NMS Tier 1", i))
        .collect()
}

fn dataset(rows: Vec<Value>) -> Dataset {
    Dataset::from([((week(), "T1".to_owned()), rows)])
}

async fn start(rows: Vec<Value>, options: ServerOptions) -> TestServer {
    TestServer::start(dataset(rows), options)
        .await
        .expect("start test server")
}

fn config(server: &TestServer) -> FinraApiConfig {
    FinraApiConfig {
        base_url: server.base_url(),
        token_url: server.token_url(),
        requests_per_second: 1_000.0,
        request_timeout: Duration::from_secs(5),
        ..FinraApiConfig::default()
    }
}

fn oauth_config(server: &TestServer) -> FinraApiConfig {
    FinraApiConfig {
        credentials: Some(Credentials::new(CLIENT_ID, SECRET)),
        ..config(server)
    }
}

fn oauth(max_requests_per_token: Option<u32>) -> OAuthOptions {
    OAuthOptions {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        expires_in_secs: 1_800,
        max_requests_per_token,
    }
}

fn client(config: FinraApiConfig) -> FinraApiClient {
    FinraApiClient::new(config, None).expect("client")
}

/// Counts acquisitions and never waits.
#[derive(Default)]
struct CountingLimiter(AtomicU32);

impl RateLimiter for CountingLimiter {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

/// The file line FINRA's weekly file would hold for a well-formed JSON row.
fn expected_line(row: &Value) -> String {
    FILE_FIELDS
        .iter()
        .map(|f| match &row[*f] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn text(out: &[u8]) -> &str {
    std::str::from_utf8(out).expect("utf-8 output")
}

fn offsets(server: &TestServer) -> Vec<u64> {
    server
        .data_requests()
        .iter()
        .map(|r| r.offset.expect("offset"))
        .collect()
}

fn statuses(server: &TestServer) -> Vec<u16> {
    server.data_requests().iter().map(|r| r.status).collect()
}

/// No secret and no issued token in the error's message or Debug form.
fn assert_no_credentials(err: &ApiError, server: &TestServer) {
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
        for token in server.issued_tokens() {
            assert!(!shown.contains(&token), "token leaked: {shown}");
        }
    }
}

#[tokio::test]
async fn pages_through_every_row_in_order() {
    let data = rows(12_345);
    let server = start(data.clone(), ServerOptions::default()).await;
    let limiter = Arc::new(CountingLimiter::default());
    let client = FinraApiClient::new(config(&server), Some(limiter.clone())).unwrap();
    let mut file = tempfile::tempfile().expect("temp file");

    let capture = client
        .fetch_week(week(), Tier::NmsTier1, &mut file)
        .await
        .expect("fetch");

    assert_eq!(capture.pages, 3);
    assert_eq!(capture.rows, 12_345);
    assert_eq!(capture.record_total, Some(12_345));
    assert_eq!(
        capture.url,
        format!("{}{WEEKLY_SUMMARY_PATH}", server.base_url())
    );
    assert_eq!(capture.summary_type, "ATS_W_SMBL_FIRM");
    assert_eq!(capture.tier_identifier, "T1");
    assert_eq!(capture.week_start, week());
    assert_eq!(
        (
            capture.week_start_mismatches,
            capture.unexpected_type_rows,
            capture.unsafe_text_rows
        ),
        (0, 0, 0)
    );
    assert!(!capture.authenticated);
    assert_eq!(offsets(&server), [0, 5_000, 10_000]);
    assert!(
        server
            .data_requests()
            .iter()
            .all(|r| r.limit == Some(5_000) && !r.bearer)
    );
    assert_eq!(server.data_requests()[0].body, capture.request_body);
    assert_eq!(limiter.0.load(Ordering::SeqCst), 3);

    let mut out = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut out).unwrap();
    assert_eq!(capture.bytes, out.len() as u64);
    assert_eq!(capture.sha256, hex::encode(Sha256::digest(&out)));
    let lines: Vec<&str> = text(&out).lines().collect();
    assert_eq!(lines.len(), 12_346);
    assert_eq!(lines[0], FILE_HEADER);
    for (k, row) in data.iter().enumerate() {
        assert_eq!(lines[k + 1], expected_line(row), "row {k}");
    }
    assert!(out.ends_with(b"\n"));
}

#[test]
fn request_body_has_finras_shape() {
    let body = request_body(week(), "OTCE", 5_000, 10_000);
    assert_eq!(
        body.to_string(),
        r#"{"compareFilters":[{"compareType":"EQUAL","fieldName":"weekStartDate","fieldValue":"2025-12-01"},{"compareType":"EQUAL","fieldName":"tierIdentifier","fieldValue":"OTCE"},{"compareType":"EQUAL","fieldName":"summaryTypeCode","fieldValue":"ATS_W_SMBL_FIRM"}],"limit":5000,"offset":10000}"#
    );
}

#[tokio::test]
async fn configurable_tier_code_and_page_limit() {
    let data: Vec<Value> = (0..2_500)
        .map(|i| sample_row(week(), "OTC", "OTC", i))
        .collect();
    let server = TestServer::start(
        Dataset::from([((week(), "OTC".to_owned()), data)]),
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let mut cfg = config(&server);
    cfg.tier_codes.otc = "OTC".into();
    cfg.page_limit = 1_000;
    let mut out = Vec::new();
    let capture = client(cfg)
        .fetch_week(week(), Tier::Otc, &mut out)
        .await
        .unwrap();
    assert_eq!((capture.pages, capture.rows), (3, 2_500));
    assert_eq!(capture.tier_identifier, "OTC");
    assert_eq!(
        capture.request_body["compareFilters"][1]["fieldValue"],
        "OTC"
    );
    assert_eq!(capture.request_body["limit"], 1_000);
    assert_eq!(offsets(&server), [0, 1_000, 2_000]);
    assert_eq!(text(&out).lines().count(), 2_501);
}

#[tokio::test]
async fn short_pages_before_the_total_keep_paging() {
    let options = ServerOptions {
        page_row_cap: Some(1_000),
        ..ServerOptions::default()
    };
    let server = start(rows(3_500), options).await;
    let mut out = Vec::new();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .unwrap();
    assert_eq!((capture.pages, capture.rows), (4, 3_500));
    assert_eq!(offsets(&server), [0, 1_000, 2_000, 3_000]);
    assert_eq!(text(&out).lines().count(), 3_501);
}

#[tokio::test]
async fn missing_record_total_stops_at_a_short_page() {
    let options = ServerOptions {
        omit_record_total: true,
        ..ServerOptions::default()
    };
    let server = start(rows(12_345), options.clone()).await;
    let mut out = Vec::new();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .unwrap();
    assert_eq!(capture.record_total, None);
    assert_eq!((capture.pages, capture.rows), (3, 12_345));

    // An exact multiple of the limit ends with one empty page.
    let server = start(rows(10_000), options).await;
    let mut out = Vec::new();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .unwrap();
    assert_eq!((capture.pages, capture.rows), (3, 10_000));
    assert_eq!(offsets(&server), [0, 5_000, 10_000]);
}

#[tokio::test]
async fn empty_page_before_record_total_is_an_error() {
    let options = ServerOptions {
        record_total_override: Some(13_000),
        ..ServerOptions::default()
    };
    let server = start(rows(12_345), options).await;
    let mut out = Vec::new();
    let err = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .expect_err("empty page");
    assert!(matches!(err, ApiError::Paging { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        err.to_string()
            .contains("at page 4 (offset 12345): empty page after 12345 of Record-Total 13000"),
        "{err}"
    );
    assert_eq!(offsets(&server), [0, 5_000, 10_000, 12_345]);
}

#[tokio::test]
async fn more_rows_than_record_total_is_an_error() {
    let options = ServerOptions {
        record_total_override: Some(100),
        ..ServerOptions::default()
    };
    let server = start(rows(150), options).await;
    let err = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("too many rows");
    assert!(
        err.to_string()
            .contains("150 rows received, more than Record-Total 100"),
        "{err}"
    );
}

#[tokio::test]
async fn page_count_is_bounded() {
    // One row per page: 100 rows at limit 10 would take 100 pages; the bound is 10 * 2 + 2.
    let options = ServerOptions {
        page_row_cap: Some(1),
        ..ServerOptions::default()
    };
    let server = start(rows(100), options).await;
    let cfg = FinraApiConfig {
        page_limit: 10,
        ..config(&server)
    };
    let err = client(cfg)
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("bounded");
    assert!(
        err.to_string()
            .contains("gave up after 22 pages and 22 rows"),
        "{err}"
    );
    assert_eq!(server.data_requests().len(), 22);
}

#[tokio::test]
async fn quantities_as_numbers_and_strings_are_written_as_text() {
    let mut data = rows(4);
    data[0]["totalWeeklyShareQuantity"] = json!(6_753_871);
    data[0]["totalWeeklyTradeCount"] = json!(171);
    data[1]["totalWeeklyShareQuantity"] = json!("40313");
    data[1]["totalWeeklyTradeCount"] = json!("3");
    data[2]["totalWeeklyShareQuantity"] = json!(0);
    data[3]["totalWeeklyShareQuantity"] = json!(u64::MAX);
    let server = start(data.clone(), ServerOptions::default()).await;
    let mut out = Vec::new();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .unwrap();
    assert_eq!(capture.unexpected_type_rows, 0);
    let lines: Vec<&str> = text(&out).lines().collect();
    let quantities = |line: &str| {
        let f: Vec<&str> = line.split('|').collect();
        (f[5].to_owned(), f[6].to_owned())
    };
    assert_eq!(quantities(lines[1]), ("6753871".into(), "171".into()));
    assert_eq!(quantities(lines[2]), ("40313".into(), "3".into()));
    assert_eq!(quantities(lines[3]).0, "0");
    assert_eq!(quantities(lines[4]).0, u64::MAX.to_string());
}

#[tokio::test]
async fn bad_values_are_written_to_be_rejected_never_dropped() {
    let mut data = rows(12);
    data[0]["totalWeeklyShareQuantity"] = Value::Null;
    data[1]["totalWeeklyShareQuantity"] = json!(1.5);
    data[2]["totalWeeklyTradeCount"] = json!(true);
    data[3]["totalWeeklyShareQuantity"] = json!({"v": 1});
    data[4]["totalWeeklyShareQuantity"] = json!("12a");
    data[5]
        .as_object_mut()
        .unwrap()
        .remove("totalWeeklyShareQuantity");
    data[6].as_object_mut().unwrap().remove("tierDescription");
    data[7]["issueName"] = json!("Pipe | Holdings");
    data[8]["marketParticipantName"] = json!("LINE\r\nBREAK");
    data[9] = json!(42);
    data[10]["totalWeeklyShareQuantity"] = json!(1.0);
    data[11]["totalWeeklyShareQuantity"] = json!(-5);
    let server = start(data.clone(), ServerOptions::default()).await;
    let mut out = Vec::new();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .unwrap();

    assert_eq!(capture.rows, 12);
    assert_eq!(
        capture.unexpected_type_rows, 7,
        "null, 1.5, true, object, missing, 42, 1.0"
    );
    assert_eq!(capture.unsafe_text_rows, 2);
    assert_eq!(
        capture.week_start_mismatches, 1,
        "the non-object row has no week"
    );
    let lines: Vec<&str> = text(&out).split_terminator('\n').collect();
    assert_eq!(lines.len(), 13, "every row is one line");
    let field = |k: usize, i: usize| lines[k + 1].split('|').nth(i).unwrap().to_owned();
    assert_eq!(field(0, 5), "null");
    assert_eq!(field(1, 5), "1.5");
    assert_eq!(field(2, 6), "true");
    assert_eq!(field(3, 5), r#"{"v":1}"#);
    assert_eq!(field(4, 5), "12a");
    assert_eq!(field(5, 5), "");
    assert_eq!(field(6, 0), "", "no tier is derived");
    assert_eq!(field(10, 5), "1.0");
    assert_eq!(field(11, 5), "-5");
    assert_eq!(lines[10], "|||||||", "a non-object row is still a line");

    let pipe = lines[8];
    assert_eq!(pipe.split('|').count(), 9, "{pipe}");
    assert!(pipe.contains("Pipe \\u007c Holdings"), "{pipe}");
    assert!(
        pipe.ends_with("|API_FIELD_HAS_DELIMITER:issueName"),
        "{pipe}"
    );
    let crlf = lines[9];
    assert_eq!(crlf.split('|').count(), 9, "{crlf}");
    assert!(crlf.contains("LINE\\r\\nBREAK"), "{crlf}");
    assert!(crlf.ends_with("|API_FIELD_HAS_DELIMITER:marketParticipantName"));
    assert!(!text(&out).contains('\r'));
}

#[tokio::test]
async fn rows_of_another_week_are_counted_and_written() {
    let mut data = rows(3);
    data[0]["weekStartDate"] = json!("2025-11-24");
    data[1].as_object_mut().unwrap().remove("weekStartDate");
    data[2]["weekStartDate"] = json!("2025-12-01T00:00:00");
    let server = start(data, ServerOptions::default()).await;
    let mut out = Vec::new();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .unwrap();
    assert_eq!((capture.rows, capture.week_start_mismatches), (3, 2));
    assert_eq!(text(&out).lines().count(), 4);
}

#[tokio::test]
async fn short_retry_after_is_slept_through() {
    let options = ServerOptions {
        rate_limit_first: 1,
        retry_after: Some("1".into()),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let started = std::time::Instant::now();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect("succeeds after waiting");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((capture.pages, capture.rows), (1, 10));
    assert_eq!(statuses(&server), [429, 200]);
}

#[tokio::test]
async fn long_retry_after_is_returned_without_sleeping() {
    let options = ServerOptions {
        rate_limit_first: 1,
        retry_after: Some("3600".into()),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let started = std::time::Instant::now();
    let err = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("rate limited");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "slept: {:?}",
        started.elapsed()
    );
    assert!(matches!(err, ApiError::RateLimited { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3_600)));
    assert_eq!(err.http_status(), Some(429));
    assert!(err.to_string().contains("page 1 (offset 0)"), "{err}");
    assert!(err.to_string().contains("wait 3600s"), "{err}");
    assert_eq!(server.data_requests().len(), 1);
}

#[tokio::test]
async fn endless_429s_give_up_after_the_configured_retries() {
    let options = ServerOptions {
        rate_limit_first: 100,
        retry_after: Some("0".into()),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let cfg = FinraApiConfig {
        max_rate_limit_retries: 3,
        ..config(&server)
    };
    let err = client(cfg)
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("rate limited");
    assert!(matches!(err, ApiError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
    assert_eq!(server.data_requests().len(), 4);
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let parse = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers, now)
    };
    assert_eq!(parse("1"), Some(Duration::from_secs(1)));
    assert_eq!(parse(" 120 "), Some(Duration::from_secs(120)));
    assert_eq!(
        parse("Wed, 21 Oct 2015 07:29:30 GMT"),
        Some(Duration::from_secs(90))
    );
    assert_eq!(parse("Wed, 21 Oct 2015 07:00:00 GMT"), Some(Duration::ZERO));
    assert_eq!(parse("soon"), None);
    assert_eq!(parse("-3"), None);
    assert_eq!(retry_after(&HeaderMap::new(), now), None);
}

#[tokio::test]
async fn token_expiring_mid_run_is_renewed_and_the_page_retried_once() {
    let options = ServerOptions {
        oauth: Some(oauth(Some(2))),
        ..ServerOptions::default()
    };
    let data = rows(12_345);
    let server = start(data.clone(), options).await;
    let limiter = Arc::new(CountingLimiter::default());
    let client = FinraApiClient::new(oauth_config(&server), Some(limiter.clone())).unwrap();
    let mut out = Vec::new();
    let capture = client
        .fetch_week(week(), Tier::NmsTier1, &mut out)
        .await
        .expect("renewed");
    assert!(capture.authenticated);
    assert_eq!((capture.pages, capture.rows), (3, 12_345));
    assert_eq!(server.token_requests().len(), 2);
    assert!(server.token_requests().iter().all(|r| r.status == 200));
    assert_eq!(
        offsets(&server),
        [0, 5_000, 10_000, 10_000],
        "only the failed page is retried"
    );
    assert_eq!(statuses(&server), [200, 200, 401, 200]);
    assert!(server.data_requests().iter().all(|r| r.bearer));
    // Once per data request (the retry included), never for token requests.
    assert_eq!(limiter.0.load(Ordering::SeqCst), 4);
    let lines: Vec<&str> = text(&out).lines().collect();
    assert_eq!(lines.len(), 12_346);
    assert_eq!(lines[10_001], expected_line(&data[10_000]));
}

#[tokio::test]
async fn token_is_cached_and_renewed_before_it_expires() {
    let options = ServerOptions {
        oauth: Some(OAuthOptions {
            expires_in_secs: 1,
            ..oauth(None)
        }),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let client = client(oauth_config(&server));
    client
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .unwrap();
    client
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(server.token_requests().len(), 1, "cached across calls");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    client
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(server.token_requests().len(), 2, "renewed");
    assert_eq!(
        statuses(&server),
        [200, 200, 200],
        "renewed before use, not after a 401"
    );
}

#[tokio::test]
async fn grant_type_may_be_in_the_token_url() {
    let options = ServerOptions {
        oauth: Some(oauth(None)),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let cfg = FinraApiConfig {
        token_url: format!("{}?grant_type=client_credentials", server.token_url()),
        ..oauth_config(&server)
    };
    let capture = client(cfg)
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(capture.rows, 10);
}

#[tokio::test]
async fn second_401_is_a_non_retryable_auth_error() {
    let options = ServerOptions {
        oauth: Some(oauth(Some(0))),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let err = client(oauth_config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("refused twice");
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.http_status(), Some(401));
    assert_eq!(statuses(&server), [401, 401]);
    assert_eq!(server.token_requests().len(), 2);
    assert!(err.to_string().contains("page 1 (offset 0)"), "{err}");
    assert_no_credentials(&err, &server);
}

#[tokio::test]
async fn anonymous_client_is_told_credentials_are_needed() {
    let options = ServerOptions {
        oauth: Some(oauth(None)),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let err = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("anonymous");
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("none are configured"), "{err}");
    assert_eq!(server.data_requests().len(), 1);
    assert!(server.token_requests().is_empty());
}

#[tokio::test]
async fn wrong_secret_is_refused_by_the_token_endpoint() {
    let options = ServerOptions {
        oauth: Some(OAuthOptions {
            client_secret: "the-real-one".into(),
            ..oauth(None)
        }),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let err = client(oauth_config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("bad secret");
    assert!(
        matches!(
            err,
            ApiError::Unauthorized {
                request: RequestRef::Token,
                status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(server.data_requests().is_empty());
    assert!(
        err.to_string().contains("the OAuth2 token request"),
        "{err}"
    );
    assert_no_credentials(&err, &server);
}

#[tokio::test]
async fn server_error_is_retryable() {
    let options = ServerOptions {
        fail_once: Some(500),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let client = client(config(&server));
    let err = client
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("500");
    assert!(
        matches!(err, ApiError::HttpStatus { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(err.retry_after(), None);
    let message = err.to_string();
    assert!(
        message.starts_with("HTTP 500 from POST http://127.0.0.1:"),
        "{message}"
    );
    assert!(message.contains("for page 1 (offset 0): "), "{message}");
    // The caller's retry succeeds.
    let capture = client
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(capture.rows, 10);
}

#[tokio::test]
async fn client_errors_are_not_retryable() {
    for status in [400_u16, 403, 404] {
        let options = ServerOptions {
            fail_once: Some(status),
            ..ServerOptions::default()
        };
        let server = start(rows(10), options).await;
        let err = client(config(&server))
            .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
            .await
            .expect_err("4xx");
        assert_eq!(err.http_status(), Some(status));
        assert!(!err.is_retryable(), "{status}");
    }
    let options = ServerOptions {
        fail_once: Some(408),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let err = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("408");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn empty_week_is_ok_with_zero_rows() {
    let server = TestServer::start(Dataset::new(), ServerOptions::default())
        .await
        .unwrap();
    let mut out = Vec::new();
    let capture = client(config(&server))
        .fetch_week(week(), Tier::NmsTier2, &mut out)
        .await
        .expect("empty is not an error");
    assert_eq!(capture.rows, 0);
    assert_eq!(capture.pages, 1);
    assert_eq!(capture.record_total, Some(0));
    assert_eq!(capture.tier_identifier, "T2");
    assert_eq!(text(&out), format!("{FILE_HEADER}\n"));
    assert_eq!(capture.sha256, hex::encode(Sha256::digest(&out)));
}

#[tokio::test]
async fn non_monday_is_rejected_before_any_request() {
    let server = start(rows(10), ServerOptions::default()).await;
    let friday = NaiveDate::from_ymd_opt(2025, 12, 5).unwrap();
    let mut out = Vec::new();
    let err = client(config(&server))
        .fetch_week(friday, Tier::NmsTier1, &mut out)
        .await
        .expect_err("friday");
    assert!(
        matches!(err, ApiError::NotAMonday { monday, .. } if monday == week()),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "week start 2025-12-05 is a Fri, not a Monday: FINRA's weekStartDate is the Monday of \
         the week (that week's Monday is 2025-12-01)"
    );
    assert!(server.requests().is_empty());
    assert!(out.is_empty());
}

#[tokio::test]
async fn slow_server_times_out_retryably() {
    let options = ServerOptions {
        response_delay: Some(Duration::from_secs(3)),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let cfg = FinraApiConfig {
        request_timeout: Duration::from_millis(200),
        ..config(&server)
    };
    let started = std::time::Instant::now();
    let err = client(cfg)
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn refused_connection_is_retryable() {
    let port = {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let cfg = FinraApiConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        requests_per_second: 1_000.0,
        ..FinraApiConfig::default()
    };
    let err = client(cfg)
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("refused");
    assert!(matches!(err, ApiError::Connection { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("during page 1 (offset 0)"),
        "{err}"
    );
}

#[tokio::test]
async fn server_stops_when_dropped() {
    let server = start(rows(1), ServerOptions::default()).await;
    let cfg = config(&server);
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = client(cfg)
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("stopped");
    assert!(matches!(err, ApiError::Connection { .. }), "{err:?}");
}

#[test]
fn secret_never_appears_in_debug_output() {
    let cfg = FinraApiConfig {
        credentials: Some(Credentials::new(CLIENT_ID, SECRET)),
        ..FinraApiConfig::default()
    };
    let shown = format!("{cfg:?} {cfg:#?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains(CLIENT_ID));
    let client = FinraApiClient::new(cfg, None).unwrap();
    assert!(!format!("{client:?}").contains(SECRET));
    let token = BearerToken("tok-123".into());
    assert!(!format!("{token:?}").contains("tok-123"));
}

#[test]
fn configuration_is_validated() {
    let bad = [
        FinraApiConfig {
            page_limit: 0,
            ..FinraApiConfig::default()
        },
        FinraApiConfig {
            page_limit: 5_001,
            ..FinraApiConfig::default()
        },
        FinraApiConfig {
            requests_per_second: 0.0,
            ..FinraApiConfig::default()
        },
        FinraApiConfig {
            requests_per_second: f64::NAN,
            ..FinraApiConfig::default()
        },
        FinraApiConfig {
            base_url: "ftp://api.finra.org".into(),
            ..FinraApiConfig::default()
        },
        FinraApiConfig {
            tier_codes: TierCodes {
                otc: " ".into(),
                ..TierCodes::default()
            },
            ..FinraApiConfig::default()
        },
        FinraApiConfig {
            credentials: Some(Credentials::new("id", "secret")),
            token_url: "not a url".into(),
            ..FinraApiConfig::default()
        },
    ];
    for cfg in bad {
        let err = FinraApiClient::new(cfg.clone(), None).expect_err("invalid");
        assert!(
            matches!(err, ApiError::InvalidConfig { .. }),
            "{cfg:?}: {err:?}"
        );
        assert!(!err.is_retryable());
    }
    let defaults = FinraApiConfig::default();
    assert_eq!(defaults.base_url, "https://api.finra.org");
    assert_eq!(
        defaults.token_url,
        "https://ews.fip.finra.org/fip/rest/ews/oauth2/access_token"
    );
    assert_eq!(defaults.page_limit, 5_000);
    assert_eq!(defaults.requests_per_second, 10.0);
    assert_eq!(
        [Tier::NmsTier1, Tier::NmsTier2, Tier::Otc].map(|t| defaults.tier_codes.code(t).to_owned()),
        ["T1", "T2", "OTCE"]
    );
    assert_eq!(
        Tier::ALL
            .iter()
            .map(|t| t.finra_description())
            .collect::<Vec<_>>(),
        ["NMS Tier 1", "NMS Tier 2", "OTC"]
    );
}

#[test]
fn credentials_absent_from_the_environment_mean_anonymous() {
    let creds = Credentials::from_env(
        "SPINE_TEST_SURELY_UNSET_ID_7f3a",
        "SPINE_TEST_SURELY_UNSET_SECRET_7f3a",
    )
    .unwrap();
    assert!(creds.is_none());
}

#[tokio::test]
async fn default_limiter_spaces_requests() {
    let limiter = IntervalRateLimiter::new(20.0).unwrap();
    assert_eq!(limiter.interval(), Duration::from_millis(50));
    let started = std::time::Instant::now();
    for _ in 0..5 {
        limiter.acquire().await.unwrap();
    }
    // The first is immediate, the next four wait 50 ms each.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert!(IntervalRateLimiter::new(0.0).is_err());
    assert!(IntervalRateLimiter::new(f64::INFINITY).is_err());
}

#[tokio::test]
async fn one_client_serves_concurrent_tasks_with_one_token() {
    let mut data = dataset(rows(7_000));
    data.insert(
        (week(), "T2".to_owned()),
        (0..3_000)
            .map(|i| sample_row(week(), "T2", "NMS Tier 2", i))
            .collect(),
    );
    let options = ServerOptions {
        oauth: Some(oauth(None)),
        ..ServerOptions::default()
    };
    let server = TestServer::start(data, options).await.unwrap();
    let client = Arc::new(client(oauth_config(&server)));
    // `tokio::spawn` also proves the `fetch_week` future is `Send`.
    let tasks = [(Tier::NmsTier1, 7_000_u64), (Tier::NmsTier2, 3_000)].map(|(tier, rows)| {
        let client = Arc::clone(&client);
        tokio::spawn(async move {
            let mut out = Vec::new();
            let capture = client.fetch_week(week(), tier, &mut out).await.unwrap();
            assert_eq!(capture.rows, rows);
            assert_eq!(text(&out).lines().count() as u64, rows + 1);
        })
    });
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(server.token_requests().len(), 1);
    assert_eq!(server.data_requests().len(), 3);
}

/// A generated week (FINRA's exact format, `spine-gen`) served as JSON rows comes back as the
/// same file, byte for byte: the API path and the file path are one input to the parser.
#[tokio::test]
async fn rows_of_a_generated_file_come_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let files = spine_gen::generate(
        &spine_gen::GenConfig {
            weeks: 1,
            symbols: 40,
            mpids: 12,
            first_week_ending: NaiveDate::from_ymd_opt(2025, 12, 5).unwrap(),
            tiers: vec![Tier::Otc],
            ..spine_gen::GenConfig::default()
        },
        dir.path(),
    )
    .unwrap();
    let sample = std::fs::read_to_string(&files[0].path).unwrap();
    let data: Vec<Value> = sample
        .lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split('|').collect();
            // Quantities alternate between JSON numbers and strings.
            let quantity = |s: &str| {
                if i % 2 == 0 {
                    json!(s.parse::<u64>().unwrap())
                } else {
                    json!(s)
                }
            };
            json!({
                "weekStartDate": "2025-12-01", "tierIdentifier": "OTCE",
                "summaryTypeCode": "ATS_W_SMBL_FIRM", "tierDescription": f[0],
                "issueSymbolIdentifier": f[1], "issueName": f[2],
                "marketParticipantName": f[3], "MPID": f[4],
                "totalWeeklyShareQuantity": quantity(f[5]),
                "totalWeeklyTradeCount": quantity(f[6]), "lastUpdateDate": f[7],
            })
        })
        .collect();
    let rows = data.len() as u64;
    assert!(rows > 30, "{rows}");
    let server = TestServer::start(
        Dataset::from([((week(), "OTCE".to_owned()), data)]),
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let cfg = FinraApiConfig {
        page_limit: 15,
        ..config(&server)
    };
    let mut out = Vec::new();
    let capture = client(cfg)
        .fetch_week(week(), Tier::Otc, &mut out)
        .await
        .unwrap();
    assert_eq!(
        (capture.pages, capture.rows),
        (rows.div_ceil(15) as u32, rows)
    );
    assert_eq!(text(&out), sample);
    assert_eq!(capture.sha256, hex::encode(Sha256::digest(&sample)));
    assert_eq!(capture.max_last_update, Some(files[0].last_update));
}

#[tokio::test]
async fn the_probe_asks_for_the_latest_stamp_in_one_row() {
    let mut data = rows(30);
    data[17]["lastUpdateDate"] = json!("2025-12-22");
    let server = start(data, ServerOptions::default()).await;
    let stamp = client(config(&server))
        .week_stamp(week(), Tier::NmsTier1)
        .await
        .unwrap();
    assert_eq!(
        stamp,
        WeekStamp {
            record_total: Some(30),
            last_update: NaiveDate::from_ymd_opt(2025, 12, 22),
        }
    );
    let asked = &server.data_requests()[0];
    assert_eq!(asked.limit, Some(1));
    assert_eq!(asked.body["sortFields"], json!(["-lastUpdateDate"]));
    assert_eq!(asked.body["fields"], json!(["lastUpdateDate"]));

    let empty = TestServer::start(Dataset::new(), ServerOptions::default())
        .await
        .unwrap();
    let stamp = client(config(&empty))
        .week_stamp(week(), Tier::NmsTier1)
        .await
        .unwrap();
    assert_eq!(
        stamp,
        WeekStamp {
            record_total: Some(0),
            last_update: None,
        }
    );
}

#[tokio::test]
async fn a_page_that_is_not_json_keeps_its_hash_and_first_bytes() {
    let page = "<html><body>Service portal: please log in\x1b[0m</body></html>";
    let options = ServerOptions {
        garbage_body: Some(page.to_owned()),
        ..ServerOptions::default()
    };
    let server = start(rows(10), options).await;
    let err = client(config(&server))
        .fetch_week(week(), Tier::NmsTier1, &mut Vec::new())
        .await
        .expect_err("not JSON");
    assert!(matches!(err, ApiError::InvalidResponse { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let sample = err.body_sample().expect("a body sample");
    assert_eq!(sample.sha256, hex::encode(Sha256::digest(page.as_bytes())));
    assert_eq!(sample.bytes, page.len() as u64);
    assert!(
        sample.prefix.starts_with("<html><body>Service portal"),
        "{}",
        sample.prefix
    );
    assert!(!sample.prefix.chars().any(char::is_control));
}
