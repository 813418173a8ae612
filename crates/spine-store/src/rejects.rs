//! `core_rejects`: every input line a pipeline refused, with where and why.
//!
//! Nothing is dropped silently: a capture's `rows_rejected` equals its reject rows.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use spine_model::entities::core_rejects::{self, Column, Entity};
use spine_model::{Domain, PartitionKey, Stage};

use crate::StoreResult;

/// A stored reject.
pub type Reject = core_rejects::Model;

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

/// Stores rejects in bulk; an empty list is a no-op. The same bulk path as the FINRA rows:
/// multi-row statements on SQLite; on PostgreSQL `COPY` in a stage's transaction
/// ([`crate::Store::begin_stage`]), else a bound array per column.
pub async fn insert_many<C: ConnectionTrait + 'static>(
    conn: &C,
    rejects: Vec<NewReject>,
) -> StoreResult<u64> {
    if rejects.is_empty() {
        return Ok(0);
    }
    crate::finra_otc::insert_rows::<_, Entity, _, 0, 11>(
        conn,
        [],
        [
            Column::Domain,
            Column::PartitionKey,
            Column::Stage,
            Column::CaptureId,
            Column::LineNumber,
            Column::ReasonCode,
            Column::Detail,
            Column::RawLine,
            Column::SourceLocator,
            Column::ExecutionId,
            Column::CreatedAt,
        ],
        rejects.into_iter().map(|r| {
            [
                r.domain.to_string().into(),
                r.partition.canonical().into(),
                r.stage.to_string().into(),
                r.capture_id.into(),
                r.line_number.into(),
                r.reason_code.into(),
                r.detail.into(),
                r.raw_line.into(),
                r.source_locator.into(),
                r.execution_id.into(),
                r.created_at.into(),
            ]
        }),
    )
    .await
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
