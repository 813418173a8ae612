//! Entity for the `finra_otc_hhi` table.
//!
//! Per-capture Herfindahl-Hirschman concentration of each symbol's volume across venues, in [0, 1].
//!
//! Created by migration `m20260101_000002_finra_otc`; keyed by `(capture_id, symbol)` since
//! `m20261204_000001_compact_keys` (`WITHOUT ROWID` on SQLite).
//! See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_hhi`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_hhi")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(64))"
    )]
    pub capture_id: String,
    pub week_ending: Date,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub tier: String,
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(32))"
    )]
    pub symbol: String,
    pub hhi: f64,
    pub venue_count: i32,
}

/// `finra_otc_hhi` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
