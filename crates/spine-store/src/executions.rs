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
        // The heartbeat is wall-clock time, whatever clock the run was given: it says whether
        // the process is alive now.
        heartbeat_at: Set(Some(Utc::now())),
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

/// Renews a running execution's heartbeat (wall clock): it is still alive.
pub async fn heartbeat<C: ConnectionTrait>(conn: &C, execution_id: &str) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(
            Column::HeartbeatAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(Column::ExecutionId.eq(execution_id))
        .filter(Column::Status.eq(ExecutionStatus::Running.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records which partition a run works on once the domain has planned it (a run started
/// from a bare file knows its partition only after reading it): reports and `doctor` then say
/// which partition an abandoned run left unfinished.
pub async fn set_partition<C: ConnectionTrait>(
    conn: &C,
    execution_id: &str,
    partition: &PartitionKey,
) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(
            Column::PartitionKey,
            sea_orm::sea_query::Expr::value(partition.canonical()),
        )
        .filter(Column::ExecutionId.eq(execution_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The status a report shows for a stored execution: a RUNNING one whose heartbeat (wall
/// clock) is older than `abandoned_after` is ABANDONED: its process died without finishing it.
pub fn reported_status(
    e: &Execution,
    abandoned_after: chrono::Duration,
    wall_now: DateTime<Utc>,
) -> ExecutionStatus {
    let stored: ExecutionStatus = e.status.parse().unwrap_or(ExecutionStatus::Failed);
    if stored == ExecutionStatus::Running
        && e.heartbeat_at
            .is_none_or(|beat| wall_now - beat > abandoned_after)
    {
        ExecutionStatus::Abandoned
    } else {
        stored
    }
}

/// Which executions to list.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only these stored statuses (RUNNING covers abandoned ones too).
    pub statuses: Vec<ExecutionStatus>,
    /// Only runs started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first.
    pub limit: Option<u64>,
}

/// Executions, newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &ExecutionFilter,
) -> StoreResult<Vec<Execution>> {
    use sea_orm::QuerySelect;
    let mut q = Entity::find();
    if !filter.statuses.is_empty() {
        q = q.filter(Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(since) = filter.since {
        q = q.filter(Column::StartedAt.gte(since));
    }
    let mut q = q.order_by_desc(Column::StartedAt).order_by_desc(Column::Id);
    if let Some(limit) = filter.limit {
        q = q.limit(limit);
    }
    Ok(q.all(conn).await?)
}

/// How many executions each (domain, stored status) has: what `/metrics` reports, in one
/// grouped query however many runs there were.
pub async fn counts<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<(String, String, i64)>> {
    use sea_orm::{FromQueryResult, QuerySelect};
    #[derive(FromQueryResult)]
    struct Row {
        domain: String,
        status: String,
        n: i64,
    }
    Ok(Entity::find()
        .select_only()
        .column(Column::Domain)
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::Domain)
        .group_by(Column::Status)
        .into_model::<Row>()
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.domain, r.status, r.n))
        .collect())
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
