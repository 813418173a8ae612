//! Entity for the `core_manifest` table.
//!
//! The stage (RAW / NORMALIZED / CALC) each partition has reached, and for which capture: one row
//! per (domain, partition, stage), overwritten as newer captures move through the pipeline.
//!
//! Created by migration `m20260101_000001_core`; unique `(domain, partition_key, stage)`; indexed
//! on `(domain, stage)`; indexed on `(updated_at)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_manifest`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_manifest")]
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
    pub row_count: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub metrics_json: Option<Json>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub execution_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub batch_id: Option<String>,
    pub updated_at: DateTimeUtc,
}

/// `core_manifest` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
