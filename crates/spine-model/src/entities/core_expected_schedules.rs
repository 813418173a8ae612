//! Entity for the `core_expected_schedules` table.
//!
//! When each dataset is expected: the schedule, the partitions it expands to, the publication delay
//! and the preliminary (stabilization) window that readiness criterion 5 uses.
//!
//! Created by migration `m20260101_000001_core`; unique `(domain, pipeline)`; indexed on
//! `(is_active)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_expected_schedules`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_expected_schedules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub pipeline: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub schedule_type: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub cron_expression: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub partition_template: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub partition_values: Option<Json>,
    pub expected_delay_hours: Option<i32>,
    pub preliminary_hours: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    #[sea_orm(default_value = true)]
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// `core_expected_schedules` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
