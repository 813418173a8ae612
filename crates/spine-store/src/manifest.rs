//! `core_manifest`: per (domain, partition, stage), the latest capture that reached the stage.
//!
//! Readiness reads it to decide "all stages complete for the latest capture": a revision that
//! failed in NORMALIZED leaves RAW on the new capture and NORMALIZED on the old one, which is
//! exactly the incompleteness the criterion must see.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;
use spine_model::entities::core_manifest::{self, Column, Entity};
use spine_model::{Domain, PartitionKey, Stage};

use crate::StoreResult;

/// A stored manifest row.
pub type ManifestEntry = core_manifest::Model;

/// One stage reached by one capture.
#[derive(Debug, Clone)]
pub struct StageRecord {
    /// The domain.
    pub domain: Domain,
    /// The partition.
    pub partition: PartitionKey,
    /// The stage reached.
    pub stage: Stage,
    /// The capture that reached it.
    pub capture_id: String,
    /// Rows the stage wrote.
    pub row_count: i64,
    /// Stage metrics worth keeping (timings, reject counts).
    pub metrics: Option<Value>,
    /// The execution that ran the stage.
    pub execution_id: Option<String>,
    /// The batch the execution belonged to.
    pub batch_id: Option<String>,
    /// When the stage completed.
    pub updated_at: DateTime<Utc>,
}

/// Records that a capture reached a stage, replacing the previous capture for that stage.
pub async fn record_stage<C: ConnectionTrait>(conn: &C, record: StageRecord) -> StoreResult<()> {
    let model = core_manifest::ActiveModel {
        domain: Set(record.domain.to_string()),
        partition_key: Set(record.partition.canonical()),
        stage: Set(record.stage.to_string()),
        capture_id: Set(record.capture_id),
        row_count: Set(record.row_count),
        metrics_json: Set(record.metrics),
        execution_id: Set(record.execution_id),
        batch_id: Set(record.batch_id),
        updated_at: Set(record.updated_at),
        ..Default::default()
    };
    Entity::insert(model)
        .on_conflict(
            OnConflict::columns([Column::Domain, Column::PartitionKey, Column::Stage])
                .update_columns([
                    Column::CaptureId,
                    Column::RowCount,
                    Column::MetricsJson,
                    Column::ExecutionId,
                    Column::BatchId,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The manifest rows of one partition, in stage order.
pub async fn stages<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
) -> StoreResult<Vec<ManifestEntry>> {
    let mut rows = Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .all(conn)
        .await?;
    rows.sort_by_key(|r| r.stage.parse::<Stage>().ok());
    Ok(rows)
}

/// The manifest rows of several partitions of a domain (canonical keys), by partition then
/// stage: one query per 500 partitions instead of one per partition.
pub async fn stages_of<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partitions: &[String],
) -> StoreResult<Vec<ManifestEntry>> {
    let mut rows = Vec::new();
    for chunk in partitions.chunks(500) {
        rows.extend(
            Entity::find()
                .filter(Column::Domain.eq(domain.as_str()))
                .filter(Column::PartitionKey.is_in(chunk.iter().map(String::as_str)))
                .all(conn)
                .await?,
        );
    }
    rows.sort_by(|a, b| {
        (a.partition_key.as_str(), a.stage.parse::<Stage>().ok())
            .cmp(&(b.partition_key.as_str(), b.stage.parse::<Stage>().ok()))
    });
    Ok(rows)
}

/// Every manifest row of a domain, by partition then stage.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
) -> StoreResult<Vec<ManifestEntry>> {
    let mut rows = Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .order_by_asc(Column::PartitionKey)
        .all(conn)
        .await?;
    rows.sort_by(|a, b| {
        (a.partition_key.as_str(), a.stage.parse::<Stage>().ok())
            .cmp(&(b.partition_key.as_str(), b.stage.parse::<Stage>().ok()))
    });
    Ok(rows)
}

/// The stage a capture has reached, if any (the furthest stage whose row names it).
pub fn furthest_stage(entries: &[ManifestEntry], capture_id: &str) -> Option<Stage> {
    entries
        .iter()
        .filter(|e| e.capture_id == capture_id)
        .filter_map(|e| e.stage.parse::<Stage>().ok())
        .max()
}
