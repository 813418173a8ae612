//! Refusing requests: a Host the server does not answer to (421), a request that ran past the
//! request timeout and an expensive request past its cap (503 with `Retry-After`).
//!
//! Every refusal is a JSON error body like any other error of the API, and is logged once, at
//! warn, with the peer, the method and the path but never the query string (a client may put
//! something it considers secret there, and a log is read by more people than the API).

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::BoxError;

use super::config::{AllowedHosts, RETRY_AFTER_BUSY_SECS, RETRY_AFTER_TIMEOUT_SECS};
use super::error::error_body;

/// The client's address, when the request came through [`super::serve`] (which records it).
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Peer, Infallible> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{addr}"),
            None => f.write_str("unknown"),
        }
    }
}

/// A JSON error answer with `Retry-After: retry_after` seconds.
pub(super) fn retry_later(status: StatusCode, message: &str, retry_after: u64) -> Response {
    let mut response = error_body(status, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// Middleware: answers only requests addressed to an allowed host. Each `Host` header and the
/// request target's authority (absolute-form, which takes precedence over `Host`) must name
/// one; an HTTP/1.1 request must name one (RFC 9112 §3.2).
pub(super) async fn check_host(
    State(hosts): State<Arc<AllowedHosts>>,
    peer: Peer,
    request: Request,
    next: Next,
) -> Response {
    let headers: Vec<&HeaderValue> = request.headers().get_all(header::HOST).iter().collect();
    let authority = request.uri().authority().map(|a| a.as_str());
    let refusal = if headers.len() > 1 {
        Some((
            StatusCode::BAD_REQUEST,
            "the request has more than one Host header".to_string(),
        ))
    } else if headers.is_empty() && authority.is_none() && request.version() >= Version::HTTP_11 {
        Some((
            StatusCode::BAD_REQUEST,
            "the request has no Host header, which HTTP/1.1 requires".to_string(),
        ))
    } else {
        let names: Vec<String> = headers
            .iter()
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            .chain(authority.map(str::to_string))
            .collect();
        names.iter().find(|n| !hosts.allows(n)).map(|name| {
            (
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this server does not answer to the host `{name}`; it answers to {} \
                     (its operator adds names with --allow-host)",
                    hosts.names().join(", ")
                ),
            )
        })
    };
    match refusal {
        None => next.run(request).await,
        Some((status, message)) => {
            // Debug-quoted: the value is the client's, and may hold anything but a line break.
            let host = headers
                .first()
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
                .unwrap_or_default();
            tracing::warn!(
                %peer,
                method = %request.method(),
                path = %request.uri().path(),
                host = ?host,
                "refused a request ({}): {message}",
                status.as_u16()
            );
            error_body(status, &message)
        }
    }
}

/// What a layer that refused a request answers: turns the errors of `tower`'s timeout and
/// load-shedding layers into JSON 503s with `Retry-After`, and logs the refusal.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refusals {
    /// The request timeout, to say what was exceeded.
    pub(super) request_timeout: Duration,
    /// The cap on expensive requests, likewise.
    pub(super) max_expensive: usize,
}

impl Refusals {
    /// The answer to `error` from the layers below.
    pub(super) fn answer(
        self,
        method: &Method,
        uri: &Uri,
        peer: Peer,
        error: BoxError,
    ) -> Response {
        let (message, retry_after, reason) = if error.is::<tower::timeout::error::Elapsed>() {
            (
                format!(
                    "the request did not complete within {} s; retry later",
                    self.request_timeout.as_secs_f64()
                ),
                RETRY_AFTER_TIMEOUT_SECS,
                format!(
                    "it ran past the request timeout ({:?}, --request-timeout)",
                    self.request_timeout
                ),
            )
        } else if error.is::<tower::load_shed::error::Overloaded>() {
            (
                format!(
                    "the server is at its limit of {} expensive requests at once; retry later",
                    self.max_expensive
                ),
                RETRY_AFTER_BUSY_SECS,
                format!(
                    "the cap of {} expensive requests at once was reached (--max-expensive)",
                    self.max_expensive
                ),
            )
        } else {
            tracing::error!(%peer, %method, path = %uri.path(), "request failed: {error}");
            return error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the server log has the details",
            );
        };
        tracing::warn!(
            %peer,
            %method,
            path = %uri.path(),
            "refused a request (503): {reason}"
        );
        retry_later(StatusCode::SERVICE_UNAVAILABLE, &message, retry_after)
    }
}
