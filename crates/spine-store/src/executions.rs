//! `core_executions`: one row per pipeline run, so every capture, reject, anomaly and stage can
//! name the run that produced it.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::Value;
use spine_model::entities::core_executions::{self, Column, Entity};
use spine_model::{Domain, ExecutionStatus, PartitionKey};

use crate::{StoreError, StoreResult};

/// A stored execution.
pub type Execution = core_executions::Model;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A fresh execution id: `exec_` + start time + process id + a per-process sequence, unique
/// without coordination and sortable by start time.
pub fn new_execution_id(now: DateTime<Utc>) -> String {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "exec_{}_{:x}_{seq}",
        now.format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

/// A run about to start.
#[derive(Debug, Clone)]
pub struct NewExecution {
    /// The pipeline run.
    pub pipeline: String,
    /// Its domain.
    pub domain: Domain,
    /// The partition it runs for, when it has one.
    pub partition: Option<PartitionKey>,
    /// Its parameters.
    pub params: Option<Value>,
    /// What started it: `cli`, `schedule`, `retry`, `api`.
    pub trigger_source: String,
    /// The work item it serves, if any.
    pub work_item_id: Option<i64>,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// Records the start of a run and returns it (with its new `execution_id`).
pub async fn start<C: ConnectionTrait>(conn: &C, e: NewExecution) -> StoreResult<Execution> {
    Ok(core_executions::ActiveModel {
        execution_id: Set(new_execution_id(e.started_at)),
        pipeline: Set(e.pipeline),
        domain: Set(e.domain.to_string()),
        partition_key: Set(e.partition.map(|p| p.canonical())),
        params_json: Set(e.params),
        status: Set(ExecutionStatus::Running.to_string()),
        trigger_source: Set(e.trigger_source),
        batch_id: Set(None),
        work_item_id: Set(e.work_item_id),
        started_at: Set(e.started_at),
        finished_at: Set(None),
        rows_processed: Set(None),
        error: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Records the end of a run.
pub async fn finish<C: ConnectionTrait>(
    conn: &C,
    execution_id: &str,
    status: ExecutionStatus,
    rows_processed: Option<i64>,
    error: Option<String>,
    finished_at: DateTime<Utc>,
) -> StoreResult<Execution> {
    let execution = get(conn, execution_id).await?;
    let mut active = execution.into_active_model();
    active.status = Set(status.to_string());
    active.rows_processed = Set(rows_processed);
    active.error = Set(error);
    active.finished_at = Set(Some(finished_at));
    Ok(active.update(conn).await?)
}

/// One execution by id.
pub async fn get<C: ConnectionTrait>(conn: &C, execution_id: &str) -> StoreResult<Execution> {
    Entity::find()
        .filter(Column::ExecutionId.eq(execution_id))
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("execution {execution_id}"),
        })
}

/// The most recent executions, newest first.
pub async fn recent<C: ConnectionTrait>(conn: &C, limit: u64) -> StoreResult<Vec<Execution>> {
    use sea_orm::QuerySelect;
    Ok(Entity::find()
        .order_by_desc(Column::StartedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
