//! Entity for the `core_captures` table.
//!
//! One ingestion of one partition: where the bytes came from, their content hash and the three
//! clocks. `capture_id` is deterministic from (domain, partition, content hash), so re-ingesting
//! identical bytes is a no-op and different bytes make a revision that supersedes the previous
//! capture.
//!
//! Created by migration `m20260101_000001_core`; unique `(capture_id)`; indexed on `(domain,
//! partition_key, captured_at)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_captures`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_captures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub content_hash: String,
    #[sea_orm(column_type = "Text")]
    pub source_locator: String,
    pub source_last_update: Option<Date>,
    pub captured_at: DateTimeUtc,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub supersedes_capture_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata_json: Option<Json>,
    pub created_at: DateTimeUtc,
}

/// `core_captures` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
