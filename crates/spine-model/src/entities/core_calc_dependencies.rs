//! Entity for the `core_calc_dependencies` table.
//!
//! Declared lineage: which upstream (domain, table) each calculation depends on and how strongly
//! (REQUIRED / OPTIONAL / REFERENCE).
//!
//! Created by migration `m20260101_000001_core`; unique `(calc_domain, calc_pipeline, calc_table,
//! depends_on_domain, depends_on_table)`; indexed on `(calc_domain, calc_pipeline)`; indexed on
//! `(depends_on_domain, depends_on_table)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_calc_dependencies`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_calc_dependencies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub calc_domain: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub calc_pipeline: String,
    #[sea_orm(column_type = "String(StringLen::N(128))", default_value = "")]
    /// Empty when the dependency is the whole pipeline's (not NULL, so the unique key holds).
    pub calc_table: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub depends_on_domain: String,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub depends_on_table: String,
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub dependency_type: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
}

/// `core_calc_dependencies` declares no foreign keys: rows refer to captures and executions by their
/// business ids, which the store resolves, so there are no SeaORM relations either.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
