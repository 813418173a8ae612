//! Entity for the `finra_otc_raw` table.
//!
//! FINRA OTC Transparency rows exactly as read from the pipe-delimited file (every field as text),
//! tagged with the capture they came from, so normalization can always be replayed.
//!
//! Created by migration `m20260101_000002_finra_otc`; indexed on `(capture_id)`. See
//! `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_raw`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_raw")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: String,
    pub line_number: i64,
    #[sea_orm(column_type = "Text")]
    pub tier_description: String,
    #[sea_orm(column_type = "Text")]
    pub issue_symbol_identifier: String,
    #[sea_orm(column_type = "Text")]
    pub issue_name: String,
    #[sea_orm(column_type = "Text")]
    pub market_participant_name: String,
    #[sea_orm(column_type = "Text")]
    pub mpid: String,
    #[sea_orm(column_type = "Text")]
    pub total_weekly_share_quantity: String,
    #[sea_orm(column_type = "Text")]
    pub total_weekly_trade_count: String,
    #[sea_orm(column_type = "Text")]
    pub last_update_date: String,
}

/// `finra_otc_raw` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
