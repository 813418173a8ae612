//! `core_events`: the notification outbox.
//!
//! An event is written by the store function that makes the change it announces, on the same
//! connection — inside the caller's transaction when there is one (every stage, the landing step
//! and [`crate::readiness::record_evaluation`] run in one) — so an event exists exactly when its
//! change committed: never lost, never announced for a change that rolled back. Events are
//! recorded on transitions only; the callers in this crate decide what a transition is:
//!
//! - `readiness.changed`: [`crate::readiness::record_evaluation`] appended a verdict whose status
//!   differs from the previous current status, or the first verdict of a partition and use
//!   (`previous_status` null: a subscriber has no other way to learn that a week became ready);
//! - `capture.revised` and `certification.invalidated`: [`crate::captures::record`] stored a
//!   revision (one invalidation per certified current verdict that judged the superseded capture);
//! - `anomaly.opened` (and `schedule.missed` for a `missed` SCHEDULE anomaly):
//!   [`crate::anomalies::record`] inserted a row — a re-detection of an open anomaly inserts
//!   nothing and so announces nothing;
//! - `anomaly.resolved`: [`crate::anomalies::resolve_as`], which refuses a second resolution;
//! - `work.failed`: [`crate::work_items::settle`] with `Settle::Fail`.
//!
//! `dedupe_key` is unique, and [`record`] inserts with `ON CONFLICT DO NOTHING`: the same change
//! recorded twice (a retried unit of work) is one event.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use spine_model::entities::core_events::{self, Column, Entity};
use spine_model::{Domain, EventKind, PartitionKey, ReadyFor, Severity};

use crate::StoreResult;

/// A stored event.
pub type Event = core_events::Model;

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The domain it is about.
    pub domain: Domain,
    /// The partition it is about, if one.
    pub partition: Option<PartitionKey>,
    /// What happened.
    pub kind: EventKind,
    /// The use, for readiness and certification events.
    pub ready_for: Option<ReadyFor>,
    /// How bad, when it has a severity (anomalies, failures).
    pub severity: Option<Severity>,
    /// The details (typed by the caller, JSON here: the outbox is an edge).
    pub payload: Value,
    /// The capture it is about.
    pub capture_id: Option<String>,
    /// The capture superseded, for revisions and invalidated certifications.
    pub previous_capture_id: Option<String>,
    /// When it happened (the run's clock).
    pub occurred_at: DateTime<Utc>,
    /// Unique per change: the same change recorded twice is one event.
    pub dedupe_key: String,
}

/// Records an event on `conn` (pass the transaction of the change it announces). Returns
/// whether it was new (false: an event with the same `dedupe_key` exists).
pub async fn record<C: ConnectionTrait>(conn: &C, event: NewEvent) -> StoreResult<bool> {
    let model = core_events::ActiveModel {
        domain: Set(event.domain.to_string()),
        partition_key: Set(event.partition.map(|p| p.canonical())),
        kind: Set(event.kind.to_string()),
        ready_for: Set(event.ready_for.map(|r| r.to_string())),
        severity: Set(event.severity.map(|s| s.to_string())),
        payload: Set(event.payload),
        capture_id: Set(event.capture_id),
        previous_capture_id: Set(event.previous_capture_id),
        occurred_at: Set(event.occurred_at),
        dedupe_key: Set(event.dedupe_key),
        fanned_out_at: Set(None),
        created_at: Set(crate::wall_clock()),
        ..Default::default()
    };
    let inserted = Entity::insert(model)
        .on_conflict_do_nothing_on([Column::DedupeKey])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Events whose deliveries were not created yet, oldest first, at most `limit`.
pub async fn not_fanned_out<C: ConnectionTrait>(conn: &C, limit: u64) -> StoreResult<Vec<Event>> {
    Ok(Entity::find()
        .filter(Column::FannedOutAt.is_null())
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Marks events as fanned out (their deliveries exist).
pub async fn mark_fanned_out<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::FannedOutAt, Expr::value(at))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .filter(Column::FannedOutAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// One event by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<Option<Event>> {
    Ok(Entity::find_by_id(id).one(conn).await?)
}

/// Events by id, in id order.
pub async fn by_ids<C: ConnectionTrait>(conn: &C, ids: &[i64]) -> StoreResult<Vec<Event>> {
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Every event that occurred on `day` (UTC), oldest first: what a daily digest summarises.
pub async fn on_day<C: ConnectionTrait>(conn: &C, day: NaiveDate) -> StoreResult<Vec<Event>> {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = start + chrono::Duration::days(1);
    Ok(Entity::find()
        .filter(Column::OccurredAt.gte(start))
        .filter(Column::OccurredAt.lt(end))
        .order_by_asc(Column::OccurredAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Every event, oldest first, optionally of one kind only.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    kind: Option<EventKind>,
) -> StoreResult<Vec<Event>> {
    let mut query = Entity::find();
    if let Some(kind) = kind {
        query = query.filter(Column::Kind.eq(kind.as_str()));
    }
    Ok(query.order_by_asc(Column::Id).all(conn).await?)
}

/// The parsed vocabulary of a stored event.
pub trait EventExt {
    /// The kind, parsed.
    fn kind(&self) -> StoreResult<EventKind>;
    /// The severity, parsed.
    fn severity(&self) -> StoreResult<Option<Severity>>;
    /// The use, parsed.
    fn ready_for(&self) -> StoreResult<Option<ReadyFor>>;
}

impl EventExt for Event {
    fn kind(&self) -> StoreResult<EventKind> {
        Ok(self.kind.parse()?)
    }
    fn severity(&self) -> StoreResult<Option<Severity>> {
        Ok(self.severity.as_deref().map(str::parse).transpose()?)
    }
    fn ready_for(&self) -> StoreResult<Option<ReadyFor>> {
        Ok(self.ready_for.as_deref().map(str::parse).transpose()?)
    }
}
