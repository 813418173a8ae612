//! Entity for the `ref_calendar_trading_days` table.
//!
//! Trading-day counts per week or month, derived from a calendar capture; FINRA volume-per-day
//! calculations divide by these.
//!
//! Created by migration `m20260101_000003_exchange_calendar`; unique `(capture_id, period_type,
//! period_start)`; indexed on `(exchange_code, period_type, period_start)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `ref_calendar_trading_days`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "ref_calendar_trading_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub exchange_code: String,
    #[sea_orm(column_type = "String(StringLen::N(8))")]
    pub period_type: String,
    pub period_start: Date,
    pub period_end: Date,
    pub trading_days: i32,
}

/// `ref_calendar_trading_days` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
