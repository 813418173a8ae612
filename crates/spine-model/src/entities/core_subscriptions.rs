//! Entity for the `core_subscriptions` table: who is told about what, and how.
//!
//! A unique name, a channel (`webhook`, `slack`, `email`) and its target (a URL or an email
//! address), the filters (domain, use, event kinds, minimum severity), the *name* of the
//! environment variable holding its secret (never the secret), and whether it gets one message
//! per event or a daily digest.
//!
//! Created by migration `m20261202_000002_notifications`; unique `(name)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_subscriptions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub name: String,
    /// [`crate::Channel`].
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub channel: String,
    /// A URL (webhook, slack) or an email address.
    #[sea_orm(column_type = "Text")]
    pub target: String,
    /// Only events of this domain (all domains when null).
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: Option<String>,
    /// Only readiness events for this use ([`crate::ReadyFor`]; all uses when null).
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub ready_for: Option<String>,
    /// A JSON array of [`crate::EventKind`] wire names; null means every kind.
    #[sea_orm(column_type = "JsonBinary")]
    pub events: Option<Json>,
    /// Only events at this severity or worse (events without a severity always pass).
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub min_severity: Option<String>,
    /// The environment variable holding the webhook signing key or SMTP password.
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub secret_env: Option<String>,
    /// [`crate::DigestMode`].
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub digest: String,
    #[sea_orm(default_value = true)]
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// `core_subscriptions` declares no foreign keys (see the module docs of `entities`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
