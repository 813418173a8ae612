//! Entity for the `core_events` table: the notification outbox.
//!
//! One row per thing people may want to be told about (a verdict moved, a certification was
//! invalidated, a capture revised, an anomaly opened or resolved, a partition missed, work
//! failed), written by the store in the same transaction as the change that caused it, so an
//! event is never lost and never exists for a change that rolled back. `dedupe_key` is unique:
//! recording the same change twice keeps one event. `fanned_out_at` is set once the event's
//! deliveries were created.
//!
//! Created by migration `m20261202_000002_notifications`; unique `(dedupe_key)`; indexed on
//! `(fanned_out_at)` and `(occurred_at)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_events`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: Option<String>,
    /// [`crate::EventKind`].
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kind: String,
    /// [`crate::ReadyFor`], for events about one use.
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub ready_for: Option<String>,
    /// [`crate::Severity`], for events that have one (anomalies, failures).
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub severity: Option<String>,
    /// The event's details (status, previous status, blocking issues, who signed, ...).
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// The capture the event is about (the new one, for a revision).
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: Option<String>,
    /// The capture it superseded, for revisions and invalidated certifications.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub previous_capture_id: Option<String>,
    /// When it happened (the run's clock).
    pub occurred_at: DateTimeUtc,
    /// Unique: the same change recorded twice is one event.
    #[sea_orm(column_type = "String(StringLen::N(256))")]
    pub dedupe_key: String,
    /// When its deliveries were created (wall clock); null until then.
    pub fanned_out_at: Option<DateTimeUtc>,
    /// Wall clock at insert.
    pub created_at: DateTimeUtc,
}

/// `core_events` declares no foreign keys (see the module docs of `entities`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
