//! Entity for the `core_data_readiness` table.
//!
//! The current readiness verdict per (domain, partition, use): the five criteria, what blocked it
//! and which captures were judged. Derived from the latest non-backdated `core_readiness_history`
//! row; certification stamps `certified_at` / `certified_by`.
//!
//! `evaluated_at` is the as-of clock of the evaluation that made the verdict and `recorded_at`
//! the wall clock when it was recorded; `last_checked_at` is the as-of clock of the latest
//! re-check that found the same outcome (which appends no history row).
//!
//! Created by migration `m20260101_000001_core`; `last_checked_at` and `recorded_at` added by
//! `m20260104_000001_readiness_audit_clocks`; unique `(domain, partition_key, ready_for)`;
//! indexed on `(is_ready, ready_for)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_data_readiness`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_data_readiness")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub ready_for: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub status: String,
    pub is_ready: bool,
    pub all_partitions_present: bool,
    pub all_stages_complete: bool,
    pub no_critical_anomalies: bool,
    pub dependencies_current: bool,
    pub age_exceeds_preliminary: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub blocking_issues: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub captures_judged: Json,
    pub evaluated_at: DateTimeUtc,
    pub certified_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub certified_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The as-of clock of the latest evaluation that found this same verdict (None until one
    /// does): "still true as of then", without a history row per identical check.
    pub last_checked_at: Option<DateTimeUtc>,
    /// The wall clock when this verdict was recorded (its history row's `recorded_at`).
    pub recorded_at: DateTimeUtc,
}

/// `core_data_readiness` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
