//! Entity for the `ref_calendar_holidays` table.
//!
//! Exchange holidays per capture of the exchange calendar reference data.
//!
//! Created by migration `m20260101_000003_exchange_calendar`; unique `(capture_id, holiday_date)`;
//! indexed on `(exchange_code, year)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `ref_calendar_holidays`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "ref_calendar_holidays")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub exchange_code: String,
    pub year: i32,
    pub holiday_date: Date,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub closure: String,
}

/// `ref_calendar_holidays` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
