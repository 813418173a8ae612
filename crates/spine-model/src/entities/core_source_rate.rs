//! Entity for the `core_source_rate` table.
//!
//! The request budget every worker process shares: per rate key (a provider's origin, e.g.
//! `finra-api https://api.finra.org`), the earliest time the next request may be sent. Each
//! request reserves its slot in one write transaction, so any number of workers on any number
//! of machines together stay under the provider's published limit.
//!
//! Created by migration `m20261202_000001_sources`; unique `(rate_key)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_source_rate`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_source_rate")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(256))")]
    pub rate_key: String,
    pub next_slot_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// `core_source_rate` declares no foreign keys (a rate key may be shared by several sources),
/// so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
