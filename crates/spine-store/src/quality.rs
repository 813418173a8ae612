//! `core_quality`: the outcome of every quality check a pipeline ran, passing ones included,
//! so "which checks did this week pass?" has an answer and not just "what failed?".

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::Value;
use spine_model::entities::core_quality::{self, Column, Entity};
use spine_model::{Category, Domain, PartitionKey, QualityStatus};

use crate::StoreResult;

/// A stored quality check result.
pub type QualityCheck = core_quality::Model;

/// One quality check's outcome.
#[derive(Debug, Clone)]
pub struct NewQualityCheck {
    /// The domain.
    pub domain: Domain,
    /// The partition checked.
    pub partition: PartitionKey,
    /// The capture checked.
    pub capture_id: Option<String>,
    /// A stable check name, e.g. `venue_coverage`.
    pub check_name: String,
    /// What kind of check it is.
    pub category: Category,
    /// PASS, WARN or FAIL.
    pub status: QualityStatus,
    /// A sentence for people.
    pub message: Option<String>,
    /// What was measured.
    pub actual_value: Option<String>,
    /// What was expected.
    pub expected_value: Option<String>,
    /// Structured details.
    pub details: Option<Value>,
    /// The execution that ran the check.
    pub execution_id: Option<String>,
    /// When it ran.
    pub created_at: DateTime<Utc>,
}

/// Records one check result.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    check: NewQualityCheck,
) -> StoreResult<QualityCheck> {
    Ok(core_quality::ActiveModel {
        domain: Set(check.domain.to_string()),
        partition_key: Set(check.partition.canonical()),
        capture_id: Set(check.capture_id),
        check_name: Set(check.check_name),
        category: Set(check.category.to_string()),
        status: Set(check.status.to_string()),
        message: Set(check.message),
        actual_value: Set(check.actual_value),
        expected_value: Set(check.expected_value),
        details_json: Set(check.details),
        execution_id: Set(check.execution_id),
        batch_id: Set(None),
        created_at: Set(check.created_at),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Every check result of a partition, oldest first.
pub async fn for_partition<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
) -> StoreResult<Vec<QualityCheck>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}
