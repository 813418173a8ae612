//! Entity for the `finra_otc_symbol_summary` table.
//!
//! Per-capture symbol summary: total shares, total trades and venue count per (week, tier, symbol).
//!
//! Created by migration `m20260101_000002_finra_otc`; keyed by `(capture_id, symbol)` since
//! `m20261204_000001_compact_keys` (`WITHOUT ROWID` on SQLite).
//! See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_symbol_summary`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_symbol_summary")]
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
    pub total_shares: i64,
    pub total_trades: i64,
    pub venue_count: i32,
}

/// `finra_otc_symbol_summary` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
