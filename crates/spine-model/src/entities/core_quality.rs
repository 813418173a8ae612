//! Entity for the `core_quality` table.
//!
//! Results of named data-quality checks (PASS / WARN / FAIL) per partition and capture, with the
//! actual and expected values that decided them.
//!
//! Created by migration `m20260101_000001_core`; indexed on `(domain, partition_key)`. See
//! `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_quality`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_quality")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub check_name: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub category: String,
    #[sea_orm(column_type = "String(StringLen::N(8))")]
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub message: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub actual_value: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub expected_value: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub details_json: Option<Json>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub execution_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub batch_id: Option<String>,
    pub created_at: DateTimeUtc,
}

/// `core_quality` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
