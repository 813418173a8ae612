//! Entity for the `core_rejects` table.
//!
//! Input lines a stage refused, with the reason code and the raw line, so operations can see
//! exactly what was dropped and why instead of rows silently disappearing.
//!
//! Created by migration `m20260101_000001_core`; indexed on `(domain, partition_key)`; indexed on
//! `(capture_id)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_rejects`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_rejects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub stage: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: String,
    pub line_number: Option<i64>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub reason_code: String,
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    #[sea_orm(column_type = "Text")]
    pub raw_line: String,
    #[sea_orm(column_type = "Text")]
    pub source_locator: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub execution_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub batch_id: Option<String>,
    pub created_at: DateTimeUtc,
}

/// `core_rejects` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
