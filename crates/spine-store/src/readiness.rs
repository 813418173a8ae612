//! `core_data_readiness` (the current verdict per domain, partition and use) and
//! `core_readiness_history` (every evaluation ever made, append-only).
//!
//! Both are written in one transaction, so the current status can never disagree with the
//! audit trail it is derived from. The history table also refuses UPDATE and DELETE at the
//! database level (triggers in the migration): the compliance trail cannot be rewritten.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};
use serde_json::json;
use spine_model::entities::{core_data_readiness, core_readiness_history};
use spine_model::{Domain, PartitionKey, ReadinessCriteria, ReadinessStatus, ReadyFor};

use crate::StoreResult;

/// The stored current verdict.
pub type Readiness = core_data_readiness::Model;
/// One stored evaluation from the audit trail.
pub type ReadinessEvent = core_readiness_history::Model;

/// One readiness evaluation, as decided by `spine-rules` from the store's facts.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The domain evaluated.
    pub domain: Domain,
    /// The partition evaluated (week-level keys cover every tier).
    pub partition: PartitionKey,
    /// The use it was evaluated for.
    pub ready_for: ReadyFor,
    /// The verdict.
    pub status: ReadinessStatus,
    /// The five criteria.
    pub criteria: ReadinessCriteria,
    /// What blocks readiness, in words that name the missing or wrong thing.
    pub blocking_issues: Vec<String>,
    /// The capture ids the verdict was about: the proof of "on which data".
    pub captures_judged: Vec<String>,
    /// When it was evaluated (the run's clock).
    pub evaluated_at: DateTime<Utc>,
    /// Who or what evaluated it (a user name, or `spine` for automatic runs).
    pub evaluated_by: String,
}

/// Stores an evaluation: appends it to the history and upserts the current verdict, atomically.
///
/// A ready verdict certifies: `certified_at`/`certified_by` are set. They stay as they were when
/// the same captures are re-judged ready (re-running a check is not a new certification), and
/// move when the captures judged change (a revision re-certifies). A not-ready verdict clears
/// them.
pub async fn record_evaluation<C>(
    conn: &C,
    eval: Evaluation,
) -> StoreResult<(Readiness, ReadinessEvent)>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = conn.begin().await?;
    let partition_key = eval.partition.canonical();
    let captures_judged = json!(eval.captures_judged);
    let blocking = json!(eval.blocking_issues);
    let is_ready = eval.status != ReadinessStatus::NotReady;

    let existing = core_data_readiness::Entity::find()
        .filter(core_data_readiness::Column::Domain.eq(eval.domain.as_str()))
        .filter(core_data_readiness::Column::PartitionKey.eq(partition_key.as_str()))
        .filter(core_data_readiness::Column::ReadyFor.eq(eval.ready_for.as_str()))
        .one(&txn)
        .await?;

    let (certified_at, certified_by) = match (&existing, is_ready) {
        (_, false) => (None, None),
        (Some(prev), true)
            if prev.is_ready
                && prev.captures_judged == captures_judged
                && prev.certified_at.is_some() =>
        {
            (prev.certified_at, prev.certified_by.clone())
        }
        (_, true) => (Some(eval.evaluated_at), Some(eval.evaluated_by.clone())),
    };

    let c = eval.criteria;
    let current = match existing {
        Some(prev) => {
            let mut active = prev.into_active_model();
            active.status = Set(eval.status.to_string());
            active.is_ready = Set(is_ready);
            active.all_partitions_present = Set(c.all_partitions_present);
            active.all_stages_complete = Set(c.all_stages_complete);
            active.no_critical_anomalies = Set(c.no_critical_anomalies);
            active.dependencies_current = Set(c.dependencies_current);
            active.age_exceeds_preliminary = Set(c.age_exceeds_preliminary);
            active.blocking_issues = Set(blocking.clone());
            active.captures_judged = Set(captures_judged.clone());
            active.evaluated_at = Set(eval.evaluated_at);
            active.certified_at = Set(certified_at);
            active.certified_by = Set(certified_by.clone());
            active.updated_at = Set(eval.evaluated_at);
            active.update(&txn).await?
        }
        None => {
            core_data_readiness::ActiveModel {
                domain: Set(eval.domain.to_string()),
                partition_key: Set(partition_key.clone()),
                ready_for: Set(eval.ready_for.to_string()),
                status: Set(eval.status.to_string()),
                is_ready: Set(is_ready),
                all_partitions_present: Set(c.all_partitions_present),
                all_stages_complete: Set(c.all_stages_complete),
                no_critical_anomalies: Set(c.no_critical_anomalies),
                dependencies_current: Set(c.dependencies_current),
                age_exceeds_preliminary: Set(c.age_exceeds_preliminary),
                blocking_issues: Set(blocking.clone()),
                captures_judged: Set(captures_judged.clone()),
                evaluated_at: Set(eval.evaluated_at),
                certified_at: Set(certified_at),
                certified_by: Set(certified_by.clone()),
                created_at: Set(eval.evaluated_at),
                updated_at: Set(eval.evaluated_at),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };

    let event = core_readiness_history::ActiveModel {
        domain: Set(eval.domain.to_string()),
        partition_key: Set(partition_key),
        ready_for: Set(eval.ready_for.to_string()),
        status: Set(eval.status.to_string()),
        is_ready: Set(is_ready),
        all_partitions_present: Set(c.all_partitions_present),
        all_stages_complete: Set(c.all_stages_complete),
        no_critical_anomalies: Set(c.no_critical_anomalies),
        dependencies_current: Set(c.dependencies_current),
        age_exceeds_preliminary: Set(c.age_exceeds_preliminary),
        blocking_issues: Set(blocking),
        captures_judged: Set(captures_judged),
        evaluated_at: Set(eval.evaluated_at),
        evaluated_by: Set(Some(eval.evaluated_by)),
        certified_at: Set(certified_at),
        created_at: Set(eval.evaluated_at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;

    txn.commit().await?;
    Ok((current, event))
}

/// The current verdict for one partition and use.
pub async fn current<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
    ready_for: ReadyFor,
) -> StoreResult<Option<Readiness>> {
    Ok(core_data_readiness::Entity::find()
        .filter(core_data_readiness::Column::Domain.eq(domain.as_str()))
        .filter(core_data_readiness::Column::PartitionKey.eq(partition.canonical()))
        .filter(core_data_readiness::Column::ReadyFor.eq(ready_for.as_str()))
        .one(conn)
        .await?)
}

/// Every current verdict of a domain (or of all domains).
pub async fn list_current<C: ConnectionTrait>(
    conn: &C,
    domain: Option<&Domain>,
) -> StoreResult<Vec<Readiness>> {
    let mut query = core_data_readiness::Entity::find();
    if let Some(domain) = domain {
        query = query.filter(core_data_readiness::Column::Domain.eq(domain.as_str()));
    }
    Ok(query
        .order_by_asc(core_data_readiness::Column::Domain)
        .order_by_asc(core_data_readiness::Column::PartitionKey)
        .order_by_asc(core_data_readiness::Column::ReadyFor)
        .all(conn)
        .await?)
}

/// The audit trail of a domain: every evaluation between `from` and `to` (inclusive dates of
/// `evaluated_at`, UTC), oldest first.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> StoreResult<Vec<ReadinessEvent>> {
    use core_readiness_history::Column;
    let mut query =
        core_readiness_history::Entity::find().filter(Column::Domain.eq(domain.as_str()));
    if let Some(from) = from {
        query =
            query.filter(Column::EvaluatedAt.gte(from.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    if let Some(to) = to.and_then(|d| d.succ_opt()) {
        query = query.filter(Column::EvaluatedAt.lt(to.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    Ok(query
        .order_by_asc(Column::EvaluatedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}
