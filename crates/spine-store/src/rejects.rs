//! `core_rejects`: every input line a pipeline refused, with where and why.
//!
//! Nothing is dropped silently: a capture's `rows_rejected` equals its reject rows.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use spine_model::entities::core_rejects::{self, Column, Entity};
use spine_model::{Domain, PartitionKey, Stage};

use crate::StoreResult;

/// A stored reject.
pub type Reject = core_rejects::Model;

/// Rows per INSERT statement: 12 columns × 1,000 rows stays under both backends' bind limits.
const CHUNK: usize = 1_000;

/// One refused input line.
#[derive(Debug, Clone)]
pub struct NewReject {
    /// The domain.
    pub domain: Domain,
    /// The partition the line belonged to.
    pub partition: PartitionKey,
    /// The stage that refused it.
    pub stage: Stage,
    /// The capture being ingested.
    pub capture_id: String,
    /// 1-based physical line number in the source (header = 1), when known.
    pub line_number: Option<i64>,
    /// A stable SCREAMING_SNAKE reason code, e.g. `NON_NUMERIC_QUANTITY`.
    pub reason_code: String,
    /// What is wrong, for a person: the field and the value.
    pub detail: String,
    /// The line exactly as read.
    pub raw_line: String,
    /// The source (path or URL).
    pub source_locator: Option<String>,
    /// The execution that refused it.
    pub execution_id: Option<String>,
    /// When it was refused.
    pub created_at: DateTime<Utc>,
}

/// Stores rejects in bulk; an empty slice is a no-op.
pub async fn insert_many<C: ConnectionTrait>(
    conn: &C,
    rejects: Vec<NewReject>,
) -> StoreResult<u64> {
    let mut written = 0u64;
    let mut rows = rejects.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<core_rejects::ActiveModel> = rows
            .by_ref()
            .take(CHUNK)
            .map(|r| core_rejects::ActiveModel {
                domain: Set(r.domain.to_string()),
                partition_key: Set(r.partition.canonical()),
                stage: Set(r.stage.to_string()),
                capture_id: Set(r.capture_id),
                line_number: Set(r.line_number),
                reason_code: Set(r.reason_code),
                detail: Set(r.detail),
                raw_line: Set(r.raw_line),
                source_locator: Set(r.source_locator),
                execution_id: Set(r.execution_id),
                batch_id: Set(None),
                created_at: Set(r.created_at),
                ..Default::default()
            })
            .collect();
        written += chunk.len() as u64;
        Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(written)
}

/// The rejects of one capture, in line order.
pub async fn for_capture<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
) -> StoreResult<Vec<Reject>> {
    Ok(Entity::find()
        .filter(Column::CaptureId.eq(capture_id))
        .order_by_asc(Column::LineNumber)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// The rejects of several captures, optionally of one reason only, in (capture, line) order:
/// what `spine rejects list` shows.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    capture_ids: &[String],
    reason: Option<&str>,
) -> StoreResult<Vec<Reject>> {
    if capture_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Entity::find().filter(Column::CaptureId.is_in(capture_ids.iter().cloned()));
    if let Some(r) = reason {
        q = q.filter(Column::ReasonCode.eq(r));
    }
    Ok(q.order_by_asc(Column::CaptureId)
        .order_by_asc(Column::LineNumber)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// How many rejects one capture has.
pub async fn count_for_capture<C: ConnectionTrait>(conn: &C, capture_id: &str) -> StoreResult<u64> {
    Ok(Entity::find()
        .filter(Column::CaptureId.eq(capture_id))
        .count(conn)
        .await?)
}
