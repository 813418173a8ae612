//! Source stage: obtain the bytes of one pipeline input, from a local file or over HTTP.
//!
//! Every domain pipeline (source → parse/validate → normalize → calcs) starts here.
//! [`fetch`] turns a [`SourceLocator`] into a [`Fetched`]: a local file path plus the
//! content's byte length and SHA-256, so the capture id — deterministic from (domain,
//! partition, content hash) — is known before a single row is parsed, and re-ingesting the
//! same bytes can be recognised as a no-op. HTTP bodies are streamed to a temporary file and
//! hashed on the way, never held in memory, because weekly FINRA files can be large.
//!
//! Every failure is a typed [`SourceError`] rather than a string, so the pipeline can record
//! it as an anomaly and decide mechanically whether a rerun may help
//! ([`SourceError::is_retryable`]) or a person must fix the locator. No network outcome
//! panics.

use std::fmt;
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

/// Sent with every HTTP request so data providers can identify (and contact) the client.
const USER_AGENT: &str = concat!("market-spine/", env!("CARGO_PKG_VERSION"));

/// Read buffer for local files: large enough to keep syscalls rare, small enough to be free.
const LOCAL_READ_BUFFER: usize = 64 * 1024;

/// Where one input comes from.
///
/// Parsed once at the edge (CLI flag, schedule config) so the rest of the pipeline works with
/// a typed value; its [`Display`](fmt::Display) form is the canonical locator recorded in the
/// capture, so provenance reads the same however the user spelled it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceLocator {
    /// A local file, kept exactly as given (relative paths stay relative: the pipeline
    /// decides whether to absolutise them for provenance).
    File(PathBuf),
    /// An `http://` or `https://` URL, normalised by URL parsing (lower-case scheme and host,
    /// default port dropped).
    Http(Url),
}

impl SourceLocator {
    /// Parses a locator: `http://`/`https://` → [`SourceLocator::Http`], `file://` →
    /// [`SourceLocator::File`], anything without a `scheme://` prefix → a plain path.
    ///
    /// A named constructor alongside [`FromStr`] so call sites read naturally.
    pub fn parse(input: &str) -> Result<Self, SourceError> {
        input.parse()
    }

    /// True for HTTP(S) locators: lets callers decide up front whether a fetch may touch the
    /// network (and so whether retries make sense).
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Http(_))
    }
}

impl FromStr for SourceLocator {
    type Err = SourceError;

    fn from_str(input: &str) -> Result<Self, SourceError> {
        let invalid = |reason: String| SourceError::InvalidLocator {
            input: input.to_owned(),
            reason,
        };
        if input.trim().is_empty() {
            return Err(invalid("the locator is empty".into()));
        }
        let Some(scheme) = scheme_of(input) else {
            return Ok(Self::File(PathBuf::from(input)));
        };
        if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            let url = Url::parse(input).map_err(|e| invalid(format!("not a valid URL: {e}")))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("the URL has no host".into()));
            }
            Ok(Self::Http(url))
        } else if scheme.eq_ignore_ascii_case("file") {
            let url = Url::parse(input).map_err(|e| invalid(format!("not a valid URL: {e}")))?;
            let path = url.to_file_path().map_err(|()| {
                invalid(
                    "a file:// locator must be an absolute local path, e.g. file:///data/otc.csv"
                        .into(),
                )
            })?;
            Ok(Self::File(path))
        } else {
            Err(invalid(format!(
                "unsupported scheme `{scheme}://`; use a file path, file://, http:// or https://"
            )))
        }
    }
}

impl fmt::Display for SourceLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Http(url) => f.write_str(url.as_str()),
        }
    }
}

impl From<PathBuf> for SourceLocator {
    /// Paths that are already typed need no string round trip (and no scheme sniffing).
    fn from(path: PathBuf) -> Self {
        Self::File(path)
    }
}

impl From<&Path> for SourceLocator {
    /// Paths that are already typed need no string round trip (and no scheme sniffing).
    fn from(path: &Path) -> Self {
        Self::File(path.to_path_buf())
    }
}

impl From<Url> for SourceLocator {
    /// A URL that is already parsed is taken as-is; callers must only pass http(s) URLs
    /// ([`fetch`] rejects other schemes with [`SourceError::InvalidLocator`]).
    fn from(url: Url) -> Self {
        Self::Http(url)
    }
}

/// Returns the `scheme` of a `scheme://…` input, or `None` when the input is a plain path
/// (including Windows `C:\…` paths and relative paths that merely contain `://` later on).
fn scheme_of(input: &str) -> Option<&str> {
    let (scheme, _) = input.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// Limits for one fetch.
///
/// Both limits exist so a misbehaving server (or a wrong URL pointing at something huge)
/// turns into a recorded anomaly instead of a hung or disk-filling pipeline run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// The longest silence tolerated: applies to connecting, to waiting for the response
    /// headers and to each wait for more body data. It is deliberately not a total deadline,
    /// so a large file arriving steadily over a slow link still completes.
    pub timeout: Duration,
    /// Largest accepted input, in bytes. Checked against `Content-Length` before downloading
    /// and again while streaming (servers may omit or misstate the length).
    pub max_bytes: u64,
    /// Directory for HTTP download temp files; `None` uses the system temp dir. Lets
    /// operators point multi-GiB downloads away from a small (or RAM-backed) `/tmp`.
    pub temp_dir: Option<PathBuf>,
}

impl FetchOptions {
    /// Default for [`FetchOptions::timeout`]: generous for a CDN, short enough that a dead
    /// server is reported within a scheduled run.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default for [`FetchOptions::max_bytes`] (2 GiB): far above any real weekly FINRA file,
    /// so hitting it means something is wrong with the source, not that data grew.
    pub const DEFAULT_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            timeout: Self::DEFAULT_TIMEOUT,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            temp_dir: None,
        }
    }
}

/// The fetched content of one input, ready to parse.
///
/// Always a local file, so parsers have one code path and can stream rows from disk. For
/// HTTP the file is a temporary one owned by this value and deleted when it is dropped: keep
/// the `Fetched` alive for as long as the path is used.
#[derive(Debug)]
pub struct Fetched {
    locator: SourceLocator,
    path: PathBuf,
    len: u64,
    sha256: String,
    /// Keeps an HTTP download's temp file alive; `None` for local files.
    temp: Option<NamedTempFile>,
}

impl Fetched {
    /// Where the content came from, for the capture's provenance.
    pub fn locator(&self) -> &SourceLocator {
        &self.locator
    }

    /// Local file holding exactly the hashed bytes: the locator's own path for local files,
    /// a temporary file for HTTP.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Content length in bytes, as hashed (recorded with the capture; also a cheap sanity
    /// check against an empty upstream file).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the source was empty — usually an upstream problem worth an anomaly.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// SHA-256 of the content, lower-case hex: the content-hash input of the capture id.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// True when [`Fetched::path`] is a temporary file that disappears with this value, so
    /// callers know not to record it as a durable location.
    pub fn is_temporary(&self) -> bool {
        self.temp.is_some()
    }
}

/// Why an input could not be obtained.
///
/// Typed so the pipeline can record each case as an anomaly with its own meaning ("FINRA has
/// not published yet" vs "their server is down" vs "the locator is wrong") and decide whether
/// a retry may help. Messages say what happened and where, for people reading the anomaly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The locator text itself is unusable (empty, malformed URL, unsupported scheme, or
    /// `https://` in a build without the `https` feature). Never retryable.
    #[error("invalid source locator `{input}`: {reason}")]
    InvalidLocator {
        /// The locator exactly as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing there: HTTP 404 or a missing local file. For scheduled data this usually means
    /// "not published yet", so it is reported distinctly from server failures.
    #[error("not found: {locator}{}", http_404_suffix(.locator))]
    NotFound {
        /// The locator that was looked up.
        locator: SourceLocator,
    },
    /// The server answered with an error status other than 404 (after following redirects).
    #[error("HTTP {status} from {locator}{}", retry_after_suffix(.retry_after))]
    HttpStatus {
        /// The locator that was requested.
        locator: SourceLocator,
        /// The HTTP status code, e.g. 503.
        status: u16,
        /// How long the server asked to wait (`Retry-After`, with a 429 or 503), if it said.
        retry_after: Option<Duration>,
    },
    /// No progress for [`FetchOptions::timeout`] while connecting, waiting for headers or
    /// reading the body.
    #[error("timed out after {after:?} waiting for {locator}")]
    Timeout {
        /// The locator that was requested.
        locator: SourceLocator,
        /// The configured timeout that elapsed.
        after: Duration,
    },
    /// The transfer failed below HTTP: connection refused, DNS failure, reset or truncated
    /// body, TLS failure, too many redirects.
    #[error("connection to {locator} failed: {detail}")]
    Connection {
        /// The locator that was requested.
        locator: SourceLocator,
        /// The underlying error chain, for people.
        detail: String,
    },
    /// The content exceeds [`FetchOptions::max_bytes`]; nothing partial is kept.
    #[error("{locator} exceeds the {limit}-byte size limit")]
    TooLarge {
        /// The locator that was read.
        locator: SourceLocator,
        /// The configured limit in bytes.
        limit: u64,
    },
    /// A local I/O failure: reading a local source, or writing the download's temp file.
    #[error("I/O error while fetching {locator}: {source}")]
    Io {
        /// The locator being fetched.
        locator: SourceLocator,
        /// The underlying error.
        source: io::Error,
    },
}

/// Says in the message how long the server asked to wait, when it did.
fn retry_after_suffix(wait: &Option<Duration>) -> String {
    wait.map(|w| format!(" (Retry-After {}s)", w.as_secs()))
        .unwrap_or_default()
}

/// Makes an HTTP 404 recognisable in the message while sharing the variant with missing files.
fn http_404_suffix(locator: &SourceLocator) -> &'static str {
    if locator.is_remote() {
        " (HTTP 404)"
    } else {
        ""
    }
}

impl SourceError {
    /// The HTTP status behind this error, if the server answered at all: lets the anomaly
    /// record carry the exact code (404 included) without matching on variants.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::NotFound {
                locator: SourceLocator::Http(_),
            } => Some(404),
            Self::HttpStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again (`Retry-After` with a 429 or a
    /// 503), so a retry can back off at least that long.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::HttpStatus { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the same fetch may succeed later without anyone changing anything: server
    /// errors (5xx, plus 408 Request Timeout and 429 Too Many Requests), timeouts and
    /// connection failures. A 404, a bad locator, an oversized file or a local I/O error
    /// needs a person (or a later publication), so it is not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::HttpStatus { status, .. } => *status >= 500 || matches!(*status, 408 | 429),
            Self::Timeout { .. } | Self::Connection { .. } => true,
            Self::InvalidLocator { .. }
            | Self::NotFound { .. }
            | Self::TooLarge { .. }
            | Self::Io { .. } => false,
        }
    }

    /// A stable upper-case code per variant, for anomaly records and dashboards that must not
    /// depend on message wording.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidLocator { .. } => "SOURCE_INVALID_LOCATOR",
            Self::NotFound { .. } => "SOURCE_NOT_FOUND",
            Self::HttpStatus { .. } => "SOURCE_HTTP_STATUS",
            Self::Timeout { .. } => "SOURCE_TIMEOUT",
            Self::Connection { .. } => "SOURCE_CONNECTION",
            Self::TooLarge { .. } => "SOURCE_TOO_LARGE",
            Self::Io { .. } => "SOURCE_IO",
        }
    }
}

/// Obtains the bytes of one input as a local file with its length and SHA-256.
///
/// The single entry point every domain pipeline uses, so all of them hash, limit and report
/// failures identically. Local files are hashed in place (no copy); HTTP bodies are streamed
/// to a temporary file while being hashed. Never panics on any network outcome: every
/// failure is a [`SourceError`].
pub async fn fetch(locator: &SourceLocator, opts: &FetchOptions) -> Result<Fetched, SourceError> {
    match locator {
        SourceLocator::File(path) => fetch_file(locator, path, opts).await,
        SourceLocator::Http(url) => {
            match fetch_http(locator, url, opts, &Conditions::default()).await? {
                ConditionalFetch::Fetched { fetched, .. } => Ok(fetched),
                // Unreachable without conditions (a 304 without them is answered as an error
                // status), but typed all the same.
                ConditionalFetch::NotModified => Err(SourceError::HttpStatus {
                    locator: locator.clone(),
                    status: 304,
                    retry_after: None,
                }),
            }
        }
    }
}

/// Why hashing a local file stopped, before it is tied to a locator.
enum LocalFailure {
    Io(io::Error),
    TooLarge,
}

async fn fetch_file(
    locator: &SourceLocator,
    path: &Path,
    opts: &FetchOptions,
) -> Result<Fetched, SourceError> {
    let owned = path.to_path_buf();
    let max_bytes = opts.max_bytes;
    let outcome = tokio::task::spawn_blocking(move || hash_local_file(&owned, max_bytes))
        .await
        .unwrap_or_else(|join| Err(LocalFailure::Io(io::Error::other(join.to_string()))));
    match outcome {
        Ok((len, sha256)) => Ok(Fetched {
            locator: locator.clone(),
            path: path.to_path_buf(),
            len,
            sha256,
            temp: None,
        }),
        Err(LocalFailure::TooLarge) => Err(SourceError::TooLarge {
            locator: locator.clone(),
            limit: max_bytes,
        }),
        Err(LocalFailure::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            Err(SourceError::NotFound {
                locator: locator.clone(),
            })
        }
        Err(LocalFailure::Io(source)) => Err(SourceError::Io {
            locator: locator.clone(),
            source,
        }),
    }
}

/// Hashes a local file in fixed-size chunks, reading at most `max_bytes + 1` bytes so an
/// oversized (or still growing) file is rejected without reading it all.
fn hash_local_file(path: &Path, max_bytes: u64) -> Result<(u64, String), LocalFailure> {
    let file = std::fs::File::open(path).map_err(LocalFailure::Io)?;
    let mut reader = file.take(max_bytes.saturating_add(1));
    let mut hasher = Sha256::new();
    let mut buf = vec![0_u8; LOCAL_READ_BUFFER];
    let mut len = 0_u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LocalFailure::Io(e)),
        };
        len += n as u64;
        if len > max_bytes {
            return Err(LocalFailure::TooLarge);
        }
        hasher.update(&buf[..n]);
    }
    Ok((len, hex::encode(hasher.finalize())))
}

/// Validators to send with an HTTP request, so a server whose resource did not change answers
/// `304 Not Modified` instead of the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Sent as `If-None-Match`: the `ETag` of the last successful fetch.
    pub if_none_match: Option<String>,
    /// Sent as `If-Modified-Since`: the `Last-Modified` of the last successful fetch.
    pub if_modified_since: Option<String>,
}

impl Conditions {
    /// True when nothing would be sent.
    pub fn is_empty(&self) -> bool {
        self.if_none_match.is_none() && self.if_modified_since.is_none()
    }
}

/// The validators a server sent with a body, to send back next time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseValidators {
    /// The `ETag` header, as sent.
    pub etag: Option<String>,
    /// The `Last-Modified` header, as sent.
    pub last_modified: Option<String>,
}

/// What [`fetch_if_changed`] got.
// One per fetch, moved once: not worth a box for the size difference.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ConditionalFetch {
    /// The server said the resource did not change (HTTP 304): nothing was downloaded.
    NotModified,
    /// The content, always in a temporary file owned by the [`Fetched`], with the validators
    /// the server sent (none for a local file).
    Fetched {
        /// The bytes, hashed.
        fetched: Fetched,
        /// What to send back next time.
        validators: ResponseValidators,
    },
}

/// Fetches an input only if it changed: an HTTP request carries `conditions`, and a `304 Not
/// Modified` answer is [`ConditionalFetch::NotModified`] with nothing downloaded. Unlike
/// [`fetch`], a local file is *copied* (and hashed) into a temporary file: a drop folder's file
/// may be replaced while it is being ingested, and the capture must be of the bytes hashed.
pub async fn fetch_if_changed(
    locator: &SourceLocator,
    opts: &FetchOptions,
    conditions: &Conditions,
) -> Result<ConditionalFetch, SourceError> {
    match locator {
        SourceLocator::File(path) => {
            let fetched = copy_local_file(locator, path, opts).await?;
            Ok(ConditionalFetch::Fetched {
                fetched,
                validators: ResponseValidators::default(),
            })
        }
        SourceLocator::Http(url) => fetch_http(locator, url, opts, conditions).await,
    }
}

/// Copies a local file into a temporary file, hashing it on the way.
async fn copy_local_file(
    locator: &SourceLocator,
    path: &Path,
    opts: &FetchOptions,
) -> Result<Fetched, SourceError> {
    let io_err = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            SourceError::NotFound {
                locator: locator.clone(),
            }
        } else {
            SourceError::Io {
                locator: locator.clone(),
                source,
            }
        }
    };
    let temp = temp_file(opts).map_err(|source| SourceError::Io {
        locator: locator.clone(),
        source,
    })?;
    let (src, max_bytes) = (path.to_path_buf(), opts.max_bytes);
    let mut dst = temp.as_file().try_clone().map_err(io_err)?;
    let copied = tokio::task::spawn_blocking(move || -> Result<(u64, String), LocalFailure> {
        use std::io::Write;
        let file = std::fs::File::open(&src).map_err(LocalFailure::Io)?;
        if file.metadata().map_err(LocalFailure::Io)?.is_dir() {
            return Err(LocalFailure::Io(io::Error::other("is a directory")));
        }
        let mut reader = file.take(max_bytes.saturating_add(1));
        let mut hasher = Sha256::new();
        let mut buf = vec![0_u8; LOCAL_READ_BUFFER];
        let mut len = 0_u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LocalFailure::Io(e)),
            };
            len += n as u64;
            if len > max_bytes {
                return Err(LocalFailure::TooLarge);
            }
            hasher.update(&buf[..n]);
            dst.write_all(&buf[..n]).map_err(LocalFailure::Io)?;
        }
        dst.flush().map_err(LocalFailure::Io)?;
        Ok((len, hex::encode(hasher.finalize())))
    })
    .await
    .unwrap_or_else(|join| Err(LocalFailure::Io(io::Error::other(join.to_string()))));
    match copied {
        Ok((len, sha256)) => Ok(Fetched {
            locator: locator.clone(),
            path: temp.path().to_path_buf(),
            len,
            sha256,
            temp: Some(temp),
        }),
        Err(LocalFailure::TooLarge) => Err(SourceError::TooLarge {
            locator: locator.clone(),
            limit: max_bytes,
        }),
        Err(LocalFailure::Io(e)) => Err(io_err(e)),
    }
}

/// A temporary file for one download, in [`FetchOptions::temp_dir`] when set.
fn temp_file(opts: &FetchOptions) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("spine-source-");
    match &opts.temp_dir {
        Some(dir) => builder.tempfile_in(dir),
        None => builder.tempfile(),
    }
}

/// The longest validator kept: a longer header is not a validator anyone can use (and would not
/// fit the column that stores it).
const MAX_VALIDATOR_CHARS: usize = 64;

/// A response header as text, when it is short printable ASCII.
fn header_text(
    headers: &reqwest::header::HeaderMap,
    name: reqwest::header::HeaderName,
) -> Option<String> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    (!text.is_empty() && text.len() <= MAX_VALIDATOR_CHARS).then(|| text.to_owned())
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (a date in the past means "now").
fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

async fn fetch_http(
    locator: &SourceLocator,
    url: &Url,
    opts: &FetchOptions,
    conditions: &Conditions,
) -> Result<ConditionalFetch, SourceError> {
    let client = http_client(locator, url, opts)?;
    let mut request = client.get(url.clone());
    if let Some(etag) = &conditions.if_none_match {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag.as_str());
    }
    if let Some(since) = &conditions.if_modified_since {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, since.as_str());
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| classify(locator, opts, e))?;

    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && !conditions.is_empty() {
        return Ok(ConditionalFetch::NotModified);
    }
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(SourceError::NotFound {
            locator: locator.clone(),
        });
    }
    if !status.is_success() {
        return Err(SourceError::HttpStatus {
            locator: locator.clone(),
            status: status.as_u16(),
            retry_after: retry_after_header(response.headers()),
        });
    }
    let validators = ResponseValidators {
        etag: header_text(response.headers(), reqwest::header::ETAG),
        last_modified: header_text(response.headers(), reqwest::header::LAST_MODIFIED),
    };
    let too_large = || SourceError::TooLarge {
        locator: locator.clone(),
        limit: opts.max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|n| n > opts.max_bytes)
    {
        return Err(too_large());
    }

    let io_err = |source: io::Error| SourceError::Io {
        locator: locator.clone(),
        source,
    };
    let temp = temp_file(opts).map_err(io_err)?;
    let mut file = tokio::fs::File::from_std(temp.as_file().try_clone().map_err(io_err)?);

    let mut hasher = Sha256::new();
    let mut len = 0_u64;
    // On any early return `temp` is dropped, which deletes the partial download.
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(locator, opts, e))?
    {
        len += chunk.len() as u64;
        if len > opts.max_bytes {
            return Err(too_large());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)?;
    drop(file);

    Ok(ConditionalFetch::Fetched {
        fetched: Fetched {
            locator: locator.clone(),
            path: temp.path().to_path_buf(),
            len,
            sha256: hex::encode(hasher.finalize()),
            temp: Some(temp),
        },
        validators,
    })
}

/// Builds the client for one fetch (one fetch per input, so no pooling is lost).
fn http_client(
    locator: &SourceLocator,
    url: &Url,
    opts: &FetchOptions,
) -> Result<reqwest::Client, SourceError> {
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "https") => {}
        "https" => {
            return Err(SourceError::InvalidLocator {
                input: locator.to_string(),
                reason: "HTTPS support is not compiled into this build; rebuild spine-cli \
                         with `--features https`"
                    .into(),
            });
        }
        other => {
            return Err(SourceError::InvalidLocator {
                input: locator.to_string(),
                reason: format!("unsupported URL scheme `{other}`"),
            });
        }
    }

    install_tls_provider();

    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.timeout)
        .read_timeout(opts.timeout);
    if is_loopback(url) {
        // A proxy from the environment must never see (or break) loopback traffic.
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| SourceError::Connection {
        locator: locator.clone(),
        detail: format!("cannot build the HTTP client: {}", error_chain(&e)),
    })
}

/// Makes HTTPS usable by any `reqwest` client in this process: reqwest is built without a
/// bundled crypto provider, so the one already compiled for sqlx (ring) is installed once. A
/// domain that builds its own client (an API source) calls this first. Without the `https`
/// feature it does nothing, and an `https://` request fails as unsupported.
pub fn install_tls_provider() {
    #[cfg(feature = "https")]
    {
        // An `Err` only means some provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether `url` points at this machine (a proxy from the environment must never see it).
pub fn is_loopback(url: &Url) -> bool {
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

/// Maps a transport error to the variant the pipeline records. Timeouts are checked first
/// because a connect timeout is also a connect error.
fn classify(locator: &SourceLocator, opts: &FetchOptions, error: reqwest::Error) -> SourceError {
    if error.is_timeout() {
        SourceError::Timeout {
            locator: locator.clone(),
            after: opts.timeout,
        }
    } else {
        SourceError::Connection {
            locator: locator.clone(),
            detail: error_chain(&error.without_url()),
        }
    }
}

/// Joins an error and its sources ("a: b: c"), skipping repeats, so the root cause (e.g.
/// "Connection refused") reaches the anomaly record.
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
mod tests {
    use super::*;

    use std::net::SocketAddr;
    use std::time::Instant;

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::{JoinHandle, JoinSet};

    /// Long enough that a test relying on a timeout cannot pass by accident.
    const STALL: Duration = Duration::from_secs(5);
    /// Short timeout for the timeout tests.
    const SHORT: Duration = Duration::from_millis(200);

    /// A minimal HTTP/1.1 server on an ephemeral loopback port. Dropping it aborts the accept
    /// loop, which drops (and so aborts) every connection task.
    struct TestServer {
        addr: SocketAddr,
        task: JoinHandle<()>,
    }

    impl TestServer {
        async fn start() -> Self {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .await
                .expect("bind 127.0.0.1:0");
            let addr = listener.local_addr().expect("local addr");
            let task = tokio::spawn(async move {
                let mut connections = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    while connections.try_join_next().is_some() {}
                    connections.spawn(serve(stream));
                }
            });
            Self { addr, task }
        }

        fn locator(&self, path: &str) -> SourceLocator {
            SourceLocator::parse(&format!("http://{}{path}", self.addr)).expect("test url")
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Deterministic multi-chunk body shaped like a FINRA file.
    fn sample_body() -> Vec<u8> {
        let mut body = b"tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n".to_vec();
        for i in 0..5_000 {
            body.extend_from_slice(
                format!(
                    "OTC|SYM{i}|Issue {i}|Venue {}|MP{:02}|{}|{}|2025-12-29\n",
                    i % 7,
                    i % 7,
                    i * 13,
                    i % 97
                )
                .as_bytes(),
            );
        }
        body
    }

    async fn serve(mut stream: TcpStream) {
        let mut request = Vec::new();
        let mut buf = [0_u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let request = String::from_utf8_lossy(&request);
        let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let head = |status: &str, len: Option<usize>| {
            let length = len
                .map(|n| format!("Content-Length: {n}\r\n"))
                .unwrap_or_default();
            format!("HTTP/1.1 {status}\r\n{length}Connection: close\r\n\r\n").into_bytes()
        };
        let full = |status: &str, body: &[u8]| {
            let mut out = head(status, Some(body.len()));
            out.extend_from_slice(body);
            out
        };
        let header = |name: &str| {
            request.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let reply = match path.as_str() {
            "/otc.csv" => full("200 OK", &sample_body()),
            "/etag.csv"
                if header("If-None-Match").as_deref() == Some("\"v1\"")
                    || header("If-Modified-Since").as_deref()
                        == Some("Mon, 22 Dec 2025 10:00:00 GMT") =>
            {
                b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n".to_vec()
            }
            "/etag.csv" => {
                let body = b"tierDescription|x\n";
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nLast-Modified: Mon, 22 Dec 2025 10:00:00 GMT\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                out.extend_from_slice(body);
                out
            }
            "/429" => b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            "/304" => b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            "/empty.csv" => full("200 OK", b""),
            "/redirect" => b"HTTP/1.1 302 Found\r\nLocation: /otc.csv\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            "/500" => full("500 Internal Server Error", b"boom"),
            "/503" => full("503 Service Unavailable", b"later"),
            "/slow" => {
                tokio::time::sleep(STALL).await;
                full("200 OK", b"too late")
            }
            "/stall" => {
                let mut out = head("200 OK", Some(1_000));
                out.extend_from_slice(&[b'x'; 100]);
                let _ = stream.write_all(&out).await;
                tokio::time::sleep(STALL).await;
                return;
            }
            "/truncated" => {
                let mut out = head("200 OK", Some(1_000));
                out.extend_from_slice(&[b'x'; 100]);
                out
            }
            "/big" => full("200 OK", &[b'x'; 10_000]),
            "/big-unsized" => {
                let mut out = head("200 OK", None);
                out.extend_from_slice(&[b'x'; 10_000]);
                out
            }
            _ => full("404 Not Found", b"no such file"),
        };
        let _ = stream.write_all(&reply).await;
        let _ = stream.shutdown().await;
    }

    fn opts() -> FetchOptions {
        FetchOptions {
            timeout: STALL,
            ..FetchOptions::default()
        }
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[tokio::test]
    async fn http_200_streams_to_a_temp_file_with_hash_and_length() {
        let server = TestServer::start().await;
        let locator = server.locator("/otc.csv");
        let body = sample_body();
        assert!(body.len() > 128 * 1024, "body must span many chunks");

        let fetched = fetch(&locator, &opts()).await.expect("fetch 200");

        assert_eq!(fetched.len(), body.len() as u64);
        assert_eq!(fetched.sha256(), sha256_hex(&body));
        assert_eq!(fetched.sha256().len(), 64);
        assert!(
            fetched
                .sha256()
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
        assert_eq!(std::fs::read(fetched.path()).expect("read temp"), body);
        assert_eq!(fetched.locator(), &locator);
        assert!(fetched.is_temporary());
        assert!(!fetched.is_empty());

        let path = fetched.path().to_path_buf();
        drop(fetched);
        assert!(!path.exists(), "temp file must be deleted with the Fetched");
    }

    #[tokio::test]
    async fn http_download_honours_temp_dir_and_redirects() {
        let server = TestServer::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let options = FetchOptions {
            temp_dir: Some(dir.path().to_path_buf()),
            ..opts()
        };
        let fetched = fetch(&server.locator("/redirect"), &options)
            .await
            .expect("fetch via redirect");
        assert!(fetched.path().starts_with(dir.path()));
        assert_eq!(fetched.sha256(), sha256_hex(&sample_body()));
    }

    #[tokio::test]
    async fn conditional_fetch_sends_validators_and_a_304_downloads_nothing() {
        let server = TestServer::start().await;
        let locator = server.locator("/etag.csv");
        let ConditionalFetch::Fetched {
            fetched,
            validators,
        } = fetch_if_changed(&locator, &opts(), &Conditions::default())
            .await
            .expect("first fetch")
        else {
            panic!("nothing to compare with: the body is fetched");
        };
        assert_eq!(fetched.sha256(), sha256_hex(b"tierDescription|x\n"));
        assert!(fetched.is_temporary());
        assert_eq!(
            validators,
            ResponseValidators {
                etag: Some("\"v1\"".into()),
                last_modified: Some("Mon, 22 Dec 2025 10:00:00 GMT".into()),
            }
        );
        for conditions in [
            Conditions {
                if_none_match: validators.etag.clone(),
                if_modified_since: None,
            },
            Conditions {
                if_none_match: None,
                if_modified_since: validators.last_modified.clone(),
            },
        ] {
            let again = fetch_if_changed(&locator, &opts(), &conditions)
                .await
                .expect("conditional fetch");
            assert!(matches!(again, ConditionalFetch::NotModified), "{again:?}");
        }
        // Another ETag: the server sends the body again.
        let stale = Conditions {
            if_none_match: Some("\"v0\"".into()),
            if_modified_since: None,
        };
        assert!(matches!(
            fetch_if_changed(&locator, &opts(), &stale).await.unwrap(),
            ConditionalFetch::Fetched { .. }
        ));
        // A 304 nobody asked for is an error status, never "not modified".
        let err = fetch(&server.locator("/304"), &opts())
            .await
            .expect_err("unasked 304");
        assert_eq!(err.http_status(), Some(304));
    }

    #[tokio::test]
    async fn http_429_carries_its_retry_after() {
        let server = TestServer::start().await;
        let err = fetch(&server.locator("/429"), &opts())
            .await
            .expect_err("429");
        assert_eq!(err.http_status(), Some(429));
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert!(err.to_string().ends_with("/429 (Retry-After 7s)"), "{err}");
    }

    #[tokio::test]
    async fn a_local_file_is_copied_when_fetched_if_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("otc.psv");
        std::fs::write(&path, b"one").unwrap();
        let locator = SourceLocator::from(path.clone());
        let ConditionalFetch::Fetched {
            fetched,
            validators,
        } = fetch_if_changed(&locator, &opts(), &Conditions::default())
            .await
            .unwrap()
        else {
            panic!("a file is always read");
        };
        assert_eq!(validators, ResponseValidators::default());
        assert!(fetched.is_temporary());
        assert_ne!(fetched.path(), path);
        // Replacing the drop-folder file does not change the bytes being ingested.
        std::fs::write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(fetched.path()).unwrap(), b"one");
        assert_eq!(fetched.sha256(), sha256_hex(b"one"));
        let missing = SourceLocator::from(dir.path().join("nope.psv"));
        let err = fetch_if_changed(&missing, &opts(), &Conditions::default())
            .await
            .expect_err("missing");
        assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn http_empty_body_is_a_valid_empty_fetch() {
        let server = TestServer::start().await;
        let fetched = fetch(&server.locator("/empty.csv"), &opts())
            .await
            .expect("fetch");
        assert!(fetched.is_empty());
        assert_eq!(fetched.sha256(), sha256_hex(b""));
    }

    #[tokio::test]
    async fn http_404_is_not_found() {
        let server = TestServer::start().await;
        let locator = server.locator("/missing.csv");
        let err = fetch(&locator, &opts()).await.expect_err("404");
        assert!(
            matches!(&err, SourceError::NotFound { locator: l } if l == &locator),
            "{err:?}"
        );
        assert_eq!(err.http_status(), Some(404));
        assert!(!err.is_retryable());
        assert_eq!(err.to_string(), format!("not found: {locator} (HTTP 404)"));
    }

    #[tokio::test]
    async fn http_5xx_is_http_status_and_retryable() {
        let server = TestServer::start().await;
        for code in [500_u16, 503] {
            let locator = server.locator(&format!("/{code}"));
            let err = fetch(&locator, &opts()).await.expect_err("5xx");
            assert!(
                matches!(&err, SourceError::HttpStatus { status, .. } if *status == code),
                "{err:?}"
            );
            assert_eq!(err.http_status(), Some(code));
            assert!(err.is_retryable());
            assert_eq!(
                err.to_string(),
                format!("HTTP {code} from http://{}/{code}", server.addr)
            );
        }
    }

    #[tokio::test]
    async fn slow_headers_time_out() {
        let server = TestServer::start().await;
        let options = FetchOptions {
            timeout: SHORT,
            ..FetchOptions::default()
        };
        let started = Instant::now();
        let err = fetch(&server.locator("/slow"), &options)
            .await
            .expect_err("timeout");
        assert!(
            matches!(err, SourceError::Timeout { after, .. } if after == SHORT),
            "{err:?}"
        );
        assert!(
            started.elapsed() < STALL / 2,
            "took {:?}",
            started.elapsed()
        );
        assert!(err.is_retryable());
        assert_eq!(err.http_status(), None);
        assert!(
            err.to_string()
                .starts_with("timed out after 200ms waiting for http://127.0.0.1:")
        );
    }

    #[tokio::test]
    async fn stalled_body_times_out() {
        let server = TestServer::start().await;
        let options = FetchOptions {
            timeout: SHORT,
            ..FetchOptions::default()
        };
        let started = Instant::now();
        let err = fetch(&server.locator("/stall"), &options)
            .await
            .expect_err("timeout");
        assert!(matches!(err, SourceError::Timeout { .. }), "{err:?}");
        assert!(
            started.elapsed() < STALL / 2,
            "took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn truncated_body_is_a_connection_error() {
        let server = TestServer::start().await;
        let err = fetch(&server.locator("/truncated"), &opts())
            .await
            .expect_err("truncated");
        assert!(matches!(err, SourceError::Connection { .. }), "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn closed_port_is_a_connection_error() {
        let port = {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let locator = SourceLocator::parse(&format!("http://127.0.0.1:{port}/otc.csv")).unwrap();
        let err = fetch(&locator, &opts()).await.expect_err("refused");
        let SourceError::Connection { detail, .. } = &err else {
            panic!("expected Connection, got {err:?}");
        };
        assert!(!detail.is_empty());
        assert!(err.is_retryable());
        assert!(
            err.to_string()
                .starts_with(&format!("connection to {locator} failed: ")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn body_over_max_bytes_is_too_large() {
        let server = TestServer::start().await;
        let options = FetchOptions {
            max_bytes: 1_000,
            ..opts()
        };
        // Rejected from Content-Length, and while streaming when the length is not declared.
        for path in ["/big", "/big-unsized"] {
            let err = fetch(&server.locator(path), &options)
                .await
                .expect_err(path);
            assert!(
                matches!(err, SourceError::TooLarge { limit: 1_000, .. }),
                "{path}: {err:?}"
            );
            assert!(!err.is_retryable());
        }
        // Exactly at the limit is fine.
        let exact = FetchOptions {
            max_bytes: 10_000,
            ..opts()
        };
        let fetched = fetch(&server.locator("/big-unsized"), &exact)
            .await
            .expect("at limit");
        assert_eq!(fetched.len(), 10_000);
    }

    #[tokio::test]
    async fn local_file_is_hashed_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("otc.csv");
        let body = sample_body();
        std::fs::write(&path, &body).expect("write");
        let locator = SourceLocator::from(path.clone());

        let fetched = fetch(&locator, &opts()).await.expect("local fetch");
        assert_eq!(fetched.path(), path);
        assert_eq!(fetched.len(), body.len() as u64);
        assert_eq!(fetched.sha256(), sha256_hex(&body));
        assert!(!fetched.is_temporary());
        drop(fetched);
        assert!(path.exists(), "a local source is never deleted");

        let small = FetchOptions {
            max_bytes: 100,
            ..opts()
        };
        let err = fetch(&locator, &small).await.expect_err("too large");
        assert!(
            matches!(err, SourceError::TooLarge { limit: 100, .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn missing_local_file_is_not_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locator = SourceLocator::from(dir.path().join("nope.csv"));
        let err = fetch(&locator, &opts()).await.expect_err("missing");
        assert!(matches!(&err, SourceError::NotFound { .. }), "{err:?}");
        assert_eq!(err.http_status(), None);
        assert!(!err.is_retryable());
        assert_eq!(err.to_string(), format!("not found: {locator}"));
    }

    #[tokio::test]
    async fn local_directory_is_an_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = fetch(&SourceLocator::from(dir.path()), &opts())
            .await
            .expect_err("dir");
        assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
    }

    #[cfg(not(feature = "https"))]
    #[tokio::test]
    async fn https_without_the_feature_is_rejected_before_connecting() {
        let locator = SourceLocator::parse("https://127.0.0.1:9/otc.csv").unwrap();
        let err = fetch(&locator, &opts()).await.expect_err("no tls");
        assert!(matches!(err, SourceError::InvalidLocator { .. }), "{err:?}");
        assert!(err.to_string().contains("--features https"), "{err}");
    }

    #[test]
    fn locators_parse_by_scheme() {
        let http = SourceLocator::parse("http://127.0.0.1:4123/otc.csv").unwrap();
        assert!(matches!(&http, SourceLocator::Http(u) if u.port() == Some(4123)));
        assert!(http.is_remote());
        assert_eq!(http.to_string(), "http://127.0.0.1:4123/otc.csv");

        // Canonical form: lower-case scheme and host, default port dropped.
        let https = SourceLocator::parse("HTTPS://CDN.Example.COM:443/a/b.txt").unwrap();
        assert_eq!(https.to_string(), "https://cdn.example.com/a/b.txt");

        let relative = SourceLocator::parse("data/finra/otc.csv").unwrap();
        assert_eq!(
            relative,
            SourceLocator::File(PathBuf::from("data/finra/otc.csv"))
        );
        assert_eq!(relative.to_string(), "data/finra/otc.csv");
        assert!(!relative.is_remote());

        let file_url = SourceLocator::parse("file:///data/my%20week.csv").unwrap();
        assert_eq!(
            file_url,
            SourceLocator::File(PathBuf::from("/data/my week.csv"))
        );
        assert_eq!(file_url.to_string(), "/data/my week.csv");
        assert_eq!(
            SourceLocator::parse(&file_url.to_string()).unwrap(),
            file_url
        );

        // `://` later in a path is not a scheme.
        assert!(matches!(
            SourceLocator::parse("./odd://name.csv").unwrap(),
            SourceLocator::File(_)
        ));
    }

    #[test]
    fn bad_locators_are_rejected_with_a_reason() {
        for input in [
            "",
            "   ",
            "http://",
            "http://:80/x",
            "ftp://host/x.csv",
            "file://relative/x.csv",
        ] {
            let err = SourceLocator::parse(input).expect_err(input);
            assert!(
                matches!(&err, SourceError::InvalidLocator { input: i, .. } if i == input),
                "{err:?}"
            );
            assert!(!err.is_retryable());
            assert_eq!(err.code(), "SOURCE_INVALID_LOCATOR");
        }
        let err = SourceLocator::parse("ftp://host/x.csv").unwrap_err();
        assert!(
            err.to_string().contains("unsupported scheme `ftp://`"),
            "{err}"
        );
    }

    #[test]
    fn retryability_and_status_by_variant() {
        let loc = SourceLocator::parse("http://127.0.0.1/x").unwrap();
        let status = |status| SourceError::HttpStatus {
            locator: loc.clone(),
            status,
            retry_after: None,
        };
        assert!(status(502).is_retryable());
        assert!(status(429).is_retryable());
        assert!(status(408).is_retryable());
        assert!(!status(403).is_retryable());
        assert!(!status(410).is_retryable());
        assert_eq!(status(403).http_status(), Some(403));
        assert_eq!(status(403).code(), "SOURCE_HTTP_STATUS");
        let too_large = SourceError::TooLarge {
            locator: loc.clone(),
            limit: 5,
        };
        assert_eq!(
            too_large.to_string(),
            "http://127.0.0.1/x exceeds the 5-byte size limit"
        );
        assert_eq!(too_large.http_status(), None);
    }

    #[test]
    fn default_options_match_the_documented_limits() {
        let opts = FetchOptions::default();
        assert_eq!(opts.timeout, Duration::from_secs(30));
        assert_eq!(opts.max_bytes, 2 * 1024 * 1024 * 1024);
        assert_eq!(opts.temp_dir, None);
    }
}
