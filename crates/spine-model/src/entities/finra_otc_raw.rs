//! Entity for the `finra_otc_raw` table.
//!
//! FINRA OTC Transparency lines exactly as read from the pipe-delimited file (each accepted line
//! verbatim), tagged with the capture and line they came from, so normalization can always be
//! replayed.
//!
//! Keyed by `(capture_id, line_number)` (`WITHOUT ROWID` on SQLite), as rebuilt by migration
//! `m20260103_000001_finra_rows_by_line`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `finra_otc_raw`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "finra_otc_raw")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(64))"
    )]
    pub capture_id: String,
    /// 1-based physical line number in the source file (the header is line 1).
    #[sea_orm(primary_key, auto_increment = false)]
    pub line_number: i64,
    /// The accepted line exactly as read, without its terminator.
    #[sea_orm(column_type = "Text")]
    pub raw_line: String,
}

/// `finra_otc_raw` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
