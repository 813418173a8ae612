//! Entity for the `core_source_fetch_state` table.
//!
//! Per (source, partition), the validators of the last successful fetch — the HTTP `ETag` and
//! `Last-Modified`, FINRA's `lastUpdateDate`, the content hash — so the next fetch of that
//! partition can ask "changed since?" and an unchanged source costs no download and no capture.
//!
//! Created by migration `m20261202_000001_sources`; unique `(source_id, partition_key)`. See
//! `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_source_fetch_state`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_source_fetch_state")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source_id: i64,
    #[sea_orm(column_type = "String(StringLen::N(512))")]
    pub partition_key: String,
    #[sea_orm(column_type = "Text")]
    pub etag: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub last_modified: Option<String>,
    pub last_update_date: Option<Date>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub content_hash: Option<String>,
    pub checked_at: DateTimeUtc,
}

/// `core_source_fetch_state` declares no foreign keys: `source_id` names a `core_sources` row,
/// which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
