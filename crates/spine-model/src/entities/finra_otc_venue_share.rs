//! Entity for the `finra_otc_venue_share` table.
//!
//! Per-capture venue market share: each MPID's shares over the tier's shares for the week (shares
//! sum to 1 per tier-week).
//!
//! Created by migration `m20260101_000002_finra_otc`; keyed by `(capture_id, mpid)` since
//! `m20261204_000001_compact_keys` (`WITHOUT ROWID` on SQLite).
//! See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_venue_share`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_venue_share")]
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
        column_type = "String(StringLen::N(16))"
    )]
    pub mpid: String,
    pub shares: i64,
    pub share: f64,
}

/// `finra_otc_venue_share` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
