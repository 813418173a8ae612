//! The OpenAPI 3.0 document, built from [`ROUTES`] and their [`Param`] declarations.
//!
//! Built as a JSON value in code rather than with a derive crate: the paths and parameters come
//! from the same table the router and the parser use, so they cannot drift, and the response
//! schemas sit next to each other here where a reviewer can compare them with the structs they
//! describe (`Certification`, `DoctorReport`, the anomaly JSON). The HTTP tests validate real
//! responses against these schemas.

use serde_json::{Map, Value, json};
use spine_model::{Category, ReadinessStatus, ReadyFor, Severity, Stage, WorkKind};

use super::{Endpoint, Location, Param, ParamKind, ROUTES, Route};

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        paths.insert(route.path.to_string(), json!({ "get": operation(route) }));
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Market Spine readiness API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read-only: whether FINRA OTC Transparency data can be trusted for \
                trading, compliance or research, what is wrong when it cannot, and metrics for \
                operations. Errors are JSON: {\"error\": \"...\", \"status\": N}. A request for \
                a host the server does not answer to is refused with 421; a request refused for \
                load or time (connection cap, expensive-request cap, request timeout) gets 503 \
                with a Retry-After header.",
        },
        "paths": paths,
        "components": { "schemas": schemas() },
    })
}

fn operation(route: &Route) -> Value {
    let parameters: Vec<Value> = route.params.iter().map(parameter).collect();
    let mut description = route.description.to_string();
    if route.expensive {
        description.push_str(
            " Expensive: at most `--max-expensive` such requests (this one, the doctor, the \
             anomaly list, the metrics) are answered at once; past that the server answers 503 \
             with `Retry-After` immediately.",
        );
    }
    json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": description,
        "parameters": parameters,
        "responses": with_refusals(route, responses(route.endpoint)),
    })
}

/// The refusals every route can answer, added to its own responses: 421 (a Host the server
/// does not answer to) and 503 with `Retry-After` (the request timeout, the connection cap,
/// and for expensive routes their cap). Where the route has a 503 of its own (a verdict), the
/// 503 is either body.
fn with_refusals(route: &Route, mut responses: Value) -> Value {
    let refusal = if route.expensive {
        "Refused, with `Retry-After` (seconds): the server is at its cap of expensive requests \
         or of connections, or the request ran past the request timeout."
    } else {
        "Refused, with `Retry-After` (seconds): the server is at its cap of connections, or the \
         request ran past the request timeout."
    };
    responses["421"] = error(
        "Misdirected: the Host header names a host this server does not answer to (by default \
         it answers to localhost, 127.0.0.1 and [::1] only; see `--allow-host`).",
    );
    let headers = json!({
        "Retry-After": {
            "description": "Seconds to wait before retrying; sent with refusals only.",
            "schema": {"type": "integer", "minimum": 1},
        }
    });
    responses["503"] = match responses.get("503") {
        Some(own) => {
            let own_schema = own["content"]["application/json"]["schema"].clone();
            json!({
                "description": format!(
                    "{} Or: {refusal}",
                    own["description"].as_str().unwrap_or_default()
                ),
                "headers": headers,
                "content": { "application/json": { "schema": {
                    "oneOf": [own_schema, schema_ref("Error")],
                } } },
            })
        }
        None => {
            let mut answer = error(refusal);
            answer["headers"] = headers;
            answer
        }
    };
    responses
}

fn parameter(p: &Param) -> Value {
    let mut schema = match p.kind {
        ParamKind::Domain => json!({
            "type": "string",
            "pattern": "^[a-z0-9_]+(\\.[a-z0-9_]+)+$",
        }),
        ParamKind::Friday => json!({"type": "string", "format": "date"}),
        ParamKind::Enum(values) => json!({"type": "string", "enum": values}),
        ParamKind::Bool => json!({"type": "boolean"}),
        ParamKind::Integer { min, max } => {
            json!({"type": "integer", "minimum": min, "maximum": max})
        }
    };
    if let Some(default) = p.default {
        schema["default"] = typed(p.kind, default);
    }
    json!({
        "name": p.name,
        "in": p.location.as_str(),
        "required": p.required || p.location == Location::Path,
        "description": p.description,
        "schema": schema,
        "example": typed(p.kind, p.example),
    })
}

/// A declared default or example as the JSON type its schema says.
fn typed(kind: ParamKind, text: &str) -> Value {
    match kind {
        ParamKind::Bool => Value::Bool(text == "true"),
        ParamKind::Integer { .. } => text.parse::<u64>().map(Value::from).unwrap_or(json!(text)),
        _ => Value::String(text.to_string()),
    }
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema } },
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error(description: &str) -> Value {
    json_response(description, schema_ref("Error"))
}

/// The responses of each endpoint. An exhaustive match: a new endpoint needs its responses
/// documented before it compiles.
fn responses(endpoint: Endpoint) -> Value {
    let bad = || {
        error(
            "A parameter is missing, unknown or malformed (`error` names it), or the request has \
             no Host header (or more than one).",
        )
    };
    let unknown = || error("The domain is unknown (nothing captured, scheduled or recorded).");
    let internal = || error("The database failed; details are in the server log only.");
    match endpoint {
        Endpoint::Readiness => json!({
            "200": json_response("Ready (READY or READY_WITH_WARNINGS).", schema_ref("Certification")),
            "503": json_response(
                "Not ready: `blocking_issues` and `criteria` say why.",
                schema_ref("Certification"),
            ),
            "400": bad(),
            "404": unknown(),
            "500": internal(),
        }),
        Endpoint::Anomalies => json!({
            "200": json_response(
                "The matching anomalies, oldest first.",
                json!({"type": "array", "items": schema_ref("Anomaly")}),
            ),
            "400": bad(),
            "404": unknown(),
            "500": internal(),
        }),
        Endpoint::Doctor => json!({
            "200": json_response("Nothing blocks (`blocking` is false).", schema_ref("DoctorReport")),
            "503": json_response("Something blocks (`blocking` is true).", schema_ref("DoctorReport")),
            "400": bad(),
            "404": unknown(),
            "500": internal(),
        }),
        Endpoint::Health => json!({
            "200": json_response("Every check passed.", schema_ref("Health")),
            "503": json_response(
                "A check failed: the database does not answer, its schema is not the one this \
                 binary expects, or a table the routes read cannot be read. The failed check says \
                 `failed`, later ones `skipped`, and `error` says why.",
                schema_ref("Health"),
            ),
            "400": bad(),
        }),
        Endpoint::Metrics => json!({
            "200": {
                "description": "Prometheus text exposition format 0.0.4.",
                "content": { "text/plain": { "schema": {"type": "string"} } },
            },
            "400": bad(),
            "500": internal(),
        }),
        Endpoint::OpenApi => json!({
            "200": json_response(
                "This document.",
                json!({
                    "type": "object",
                    "required": ["openapi", "info", "paths"],
                    "additionalProperties": true,
                }),
            ),
            "400": bad(),
        }),
    }
}

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable_string() -> Value {
    json!({"type": "string", "nullable": true})
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn strings() -> Value {
    json!({"type": "array", "items": string()})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// An object schema whose every listed property is required (the server always writes them,
/// `null` where the value is absent).
fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "required": required, "properties": properties})
}

fn schemas() -> Value {
    let nullable_stage = json!({"type": "string", "enum": Stage::NAMES, "nullable": true});
    json!({
        "Error": object(json!({
            "error": {"type": "string", "description": "What is wrong, naming the parameter."},
            "status": {"type": "integer", "description": "The HTTP status, repeated."},
        })),
        "ReadinessCriteria": object(json!({
            "all_partitions_present": {"type": "boolean"},
            "all_stages_complete": {"type": "boolean"},
            "no_critical_anomalies": {"type": "boolean"},
            "dependencies_current": {"type": "boolean"},
            "age_exceeds_preliminary": {"type": "boolean"},
        })),
        "Certification": object(json!({
            "domain": string(),
            "partition_key": {"type": "string", "description": "Canonical JSON of the partition."},
            "ready_for": one_of(ReadyFor::NAMES),
            "status": one_of(ReadinessStatus::NAMES),
            "is_ready": {"type": "boolean"},
            "criteria": schema_ref("ReadinessCriteria"),
            "blocking_issues": strings(),
            "warnings": {
                "type": "array",
                "items": string(),
                "description": "Open non-blocking anomalies at WARN or worse.",
            },
            "notices": {
                "type": "array",
                "items": string(),
                "description": "Open INFO anomalies (e.g. a revision): reported, never a reason for caution.",
            },
            "captures_judged": {
                "type": "array",
                "items": string(),
                "description": "The captures the verdict rests on: the proof of \"on which data\".",
            },
            "evaluated_at": timestamp(),
            "certified_at": {"type": "string", "format": "date-time", "nullable": true},
            "certified_by": nullable_string(),
        })),
        "Anomaly": object(json!({
            "id": {"type": "integer"},
            "domain": string(),
            "pipeline": nullable_string(),
            "partition_key": {
                "type": "object",
                "nullable": true,
                "additionalProperties": {"type": "string"},
            },
            "stage": nullable_stage,
            "severity": one_of(Severity::NAMES),
            "category": one_of(Category::NAMES),
            "cause": nullable_string(),
            "message": string(),
            "details": {"nullable": true, "description": "Structured evidence (any JSON)."},
            "affected_records": {"type": "integer", "nullable": true},
            "sample_records": {"nullable": true, "description": "A few affected records (any JSON)."},
            "execution_id": nullable_string(),
            "batch_id": nullable_string(),
            "capture_id": nullable_string(),
            "detected_at": timestamp(),
            "resolved_at": {"type": "string", "format": "date-time", "nullable": true},
            "resolution_note": nullable_string(),
            "resolved_by": {
                "type": "string",
                "nullable": true,
                "description": "Who resolved it (with the note: the audit record of why).",
            },
            "created_at": timestamp(),
        })),
        "DoctorReport": object(json!({
            "domain": string(),
            "checked_at": timestamp(),
            "latest_due_week": {"type": "string", "format": "date", "nullable": true, "description": "The most recent week whose every expected partition is due."},
            "headline": {"type": "string", "nullable": true, "description": "That week's verdict in one line."},
            "weeks": {"type": "array", "items": schema_ref("WeekDiagnosis")},
            "open_anomalies": {"type": "array", "items": schema_ref("SeverityGroup")},
            "abandoned": {"type": "array", "items": schema_ref("AbandonedRun")},
            "work": schema_ref("WorkQueueState"),
            "remediation": strings(),
            "blocking": {"type": "boolean"},
        })),
        "WorkQueueState": object(json!({
            "by_state": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Work items per state (PENDING, RUNNING, RETRY_WAIT, COMPLETE, FAILED, CANCELLED), only states with items.",
            },
            "failed": {"type": "array", "items": schema_ref("FailedWorkItem")},
            "last_pass_at": {"type": "string", "format": "date-time", "nullable": true, "description": "The clock of the most recent worker pass."},
            "last_pass_by": {"type": "string", "nullable": true, "description": "The worker that ran it."},
        })),
        "FailedWorkItem": object(json!({
            "id": {"type": "integer", "description": "For `spine work retry ID`."},
            "partition_key": string(),
            "kind": one_of(WorkKind::NAMES),
            "attempts": {"type": "integer"},
            "last_error": nullable_string(),
        })),
        "WeekDiagnosis": object(json!({
            "week_ending": {"type": "string", "format": "date"},
            "fully_due": {"type": "boolean", "description": "Every expected partition is due (otherwise what is missing may not be published yet)."},
            "expected": strings(),
            "present": {"type": "array", "items": schema_ref("PartitionState")},
            "missing": {"type": "array", "items": schema_ref("MissingPartition")},
            "derived": {"type": "array", "items": schema_ref("DerivedGap")},
            "readiness": {"type": "array", "items": schema_ref("Certification")},
            "summary": string(),
        })),
        "PartitionState": object(json!({
            "partition_key": string(),
            "capture_id": string(),
            "captured_at": timestamp(),
            "stage": nullable_stage,
        })),
        "MissingPartition": object(json!({
            "partition_key": string(),
            "status": {"type": "string", "description": "missed, pending or incomplete"},
            "stopped_at": nullable_stage,
            "due": {"type": "string", "format": "date-time", "nullable": true},
            "remedy": {"type": "string", "description": "The command that fixes it."},
        })),
        "AbandonedRun": object(json!({
            "execution_id": string(),
            "pipeline": string(),
            "partition_key": nullable_string(),
            "started_at": timestamp(),
            "heartbeat_at": {"type": "string", "format": "date-time", "nullable": true},
        })),
        "DerivedGap": object(json!({
            "problem": string(),
            "remedy": {"type": "string", "description": "The command that fixes it."},
        })),
        "SeverityGroup": object(json!({
            "severity": one_of(Severity::NAMES),
            "count": {"type": "integer"},
            "anomalies": {"type": "array", "items": schema_ref("AnomalyLine")},
        })),
        "AnomalyLine": object(json!({
            "id": {"type": "integer"},
            "category": one_of(Category::NAMES),
            "partition_key": nullable_string(),
            "message": string(),
        })),
        "Health": object(json!({
            "status": one_of(&["ok", "unavailable"]),
            "database": {
                "type": "string",
                "enum": ["ok", "failed", "skipped"],
                "description": "The database answers a ping.",
            },
            "schema": {
                "type": "string",
                "enum": ["ok", "failed", "skipped"],
                "description": "Its applied migrations are exactly this binary's.",
            },
            "data": {
                "type": "string",
                "enum": ["ok", "failed", "skipped"],
                "description": "A row of each table the routes start from can be read.",
            },
            "error": {
                "type": "string",
                "nullable": true,
                "description": "The failed check and why; null when every check passed.",
            },
        })),
    })
}
