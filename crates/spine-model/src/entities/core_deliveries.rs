//! Entity for the `core_deliveries` table: one message to one subscription, and its log.
//!
//! A delivery is either one event for one subscription (`event_id` set) or one day's digest for
//! one subscription (`digest_day` set). `delivery_id` is stable, derived from (subscription,
//! event) or (subscription, day), and sent with every attempt (`X-Spine-Delivery`), so a
//! receiver can drop a duplicate. `state` is PENDING, DELIVERED or FAILED; a claimed delivery
//! carries a lease (`locked_by`, `lease_expires_at`) so two workers never send it at once.
//!
//! Created by migration `m20261202_000002_notifications`; unique `(delivery_id)`; indexed on
//! `(state, next_attempt_at)` and `(subscription_id)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_deliveries`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Stable across retries: `X-Spine-Delivery`.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub delivery_id: String,
    pub subscription_id: i64,
    /// The event, for a per-event delivery.
    pub event_id: Option<i64>,
    /// The UTC day, for a digest.
    pub digest_day: Option<Date>,
    /// [`crate::DeliveryState`].
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    /// The HTTP status or SMTP code of the last attempt, when there was one.
    pub last_status: Option<i32>,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub locked_by: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// `core_deliveries` declares no foreign keys (see the module docs of `entities`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
