//! Entity for the `core_readiness_history` table.
//!
//! The append-only audit trail of every readiness evaluation: what was decided, when, by whom and
//! on which captures. Triggers on both backends reject UPDATE and DELETE so compliance can rely on
//! it.
//!
//! Two clocks per row: `evaluated_at` is the as-of clock the evaluation ran on (`--now`), and
//! `recorded_at` the real wall clock when the row was written, read by the store and never given
//! by a caller. A row is appended when the verdict changes, or when an evaluation is made as of
//! an earlier time than the current verdict's (`backdated`, never made current); re-checks that
//! find the same outcome append nothing.
//!
//! Created by migration `m20260101_000001_core`; `recorded_at` and `backdated` added by
//! `m20260104_000001_readiness_audit_clocks`; indexed on `(domain, partition_key, ready_for,
//! evaluated_at)`. See `docs/SCHEMA.md`.
//!
//! Insert only: an `update` or `delete` through this entity fails with the database error
//! `core_readiness_history is append-only`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_readiness_history`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_readiness_history")]
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
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub evaluated_by: Option<String>,
    pub certified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// The wall clock when the row was written (the store's, never the caller's): with
    /// `evaluated_at`, the proof that an "as of" evaluation was made later than it claims.
    pub recorded_at: DateTimeUtc,
    /// Evaluated as of an earlier time than the verdict that was current then: recorded for the
    /// trail, never made the current verdict.
    #[sea_orm(default_value = false)]
    pub backdated: bool,
}

/// `core_readiness_history` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
