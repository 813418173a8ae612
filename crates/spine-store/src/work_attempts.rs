//! `core_work_attempts`: every attempt of every work item, so a FAILED item carries its whole
//! history (what each try met, when the next was scheduled) and `/metrics` can count attempts,
//! failures and lease takeovers.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use spine_model::AttemptOutcome;
use spine_model::entities::core_work_attempts::{self, Column, Entity};

use crate::StoreResult;

/// A stored attempt.
pub type WorkAttempt = core_work_attempts::Model;

/// The start of an attempt.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    /// The item.
    pub work_item_id: i64,
    /// Its attempt number (the item's `attempt_count` after the claim).
    pub attempt: i32,
    /// Who runs it.
    pub worker_id: String,
    /// When it started (the run clock).
    pub started_at: DateTime<Utc>,
    /// The worker whose expired lease this attempt took over.
    pub took_over_from: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Default)]
pub struct AttemptEnd {
    /// The execution it ran, if any.
    pub execution_id: Option<String>,
    /// Redacted and bounded.
    pub error: Option<String>,
    /// The error's short code (`http_404`, `timeout`, `parse`, …).
    pub error_code: Option<String>,
    /// The HTTP status the source answered.
    pub http_status: Option<u16>,
    /// The source's `Retry-After`, in seconds.
    pub retry_after_seconds: Option<i64>,
    /// The next attempt it scheduled.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// SHA-256 of a body that could not be used.
    pub body_sha256: Option<String>,
    /// Its first bytes, escaped and bounded.
    pub body_prefix: Option<String>,
}

/// Records the start of an attempt (outcome RUNNING); returns its row id.
pub async fn start<C: ConnectionTrait>(conn: &C, new: NewAttempt) -> StoreResult<i64> {
    let row = core_work_attempts::ActiveModel {
        work_item_id: Set(new.work_item_id),
        attempt: Set(new.attempt),
        worker_id: Set(new.worker_id),
        started_at: Set(new.started_at),
        outcome: Set(AttemptOutcome::Running.to_string()),
        took_over_from: Set(new.took_over_from),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row.id)
}

/// Records how an attempt ended.
pub async fn finish<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    outcome: AttemptOutcome,
    end: AttemptEnd,
    finished_at: DateTime<Utc>,
) -> StoreResult<()> {
    core_work_attempts::ActiveModel {
        id: Set(id),
        outcome: Set(outcome.to_string()),
        finished_at: Set(Some(finished_at)),
        execution_id: Set(end.execution_id),
        error: Set(end.error),
        error_code: Set(end.error_code),
        http_status: Set(end.http_status.map(i32::from)),
        retry_after_seconds: Set(end.retry_after_seconds),
        next_attempt_at: Set(end.next_attempt_at),
        body_sha256: Set(end.body_sha256),
        body_prefix: Set(end.body_prefix),
        ..Default::default()
    }
    .update(conn)
    .await?;
    Ok(())
}

/// The attempts of one item, first first.
pub async fn of_item<C: ConnectionTrait>(
    conn: &C,
    work_item_id: i64,
) -> StoreResult<Vec<WorkAttempt>> {
    Ok(Entity::find()
        .filter(Column::WorkItemId.eq(work_item_id))
        .order_by_asc(Column::Attempt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Attempts by outcome, and how many took over an expired lease: `/metrics`' counters, in two
/// grouped queries however long the history.
pub async fn totals<C: ConnectionTrait>(conn: &C) -> StoreResult<AttemptTotals> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let by_outcome: Vec<(String, i64)> = Entity::find()
        .select_only()
        .column(Column::Outcome)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::Outcome)
        .into_tuple()
        .all(conn)
        .await?;
    let takeovers = Entity::find()
        .filter(Column::TookOverFrom.is_not_null())
        .count(conn)
        .await?;
    Ok(AttemptTotals {
        by_outcome,
        takeovers: i64::try_from(takeovers).unwrap_or(i64::MAX),
    })
}

/// What [`totals`] counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptTotals {
    /// (outcome, attempts).
    pub by_outcome: Vec<(String, i64)>,
    /// Attempts that took over an expired lease.
    pub takeovers: i64,
}
