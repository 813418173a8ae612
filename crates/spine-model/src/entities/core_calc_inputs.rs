//! Entity for the `core_calc_inputs` table.
//!
//! Recorded lineage: the exact upstream capture each calculated capture was computed from, so
//! "dependencies current" can be checked against the latest upstream capture.
//!
//! Created by migration `m20260101_000001_core`; unique `(calc_capture_id, calc_table,
//! input_domain, input_partition_key)`; indexed on `(input_domain, input_partition_key)`; indexed
//! on `(calc_domain, calc_partition_key)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_calc_inputs`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_calc_inputs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub calc_domain: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub calc_table: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub calc_partition_key: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub calc_capture_id: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub input_domain: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub input_table: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub input_partition_key: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub input_capture_id: String,
    pub recorded_at: DateTimeUtc,
}

/// `core_calc_inputs` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
