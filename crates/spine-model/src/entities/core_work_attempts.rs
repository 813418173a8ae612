//! Entity for the `core_work_attempts` table.
//!
//! Every attempt of every work item, with how it ended: a FAILED item's history says what each
//! try met (the error, its HTTP status, `Retry-After`, what the body started with), and when the
//! next one was scheduled.
//!
//! Created by migration `m20261202_000003_worker`; indexed on `(work_item_id, attempt)`. See
//! `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `core_work_attempts`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_work_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub work_item_id: i64,
    /// 1 for the first attempt.
    pub attempt: i32,
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub worker_id: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub execution_id: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// [`crate::AttemptOutcome`].
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub outcome: String,
    /// Redacted and bounded.
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub error_code: Option<String>,
    pub http_status: Option<i32>,
    pub retry_after_seconds: Option<i64>,
    pub next_attempt_at: Option<DateTimeUtc>,
    /// The worker whose expired lease this attempt took over, if any.
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub took_over_from: Option<String>,
    /// SHA-256 of a body that could not be used (a 200 that is not FINRA data).
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub body_sha256: Option<String>,
    /// Its first bytes, escaped and bounded.
    #[sea_orm(column_type = "Text")]
    pub body_prefix: Option<String>,
}

/// `core_work_attempts` declares no foreign keys (see the module docs of `entities`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
