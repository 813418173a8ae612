//! The read-only readiness HTTP API behind `spine serve`.
//!
//! What trading desks and dashboards poll ("is week 2025-12-19 ready for trading?"), what
//! operations scrape (`/metrics`) and what load balancers probe (`/health`). It answers from the
//! same code as the CLI (`evaluate_only`, `diagnose`, the anomaly JSON of `spine anomalies
//! list`), and never writes: evaluating readiness over HTTP must not add rows to the compliance
//! audit trail or record anomalies, or polling would rewrite history.
//!
//! Every route is declared once, in [`ROUTES`]: the router is built from it and so is the
//! OpenAPI document ([`openapi::document`]), and the parameters a route accepts are parsed from
//! the same declarations ([`Param`]). A route cannot be served without being documented; the
//! HTTP tests check the other direction (every documented path answers).
//!
//! The server protects itself and its host ([`ServerConfig`]): timeouts on request heads, idle
//! connections and requests, a cap on connections and a smaller one on expensive requests
//! (refused at once with 503 and `Retry-After`, never queued), and a Host allowlist against DNS
//! rebinding (421). `transport` runs the connections; `guard` refuses requests.

mod config;
mod error;
mod guard;
mod handlers;
mod metrics;
pub mod openapi;
mod params;
mod transport;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::{Method, Uri};
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, Utc};
use spine_engine::Engine;
use spine_model::{Category, ReadyFor, Severity, Tier};
use spine_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{BoxError, ServiceBuilder};

pub use config::{
    AllowedHosts, DEFAULT_BODY_TIMEOUT_SECS, DEFAULT_HEADER_TIMEOUT_SECS,
    DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_EXPENSIVE,
    DEFAULT_REQUEST_TIMEOUT_SECS, LOOPBACK_HOSTS, RETRY_AFTER_BUSY_SECS, RETRY_AFTER_TIMEOUT_SECS,
    ServerConfig, parse_host_name,
};
pub use error::ApiError;
pub use metrics::{
    CONTENT_TYPE as METRICS_CONTENT_TYPE, DEFAULT_WINDOW_WEEKS as DEFAULT_METRICS_WEEKS,
    escape_label,
};
pub use params::{Location, Param, ParamKind, RawParams, parse_friday};

/// What every handler shares: the engine (store, registered domains, blocking policy) and the
/// clock.
#[derive(Debug, Clone)]
pub struct AppState {
    engine: Engine,
    store: Store,
    fixed_now: Option<DateTime<Utc>>,
    metrics_weeks: u32,
}

impl AppState {
    /// A state over `engine`. With `fixed_now` (from `--now`/`SPINE_NOW`) every request is
    /// answered at that instant, so demos and tests are reproducible; without it each request
    /// reads the system clock, since a long-running server must not judge readiness at the
    /// moment it started.
    pub fn new(engine: Engine, fixed_now: Option<DateTime<Utc>>) -> AppState {
        AppState {
            store: engine.store().clone(),
            engine,
            fixed_now,
            metrics_weeks: DEFAULT_METRICS_WEEKS,
        }
    }

    /// The instant a request is answered at.
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }

    /// The same state with `/metrics` writing per-partition series for `weeks` recent weeks
    /// (`--metrics-weeks`; default [`DEFAULT_METRICS_WEEKS`]).
    pub fn with_metrics_weeks(mut self, weeks: u32) -> AppState {
        self.metrics_weeks = weeks;
        self
    }
}

/// The operations the API offers; each has exactly one [`Route`] in [`ROUTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The readiness verdict of a week (or one tier of it) for a use.
    Readiness,
    /// Anomalies, filtered.
    Anomalies,
    /// The doctor's diagnosis of a domain.
    Doctor,
    /// Whether the data routes can answer: database, schema and data checks.
    Health,
    /// Prometheus metrics.
    Metrics,
    /// The OpenAPI document of these routes.
    OpenApi,
}

impl Endpoint {
    /// This endpoint's declaration.
    pub fn route(self) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.endpoint == self)
            .unwrap_or_else(|| panic!("{self:?} has no entry in ROUTES"))
    }

    /// The handler. An exhaustive match: a new endpoint does not compile until it has one.
    fn method_router(self) -> MethodRouter<AppState> {
        match self {
            Endpoint::Readiness => get(handlers::readiness),
            Endpoint::Anomalies => get(handlers::anomalies),
            Endpoint::Doctor => get(handlers::doctor),
            Endpoint::Health => get(handlers::health),
            Endpoint::Metrics => get(handlers::metrics),
            Endpoint::OpenApi => get(handlers::openapi),
        }
    }
}

/// One route: its path (axum 0.8 / OpenAPI `{param}` syntax), its documentation and its
/// parameters. Every route is a GET (HEAD is answered too): the API is read-only.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Which operation.
    pub endpoint: Endpoint,
    /// The path template.
    pub path: &'static str,
    /// The OpenAPI `operationId`.
    pub operation_id: &'static str,
    /// One line for the document.
    pub summary: &'static str,
    /// What it answers and when, for the document.
    pub description: &'static str,
    /// The parameters it accepts (path and query).
    pub params: &'static [Param],
    /// Whether answering it can cost much more than one indexed read (it scans or repeats
    /// queries): such requests share the `--max-expensive` cap, past which they are refused
    /// with 503 at once.
    pub expensive: bool,
}

impl Route {
    /// The declared parameter `name` at `location`.
    pub fn param(&self, name: &str, location: Location) -> Option<&'static Param> {
        self.params
            .iter()
            .find(|p| p.name == name && p.location == location)
    }

    /// The path with every path parameter replaced by its example (percent-encoding is not
    /// needed: examples are plain ASCII).
    pub fn example_path(&self) -> String {
        let mut path = self.path.to_string();
        for p in self.params.iter().filter(|p| p.location == Location::Path) {
            path = path.replace(&format!("{{{}}}", p.name), p.example);
        }
        path
    }
}

const DOMAIN_IN_PATH: Param = Param {
    name: "domain",
    location: Location::Path,
    required: true,
    kind: ParamKind::Domain,
    default: None,
    example: "finra.otc_transparency",
    description: "The domain: a dotted lower-case name. A domain no registered domain owns answers 404.",
};

/// Every route the server answers. The router and the OpenAPI document are both built from
/// this list; add a route here and nowhere else.
pub const ROUTES: &[Route] = &[
    Route {
        endpoint: Endpoint::Readiness,
        path: "/api/v1/readiness/{domain}/{week_ending}",
        operation_id: "getReadiness",
        summary: "Is this week (or one tier of it) ready for a use?",
        description: "Evaluates the five readiness criteria now, without recording anything, and \
            answers with the same JSON as `spine readiness --format json`. 200 when ready \
            (READY or READY_WITH_WARNINGS), 503 when not, with `blocking_issues` and `criteria` \
            saying why. `certified_at`/`certified_by` are those of the recorded certification \
            when it judged the same captures.",
        params: &[
            DOMAIN_IN_PATH,
            Param {
                name: "week_ending",
                location: Location::Path,
                required: true,
                kind: ParamKind::Friday,
                default: None,
                example: "2025-12-19",
                description: "The Friday that ends the week (YYYY-MM-DD).",
            },
            Param {
                name: "ready_for",
                location: Location::Query,
                required: false,
                kind: ParamKind::Enum(ReadyFor::NAMES),
                default: Some("trading"),
                example: "trading",
                description: "The use to evaluate for; each has its own blocking severities.",
            },
            Param {
                name: "tier",
                location: Location::Query,
                required: false,
                kind: ParamKind::Enum(Tier::NAMES),
                default: None,
                example: "OTC",
                description: "One tier; without it the week-level partition covers every tier.",
            },
        ],
        expensive: false,
    },
    Route {
        endpoint: Endpoint::Anomalies,
        path: "/api/v1/anomalies",
        operation_id: "listAnomalies",
        summary: "Anomalies, oldest first, filtered.",
        description: "The same objects as `spine anomalies list --format json`. Every filter \
            narrows the list; an empty value is the same as leaving the filter out.",
        params: &[
            Param {
                name: "domain",
                location: Location::Query,
                required: false,
                kind: ParamKind::Domain,
                default: None,
                example: "finra.otc_transparency",
                description: "Only this domain (404 if unknown).",
            },
            Param {
                name: "severity",
                location: Location::Query,
                required: false,
                kind: ParamKind::Enum(Severity::NAMES),
                default: None,
                example: "ERROR",
                description: "Only this severity.",
            },
            Param {
                name: "unresolved",
                location: Location::Query,
                required: false,
                kind: ParamKind::Bool,
                default: Some("false"),
                example: "true",
                description: "Only anomalies not yet resolved.",
            },
            Param {
                name: "week_ending",
                location: Location::Query,
                required: false,
                kind: ParamKind::Friday,
                default: None,
                example: "2025-12-19",
                description: "Only partitions of the week ending this Friday (YYYY-MM-DD).",
            },
            Param {
                name: "category",
                location: Location::Query,
                required: false,
                kind: ParamKind::Enum(Category::NAMES),
                default: None,
                example: "SCHEDULE",
                description: "Only this category.",
            },
        ],
        expensive: true,
    },
    Route {
        endpoint: Endpoint::Doctor,
        path: "/api/v1/doctor/{domain}",
        operation_id: "diagnoseDomain",
        summary: "What is expected, what arrived, what is open, and what to run.",
        description: "The same report as `spine doctor --format json`, computed without \
            writing. 200 when nothing blocks, 503 when something does (`blocking`).",
        params: &[
            DOMAIN_IN_PATH,
            Param {
                name: "weeks",
                location: Location::Query,
                required: false,
                kind: ParamKind::Integer { min: 1, max: 52 },
                default: Some("4"),
                example: "4",
                description: "How many of the most recent fully due weeks to examine (besides the newer, partly due ones).",
            },
        ],
        expensive: true,
    },
    Route {
        endpoint: Endpoint::Health,
        path: "/health",
        operation_id: "health",
        summary: "Whether the data routes can answer.",
        description: "200 when, within 3 seconds, the database answers, its schema is exactly \
            the one this binary expects (every migration applied, none unknown) and a row of \
            each table the routes start from can be read; 503 naming the first check that \
            failed otherwise. Never capped as expensive: load balancers probe it.",
        params: &[],
        expensive: false,
    },
    Route {
        endpoint: Endpoint::Metrics,
        path: "/metrics",
        operation_id: "metrics",
        summary: "Prometheus metrics (text format 0.0.4).",
        description: "Gauges computed from the database at scrape time: \
            `spine_open_anomalies{domain,severity}`, \
            `spine_readiness{domain,ready_for,status}` (current verdicts per status) and \
            `spine_latest_capture_age_seconds{domain,partition_key}`.",
        params: &[],
        expensive: true,
    },
    Route {
        endpoint: Endpoint::OpenApi,
        path: "/api/v1/openapi.json",
        operation_id: "openapi",
        summary: "This document.",
        description: "The OpenAPI 3.0 description of every route the server answers.",
        params: &[],
        expensive: false,
    },
];

/// The router over [`ROUTES`], with JSON answers for unknown routes (404) and methods (405),
/// and `config`'s request-level limits. From the outside in: the Host check (421), the request
/// timeout (503), the body read timeout, then per route the expensive-request cap (503).
pub fn router(state: AppState, config: &ServerConfig) -> Router {
    let refusals = guard::Refusals {
        request_timeout: config.request_timeout,
        max_expensive: config.max_expensive,
    };
    let on_refusal = move |method: Method, uri: Uri, peer: guard::Peer, error: BoxError| async move {
        refusals.answer(&method, &uri, peer, error)
    };
    // One semaphore for every expensive route: the cap is on their sum.
    let expensive = Arc::new(Semaphore::new(config.max_expensive));
    let mut router = Router::new();
    for route in ROUTES {
        let mut method_router = route.endpoint.method_router();
        if route.expensive {
            // `route_layer`: a wrong method is still a 405 and takes no slot. Load shedding
            // turns "no permit" into an immediate error instead of a wait.
            method_router = method_router.route_layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(on_refusal))
                    .layer(tower::load_shed::LoadShedLayer::new())
                    .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
                        expensive.clone(),
                    )),
            );
        }
        router = router.route(route.path, method_router);
    }
    router
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    Arc::new(config.allowed_hosts.clone()),
                    guard::check_host,
                ))
                .layer(HandleErrorLayer::new(on_refusal))
                .layer(tower::timeout::TimeoutLayer::new(config.request_timeout))
                .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                    config.body_timeout,
                )),
        )
        .with_state(state)
}

/// Serves the API on `listener` with `config`'s limits until `shutdown` completes, then lets
/// in-flight requests finish (each connection is closed after its current answer). The
/// listener is bound by the caller so tests can use an ephemeral port and the command can
/// report bind errors before anything else.
pub async fn serve<F>(
    listener: TcpListener,
    state: AppState,
    config: ServerConfig,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = router(state, &config);
    transport::run(listener, app, config, shutdown).await
}
