//! Entity for the `core_workers` table.
//!
//! One row per `spine worker` process (by worker id): when it started, when it last showed
//! signs of life (wall clock), how many passes it ran and what the last one did. `spine doctor`
//! and `/metrics` read it to say whether the system is running itself.
//!
//! Created by migration `m20261202_000003_worker`; unique `(worker_id)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_workers`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_workers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub worker_id: String,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub hostname: String,
    pub pid: i64,
    pub started_at: DateTimeUtc,
    /// Wall clock.
    pub last_seen_at: DateTimeUtc,
    pub stopped_at: Option<DateTimeUtc>,
    #[sea_orm(default_value = 0)]
    pub passes: i64,
    /// The run clock of the last pass (`--now` or the system clock).
    pub last_pass_at: Option<DateTimeUtc>,
    /// What the last pass did (counts by outcome), as the worker reported it.
    #[sea_orm(column_type = "JsonBinary")]
    pub last_pass_json: Option<Json>,
}

/// `core_workers` declares no foreign keys (see the module docs of `entities`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
