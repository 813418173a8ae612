//! `core_work_items`: the queue of partitions to fetch (or to check for revisions), shared by
//! every worker through the database.
//!
//! State machine: `PENDING → RUNNING → COMPLETE`; a failed attempt goes to `RETRY_WAIT` with a
//! `next_attempt_at`, or to `FAILED`; an operator may `CANCEL` any item that is not complete and
//! `retry` a failed or cancelled one. A claimed item carries a lease (`lease_expires_at`, wall
//! clock) that its worker renews while it works: an item whose lease expired is claimable again,
//! which is how a crashed worker's item is taken over instead of lost.
//!
//! Claiming is one transaction that selects the most urgent claimable item `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL (workers never wait on each other's candidates) and under SQLite's
//! write lock (`BEGIN IMMEDIATE`) on SQLite, then marks it RUNNING: two workers never hold the
//! same item. Every change of a claimed item checks that the worker still holds it, so a worker
//! that lost its lease cannot overwrite what the new holder did.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionSession, TransactionTrait,
};
use serde_json::Value;
use spine_model::entities::core_work_items::{self, Column, Entity};
use spine_model::{Domain, PartitionKey, WorkItemState, WorkKind};

use crate::{StoreError, StoreResult};

/// A stored work item.
pub type WorkItem = core_work_items::Model;

/// Work to enqueue.
#[derive(Debug, Clone)]
pub struct NewWorkItem {
    /// The domain.
    pub domain: Domain,
    /// The pipeline to run (the domain's ingest pipeline).
    pub pipeline: String,
    /// Fetch a due partition, or check a captured one for revisions.
    pub kind: WorkKind,
    /// The partition to run it for.
    pub partition: PartitionKey,
    /// Extra pipeline parameters.
    pub params: Option<Value>,
    /// When the work should first run (the run clock).
    pub desired_at: DateTime<Utc>,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts before the item is FAILED.
    pub max_attempts: i32,
}

/// Enqueues work. Enqueueing the same (domain, pipeline, kind, partition) again keeps the one
/// item, whatever its state: returns it and whether this call created it.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    item: NewWorkItem,
    now: DateTime<Utc>,
) -> StoreResult<(WorkItem, bool)> {
    if item.max_attempts < 1 {
        return Err(StoreError::Invalid(format!(
            "max_attempts must be at least 1, got {}",
            item.max_attempts
        )));
    }
    let model = core_work_items::ActiveModel {
        domain: Set(item.domain.to_string()),
        pipeline: Set(item.pipeline.clone()),
        kind: Set(item.kind.to_string()),
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
    let inserted = Entity::insert(model)
        .on_conflict_do_nothing_on([
            Column::Domain,
            Column::Pipeline,
            Column::Kind,
            Column::PartitionKey,
        ])
        .exec_without_returning(conn)
        .await?;
    let stored = find(
        conn,
        &item.domain,
        &item.pipeline,
        item.kind,
        &item.partition,
    )
    .await?
    .ok_or_else(|| StoreError::NotFound {
        what: "the work item just enqueued".to_string(),
    })?;
    let created = matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    Ok((stored, created))
}

/// The work item for (domain, pipeline, kind, partition).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    pipeline: &str,
    kind: WorkKind,
    partition: &PartitionKey,
) -> StoreResult<Option<WorkItem>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::Pipeline.eq(pipeline))
        .filter(Column::Kind.eq(kind.as_str()))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .one(conn)
        .await?)
}

/// Every item of a domain and kind, keyed by partition: what a worker pass compares the due
/// partitions with, in one query.
pub async fn of_kind<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    kind: WorkKind,
) -> StoreResult<Vec<WorkItem>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::Kind.eq(kind.as_str()))
        .all(conn)
        .await?)
}

/// Puts a finished item (COMPLETE) back in the queue for `next_attempt_at`, with a fresh
/// attempt budget: how a revision check comes round again. Items in any other state are left
/// alone; returns whether it was rescheduled.
pub async fn reschedule<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    next_attempt_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = Entity::update_many()
        .col_expr(Column::State, Expr::value(WorkItemState::Pending.as_str()))
        .col_expr(Column::AttemptCount, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(WorkItemState::Complete.as_str()))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// An item a worker claimed, and whose expired lease it took over (if it did).
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The item, now RUNNING and held by the worker.
    pub item: WorkItem,
    /// The worker that held it before its lease expired.
    pub took_over_from: Option<String>,
}

/// Claims the most urgent item for `worker`: a PENDING or RETRY_WAIT item due at `now` (the run
/// clock), or a RUNNING one whose lease expired before `wall_now` (its worker died). The claim
/// holds until `lease_until` (wall clock) unless renewed. Returns None when nothing is
/// claimable. One transaction; see the module documentation for why two workers never win
/// the same item.
pub async fn claim_next<C: ConnectionTrait + TransactionTrait>(
    conn: &C,
    worker: &str,
    now: DateTime<Utc>,
    wall_now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> StoreResult<Option<Claimed>> {
    let txn = crate::begin_write(conn).await?;
    let candidate = Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::State.is_in([
                            WorkItemState::Pending.as_str(),
                            WorkItemState::RetryWait.as_str(),
                        ]))
                        .add(Column::NextAttemptAt.lte(now)),
                )
                .add(
                    Condition::all()
                        .add(Column::State.eq(WorkItemState::Running.as_str()))
                        .add(Column::LeaseExpiresAt.lt(wall_now)),
                ),
        )
        .order_by_desc(Column::Priority)
        .order_by_asc(Column::NextAttemptAt)
        .order_by_asc(Column::Id)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(&txn)
        .await?;
    let Some(candidate) = candidate else {
        txn.commit().await?;
        return Ok(None);
    };
    let took_over_from = (candidate.state == WorkItemState::Running.as_str())
        .then(|| candidate.locked_by.clone())
        .flatten();
    Entity::update_many()
        .col_expr(Column::State, Expr::value(WorkItemState::Running.as_str()))
        .col_expr(Column::AttemptCount, Expr::col(Column::AttemptCount).add(1))
        .col_expr(Column::LockedBy, Expr::value(worker))
        .col_expr(Column::LockedAt, Expr::value(wall_now))
        .col_expr(Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(candidate.id))
        .exec(&txn)
        .await?;
    let item = get(&txn, candidate.id).await?;
    txn.commit().await?;
    Ok(Some(Claimed {
        item,
        took_over_from,
    }))
}

/// Extends `worker`'s lease on a RUNNING item to `lease_until` (wall clock). False when the
/// worker no longer holds it (its lease expired and another worker took it over, or an operator
/// cancelled it): the worker must stop working on it.
pub async fn renew_lease<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    worker: &str,
    lease_until: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = Entity::update_many()
        .col_expr(Column::LeaseExpiresAt, Expr::value(lease_until))
        .filter(held_by(id, worker))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// The item `id`, RUNNING and held by `worker`.
fn held_by(id: i64, worker: &str) -> Condition {
    Condition::all()
        .add(Column::Id.eq(id))
        .add(Column::State.eq(WorkItemState::Running.as_str()))
        .add(Column::LockedBy.eq(worker))
}

/// What happens to an item at the end of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Done.
    Complete {
        /// The execution that did it, if one ran.
        execution_id: Option<String>,
    },
    /// Failed; try again at `next_attempt_at` (the run clock).
    Retry {
        /// What went wrong (redacted, bounded).
        error: String,
        /// When to try again.
        next_attempt_at: DateTime<Utc>,
    },
    /// Failed for good.
    Fail {
        /// What went wrong (redacted, bounded).
        error: String,
    },
    /// The worker is stopping: back to PENDING at once, the attempt not counted.
    Release,
}

/// Ends `worker`'s attempt at item `id` as `settle` says. Returns the updated item, or None when
/// the worker no longer held it (a takeover or a cancellation came first: what the new holder
/// or the operator did stands).
pub async fn settle<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    worker: &str,
    settle: Settle,
    now: DateTime<Utc>,
) -> StoreResult<Option<WorkItem>> {
    let none_time = Option::<DateTime<Utc>>::None;
    let none_text = Option::<String>::None;
    let mut update = Entity::update_many()
        .col_expr(Column::LockedBy, Expr::value(none_text.clone()))
        .col_expr(Column::LockedAt, Expr::value(none_time))
        .col_expr(Column::LeaseExpiresAt, Expr::value(none_time))
        .col_expr(Column::UpdatedAt, Expr::value(now));
    let failed = matches!(settle, Settle::Fail { .. });
    update = match settle {
        Settle::Complete { execution_id } => {
            let mut u = update
                .col_expr(Column::State, Expr::value(WorkItemState::Complete.as_str()))
                .col_expr(Column::CurrentExecutionId, Expr::value(none_text))
                .col_expr(Column::NextAttemptAt, Expr::value(none_time))
                .col_expr(Column::CompletedAt, Expr::value(now));
            if let Some(id) = execution_id {
                u = u.col_expr(Column::LatestExecutionId, Expr::value(id));
            }
            u
        }
        Settle::Retry {
            error,
            next_attempt_at,
        } => update
            .col_expr(
                Column::State,
                Expr::value(WorkItemState::RetryWait.as_str()),
            )
            .col_expr(Column::LastError, Expr::value(error))
            .col_expr(Column::LastErrorAt, Expr::value(now))
            .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at)),
        Settle::Fail { error } => update
            .col_expr(Column::State, Expr::value(WorkItemState::Failed.as_str()))
            .col_expr(Column::LastError, Expr::value(error))
            .col_expr(Column::LastErrorAt, Expr::value(now))
            .col_expr(Column::NextAttemptAt, Expr::value(none_time)),
        Settle::Release => update
            .col_expr(Column::State, Expr::value(WorkItemState::Pending.as_str()))
            .col_expr(Column::AttemptCount, Expr::col(Column::AttemptCount).sub(1))
            .col_expr(Column::NextAttemptAt, Expr::value(now)),
    };
    let done = update.filter(held_by(id, worker)).exec(conn).await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    let item = get(conn, id).await?;
    if failed {
        // The outbox, on the caller's connection: retries are exhausted (or the failure is not
        // retryable), which people must hear about once per failure.
        crate::events::record(
            conn,
            crate::events::NewEvent {
                domain: item.domain.parse()?,
                partition: Some(PartitionKey::parse(&item.partition_key)?),
                kind: spine_model::EventKind::WorkFailed,
                ready_for: None,
                severity: Some(spine_model::Severity::Error),
                payload: serde_json::json!({
                    "work_item_id": item.id,
                    "pipeline": item.pipeline,
                    "kind": item.kind,
                    "attempts": item.attempt_count,
                    "max_attempts": item.max_attempts,
                    "error": item.last_error,
                }),
                capture_id: None,
                previous_capture_id: None,
                occurred_at: now,
                dedupe_key: format!("work.failed:{}:{}", item.id, now.timestamp_micros()),
            },
        )
        .await?;
    }
    Ok(Some(item))
}

/// An operator's "try again now": a FAILED, CANCELLED or RETRY_WAIT item goes back to PENDING,
/// due at `now`, with a fresh attempt budget (its attempt history stays). Refuses items that are
/// RUNNING, PENDING or COMPLETE, saying why.
pub async fn retry<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    now: DateTime<Utc>,
) -> StoreResult<WorkItem> {
    let item = get(conn, id).await?;
    let state: WorkItemState = item.state.parse()?;
    if !matches!(
        state,
        WorkItemState::Failed | WorkItemState::Cancelled | WorkItemState::RetryWait
    ) {
        return Err(StoreError::Invalid(format!(
            "work item {id} is {state}: only FAILED, CANCELLED or RETRY_WAIT items can be retried"
        )));
    }
    Entity::update_many()
        .col_expr(Column::State, Expr::value(WorkItemState::Pending.as_str()))
        .col_expr(Column::AttemptCount, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .col_expr(Column::CancelReason, Expr::value(Option::<String>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(item.state.as_str()))
        .exec(conn)
        .await?;
    get(conn, id).await
}

/// An operator withdraws an item: CANCELLED with the reason, whatever state it is in but
/// COMPLETE. A worker holding it finds out when it next renews its lease or settles, and its
/// result is dropped.
pub async fn cancel<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<WorkItem> {
    let item = get(conn, id).await?;
    if item.state == WorkItemState::Complete.as_str() {
        return Err(StoreError::Invalid(format!(
            "work item {id} is COMPLETE: there is nothing to cancel"
        )));
    }
    if reason.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a cancellation needs a reason (--reason TEXT)".to_string(),
        ));
    }
    Entity::update_many()
        .col_expr(
            Column::State,
            Expr::value(WorkItemState::Cancelled.as_str()),
        )
        .col_expr(Column::CancelReason, Expr::value(reason))
        .col_expr(Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::State.ne(WorkItemState::Complete.as_str()))
        .exec(conn)
        .await?;
    get(conn, id).await
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

/// Which items [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct WorkFilter {
    /// Only items in this state.
    pub state: Option<WorkItemState>,
    /// Only items of this domain.
    pub domain: Option<Domain>,
    /// At most this many, the most urgent first.
    pub limit: Option<u64>,
}

/// Work items: open ones first by when they run next, then finished ones newest first.
pub async fn list<C: ConnectionTrait>(conn: &C, filter: &WorkFilter) -> StoreResult<Vec<WorkItem>> {
    let mut query = Entity::find();
    if let Some(state) = filter.state {
        query = query.filter(Column::State.eq(state.as_str()));
    }
    if let Some(domain) = &filter.domain {
        query = query.filter(Column::Domain.eq(domain.as_str()));
    }
    let mut query = query
        .order_by_asc(Column::NextAttemptAt)
        .order_by_desc(Column::UpdatedAt)
        .order_by_asc(Column::Id);
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    let mut items = query.all(conn).await?;
    // NULL sorts differently on the two backends: put items with no next attempt (finished)
    // after the open ones on both.
    items.sort_by_key(|i| i.next_attempt_at.is_none());
    Ok(items)
}

/// How many items each (domain, state) has, in one grouped query: the queue depth `/metrics`
/// and `doctor` report.
pub async fn counts<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<(String, String, i64)>> {
    let rows: Vec<(String, String, i64)> = Entity::find()
        .select_only()
        .column(Column::Domain)
        .column(Column::State)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::Domain)
        .group_by(Column::State)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows)
}
