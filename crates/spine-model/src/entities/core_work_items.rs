//! Entity for the `core_work_items` table.
//!
//! The work queue: one item per (domain, pipeline, partition) with its state, retry bookkeeping and
//! lease, so operations can see what is pending, running or failed and rerun it.
//!
//! Created by migration `m20260101_000001_core`; `kind`, `lease_expires_at` and `cancel_reason`
//! added by `m20261202_000003_worker`, with the unique key `(domain, pipeline, kind,
//! partition_key)`; indexed on `(state, next_attempt_at)`; indexed on `(desired_at)`. See
//! `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_work_items`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_work_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub pipeline: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub params_json: Option<Json>,
    pub desired_at: DateTimeUtc,
    #[sea_orm(default_value = 100)]
    pub priority: i32,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub state: String,
    #[sea_orm(default_value = 0)]
    pub attempt_count: i32,
    #[sea_orm(default_value = 3)]
    pub max_attempts: i32,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTimeUtc>,
    pub next_attempt_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub current_execution_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub latest_execution_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub locked_by: Option<String>,
    pub locked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    /// `FETCH` or `REVISION_CHECK` ([`crate::WorkKind`]).
    #[sea_orm(column_type = "String(StringLen::N(16))", default_value = "FETCH")]
    pub kind: String,
    /// Until when the worker in `locked_by` holds it (wall clock); past it, another worker
    /// takes it over.
    pub lease_expires_at: Option<DateTimeUtc>,
    /// Why an operator cancelled it.
    #[sea_orm(column_type = "Text")]
    pub cancel_reason: Option<String>,
}

/// `core_work_items` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
