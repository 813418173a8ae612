//! Entity for the `finra_otc_tier_split` table.
//!
//! Each tier's share of all-tier volume per week, with the tier capture it was computed from.
//!
//! Created by migration `m20260101_000002_finra_otc`; unique `(week_ending, tier)`; indexed on
//! `(capture_id)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_tier_split`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_tier_split")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub week_ending: Date,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub tier: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub capture_id: String,
    pub shares: i64,
    pub share: f64,
    pub computed_at: DateTimeUtc,
}

/// `finra_otc_tier_split` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
