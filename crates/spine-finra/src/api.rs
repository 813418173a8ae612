//! FINRA's OTC Transparency Query API client: one (week, tier) partition of the `weeklySummary`
//! dataset, written as a FINRA weekly file (the `finra-api` source kind, see [`crate::sources`]).
//!
//! [`FinraApiClient::fetch_week`] asks `POST {base}/data/group/otcMarket/name/weeklySummary` for
//! the rows of one week (`weekStartDate`, the Monday), one tier (`tierIdentifier`) and the
//! summary type `ATS_W_SMBL_FIRM` (one row per symbol and ATS MPID: the grain of the weekly
//! files), pages through them with `offset` until `Record-Total` rows were read, and writes them
//! in FINRA's pipe-delimited file format: the header line, then one line per row in response
//! order. The project's existing file parser therefore validates API rows exactly like file rows
//! (row `k`, 1-based, is line `k + 1`), and nothing is validated twice or differently here.
//!
//! What this module decides and what it leaves to the caller:
//! - **Values are never repaired.** A quantity that is a JSON number or string is written as its
//!   text; anything else (null, a fraction, a bool, an object) is written as its JSON text so the
//!   parser rejects that row. A row is never dropped. A field holding `|`, CR or LF would break
//!   the line structure, so that row is written with those characters escaped and a ninth
//!   marker field, which the parser rejects as a wrong field count (see [`UNSAFE_FIELD_MARKER`]).
//! - **Rows of another week are written and counted** ([`ApiCapture::week_start_mismatches`]):
//!   the caller decides whether that makes the capture unusable.
//! - **An empty week is not an error**: it is `Ok` with [`ApiCapture::rows`] == 0, because only
//!   the caller knows whether "not published yet" is expected.
//! - **Failures are typed** ([`ApiError`]) with [`ApiError::is_retryable`],
//!   [`ApiError::retry_after`] and [`ApiError::http_status`], like the file/HTTP source's
//!   `SourceError`. On any error the output is incomplete and must be discarded (write it to a
//!   temporary file).
//! - **Rate limiting is pluggable** ([`RateLimiter`]): the limiter is awaited before every data
//!   request (OAuth2 token requests excluded), so several processes can share one budget; the
//!   `finra-api` source passes one that reserves slots in the database (`core_source_rate`).
//! - **429s**: a `Retry-After` up to [`FinraApiConfig::max_retry_after_wait`] (default 60 s) is
//!   waited out in place, at most [`FinraApiConfig::max_rate_limit_retries`] times per page; a
//!   longer one (or too many) is a retryable [`ApiError::RateLimited`] carrying the wait, so the
//!   worker backs off at least that long instead of holding a work item.
//! - **Tokens** are cached per (token URL, client id, secret) for the whole process, so every
//!   partition a worker fetches reuses one token until it is due for renewal, and a 401 renews it
//!   once.
//! - **Credentials are never shown**: the secret and bearer tokens are redacted from every
//!   `Debug` output, log line and error message.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spine_engine::sources::BodySample;
use spine_model::Tier;
use tokio::time::Instant;

/// FINRA's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.finra.org";
/// FINRA's OAuth2 token endpoint (client-credentials flow).
pub const DEFAULT_TOKEN_URL: &str = "https://ews.fip.finra.org/fip/rest/ews/oauth2/access_token";
/// The dataset's path below the base URL.
pub const WEEKLY_SUMMARY_PATH: &str = "/data/group/otcMarket/name/weeklySummary";
/// The summary type whose grain (symbol × ATS MPID) is that of the weekly files. Other codes
/// aggregate differently, and mixing two double-counts.
pub const SUMMARY_TYPE_CODE: &str = "ATS_W_SMBL_FIRM";
/// FINRA's largest page.
pub const MAX_PAGE_LIMIT: u32 = 5_000;
/// The header line of FINRA's weekly files (without the newline).
pub const FILE_HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";
/// The JSON keys written as the file's eight columns, in file order (they are the header names).
pub const FILE_FIELDS: [&str; 8] = [
    "tierDescription",
    "issueSymbolIdentifier",
    "issueName",
    "marketParticipantName",
    "MPID",
    "totalWeeklyShareQuantity",
    "totalWeeklyTradeCount",
    "lastUpdateDate",
];
/// Prefix of the ninth field appended to a row whose text contained `|`, CR or LF (followed by
/// the offending field names, comma-separated). Nine fields make the parser reject the row as a
/// wrong field count, while the stored raw line still shows what FINRA sent (escaped).
pub const UNSAFE_FIELD_MARKER: &str = "API_FIELD_HAS_DELIMITER:";

/// Sent with every request so FINRA can identify (and contact) the client.
const USER_AGENT: &str = concat!("market-spine/", env!("CARGO_PKG_VERSION"));
/// Wait used when a 429 carries no (or an unreadable) `Retry-After`: FINRA's limit is per second.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Renew a token this long before it expires (at most a fifth of its lifetime).
const TOKEN_RENEWAL_MARGIN: Duration = Duration::from_secs(60);
/// Largest page body accepted. FINRA caps pages at 3 MB; ten times that means something is wrong.
const MAX_PAGE_BYTES: u64 = 32 * 1024 * 1024;
/// Largest token response accepted.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;
/// Rows read at most when the server sends no `Record-Total` (bounds the page count): far above
/// any week of one tier (tens of thousands of rows).
const MAX_ROWS_WITHOUT_TOTAL: u64 = 5_000_000;
/// How much of an error body is quoted in an error message.
const ERROR_SNIPPET_CHARS: usize = 300;

/// FINRA's `tierIdentifier` filter value per tier.
///
/// Configurable because clients disagree on the OTC code (`OTCE` vs `OTC`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCodes {
    /// Code for NMS Tier 1 (default `T1`).
    pub nms_tier1: String,
    /// Code for NMS Tier 2 (default `T2`).
    pub nms_tier2: String,
    /// Code for OTC equities (default `OTCE`).
    pub otc: String,
}

impl TierCodes {
    /// The `tierIdentifier` sent for `tier`.
    pub fn code(&self, tier: Tier) -> &str {
        match tier {
            Tier::NmsTier1 => &self.nms_tier1,
            Tier::NmsTier2 => &self.nms_tier2,
            Tier::Otc => &self.otc,
        }
    }
}

impl Default for TierCodes {
    fn default() -> Self {
        Self {
            nms_tier1: "T1".into(),
            nms_tier2: "T2".into(),
            otc: "OTCE".into(),
        }
    }
}

/// OAuth2 client credentials.
///
/// The secret is only reachable by this module: `Debug` redacts it, and no error or log line
/// contains it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    client_id: String,
    client_secret: String,
}

impl Credentials {
    /// Suggested environment variable for the client id.
    pub const ENV_CLIENT_ID: &'static str = "FINRA_API_CLIENT_ID";
    /// Suggested environment variable for the client secret.
    pub const ENV_CLIENT_SECRET: &'static str = "FINRA_API_CLIENT_SECRET";

    /// Credentials from an id and a secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// Reads the credentials from two environment variables: `Ok(None)` when neither is set
    /// (anonymous access), an error naming the variables (never their values) when only one is
    /// set, or a value is not Unicode.
    pub fn from_env(id_var: &str, secret_var: &str) -> Result<Option<Self>, ApiError> {
        let read = |name: &str| match std::env::var(name) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ApiError::InvalidConfig {
                reason: format!("environment variable {name} is not valid Unicode"),
            }),
        };
        match (read(id_var)?, read(secret_var)?) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => Ok(Some(Self::new(id, secret))),
            (Some(_), None) => Err(ApiError::InvalidConfig {
                reason: format!("{id_var} is set but {secret_var} is not: set both or neither"),
            }),
            (None, Some(_)) => Err(ApiError::InvalidConfig {
                reason: format!("{secret_var} is set but {id_var} is not: set both or neither"),
            }),
        }
    }

    /// The client id (not secret, but still kept out of error messages).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Settings of a [`FinraApiClient`]. `Debug` is safe to log: the secret is redacted.
#[derive(Debug, Clone)]
pub struct FinraApiConfig {
    /// API base URL, without the dataset path (default [`DEFAULT_BASE_URL`]).
    pub base_url: String,
    /// OAuth2 token endpoint (default [`DEFAULT_TOKEN_URL`]). When its query string already
    /// carries `grant_type` (as FINRA's own examples write it), the token request has no body;
    /// otherwise `grant_type=client_credentials` is sent as a form body (RFC 6749).
    pub token_url: String,
    /// `None`: anonymous requests. `Some`: OAuth2 client credentials.
    pub credentials: Option<Credentials>,
    /// `tierIdentifier` per tier.
    pub tier_codes: TierCodes,
    /// Rows asked per page, 1..=5000 (default 5000).
    pub page_limit: u32,
    /// Rate of the default in-process limiter (default 10/s, half FINRA's published 20/s).
    pub requests_per_second: f64,
    /// Longest time one request (send and full body) may take (default 30 s).
    pub request_timeout: Duration,
    /// Longest `Retry-After` this client sleeps through (default 60 s); a longer one is returned
    /// as a retryable [`ApiError::RateLimited`] carrying the wait.
    pub max_retry_after_wait: Duration,
    /// How many 429s in a row one page may get before giving up with
    /// [`ApiError::RateLimited`] (default 5).
    pub max_rate_limit_retries: u32,
}

impl FinraApiConfig {
    /// Default for [`FinraApiConfig::requests_per_second`].
    pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 10.0;
    /// Default for [`FinraApiConfig::request_timeout`].
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default for [`FinraApiConfig::max_retry_after_wait`].
    pub const DEFAULT_MAX_RETRY_AFTER_WAIT: Duration = Duration::from_secs(60);
    /// Default for [`FinraApiConfig::max_rate_limit_retries`].
    pub const DEFAULT_MAX_RATE_LIMIT_RETRIES: u32 = 5;

    fn validate(&self) -> Result<(), ApiError> {
        let invalid = |reason: String| Err(ApiError::InvalidConfig { reason });
        if !(1..=MAX_PAGE_LIMIT).contains(&self.page_limit) {
            return invalid(format!(
                "page_limit {} is outside 1..={MAX_PAGE_LIMIT}",
                self.page_limit
            ));
        }
        if !(self.requests_per_second.is_finite() && self.requests_per_second > 0.0) {
            return invalid(format!(
                "requests_per_second {} must be a positive number",
                self.requests_per_second
            ));
        }
        if self.request_timeout.is_zero() {
            return invalid("request_timeout must be positive".into());
        }
        for &tier in Tier::ALL {
            if self.tier_codes.code(tier).trim().is_empty() {
                return invalid(format!("the tierIdentifier for {tier} is empty"));
            }
        }
        Ok(())
    }
}

impl Default for FinraApiConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            token_url: DEFAULT_TOKEN_URL.into(),
            credentials: None,
            tier_codes: TierCodes::default(),
            page_limit: MAX_PAGE_LIMIT,
            requests_per_second: Self::DEFAULT_REQUESTS_PER_SECOND,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_retry_after_wait: Self::DEFAULT_MAX_RETRY_AFTER_WAIT,
            max_rate_limit_retries: Self::DEFAULT_MAX_RATE_LIMIT_RETRIES,
        }
    }
}

/// Paces data requests. [`FinraApiClient`] awaits [`RateLimiter::acquire`] before every data
/// request (retries included, OAuth2 token requests excluded).
///
/// The default is [`IntervalRateLimiter`] (one process); a limiter shared by several processes
/// (e.g. backed by the database) plugs in here.
pub trait RateLimiter: Send + Sync {
    /// Resolves when one more request may be sent; an error (e.g. the database holding a
    /// shared budget failed) stops the fetch with a retryable [`ApiError::RateLimiter`].
    fn acquire(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// In-process limiter: requests are spaced at least `1 / requests_per_second` apart (no bursts),
/// in the order they asked. Shareable between tasks of one process.
#[derive(Debug)]
pub struct IntervalRateLimiter {
    interval: Duration,
    next_slot: Mutex<Option<Instant>>,
}

impl IntervalRateLimiter {
    /// A limiter allowing `requests_per_second` (clamped to at most one request a day, and to
    /// no limit for values too large to represent as an interval); non-positive or non-finite
    /// rates are rejected.
    pub fn new(requests_per_second: f64) -> Result<Self, ApiError> {
        if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
            return Err(ApiError::InvalidConfig {
                reason: format!(
                    "requests_per_second {requests_per_second} must be a positive number"
                ),
            });
        }
        let day = Duration::from_secs(86_400);
        let interval = Duration::try_from_secs_f64(1.0 / requests_per_second)
            .unwrap_or(day)
            .min(day);
        Ok(Self::with_interval(interval))
    }

    /// A limiter spacing requests `interval` apart.
    pub fn with_interval(interval: Duration) -> Self {
        Self {
            interval,
            next_slot: Mutex::new(None),
        }
    }

    /// The spacing between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl RateLimiter for IntervalRateLimiter {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        // Reserve the slot under the lock, sleep outside it: waiters are served in order.
        let slot = {
            let mut next = self
                .next_slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        Box::pin(async move {
            tokio::time::sleep_until(slot).await;
            Ok(())
        })
    }
}

/// Which request of a run an error is about, for people reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestRef {
    /// A data page: `page` is 1-based, `offset` is the row offset sent.
    Page {
        /// 1-based page number.
        page: u32,
        /// Row offset of the page.
        offset: u64,
    },
    /// The OAuth2 token request.
    Token,
    /// The one-row request asking for the week's latest `lastUpdateDate` (whether anything
    /// changed since the last fetch).
    Probe,
}

impl fmt::Display for RequestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page { page, offset } => write!(f, "page {page} (offset {offset})"),
            Self::Token => f.write_str("the OAuth2 token request"),
            Self::Probe => f.write_str("the lastUpdateDate probe"),
        }
    }
}

/// Why a week could not be read from the API.
///
/// Messages say what happened, at which URL and which page/offset; none contains credentials
/// or tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The requested week start is not a Monday; nothing was sent.
    #[error(
        "week start {week_start} is a {weekday}, not a Monday: FINRA's weekStartDate is the Monday \
         of the week (that week's Monday is {monday})"
    )]
    NotAMonday {
        /// The date given.
        week_start: NaiveDate,
        /// Its weekday.
        weekday: Weekday,
        /// The Monday of the same week.
        monday: NaiveDate,
    },
    /// The configuration (or a URL in it) is unusable; nothing was sent. Never retryable.
    #[error("invalid FINRA API configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// HTTP 429 with a wait longer than [`FinraApiConfig::max_retry_after_wait`], or too many
    /// 429s in a row. Retryable after [`ApiError::retry_after`].
    #[error("FINRA rate-limited {request} of POST {url} (HTTP 429): {reason}")]
    RateLimited {
        /// The URL requested.
        url: String,
        /// Which request.
        request: RequestRef,
        /// The wait FINRA asked for, if it said.
        retry_after: Option<Duration>,
        /// Why this client stopped waiting.
        reason: String,
    },
    /// An HTTP error status (other than 401 and 429). Retryable for 5xx and 408.
    #[error("HTTP {status} from POST {url} for {request}{}", detail_suffix(.detail))]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// Which request.
        request: RequestRef,
        /// The status code.
        status: u16,
        /// The start of the response body, if any (credentials redacted).
        detail: String,
    },
    /// Authentication failed: the token endpoint refused the credentials, a freshly issued token
    /// was refused too (a second 401), or FINRA demands credentials and none are configured.
    /// Never retryable: a person must fix the credentials.
    #[error("not authorized by {url} for {request} (HTTP {status}): {reason}")]
    Unauthorized {
        /// The URL that refused.
        url: String,
        /// Which request.
        request: RequestRef,
        /// The status code (401, or the token endpoint's 400/401/403).
        status: u16,
        /// What happened and what to do.
        reason: String,
    },
    /// No complete response within [`FinraApiConfig::request_timeout`].
    #[error("timed out after {after:?} waiting for POST {url} ({request})")]
    Timeout {
        /// The URL requested.
        url: String,
        /// Which request.
        request: RequestRef,
        /// The configured timeout.
        after: Duration,
    },
    /// The transfer failed below HTTP (refused, reset, truncated body, DNS, TLS).
    #[error("connection to {url} failed during {request}: {detail}")]
    Connection {
        /// The URL requested.
        url: String,
        /// Which request.
        request: RequestRef,
        /// The underlying error chain.
        detail: String,
    },
    /// A successful status with a body or headers this client cannot read (not a JSON array,
    /// an unparsable paging header, a token response without `access_token`…).
    #[error("unexpected response from {url} to {request}: {detail}")]
    InvalidResponse {
        /// The URL requested.
        url: String,
        /// Which request.
        request: RequestRef,
        /// What is wrong.
        detail: String,
        /// The hash, size and first bytes of a data page that is not FINRA data (never of a
        /// token response, which may hold a token).
        body: Option<BodySample>,
    },
    /// The rate limiter could not give a slot (a shared budget's database failed). Retryable.
    #[error("cannot reserve a request slot for {url}: {detail}")]
    RateLimiter {
        /// The URL about to be requested.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The pages do not add up: an empty page before `Record-Total` rows were read, more rows
    /// than `Record-Total`, a total that changed between pages, a page at another offset, or
    /// more pages than the total can need. Usually a re-publication during the run, so
    /// retryable.
    #[error("inconsistent paging from {url} at {request}: {detail}")]
    Paging {
        /// The URL requested.
        url: String,
        /// The page where it was noticed.
        request: RequestRef,
        /// What does not add up.
        detail: String,
    },
    /// Writing the rows to the caller's output failed.
    #[error("cannot write the FINRA rows to the output: {source}")]
    Output {
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl ApiError {
    /// Whether the same request may succeed later without anyone changing anything: 429, 5xx,
    /// 408, timeouts, connection failures and inconsistent paging.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::RateLimiter { .. }
            | Self::Timeout { .. }
            | Self::Connection { .. }
            | Self::Paging { .. } => true,
            Self::HttpStatus { status, .. } => *status >= 500 || matches!(*status, 408 | 429),
            Self::NotAMonday { .. }
            | Self::InvalidConfig { .. }
            | Self::Unauthorized { .. }
            | Self::InvalidResponse { .. }
            | Self::Output { .. } => false,
        }
    }

    /// How long FINRA asked to wait before retrying (429 only).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The hash, size and first bytes of a data page that was not FINRA data.
    pub fn body_sample(&self) -> Option<&BodySample> {
        match self {
            Self::InvalidResponse { body, .. } => body.as_ref(),
            _ => None,
        }
    }

    /// The HTTP status behind the error, if the server answered with one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::RateLimited { .. } => Some(429),
            Self::HttpStatus { status, .. } | Self::Unauthorized { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A stable upper-case code per variant, for anomaly records.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAMonday { .. } => "FINRA_API_NOT_A_MONDAY",
            Self::InvalidConfig { .. } => "FINRA_API_INVALID_CONFIG",
            Self::RateLimited { .. } => "FINRA_API_RATE_LIMITED",
            Self::HttpStatus { .. } => "FINRA_API_HTTP_STATUS",
            Self::Unauthorized { .. } => "FINRA_API_UNAUTHORIZED",
            Self::Timeout { .. } => "FINRA_API_TIMEOUT",
            Self::Connection { .. } => "FINRA_API_CONNECTION",
            Self::InvalidResponse { .. } => "FINRA_API_INVALID_RESPONSE",
            Self::Paging { .. } => "FINRA_API_PAGING",
            Self::RateLimiter { .. } => "FINRA_API_RATE_LIMITER",
            Self::Output { .. } => "FINRA_API_OUTPUT",
        }
    }
}

/// What [`FinraApiClient::fetch_week`] did: enough for an auditor to replay the request and to
/// check the written bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiCapture {
    /// The data URL (POST).
    pub url: String,
    /// The first page's JSON body (offset 0); later pages differ only in `offset`.
    pub request_body: Value,
    /// Data pages read (retried requests count once).
    pub pages: u32,
    /// Rows written (lines after the header). 0 means FINRA has nothing for this week and tier
    /// (yet).
    pub rows: u64,
    /// `Record-Total` of the first page, if the server sent it.
    pub record_total: Option<u64>,
    /// The `summaryTypeCode` filter ([`SUMMARY_TYPE_CODE`]).
    pub summary_type: String,
    /// The `weekStartDate` filter (a Monday).
    pub week_start: NaiveDate,
    /// The tier asked for.
    pub tier: Tier,
    /// The `tierIdentifier` filter sent for it.
    pub tier_identifier: String,
    /// Rows whose `weekStartDate` is missing or not `week_start` (written anyway).
    pub week_start_mismatches: u64,
    /// Rows with a value of an unexpected JSON type (a quantity that is not an integer number or
    /// a string, a text field that is not a string, a row that is not an object), written as
    /// JSON text so the parser rejects or shows it.
    pub unexpected_type_rows: u64,
    /// Rows with `|`, CR or LF inside a field, written with [`UNSAFE_FIELD_MARKER`] so the
    /// parser rejects them.
    pub unsafe_text_rows: u64,
    /// The latest `lastUpdateDate` of the rows (those whose stamp is a `YYYY-MM-DD` date): what
    /// the next fetch compares the probe's answer with ([`FinraApiClient::week_stamp`]).
    pub max_last_update: Option<NaiveDate>,
    /// Whether the requests carried an OAuth2 token.
    pub authenticated: bool,
    /// Bytes written to the output.
    pub bytes: u64,
    /// SHA-256 of the bytes written, lower-case hex.
    pub sha256: String,
}

/// A bearer token; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
struct BearerToken(String);

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

#[derive(Debug)]
struct CachedToken {
    token: BearerToken,
    /// When to fetch a new one; `None` when the server gave no lifetime (renewed on a 401).
    renew_at: Option<Instant>,
}

/// One page as received.
struct Page {
    rows: Vec<Value>,
    record_total: Option<u64>,
    record_offset: Option<u64>,
}

/// Client for FINRA's OTC Transparency `weeklySummary` dataset. Cheap to share (`&self`
/// methods, `Send + Sync`); the OAuth2 token is cached across calls.
pub struct FinraApiClient {
    config: FinraApiConfig,
    http: reqwest::Client,
    limiter: Arc<dyn RateLimiter>,
    data_url: String,
    token: TokenSlot,
}

/// Where a client keeps its OAuth2 token: shared by every client of the process with the same
/// token URL and credentials, so a worker fetching many partitions reuses one token.
type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// The token slot of `config`'s credentials (a fresh one when anonymous).
fn token_slot(config: &FinraApiConfig) -> TokenSlot {
    static SLOTS: std::sync::OnceLock<Mutex<std::collections::HashMap<String, TokenSlot>>> =
        std::sync::OnceLock::new();
    let Some(credentials) = &config.credentials else {
        return TokenSlot::default();
    };
    // The secret is part of the key only as a hash: a changed secret gets its own token.
    let key = format!(
        "{}\n{}\n{}",
        config.token_url,
        credentials.client_id,
        hex::encode(Sha256::digest(credentials.client_secret.as_bytes()))
    );
    SLOTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default()
        .clone()
}

/// What the probe learned about one week and tier ([`FinraApiClient::week_stamp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekStamp {
    /// `Record-Total`: how many rows the week has, if the server said.
    pub record_total: Option<u64>,
    /// The latest `lastUpdateDate` of its rows; `None` when it has none.
    pub last_update: Option<NaiveDate>,
}

impl fmt::Debug for FinraApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinraApiClient")
            .field("config", &self.config)
            .field("data_url", &self.data_url)
            .finish_non_exhaustive()
    }
}

impl FinraApiClient {
    /// Builds a client. `limiter: None` uses an [`IntervalRateLimiter`] at
    /// [`FinraApiConfig::requests_per_second`]. Fails on an invalid configuration.
    pub fn new(
        config: FinraApiConfig,
        limiter: Option<Arc<dyn RateLimiter>>,
    ) -> Result<Self, ApiError> {
        config.validate()?;
        let base = parse_http_url("base_url", &config.base_url)?;
        if config.credentials.is_some() {
            parse_http_url("token_url", &config.token_url)?;
        }
        let data_url = format!(
            "{}{WEEKLY_SUMMARY_PATH}",
            config.base_url.trim_end_matches('/')
        );
        let limiter = match limiter {
            Some(limiter) => limiter,
            None => Arc::new(IntervalRateLimiter::new(config.requests_per_second)?),
        };
        spine_engine::source::install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.request_timeout)
            .timeout(config.request_timeout);
        if is_loopback(&base) {
            // A proxy from the environment must never see (or break) loopback traffic.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| ApiError::InvalidConfig {
            reason: format!("cannot build the HTTP client: {}", error_chain(&e)),
        })?;
        Ok(Self {
            token: token_slot(&config),
            config,
            http,
            limiter,
            data_url,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &FinraApiConfig {
        &self.config
    }

    /// The data URL every page is POSTed to.
    pub fn data_url(&self) -> &str {
        &self.data_url
    }

    /// The JSON body of one page request.
    pub fn request_body(&self, week_start: NaiveDate, tier: Tier, offset: u64) -> Value {
        request_body(
            week_start,
            self.config.tier_codes.code(tier),
            self.config.page_limit,
            offset,
        )
    }

    /// Asks for the week's latest `lastUpdateDate` with one one-row request (`fields`,
    /// `sortFields: ["-lastUpdateDate"]`, `limit: 1`): FINRA re-stamps a week it revises, so
    /// an unchanged stamp means the rows are those already captured, and the download is skipped.
    pub async fn week_stamp(
        &self,
        week_start: NaiveDate,
        tier: Tier,
    ) -> Result<WeekStamp, ApiError> {
        let mut body = request_body(week_start, self.config.tier_codes.code(tier), 1, 0);
        body["fields"] = json!(["lastUpdateDate"]);
        body["sortFields"] = json!(["-lastUpdateDate"]);
        let page = self.fetch_page(&body, RequestRef::Probe).await?;
        Ok(WeekStamp {
            record_total: page.record_total,
            last_update: page
                .rows
                .first()
                .and_then(|row| row.get("lastUpdateDate"))
                .and_then(Value::as_str)
                .and_then(date_prefix),
        })
    }

    /// Reads every `ATS_W_SMBL_FIRM` row of one week (`week_start`, a Monday) and tier, and
    /// writes them to `out` as a FINRA weekly file (header line, then one line per row in
    /// response order).
    ///
    /// Pages by `offset` until `Record-Total` rows were read (without that header: until a page
    /// is shorter than the limit). 429s with a short enough `Retry-After` are slept through;
    /// a 401 renews the OAuth2 token and retries that page once. On error, `out` holds an
    /// incomplete file and must be discarded.
    pub async fn fetch_week(
        &self,
        week_start: NaiveDate,
        tier: Tier,
        out: &mut (impl Write + Send),
    ) -> Result<ApiCapture, ApiError> {
        let weekday = week_start.weekday();
        if weekday != Weekday::Mon {
            return Err(ApiError::NotAMonday {
                week_start,
                weekday,
                monday: week_start - chrono::Days::new(u64::from(weekday.num_days_from_monday())),
            });
        }
        let tier_identifier = self.config.tier_codes.code(tier).to_owned();
        let limit = u64::from(self.config.page_limit);
        let week_text = week_start.format("%Y-%m-%d").to_string();

        let mut out = HashingWriter::new(out);
        let mut capture = ApiCapture {
            url: self.data_url.clone(),
            request_body: request_body(week_start, &tier_identifier, self.config.page_limit, 0),
            pages: 0,
            rows: 0,
            record_total: None,
            summary_type: SUMMARY_TYPE_CODE.into(),
            week_start,
            tier,
            tier_identifier,
            week_start_mismatches: 0,
            unexpected_type_rows: 0,
            unsafe_text_rows: 0,
            max_last_update: None,
            authenticated: self.config.credentials.is_some(),
            bytes: 0,
            sha256: String::new(),
        };
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(FILE_HEADER.as_bytes());
        buf.push(b'\n');
        out.write_all(&buf)
            .map_err(|source| ApiError::Output { source })?;

        let mut offset = 0_u64;
        let mut max_pages = MAX_ROWS_WITHOUT_TOTAL.div_ceil(limit) + 1;
        loop {
            let request = RequestRef::Page {
                page: capture.pages + 1,
                offset,
            };
            let paging = |detail: String| ApiError::Paging {
                url: self.data_url.clone(),
                request,
                detail,
            };
            let body = request_body(
                week_start,
                &capture.tier_identifier,
                self.config.page_limit,
                offset,
            );
            let page = self.fetch_page(&body, request).await?;
            capture.pages += 1;

            if let Some(served) = page.record_offset
                && served != offset
            {
                return Err(paging(format!(
                    "asked for offset {offset}, the server answered Record-Offset {served}"
                )));
            }
            if capture.pages == 1 {
                capture.record_total = page.record_total;
                if let Some(total) = page.record_total {
                    // Full pages need ceil(total / limit); short pages (FINRA's 3 MB cap) may
                    // need up to twice that.
                    max_pages = total.div_ceil(limit) * 2 + 2;
                }
            } else if let (Some(first), Some(now)) = (capture.record_total, page.record_total)
                && first != now
            {
                return Err(paging(format!(
                    "Record-Total changed from {first} to {now} between pages (FINRA may be \
                     re-publishing this week)"
                )));
            }

            let n = page.rows.len() as u64;
            buf.clear();
            for row in &page.rows {
                let written = write_row(&mut buf, row, &week_text);
                capture.rows += 1;
                if written.week_mismatch {
                    capture.week_start_mismatches += 1;
                }
                if written.unexpected_type {
                    capture.unexpected_type_rows += 1;
                }
                if let Some(stamp) = written.last_update {
                    capture.max_last_update = capture.max_last_update.max(Some(stamp));
                }
                if !written.unsafe_fields.is_empty() {
                    capture.unsafe_text_rows += 1;
                    tracing::warn!(
                        url = %self.data_url, week = %week_text, row = capture.rows,
                        fields = %written.unsafe_fields.join(","),
                        "FINRA row has a field containing `|`, CR or LF; written so the parser rejects it"
                    );
                }
            }
            out.write_all(&buf)
                .map_err(|source| ApiError::Output { source })?;
            tracing::debug!(
                url = %self.data_url, week = %week_text, tier = %capture.tier_identifier,
                page = capture.pages, offset, rows = n, record_total = ?capture.record_total,
                "read FINRA API page"
            );

            match capture.record_total {
                Some(total) if capture.rows > total => {
                    return Err(paging(format!(
                        "{} rows received, more than Record-Total {total}",
                        capture.rows
                    )));
                }
                Some(total) if capture.rows == total => break,
                Some(total) if n == 0 => {
                    return Err(paging(format!(
                        "empty page after {} of Record-Total {total} rows",
                        capture.rows
                    )));
                }
                Some(_) => {}
                None if n < limit => break,
                None => {}
            }
            if u64::from(capture.pages) >= max_pages {
                return Err(paging(format!(
                    "gave up after {} pages and {} rows (Record-Total {:?}, limit {limit}): the \
                     server is not making progress",
                    capture.pages, capture.rows, capture.record_total
                )));
            }
            offset += n;
        }

        out.flush().map_err(|source| ApiError::Output { source })?;
        capture.bytes = out.len;
        capture.sha256 = hex::encode(out.hasher.finalize());
        tracing::info!(
            url = %capture.url, week = %week_text, tier = %capture.tier_identifier,
            pages = capture.pages, rows = capture.rows,
            week_start_mismatches = capture.week_start_mismatches,
            "fetched FINRA weekly summary from the API"
        );
        Ok(capture)
    }

    /// Sends one page request until it succeeds or fails for good: sleeps through short 429s
    /// and renews the token once on a 401.
    async fn fetch_page(&self, body: &Value, request: RequestRef) -> Result<Page, ApiError> {
        let url = &self.data_url;
        let mut rate_limited = 0_u32;
        let mut renewed_after_401 = false;
        loop {
            let token = self.bearer_token().await?;
            self.limiter
                .acquire()
                .await
                .map_err(|detail| ApiError::RateLimiter {
                    url: url.clone(),
                    detail,
                })?;
            let mut builder = self
                .http
                .post(url.as_str())
                .header(ACCEPT, "application/json")
                .json(body);
            if let Some(token) = &token {
                builder = builder.bearer_auth(&token.0);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| self.transport_error(url, request, e))?;
            let status = response.status();
            match status {
                StatusCode::OK | StatusCode::NO_CONTENT => {
                    return self.read_page(url, request, response).await;
                }
                StatusCode::UNAUTHORIZED => {
                    let Some(token) = token else {
                        return Err(ApiError::Unauthorized {
                            url: url.clone(),
                            request,
                            status: 401,
                            reason: "FINRA requires OAuth2 credentials for this dataset and none \
                                     are configured"
                                .into(),
                        });
                    };
                    if renewed_after_401 {
                        return Err(ApiError::Unauthorized {
                            url: url.clone(),
                            request,
                            status: 401,
                            reason: "a freshly issued OAuth2 token was refused too; check the \
                                     client's entitlements"
                                .into(),
                        });
                    }
                    renewed_after_401 = true;
                    tracing::info!(%url, %request, "HTTP 401: renewing the OAuth2 token and retrying once");
                    self.forget_token(&token).await;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let asked = retry_after(response.headers(), Utc::now());
                    let wait = asked.unwrap_or(DEFAULT_RETRY_AFTER);
                    let reason = if wait > self.config.max_retry_after_wait {
                        Some(format!(
                            "asked to wait {}s, longer than the {}s this client waits; retry later",
                            wait.as_secs_f64(),
                            self.config.max_retry_after_wait.as_secs_f64()
                        ))
                    } else if rate_limited >= self.config.max_rate_limit_retries {
                        Some(format!(
                            "still rate-limited after {rate_limited} waits; retry later"
                        ))
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        return Err(ApiError::RateLimited {
                            url: url.clone(),
                            request,
                            retry_after: Some(wait),
                            reason,
                        });
                    }
                    rate_limited += 1;
                    tracing::warn!(%url, %request, wait_secs = wait.as_secs_f64(), "HTTP 429: waiting as FINRA asks");
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    let detail = self.error_snippet(response, token.as_ref()).await;
                    if status.is_success() {
                        return Err(ApiError::InvalidResponse {
                            url: url.clone(),
                            request,
                            detail: format!(
                                "unexpected success status {status}{}",
                                detail_suffix(&detail)
                            ),
                            body: None,
                        });
                    }
                    return Err(ApiError::HttpStatus {
                        url: url.clone(),
                        request,
                        status: status.as_u16(),
                        detail,
                    });
                }
            }
        }
    }

    async fn read_page(
        &self,
        url: &str,
        request: RequestRef,
        mut response: reqwest::Response,
    ) -> Result<Page, ApiError> {
        let invalid = |detail: String| ApiError::InvalidResponse {
            url: url.to_owned(),
            request,
            detail,
            body: None,
        };
        let header = |name: &str| -> Result<Option<u64>, ApiError> {
            response
                .headers()
                .get(name)
                .map(|v| {
                    v.to_str()
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .ok_or_else(|| invalid(format!("header {name} is not a row count: {v:?}")))
                })
                .transpose()
        };
        let record_total = header("Record-Total")?;
        let record_offset = header("Record-Offset")?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, request, e))?
        {
            if (body.len() + chunk.len()) as u64 > MAX_PAGE_BYTES {
                return Err(invalid(format!("page body exceeds {MAX_PAGE_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        // A 204 or an empty body is "no rows" (some APIs answer an empty result that way).
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Page {
                rows: Vec::new(),
                record_total,
                record_offset,
            });
        }
        let not_data = |detail: String| ApiError::InvalidResponse {
            url: url.to_owned(),
            request,
            detail,
            body: Some(BodySample::of_bytes(&body)),
        };
        let rows = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Array(rows)) => rows,
            Ok(other) => {
                return Err(not_data(format!(
                    "expected a JSON array of rows, got {}: {}",
                    json_kind(&other),
                    snippet(&String::from_utf8_lossy(&body))
                )));
            }
            Err(e) => {
                return Err(not_data(format!(
                    "the body is not JSON ({e}): {}",
                    snippet(&String::from_utf8_lossy(&body))
                )));
            }
        };
        Ok(Page {
            rows,
            record_total,
            record_offset,
        })
    }

    /// The token to send, fetching (or renewing) it first when needed; `None` when anonymous.
    async fn bearer_token(&self) -> Result<Option<BearerToken>, ApiError> {
        let Some(credentials) = &self.config.credentials else {
            return Ok(None);
        };
        // Held across the token request so concurrent pages wait for one renewal.
        let mut cached = self.token.lock().await;
        if let Some(current) = cached.as_ref()
            && current.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(Some(current.token.clone()));
        }
        let fresh = self.request_token(credentials).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(Some(token))
    }

    /// Drops the cached token if it is still the one that was refused.
    async fn forget_token(&self, refused: &BearerToken) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == refused) {
            *cached = None;
        }
    }

    async fn request_token(&self, credentials: &Credentials) -> Result<CachedToken, ApiError> {
        let url = &self.config.token_url;
        let request = RequestRef::Token;
        let invalid = |detail: String| ApiError::InvalidResponse {
            url: url.clone(),
            request,
            detail,
            body: None,
        };
        let grant_in_query =
            Url::parse(url).is_ok_and(|u| u.query_pairs().any(|(k, _)| k == "grant_type"));
        let mut builder = self
            .http
            .post(url.as_str())
            .header(ACCEPT, "application/json")
            .basic_auth(&credentials.client_id, Some(&credentials.client_secret));
        if !grant_in_query {
            builder = builder.form(&[("grant_type", "client_credentials")]);
        }
        let sent_at = Instant::now();
        let mut response = builder
            .send()
            .await
            .map_err(|e| self.transport_error(url, request, e))?;
        let status = response.status();
        if status != StatusCode::OK {
            let asked = retry_after(response.headers(), Utc::now());
            let detail = self.error_snippet(response, None).await;
            return Err(match status.as_u16() {
                400 | 401 | 403 => ApiError::Unauthorized {
                    url: url.clone(),
                    request,
                    status: status.as_u16(),
                    reason: format!(
                        "the token endpoint refused the client credentials; check the configured \
                         client id and secret{}",
                        detail_suffix(&detail)
                    ),
                },
                429 => ApiError::RateLimited {
                    url: url.clone(),
                    request,
                    retry_after: asked,
                    reason: "the token endpoint is rate-limiting; retry later".into(),
                },
                code => ApiError::HttpStatus {
                    url: url.clone(),
                    request,
                    status: code,
                    detail,
                },
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, request, e))?
        {
            if (body.len() + chunk.len()) as u64 > MAX_TOKEN_BYTES {
                return Err(invalid(format!(
                    "token response exceeds {MAX_TOKEN_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        // The body holds the token: never quote it in an error.
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
            return Err(invalid("the token response is not a JSON object".into()));
        };
        let token = match fields.get("access_token") {
            Some(Value::String(t)) if !t.is_empty() => BearerToken(t.clone()),
            _ => return Err(invalid("the token response has no access_token".into())),
        };
        let lifetime = match fields.get("expires_in") {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
        let renew_at = lifetime.map(|life| sent_at + life - TOKEN_RENEWAL_MARGIN.min(life / 5));
        tracing::info!(
            url = %url,
            expires_in_secs = lifetime.map(|l| l.as_secs_f64()),
            "obtained an OAuth2 token"
        );
        Ok(CachedToken { token, renew_at })
    }

    /// The start of an error body, for the message, with credentials redacted.
    async fn error_snippet(
        &self,
        response: reqwest::Response,
        token: Option<&BearerToken>,
    ) -> String {
        let Ok(bytes) = response.bytes().await else {
            return String::new();
        };
        let mut text = snippet(&String::from_utf8_lossy(&bytes));
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(c) = &self.config.credentials {
            secrets.push(&c.client_secret);
        }
        if let Some(t) = token {
            secrets.push(&t.0);
        }
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            text = text.replace(secret, "<redacted>");
        }
        text
    }

    fn transport_error(&self, url: &str, request: RequestRef, error: reqwest::Error) -> ApiError {
        if error.is_builder() {
            ApiError::InvalidConfig {
                reason: format!(
                    "cannot send a request to {url}: {} (is HTTPS support compiled in?)",
                    error_chain(&error.without_url())
                ),
            }
        } else if error.is_timeout() {
            ApiError::Timeout {
                url: url.to_owned(),
                request,
                after: self.config.request_timeout,
            }
        } else {
            ApiError::Connection {
                url: url.to_owned(),
                request,
                detail: error_chain(&error.without_url()),
            }
        }
    }
}

/// The JSON body of one page request.
fn request_body(week_start: NaiveDate, tier_identifier: &str, limit: u32, offset: u64) -> Value {
    json!({
        "compareFilters": [
            {"compareType": "EQUAL", "fieldName": "weekStartDate",
             "fieldValue": week_start.format("%Y-%m-%d").to_string()},
            {"compareType": "EQUAL", "fieldName": "tierIdentifier", "fieldValue": tier_identifier},
            {"compareType": "EQUAL", "fieldName": "summaryTypeCode", "fieldValue": SUMMARY_TYPE_CODE},
        ],
        "limit": limit,
        "offset": offset,
    })
}

/// How one row was written.
struct WrittenRow {
    week_mismatch: bool,
    last_update: Option<NaiveDate>,
    unexpected_type: bool,
    unsafe_fields: Vec<&'static str>,
}

/// Appends one row as a file line (with its newline) to `buf`.
fn write_row(buf: &mut Vec<u8>, row: &Value, week_text: &str) -> WrittenRow {
    let object = row.as_object();
    let mut written = WrittenRow {
        week_mismatch: !is_requested_week(object.and_then(|o| o.get("weekStartDate")), week_text),
        last_update: object
            .and_then(|o| o.get("lastUpdateDate"))
            .and_then(Value::as_str)
            .and_then(date_prefix),
        unexpected_type: object.is_none(),
        unsafe_fields: Vec::new(),
    };
    let mut fields: [Cow<'_, str>; 8] = Default::default();
    for (i, name) in FILE_FIELDS.iter().enumerate() {
        let value = object.and_then(|o| o.get(*name));
        let is_quantity = matches!(i, 5 | 6);
        let (text, unexpected) = field_text(value, is_quantity);
        written.unexpected_type |= unexpected;
        if text.contains(['|', '\r', '\n']) {
            written.unsafe_fields.push(*name);
        }
        fields[i] = text;
    }
    let unsafe_row = !written.unsafe_fields.is_empty();
    for (i, text) in fields.iter().enumerate() {
        if i > 0 {
            buf.push(b'|');
        }
        if unsafe_row {
            for c in text.chars() {
                match c {
                    '|' => buf.extend_from_slice(b"\\u007c"),
                    '\r' => buf.extend_from_slice(b"\\r"),
                    '\n' => buf.extend_from_slice(b"\\n"),
                    c => {
                        let mut utf8 = [0_u8; 4];
                        buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    }
                }
            }
        } else {
            buf.extend_from_slice(text.as_bytes());
        }
    }
    if unsafe_row {
        buf.push(b'|');
        buf.extend_from_slice(UNSAFE_FIELD_MARKER.as_bytes());
        buf.extend_from_slice(written.unsafe_fields.join(",").as_bytes());
    }
    buf.push(b'\n');
    written
}

/// The text written for one field, and whether its JSON type was unexpected.
///
/// Text fields: a string as-is, missing/null as empty (the parser rejects an empty symbol, MPID,
/// tier or date), anything else as its JSON text. Quantities: a string as-is, an integer number
/// as its digits, anything else (fraction, null, missing, bool, object) as its JSON text (empty
/// when missing), which the parser rejects.
fn field_text(value: Option<&Value>, is_quantity: bool) -> (Cow<'_, str>, bool) {
    match (value, is_quantity) {
        (Some(Value::String(s)), _) => (Cow::Borrowed(s.as_str()), false),
        (Some(Value::Number(n)), true) if n.is_u64() || n.is_i64() => {
            (Cow::Owned(n.to_string()), false)
        }
        (None | Some(Value::Null), false) => (Cow::Borrowed(""), false),
        (None, true) => (Cow::Borrowed(""), true),
        (Some(other), _) => (Cow::Owned(other.to_string()), true),
    }
}

/// The `YYYY-MM-DD` date a stamp starts with (FINRA writes dates, some clients datetimes).
fn date_prefix(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// Whether a row's `weekStartDate` names the requested week: `YYYY-MM-DD`, optionally followed
/// by a time (`T…` or ` …`).
fn is_requested_week(value: Option<&Value>, week_text: &str) -> bool {
    let Some(text) = value.and_then(Value::as_str) else {
        return false;
    };
    text.get(..10) == Some(week_text)
        && text[10..]
            .chars()
            .next()
            .is_none_or(|c| c == 'T' || c == ' ')
}

/// Wraps the caller's output, hashing and counting every byte written.
struct HashingWriter<'a, W: Write> {
    inner: &'a mut W,
    hasher: Sha256,
    len: u64,
}

impl<'a, W: Write> HashingWriter<'a, W> {
    fn new(inner: &'a mut W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (a date in the past means "now").
/// `None` when the header is missing or unreadable.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn parse_http_url(setting: &str, text: &str) -> Result<Url, ApiError> {
    let url = Url::parse(text).map_err(|e| ApiError::InvalidConfig {
        reason: format!("{setting} `{text}` is not a valid URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::InvalidConfig {
            reason: format!("{setting} `{text}` must be an http:// or https:// URL with a host"),
        });
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The first characters of a body, on one line.
fn snippet(text: &str) -> String {
    let mut out: String = text
        .trim()
        .chars()
        .take(ERROR_SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().chars().count() > ERROR_SNIPPET_CHARS {
        out.push('…');
    }
    out
}

/// Joins an error and its sources ("a: b: c"), skipping repeats.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests;
