//! The handlers: parse and validate every parameter first (400), then check the domain exists
//! (404), then answer from the same read-only code the CLI uses.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    Ok(Json(rows.iter().map(crate::output::anomaly_json).collect()))
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

/// One check of `/health`: `ok`, `failed`, or `skipped` (an earlier check failed, so this one
/// would say nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Ok,
    Failed,
    Skipped,
}

impl Check {
    fn as_str(self) -> &'static str {
        match self {
            Check::Ok => "ok",
            Check::Failed => "failed",
            Check::Skipped => "skipped",
        }
    }
}

/// The names of the checks of `/health`, in the order they run.
pub(super) const HEALTH_CHECKS: &[&str] = &["database", "schema", "data"];

/// Runs the checks in order, stopping at the first failure: the check's index and the
/// message for the caller (details go to the log). `running` says which check is under way, so
/// a timeout can be blamed on it.
async fn health_checks(state: &AppState, running: &AtomicUsize) -> Result<(), (usize, String)> {
    let store = &state.store;
    running.store(0, Ordering::Relaxed);
    if let Err(e) = store.conn().ping().await {
        tracing::warn!("health: the database did not answer: {e}");
        return Err((
            0,
            "the database did not answer; the server log has the details".into(),
        ));
    }
    running.store(1, Ordering::Relaxed);
    match spine_store::admin::schema_drift(store).await {
        Ok(drift) if drift.is_current() => {}
        Ok(drift) => {
            let mut problems = Vec::new();
            if !drift.unknown.is_empty() {
                problems.push(format!(
                    "the database has migrations this binary does not know (a newer spine \
                     migrated it; upgrade this server): {}",
                    drift.unknown.join(", ")
                ));
            }
            if !drift.pending.is_empty() {
                problems.push(format!(
                    "the database lacks migrations this binary needs (run `spine db migrate`): {}",
                    drift.pending.join(", ")
                ));
            }
            let message = problems.join("; ");
            tracing::warn!("health: {message}");
            return Err((1, message));
        }
        Err(e) => {
            tracing::warn!("health: cannot read the applied migrations: {e}");
            return Err((
                1,
                "cannot read the applied migrations; the server log has the details".into(),
            ));
        }
    }
    running.store(2, Ordering::Relaxed);
    if let Err(failure) = spine_store::admin::probe_data(store).await {
        tracing::warn!("health: {failure}");
        return Err((
            2,
            format!(
                "cannot read `{}`; the server log has the details",
                failure.table
            ),
        ));
    }
    Ok(())
}

/// `GET /health`: 200 when the data routes can answer, 503 naming the first check that failed.
///
/// "The database answers" is not enough: a database migrated by a newer `spine`, rolled back,
/// or missing a table answers a ping while every data route fails. So the schema must be the
/// one this binary was built with and a real read of the tables the routes start from must
/// succeed. Bounded by [`HEALTH_TIMEOUT`] as a whole: a hung check reads as a failure of that
/// check.
pub(super) async fn health(State(state): State<AppState>, raw: RawParams) -> Response {
    if let Err(e) = raw.check(Endpoint::Health) {
        return e.into_response();
    }
    let running = AtomicUsize::new(0);
    let outcome = tokio::time::timeout(HEALTH_TIMEOUT, health_checks(&state, &running))
        .await
        .unwrap_or_else(|_| {
            let check = running.load(Ordering::Relaxed);
            tracing::warn!(
                "health: the {} check did not finish within {HEALTH_TIMEOUT:?}",
                HEALTH_CHECKS[check]
            );
            Err((
                check,
                format!("no answer within {} s", HEALTH_TIMEOUT.as_secs()),
            ))
        });
    let failed_at = outcome.as_ref().err().map(|(i, _)| *i);
    let mut body = serde_json::Map::new();
    body.insert(
        "status".into(),
        json!(if failed_at.is_none() {
            "ok"
        } else {
            "unavailable"
        }),
    );
    for (i, name) in HEALTH_CHECKS.iter().enumerate() {
        let check = match failed_at {
            Some(f) if i == f => Check::Failed,
            Some(f) if i > f => Check::Skipped,
            _ => Check::Ok,
        };
        body.insert((*name).into(), json!(check.as_str()));
    }
    let error = outcome
        .err()
        .map(|(i, message)| format!("{}: {message}", HEALTH_CHECKS[i]));
    body.insert("error".into(), json!(error));
    let status = if failed_at.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Value::Object(body))).into_response()
}

/// `GET /metrics`.
pub(super) async fn metrics(
    State(state): State<AppState>,
    raw: RawParams,
) -> Result<Response, ApiError> {
    raw.check(Endpoint::Metrics)?;
    let text = metrics::render(&state.store, state.now(), state.metrics_weeks).await?;
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
