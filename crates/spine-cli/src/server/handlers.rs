//! The handlers: parse and validate every parameter first (400), then check the domain exists
//! (404), then answer from the same read-only code the CLI uses.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use spine_model::{Category, Domain, PartitionKey, ReadyFor, Severity, Tier};
use spine_store::anomalies::{self, AnomalyFilter};

use super::error::{ApiError, error_body};
use super::params::RawParams;
use super::{AppState, Endpoint, metrics, openapi};
use spine_engine::RunContext;
use spine_engine::doctor::diagnose;
use spine_engine::readiness::evaluate_only;

/// How long `/health` waits for the database before calling it unavailable: load balancers
/// probe with short timeouts of their own, and a hung pool must read as "down", not "slow".
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// 404 unless a registered domain owns the name: a typo in a domain name must not read as "a
/// domain with nothing in it" (which would be a 503 "not ready" for readiness).
fn ensure_known(state: &AppState, domain: &Domain) -> Result<(), ApiError> {
    let registry = state.engine.registry();
    if registry.get(domain).is_some() {
        return Ok(());
    }
    Err(ApiError::NotFound(format!(
        "unknown domain `{domain}`; registered domains: {}",
        registry.names().join(", ")
    )))
}

/// `GET /api/v1/readiness/{domain}/{week_ending}`.
pub(super) async fn readiness(
    State(state): State<AppState>,
    raw: RawParams,
) -> Result<Response, ApiError> {
    let p = raw.check(Endpoint::Readiness)?;
    let domain = p.domain("domain")?.expect("required");
    let week = p.friday("week_ending")?.expect("required");
    let ready_for = p.vocab::<ReadyFor>("ready_for")?.expect("has a default");
    let tier = p.vocab::<Tier>("tier")?;
    ensure_known(&state, &domain)?;
    let partition = match tier {
        Some(tier) => PartitionKey::week_tier(week, tier),
        None => PartitionKey::week(week),
    };
    let cert = evaluate_only(
        &state.engine,
        &domain,
        &partition,
        ready_for,
        &RunContext::quiet(state.now()),
    )
    .await?;
    let status = if cert.is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, Json(cert)).into_response())
}

/// `GET /api/v1/anomalies`.
pub(super) async fn anomalies(
    State(state): State<AppState>,
    raw: RawParams,
) -> Result<Json<Vec<Value>>, ApiError> {
    let p = raw.check(Endpoint::Anomalies)?;
    let filter = AnomalyFilter {
        domain: p.domain("domain")?,
        severity: p.vocab::<Severity>("severity")?,
        category: p.vocab::<Category>("category")?,
        week_ending: p.friday("week_ending")?,
        unresolved_only: p.bool("unresolved")?.expect("has a default"),
        ..Default::default()
    };
    if let Some(domain) = &filter.domain {
        ensure_known(&state, domain)?;
    }
    let rows = anomalies::list(state.store.conn(), &filter).await?;
    Ok(Json(
        rows.iter()
            .map(crate::commands::anomalies::to_json)
            .collect(),
    ))
}

/// `GET /api/v1/doctor/{domain}`.
pub(super) async fn doctor(
    State(state): State<AppState>,
    raw: RawParams,
) -> Result<Response, ApiError> {
    let p = raw.check(Endpoint::Doctor)?;
    let domain = p.domain("domain")?.expect("required");
    let weeks = p.integer("weeks")?.expect("has a default");
    ensure_known(&state, &domain)?;
    let report = diagnose(
        &state.engine,
        &domain,
        weeks,
        &RunContext::quiet(state.now()),
    )
    .await?;
    let status = if report.blocking {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

/// `GET /health`.
pub(super) async fn health(State(state): State<AppState>, raw: RawParams) -> Response {
    if let Err(e) = raw.check(Endpoint::Health) {
        return e.into_response();
    }
    match tokio::time::timeout(HEALTH_TIMEOUT, state.store.conn().ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        )
            .into_response(),
        outcome => {
            match outcome {
                Ok(Err(e)) => tracing::warn!("health: the database did not answer: {e}"),
                _ => {
                    tracing::warn!("health: the database did not answer within {HEALTH_TIMEOUT:?}")
                }
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`.
pub(super) async fn metrics(
    State(state): State<AppState>,
    raw: RawParams,
) -> Result<Response, ApiError> {
    raw.check(Endpoint::Metrics)?;
    let text = metrics::render(&state.store, state.now()).await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

/// `GET /api/v1/openapi.json`.
pub(super) async fn openapi(raw: RawParams) -> Result<Json<Value>, ApiError> {
    raw.check(Endpoint::OpenApi)?;
    Ok(Json(openapi::document()))
}

/// Any path no route matches.
pub(super) async fn not_found(method: Method, uri: Uri) -> Response {
    error_body(
        StatusCode::NOT_FOUND,
        &format!(
            "no route for {method} {}; the routes are described at /api/v1/openapi.json",
            uri.path()
        ),
    )
}

/// A known path with a method other than GET or HEAD.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let mut response = error_body(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "{method} is not allowed on {}: the API is read-only (GET and HEAD)",
            uri.path()
        ),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("GET,HEAD"));
    response
}
