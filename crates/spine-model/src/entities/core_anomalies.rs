//! Entity for the `core_anomalies` table.
//!
//! Everything that went wrong or looks wrong, with severity and category; an anomaly blocks
//! readiness until it is resolved (`resolved_at` set), which is why unresolved rows have their own
//! partial index.
//!
//! Created by migration `m20260101_000001_core`; indexed on `(domain, partition_key)`; indexed on
//! `(severity)`; indexed on `(category)`; indexed on `(detected_at)`; partial index on
//! `resolved_at` `WHERE resolved_at IS NULL`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_anomalies`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_anomalies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub pipeline: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub stage: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub severity: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub category: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub details_json: Option<Json>,
    pub affected_records: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub sample_records: Option<Json>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub execution_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub batch_id: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: Option<String>,
    pub detected_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub resolution_note: Option<String>,
    pub created_at: DateTimeUtc,
    /// Added by `m20260102_000001_hardening`. A stable cause key (e.g. `source_unavailable`): detection keeps one open anomaly per
    /// (domain, partition, category, cause), so re-runs never duplicate.
    #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
    pub cause: Option<String>,
    /// Added by `m20260102_000001_hardening`. Who resolved it: a person (`--by`), or `spine`
    /// when detection closed what it had opened.
    #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
    pub resolved_by: Option<String>,
}

/// `core_anomalies` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
