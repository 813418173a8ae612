//! A loopback imitation of FINRA's Query API, for tests (compiled for this crate's tests, and for
//! other crates with the `test-support` feature).
//!
//! [`TestServer::start`] listens on `127.0.0.1:0` and serves
//! `POST /data/group/otcMarket/name/weeklySummary` from an in-memory [`Dataset`] with FINRA's
//! paging (`limit` capped at 5,000, `Record-Total`/`Record-Offset`/`Record-Limit` headers),
//! filters read from `compareFilters`, one `sortFields` entry and `fields` (what the
//! `lastUpdateDate` probe asks), plus `POST /oauth2/token` when OAuth2 is enabled. Fault
//! knobs ([`ServerOptions`]) imitate what a real run meets: 429 with `Retry-After`, tokens that
//! expire, a 5xx, short pages, a missing or wrong `Record-Total`, a slow response. Every request
//! is recorded ([`TestServer::requests`]) so tests can assert what was asked and how often. The
//! server stops when its [`TestServer`] is dropped (or [`TestServer::shutdown`] is awaited).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use chrono::NaiveDate;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{SUMMARY_TYPE_CODE, WEEKLY_SUMMARY_PATH};

/// Path of the imitation token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// Rows served per (`weekStartDate`, `tierIdentifier`), all of summary type `ATS_W_SMBL_FIRM`,
/// in the order they are served.
pub type Dataset = HashMap<(NaiveDate, String), Vec<Value>>;

/// OAuth2 on the imitation: data requests need `Authorization: Bearer` with a live token.
#[derive(Debug, Clone)]
pub struct OAuthOptions {
    /// The client id accepted by the token endpoint (HTTP Basic user).
    pub client_id: String,
    /// The client secret accepted by the token endpoint (HTTP Basic password).
    pub client_secret: String,
    /// Token lifetime, also sent as `expires_in`.
    pub expires_in_secs: u64,
    /// A token is refused (401) after this many successful data requests (`Some(0)`: every
    /// token is refused on first use).
    pub max_requests_per_token: Option<u32>,
}

/// Behaviour knobs. Faults apply to data requests only, in this order: rate limit, auth,
/// `fail_once`, then the answer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Answer the first this-many data requests with 429.
    pub rate_limit_first: u32,
    /// The `Retry-After` value sent with those 429s (seconds or an HTTP-date); `None`: omitted.
    pub retry_after: Option<String>,
    /// Require OAuth2.
    pub oauth: Option<OAuthOptions>,
    /// Answer one data request (the first that passes rate limit and auth) with this status.
    pub fail_once: Option<u16>,
    /// Largest `limit` honoured (FINRA: 5,000).
    pub max_limit: u64,
    /// Serve at most this many rows per page whatever the limit (imitates FINRA's 3 MB cap).
    pub page_row_cap: Option<usize>,
    /// Send no `Record-Total` header.
    pub omit_record_total: bool,
    /// Send this `Record-Total` instead of the true count.
    pub record_total_override: Option<u64>,
    /// Wait this long before answering each data request.
    pub response_delay: Option<Duration>,
    /// Answer every data request that passes rate limit and auth with 200 and this body as
    /// `text/html` (a proxy's or portal's error page where data was expected).
    pub garbage_body: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            rate_limit_first: 0,
            retry_after: Some("1".into()),
            oauth: None,
            fail_once: None,
            max_limit: 5_000,
            page_row_cap: None,
            omit_record_total: false,
            record_total_override: None,
            response_delay: None,
            garbage_body: None,
        }
    }
}

/// Which endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `POST /data/group/otcMarket/name/weeklySummary`.
    Data,
    /// `POST /oauth2/token`.
    Token,
    /// Anything else (answered 404 or 405).
    Other,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The endpoint.
    pub kind: RequestKind,
    /// The status answered.
    pub status: u16,
    /// The body's `offset` (data requests whose body was readable).
    pub offset: Option<u64>,
    /// The body's `limit`, as sent (data requests whose body was readable).
    pub limit: Option<u64>,
    /// Whether an `Authorization: Bearer` header was present.
    pub bearer: bool,
    /// The JSON body of a data request (`Value::Null` when unreadable or not a data request).
    pub body: Value,
    /// When the server received it (before any `response_delay`), to check the spacing a
    /// rate limit imposes.
    pub received_at: Instant,
}

struct TokenState {
    issued: Instant,
    uses: u32,
}

#[derive(Default)]
struct Mutable {
    log: Vec<RecordedRequest>,
    data_requests: u32,
    tokens: HashMap<String, TokenState>,
    issued: Vec<String>,
    failed_once: bool,
}

struct Shared {
    dataset: Mutex<Dataset>,
    options: ServerOptions,
    state: Mutex<Mutable>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, Mutable> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running imitation; dropping it stops the server.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts serving `dataset` on `127.0.0.1:0`.
    pub async fn start(dataset: Dataset, options: ServerOptions) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            dataset: Mutex::new(dataset),
            options,
            state: Mutex::new(Mutable::default()),
        });
        let router = Router::new()
            .route(WEEKLY_SUMMARY_PATH, post(data))
            .route(TOKEN_PATH, post(token))
            .fallback(other)
            .with_state(Arc::clone(&shared));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `FinraApiConfig::base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint URL, for `FinraApiConfig::token_url`.
    pub fn token_url(&self) -> String {
        format!("http://{}{TOKEN_PATH}", self.addr)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().log.clone()
    }

    /// Data requests received, in order.
    pub fn data_requests(&self) -> Vec<RecordedRequest> {
        self.requests_of(RequestKind::Data)
    }

    /// Token requests received, in order.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.requests_of(RequestKind::Token)
    }

    /// Replaces the rows served for (`week`, `tier_identifier`): a re-publication.
    pub fn republish(&self, week: NaiveDate, tier_identifier: &str, rows: Vec<Value>) {
        self.shared
            .dataset
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((week, tier_identifier.to_owned()), rows);
    }

    /// Every access token issued (so tests can check none leaks into messages).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.state().issued.clone()
    }

    fn requests_of(&self, kind: RequestKind) -> Vec<RecordedRequest> {
        self.shared
            .state()
            .log
            .iter()
            .filter(|r| r.kind == kind)
            .cloned()
            .collect()
    }

    /// Stops accepting, lets open connections finish (at most 5 s), and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A complete, valid row (as FINRA's JSON has it) for tests: symbol `SYM{i:05}`, one of four
/// ATS MPIDs, quantities derived from `i` as JSON numbers.
pub fn sample_row(
    week_start: NaiveDate,
    tier_identifier: &str,
    tier_description: &str,
    i: usize,
) -> Value {
    const MPIDS: [(&str, &str); 4] = [
        ("ATSA", "ALPHA ATS"),
        ("ATSB", "BETA CROSSING"),
        ("ATSC", "GAMMA \"X\" POOL"),
        ("ATSD", "DELTA ECN"),
    ];
    let (mpid, name) = MPIDS[i % MPIDS.len()];
    json!({
        "weekStartDate": week_start.format("%Y-%m-%d").to_string(),
        "tierIdentifier": tier_identifier,
        "tierDescription": tier_description,
        "summaryTypeCode": SUMMARY_TYPE_CODE,
        "issueSymbolIdentifier": format!("SYM{i:05}"),
        "issueName": format!("Issue {i} Common Stock"),
        "MPID": mpid,
        "marketParticipantName": name,
        "firmCRDNumber": 100_000 + (i % MPIDS.len()),
        "totalWeeklyShareQuantity": i * 100 + 7,
        "totalWeeklyTradeCount": i % 50 + 1,
        "lastUpdateDate": "2025-12-15",
    })
}

/// The filters and paging of one data request.
struct Query {
    week: NaiveDate,
    tier: String,
    summary_type: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
    /// One sort field, descending when it starts with `-`.
    sort: Option<(String, bool)>,
    /// The fields to return (all when `None`).
    fields: Option<Vec<String>>,
}

fn parse_query(body: &Value) -> Result<Query, String> {
    let filters = body
        .get("compareFilters")
        .and_then(Value::as_array)
        .ok_or("compareFilters is missing or not a list")?;
    let mut week = None;
    let mut tier = None;
    let mut summary_type = None;
    for filter in filters {
        let field = |k: &str| filter.get(k).and_then(Value::as_str);
        if field("compareType") != Some("EQUAL") {
            return Err(format!("unsupported filter {filter}"));
        }
        let value = field("fieldValue").ok_or(format!("filter without fieldValue: {filter}"))?;
        match field("fieldName") {
            Some("weekStartDate") => {
                week = Some(
                    NaiveDate::parse_from_str(value, "%Y-%m-%d")
                        .map_err(|e| format!("bad weekStartDate `{value}`: {e}"))?,
                );
            }
            Some("tierIdentifier") => tier = Some(value.to_owned()),
            Some("summaryTypeCode") => summary_type = Some(value.to_owned()),
            _ => return Err(format!("unsupported filter {filter}")),
        }
    }
    let number = |k: &str| -> Result<Option<u64>, String> {
        body.get(k)
            .map(|v| v.as_u64().ok_or(format!("{k} is not a row count: {v}")))
            .transpose()
    };
    let sort = match body.get("sortFields") {
        None => None,
        Some(Value::Array(list)) if list.len() == 1 => {
            let field = list[0].as_str().ok_or("sortFields holds a non-string")?;
            Some(match field.strip_prefix('-') {
                Some(name) => (name.to_owned(), true),
                None => (field.to_owned(), false),
            })
        }
        Some(other) => return Err(format!("the test server sorts by one field, got {other}")),
    };
    let fields = match body.get("fields") {
        None => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|f| {
                    f.as_str()
                        .map(str::to_owned)
                        .ok_or("fields holds a non-string")
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => return Err(format!("fields is not a list: {other}")),
    };
    Ok(Query {
        sort,
        fields,
        week: week.ok_or("the test server needs a weekStartDate filter")?,
        tier: tier.ok_or("the test server needs a tierIdentifier filter")?,
        summary_type,
        limit: number("limit")?,
        offset: number("offset")?,
    })
}

fn error_json(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

async fn data(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let received_at = Instant::now();
    if let Some(delay) = shared.options.response_delay {
        tokio::time::sleep(delay).await;
    }
    let options = &shared.options;
    let parsed_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let mut state = shared.state();
    state.data_requests += 1;
    let number = state.data_requests;
    let mut record = RecordedRequest {
        kind: RequestKind::Data,
        status: 200,
        offset: parsed_body.get("offset").and_then(Value::as_u64),
        limit: parsed_body.get("limit").and_then(Value::as_u64),
        bearer: bearer.is_some(),
        body: parsed_body.clone(),
        received_at,
    };

    let response = 'answer: {
        if number <= options.rate_limit_first {
            let mut response = error_json(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            if let Some(wait) = &options.retry_after
                && let Ok(value) = HeaderValue::from_str(wait)
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            break 'answer response;
        }
        if let Some(oauth) = &options.oauth {
            let live = bearer
                .as_ref()
                .and_then(|t| state.tokens.get_mut(t))
                .and_then(|t| {
                    let expired = t.issued.elapsed() >= Duration::from_secs(oauth.expires_in_secs)
                        || oauth
                            .max_requests_per_token
                            .is_some_and(|max| t.uses >= max);
                    (!expired).then_some(t)
                });
            match live {
                Some(token) => token.uses += 1,
                None => {
                    break 'answer error_json(StatusCode::UNAUTHORIZED, "invalid or expired token");
                }
            }
        }
        if let Some(code) = options.fail_once
            && !state.failed_once
        {
            state.failed_once = true;
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            break 'answer error_json(status, "injected failure");
        }
        let accepts_json = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        if !accepts_json {
            break 'answer error_json(StatusCode::NOT_ACCEPTABLE, "send Accept: application/json");
        }
        let query = match parse_query(&parsed_body) {
            Ok(query) => query,
            Err(message) => break 'answer error_json(StatusCode::BAD_REQUEST, &message),
        };
        if let Some(body) = &options.garbage_body {
            let mut response = (StatusCode::OK, body.clone()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            break 'answer response;
        }
        let mut rows: Vec<Value> = match query.summary_type.as_deref() {
            Some(SUMMARY_TYPE_CODE) | None => shared
                .dataset
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&(query.week, query.tier.clone()))
                .cloned()
                .unwrap_or_default(),
            Some(_) => Vec::new(),
        };
        if let Some((field, descending)) = &query.sort {
            let key = |row: &Value| row.get(field).map(|v| v.to_string()).unwrap_or_default();
            rows.sort_by_key(key);
            if *descending {
                rows.reverse();
            }
        }
        if let Some(fields) = &query.fields {
            for row in &mut rows {
                if let Value::Object(map) = row {
                    map.retain(|k, _| fields.contains(k));
                }
            }
        }
        let limit = query.limit.unwrap_or(1_000).min(options.max_limit);
        let offset = query.offset.unwrap_or(0);
        let len = rows.len() as u64;
        let start = offset.min(len);
        let mut end = start.saturating_add(limit).min(len);
        if let Some(cap) = options.page_row_cap {
            end = end.min(start + cap as u64);
        }
        let page = Value::Array(rows[start as usize..end as usize].to_vec());
        let mut response = axum::Json(page).into_response();
        let headers = response.headers_mut();
        if !options.omit_record_total {
            let total = options.record_total_override.unwrap_or(len);
            headers.insert("Record-Total", HeaderValue::from(total));
        }
        headers.insert("Record-Offset", HeaderValue::from(offset));
        headers.insert("Record-Limit", HeaderValue::from(limit));
        response
    };
    record.status = response.status().as_u16();
    state.log.push(record);
    response
}

async fn token(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = shared.state();
    let response = 'answer: {
        let Some(oauth) = &shared.options.oauth else {
            break 'answer error_json(StatusCode::NOT_FOUND, "OAuth2 is not enabled");
        };
        let grant = |text: &str| {
            text.split('&')
                .any(|p| p == "grant_type=client_credentials")
        };
        let body_text = String::from_utf8_lossy(&body);
        if !(uri.query().is_some_and(grant) || grant(&body_text)) {
            break 'answer error_json(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .and_then(|raw| String::from_utf8(raw).ok());
        let expected = format!("{}:{}", oauth.client_id, oauth.client_secret);
        if basic.as_deref() != Some(expected.as_str()) {
            break 'answer error_json(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        let token = format!(
            "test-token-{}-{}",
            state.issued.len() + 1,
            std::process::id()
        );
        state.tokens.insert(
            token.clone(),
            TokenState {
                issued: Instant::now(),
                uses: 0,
            },
        );
        state.issued.push(token.clone());
        axum::Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": oauth.expires_in_secs,
        }))
        .into_response()
    };
    state.log.push(RecordedRequest {
        kind: RequestKind::Token,
        status: response.status().as_u16(),
        offset: None,
        limit: None,
        bearer: false,
        body: Value::Null,
        received_at: Instant::now(),
    });
    response
}

async fn other(State(shared): State<Arc<Shared>>) -> Response {
    shared.state().log.push(RecordedRequest {
        kind: RequestKind::Other,
        status: 404,
        offset: None,
        limit: None,
        bearer: false,
        body: Value::Null,
        received_at: Instant::now(),
    });
    error_json(StatusCode::NOT_FOUND, "no such endpoint")
}
