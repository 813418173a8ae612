//! `core_deliveries`: one message to one subscription — an event, or one day's digest — and the
//! log of how sending it went.
//!
//! `delivery_id` is stable (derived from the subscription and the event, or the subscription and
//! the day) and unique, so creating a delivery twice keeps one, and every attempt carries the
//! same id to the receiver. State machine: `PENDING → DELIVERED`, or `PENDING` again with a later
//! `next_attempt_at` after a retryable failure, or `FAILED` for good.
//!
//! Sending is claimed: [`claim_due`] takes due deliveries in one write transaction (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, SQLite's write lock via `BEGIN IMMEDIATE`) and gives them a lease
//! (`locked_by`, `lease_expires_at`, wall clock); a leased delivery is not claimable until its
//! lease expires (its worker died), and [`settle`] only changes a delivery its worker still
//! holds. So two workers never send the same delivery at the same time.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionSession, TransactionTrait,
};
use spine_model::DeliveryState;
use spine_model::entities::core_deliveries::{self, Column, Entity};

use crate::StoreResult;

/// A stored delivery.
pub type Delivery = core_deliveries::Model;

/// What a new delivery carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// One event.
    Event(i64),
    /// One UTC day's digest.
    Digest(NaiveDate),
}

/// Creates a PENDING delivery due at `due`, unless one with this `delivery_id` exists. Returns
/// whether it was created.
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    delivery_id: &str,
    subscription_id: i64,
    content: Content,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let (event_id, digest_day) = match content {
        Content::Event(id) => (Some(id), None),
        Content::Digest(day) => (None, Some(day)),
    };
    let model = core_deliveries::ActiveModel {
        delivery_id: Set(delivery_id.to_string()),
        subscription_id: Set(subscription_id),
        event_id: Set(event_id),
        digest_day: Set(digest_day),
        state: Set(DeliveryState::Pending.to_string()),
        attempts: Set(0),
        next_attempt_at: Set(Some(due)),
        last_error: Set(None),
        last_status: Set(None),
        locked_by: Set(None),
        lease_expires_at: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let inserted = Entity::insert(model)
        .on_conflict_do_nothing_on([Column::DeliveryId])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Claims up to `limit` PENDING deliveries due at `now` (the run clock) whose lease is free or
/// expired before `wall_now`, for `worker` until `lease_until` (wall clock). One transaction; see
/// the module documentation.
pub async fn claim_due<C: ConnectionTrait + TransactionTrait>(
    conn: &C,
    worker: &str,
    now: DateTime<Utc>,
    wall_now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> StoreResult<Vec<Delivery>> {
    let txn = crate::begin_write(conn).await?;
    let candidates = Entity::find()
        .filter(Column::State.eq(DeliveryState::Pending.as_str()))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(Column::LeaseExpiresAt.is_null())
                .add(Column::LeaseExpiresAt.lt(wall_now)),
        )
        .order_by_asc(Column::NextAttemptAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if candidates.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = candidates.iter().map(|d| d.id).collect();
    Entity::update_many()
        .col_expr(Column::LockedBy, Expr::value(worker))
        .col_expr(Column::LeaseExpiresAt, Expr::value(lease_until))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?;
    let claimed = Entity::find()
        .filter(Column::Id.is_in(ids))
        .order_by_asc(Column::NextAttemptAt)
        .order_by_asc(Column::Id)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// How an attempt at a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The channel accepted it.
    Delivered {
        /// The HTTP status or SMTP code, when there was one.
        status: Option<i32>,
    },
    /// Failed; try again at `next_attempt_at` (the run clock).
    Retry {
        /// What went wrong.
        error: String,
        /// The HTTP status or SMTP code, when there was one.
        status: Option<i32>,
        /// When to try again.
        next_attempt_at: DateTime<Utc>,
    },
    /// Failed for good.
    Failed {
        /// What went wrong.
        error: String,
        /// The HTTP status or SMTP code, when there was one.
        status: Option<i32>,
    },
}

/// Ends `worker`'s attempt at delivery `id`: counts the attempt, records the outcome and
/// releases the lease. Returns the updated delivery, or None when the worker no longer held it.
pub async fn settle<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    worker: &str,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> StoreResult<Option<Delivery>> {
    let none_time = Option::<DateTime<Utc>>::None;
    let mut update = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseExpiresAt, Expr::value(none_time))
        .col_expr(Column::UpdatedAt, Expr::value(now));
    update = match outcome {
        Outcome::Delivered { status } => update
            .col_expr(
                Column::State,
                Expr::value(DeliveryState::Delivered.as_str()),
            )
            .col_expr(Column::LastStatus, Expr::value(status))
            .col_expr(Column::NextAttemptAt, Expr::value(none_time))
            .col_expr(Column::DeliveredAt, Expr::value(now)),
        Outcome::Retry {
            error,
            status,
            next_attempt_at,
        } => update
            .col_expr(Column::LastError, Expr::value(error))
            .col_expr(Column::LastStatus, Expr::value(status))
            .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at)),
        Outcome::Failed { error, status } => update
            .col_expr(Column::State, Expr::value(DeliveryState::Failed.as_str()))
            .col_expr(Column::LastError, Expr::value(error))
            .col_expr(Column::LastStatus, Expr::value(status))
            .col_expr(Column::NextAttemptAt, Expr::value(none_time)),
    };
    let done = update
        .filter(Column::Id.eq(id))
        .filter(Column::LockedBy.eq(worker))
        .filter(Column::State.eq(DeliveryState::Pending.as_str()))
        .exec(conn)
        .await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Entity::find_by_id(id).one(conn).await?)
}

/// Every delivery of a subscription, newest first: its delivery log.
pub async fn of_subscription<C: ConnectionTrait>(
    conn: &C,
    subscription_id: i64,
) -> StoreResult<Vec<Delivery>> {
    Ok(Entity::find()
        .filter(Column::SubscriptionId.eq(subscription_id))
        .order_by_desc(Column::Id)
        .all(conn)
        .await?)
}

/// Every delivery in one state, oldest first.
pub async fn in_state<C: ConnectionTrait>(
    conn: &C,
    state: DeliveryState,
) -> StoreResult<Vec<Delivery>> {
    Ok(Entity::find()
        .filter(Column::State.eq(state.as_str()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// How many deliveries are in each state, in one grouped query (for `/metrics` and doctor).
pub async fn counts<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<(String, i64)>> {
    Ok(Entity::find()
        .select_only()
        .column(Column::State)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::State)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Deletes the PENDING deliveries of a subscription (it is being removed).
pub async fn drop_pending<C: ConnectionTrait>(conn: &C, subscription_id: i64) -> StoreResult<()> {
    Entity::delete_many()
        .filter(Column::SubscriptionId.eq(subscription_id))
        .filter(Column::State.eq(DeliveryState::Pending.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}
