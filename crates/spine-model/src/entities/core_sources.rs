//! Entity for the `core_sources` table.
//!
//! Where a domain's data comes from, configured once and shared by every worker: a unique name,
//! the domain, the kind (`url-template`, or a kind a domain plugin offers such as `finra-api`),
//! the kind's settings as JSON (secrets only as names of environment variables), the first week
//! the source is expected to serve, and whether it is active.
//!
//! Created by migration `m20261202_000001_sources`; unique `(name)`; indexed on
//! `(domain, active)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_sources`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_sources")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub name: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub domain: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub kind: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub settings_json: Json,
    pub since: Option<Date>,
    #[sea_orm(default_value = true)]
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// `core_sources` declares no foreign keys (fetch state and rate rows refer to a source by id,
/// which the store resolves), so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
