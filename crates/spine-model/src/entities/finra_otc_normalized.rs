//! Entity for the `finra_otc_normalized` table.
//!
//! Validated, typed FINRA OTC rows: one per (symbol, venue) of a capture. Every calculation is
//! reproducible from these. The week and tier are the capture's partition; the issue and
//! participant names stay in the RAW line (migration `m20260103_000001_finra_rows_by_line`
//! explains why).
//!
//! Keyed by `(capture_key, line_number)` (`WITHOUT ROWID` on SQLite). See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_normalized`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_normalized")]
pub struct Model {
    /// The capture's `core_captures.id`: an integer, so a million rows do not each repeat the
    /// 28-character `capture_id` (migration `m20261204_000001_compact_keys`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub capture_key: i64,
    /// The source line the row was typed from (the same line as its RAW row).
    #[sea_orm(primary_key, auto_increment = false)]
    pub line_number: i64,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub symbol: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub mpid: String,
    pub total_shares: i64,
    pub total_trades: i64,
    pub last_update_date: Date,
}

/// `finra_otc_normalized` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
