//! Entity for the `finra_otc_normalized` table.
//!
//! Validated, typed FINRA OTC rows: one per (week, tier, symbol, venue) of a capture. Every
//! calculation is reproducible from these.
//!
//! Created by migration `m20260101_000002_finra_otc`; indexed on `(capture_id, id)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_normalized`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_normalized")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: String,
    pub week_ending: Date,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub tier: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub symbol: String,
    #[sea_orm(column_type = "Text")]
    pub issue_name: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub mpid: String,
    #[sea_orm(column_type = "Text")]
    pub market_participant_name: String,
    pub total_shares: i64,
    pub total_trades: i64,
    pub last_update_date: Date,
    pub line_number: i64,
}

/// `finra_otc_normalized` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
