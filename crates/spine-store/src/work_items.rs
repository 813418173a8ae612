//! `core_work_items`: the queue of partitions to (re)process, with retries and backoff.
//!
//! State machine: `PENDING → RUNNING → COMPLETE`; a failure goes to `RETRY_WAIT` with a
//! `next_attempt_at`, or to `FAILED` once `max_attempts` is spent. Claiming is a conditional
//! UPDATE, so two workers can never both run the same item.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;
use spine_model::entities::core_work_items::{self, Column, Entity};
use spine_model::{Domain, PartitionKey, WorkItemState};

use crate::{StoreError, StoreResult};

/// A stored work item.
pub type WorkItem = core_work_items::Model;

/// Work to enqueue.
#[derive(Debug, Clone)]
pub struct NewWorkItem {
    /// The domain.
    pub domain: Domain,
    /// The pipeline to run.
    pub pipeline: String,
    /// The partition to run it for.
    pub partition: PartitionKey,
    /// Extra pipeline parameters.
    pub params: Option<Value>,
    /// When the work should run.
    pub desired_at: DateTime<Utc>,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts before the item is FAILED.
    pub max_attempts: i32,
}

/// Enqueues work; enqueueing the same (domain, pipeline, partition) again keeps the one item.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    item: NewWorkItem,
    now: DateTime<Utc>,
) -> StoreResult<WorkItem> {
    if item.max_attempts < 1 {
        return Err(StoreError::Invalid(format!(
            "max_attempts must be at least 1, got {}",
            item.max_attempts
        )));
    }
    let model = core_work_items::ActiveModel {
        domain: Set(item.domain.to_string()),
        pipeline: Set(item.pipeline.clone()),
        partition_key: Set(item.partition.canonical()),
        params_json: Set(item.params),
        desired_at: Set(item.desired_at),
        priority: Set(item.priority),
        state: Set(WorkItemState::Pending.to_string()),
        attempt_count: Set(0),
        max_attempts: Set(item.max_attempts),
        next_attempt_at: Set(Some(item.desired_at)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Entity::insert(model)
        .on_conflict_do_nothing_on([Column::Domain, Column::Pipeline, Column::PartitionKey])
        .exec(conn)
        .await?;
    find(conn, &item.domain, &item.pipeline, &item.partition)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "the work item just enqueued".to_string(),
        })
}

/// The work item for (domain, pipeline, partition).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    pipeline: &str,
    partition: &PartitionKey,
) -> StoreResult<Option<WorkItem>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::Pipeline.eq(pipeline))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .one(conn)
        .await?)
}

/// Claims the most urgent item that is due at `now`, for `worker`. Returns None when nothing is
/// due. Safe under concurrency: the claim only succeeds if the item is still claimable.
pub async fn claim_next<C: ConnectionTrait>(
    conn: &C,
    worker: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<WorkItem>> {
    let claimable = || {
        Condition::any()
            .add(Column::State.eq(WorkItemState::Pending.as_str()))
            .add(Column::State.eq(WorkItemState::RetryWait.as_str()))
    };
    // Another worker may win the race for a candidate; try the next one, a bounded number of
    // times, rather than spin.
    for _ in 0..8 {
        let Some(candidate) = Entity::find()
            .filter(claimable())
            .filter(Column::NextAttemptAt.lte(now))
            .order_by_desc(Column::Priority)
            .order_by_asc(Column::NextAttemptAt)
            .order_by_asc(Column::Id)
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        let claimed = Entity::update_many()
            .col_expr(Column::State, Expr::value(WorkItemState::Running.as_str()))
            .col_expr(Column::AttemptCount, Expr::col(Column::AttemptCount).add(1))
            .col_expr(Column::LockedBy, Expr::value(worker))
            .col_expr(Column::LockedAt, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(candidate.id))
            .filter(claimable())
            .exec(conn)
            .await?;
        if claimed.rows_affected == 1 {
            return get(conn, candidate.id).await.map(Some);
        }
    }
    Ok(None)
}

/// One work item by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<WorkItem> {
    Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("work item {id}"),
        })
}

async fn running<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<WorkItem> {
    let item = get(conn, id).await?;
    if item.state != WorkItemState::Running.as_str() {
        return Err(StoreError::Invalid(format!(
            "work item {id} is {}, not RUNNING",
            item.state
        )));
    }
    Ok(item)
}

/// Marks a running item complete.
pub async fn complete<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    execution_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<WorkItem> {
    running(conn, id).await?;
    Entity::update_many()
        .col_expr(Column::State, Expr::value(WorkItemState::Complete.as_str()))
        .col_expr(Column::LatestExecutionId, Expr::value(execution_id))
        .col_expr(
            Column::CurrentExecutionId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(Column::LockedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Column::CompletedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    get(conn, id).await
}

/// Records a failed attempt: RETRY_WAIT with exponential backoff (`base × 2^(attempt-1)`), or
/// FAILED when no attempts are left.
pub async fn fail<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    error: &str,
    base_backoff: Duration,
    now: DateTime<Utc>,
) -> StoreResult<WorkItem> {
    let item = running(conn, id).await?;
    let exhausted = item.attempt_count >= item.max_attempts;
    let (state, next) = if exhausted {
        (WorkItemState::Failed, None)
    } else {
        let factor = 1i32 << (item.attempt_count - 1).clamp(0, 16);
        (WorkItemState::RetryWait, Some(now + base_backoff * factor))
    };
    Entity::update_many()
        .col_expr(Column::State, Expr::value(state.as_str()))
        .col_expr(Column::LastError, Expr::value(error))
        .col_expr(Column::LastErrorAt, Expr::value(now))
        .col_expr(Column::NextAttemptAt, Expr::value(next))
        .col_expr(Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(Column::LockedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    get(conn, id).await
}

/// Work items, optionally only those in one state, oldest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    state: Option<WorkItemState>,
) -> StoreResult<Vec<WorkItem>> {
    let mut query = Entity::find();
    if let Some(state) = state {
        query = query.filter(Column::State.eq(state.as_str()));
    }
    Ok(query.order_by_asc(Column::Id).all(conn).await?)
}
