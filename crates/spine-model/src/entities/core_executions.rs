//! Entity for the `core_executions` table.
//!
//! One run of one pipeline: what triggered it, how it ended and how many rows it processed; every
//! other table's `execution_id` points here.
//!
//! Created by migration `m20260101_000001_core`; unique `(execution_id)`; indexed on `(status)`;
//! indexed on `(pipeline, started_at)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_executions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_executions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub execution_id: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub pipeline: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub params_json: Option<Json>,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub status: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub trigger_source: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub batch_id: Option<String>,
    pub work_item_id: Option<i64>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub rows_processed: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    /// Renewed while the run works; a RUNNING execution whose heartbeat stopped is abandoned.
    pub heartbeat_at: Option<DateTimeUtc>,
}

/// `core_executions` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
