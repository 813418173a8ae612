//! `core_data_readiness` (the current verdict per domain, partition and use) and
//! `core_readiness_history` (the append-only audit trail of changes of verdict).
//!
//! Both are written in one transaction, so the current status can never disagree with the
//! audit trail it is derived from. The history table also refuses UPDATE and DELETE at the
//! database level (triggers in the migration): the compliance trail cannot be rewritten.
//!
//! Every record carries two clocks: `evaluated_at`, the as-of clock the caller evaluated on
//! (`--now`), and `recorded_at`, the real wall clock read here at insert time, which no caller
//! can set. An evaluation is recorded as one of three [`Recorded`] outcomes: a change of verdict
//! (appended and made current), the same outcome as the current verdict (nothing appended; the
//! current row's `last_checked_at` moves), or an evaluation as of an earlier time than the
//! current verdict's (appended with `backdated = true`; the current verdict is untouched).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};
use serde_json::{Value, json};
use spine_model::entities::{core_data_readiness, core_readiness_history};
use spine_model::{Domain, PartitionKey, ReadinessCriteria, ReadinessStatus, ReadyFor};

use crate::{StoreResult, wall_clock};

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
    /// The as-of clock the evaluation ran on (the run's clock, `--now`). The wall clock is not
    /// a field: the store reads it when it writes.
    pub evaluated_at: DateTime<Utc>,
    /// Who or what evaluated it (a person, or the engine for automatic re-evaluations).
    pub evaluated_by: String,
}

/// What [`record_evaluation`] did with an evaluation; every variant carries the current verdict
/// as it stands afterwards.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// A new verdict (the first, or a different outcome): appended to the history and made
    /// current.
    Changed {
        /// The current verdict: this evaluation.
        current: Readiness,
        /// The history row appended.
        event: ReadinessEvent,
    },
    /// The same outcome as the current verdict (status, criteria, blocking issues and captures
    /// judged): nothing appended, only the current row's `last_checked_at` moved. A history of
    /// changes stays readable when a check runs every few minutes.
    Unchanged {
        /// The current verdict, with `last_checked_at` at this evaluation's as-of clock.
        current: Readiness,
    },
    /// Evaluated as of an earlier time than the current verdict was reached or last checked:
    /// appended with `backdated = true` so the trail shows it, but the current verdict is
    /// untouched (an evaluation "as of 1999" cannot overrule a later one).
    Backdated {
        /// The current verdict, unchanged.
        current: Readiness,
        /// The history row appended, marked backdated.
        event: ReadinessEvent,
    },
}

impl Recorded {
    /// The current verdict after recording.
    pub fn current(&self) -> &Readiness {
        match self {
            Recorded::Changed { current, .. }
            | Recorded::Unchanged { current }
            | Recorded::Backdated { current, .. } => current,
        }
    }

    /// The history row appended, if any.
    pub fn event(&self) -> Option<&ReadinessEvent> {
        match self {
            Recorded::Changed { event, .. } | Recorded::Backdated { event, .. } => Some(event),
            Recorded::Unchanged { .. } => None,
        }
    }

    /// The outcome's wire spelling: `changed`, `unchanged` or `backdated`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Recorded::Changed { .. } => "changed",
            Recorded::Unchanged { .. } => "unchanged",
            Recorded::Backdated { .. } => "backdated",
        }
    }
}

/// Stores an evaluation, atomically: see [`Recorded`] for the three outcomes.
///
/// Backdated means as of a time earlier than the latest as-of time the current verdict stands
/// for (its `last_checked_at`, else its `evaluated_at`); an evaluation at that very time is not
/// backdated.
///
/// A ready verdict certifies: `certified_at`/`certified_by` are set. They stay as they were when
/// the same captures are re-judged ready (re-running a check is not a new certification), and
/// move when the captures judged change (a revision re-certifies). A not-ready verdict clears
/// them. A backdated evaluation certifies nothing (its row's `certified_at` is null): only the
/// current verdict carries a certification.
pub async fn record_evaluation<C>(conn: &C, eval: Evaluation) -> StoreResult<Recorded>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::begin_write(conn).await?;
    let recorded_at = wall_clock();
    let partition_key = eval.partition.canonical();
    let captures_judged = json!(eval.captures_judged);
    let blocking = json!(eval.blocking_issues);
    let is_ready = eval.status != ReadinessStatus::NotReady;
    let c = eval.criteria;

    let existing = core_data_readiness::Entity::find()
        .filter(core_data_readiness::Column::Domain.eq(eval.domain.as_str()))
        .filter(core_data_readiness::Column::PartitionKey.eq(partition_key.as_str()))
        .filter(core_data_readiness::Column::ReadyFor.eq(eval.ready_for.as_str()))
        .one(&txn)
        .await?;

    let history_row = |certified_at: Option<DateTime<Utc>>, backdated: bool| {
        core_readiness_history::ActiveModel {
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
            evaluated_by: Set(Some(eval.evaluated_by.clone())),
            certified_at: Set(certified_at),
            created_at: Set(recorded_at),
            recorded_at: Set(recorded_at),
            backdated: Set(backdated),
            ..Default::default()
        }
    };

    if let Some(prev) = &existing {
        if eval.evaluated_at < prev.last_checked_at.unwrap_or(prev.evaluated_at) {
            let event = history_row(None, true).insert(&txn).await?;
            txn.commit().await?;
            return Ok(Recorded::Backdated {
                current: prev.clone(),
                event,
            });
        }
        let same_outcome = prev.status == eval.status.as_str()
            && prev.is_ready == is_ready
            && prev.all_partitions_present == c.all_partitions_present
            && prev.all_stages_complete == c.all_stages_complete
            && prev.no_critical_anomalies == c.no_critical_anomalies
            && prev.dependencies_current == c.dependencies_current
            && prev.age_exceeds_preliminary == c.age_exceeds_preliminary
            && prev.blocking_issues == blocking
            && prev.captures_judged == captures_judged;
        if same_outcome {
            let mut active = prev.clone().into_active_model();
            active.last_checked_at = Set(Some(eval.evaluated_at));
            active.updated_at = Set(recorded_at);
            let current = active.update(&txn).await?;
            txn.commit().await?;
            return Ok(Recorded::Unchanged { current });
        }
    }

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

    let previous_status = existing.as_ref().map(|prev| prev.status.clone());
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
            active.updated_at = Set(recorded_at);
            active.last_checked_at = Set(None);
            active.recorded_at = Set(recorded_at);
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
                created_at: Set(recorded_at),
                updated_at: Set(recorded_at),
                last_checked_at: Set(None),
                recorded_at: Set(recorded_at),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };

    let event = history_row(certified_at, false).insert(&txn).await?;
    // The outbox, in this transaction: only a move between statuses (or the first verdict) is
    // news; a change of criteria or captures under the same status is not announced.
    if previous_status.as_deref() != Some(eval.status.as_str()) {
        crate::events::record(
            &txn,
            crate::events::NewEvent {
                domain: eval.domain.clone(),
                partition: Some(eval.partition.clone()),
                kind: spine_model::EventKind::ReadinessChanged,
                ready_for: Some(eval.ready_for),
                severity: None,
                payload: json!({
                    "status": eval.status.as_str(),
                    "previous_status": previous_status,
                    "blocking_issues": eval.blocking_issues,
                    "captures_judged": eval.captures_judged,
                    "evaluated_by": eval.evaluated_by,
                    "certified_by": certified_by,
                }),
                capture_id: eval.captures_judged.first().cloned(),
                previous_capture_id: None,
                occurred_at: eval.evaluated_at,
                dedupe_key: format!("readiness.changed:{}", event.id),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Recorded::Changed { current, event })
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

/// Every current verdict of one partition (one per use at most), in one query: what a
/// readiness request reads instead of one query per use.
pub async fn current_of<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
) -> StoreResult<Vec<Readiness>> {
    Ok(core_data_readiness::Entity::find()
        .filter(core_data_readiness::Column::Domain.eq(domain.as_str()))
        .filter(core_data_readiness::Column::PartitionKey.eq(partition.canonical()))
        .all(conn)
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
        query = query.filter(Column::EvaluatedAt.gte(day_start(from)));
    }
    if let Some(to) = to.and_then(|d| d.succ_opt()) {
        query = query.filter(Column::EvaluatedAt.lt(day_start(to)));
    }
    Ok(query
        .order_by_asc(Column::EvaluatedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// One history row with the signer of the certification it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// The stored evaluation.
    pub event: ReadinessEvent,
    /// Who signed the certification in `event.certified_at`: the evaluator of the event that
    /// issued it, which is not this event's evaluator when this one kept an earlier
    /// certification. None when the event carries no certification.
    pub certified_by: Option<String>,
}

/// [`history`] with each event's certification signer ([`AuditEvent::certified_by`]).
///
/// The signer is not a history column: a certification is issued by one event and carried by
/// the later ones of the same partition and use that judged the same captures ready, so it is
/// found by walking the partition's history in the order it was written (ids), from its
/// beginning — the issuing event may lie before `from`. Backdated events are skipped in that
/// walk: they never become current, so they neither issue nor carry a certification.
pub async fn audit_trail<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> StoreResult<Vec<AuditEvent>> {
    use core_readiness_history::Column;
    let all = core_readiness_history::Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    let signers = certification_signers(&all);
    let from = from.map(day_start);
    let to = to.and_then(|d| d.succ_opt()).map(day_start);
    let mut out: Vec<AuditEvent> = all
        .into_iter()
        .zip(signers)
        .filter(|(e, _)| from.is_none_or(|f| e.evaluated_at >= f))
        .filter(|(e, _)| to.is_none_or(|t| e.evaluated_at < t))
        .map(|(event, certified_by)| AuditEvent {
            event,
            certified_by,
        })
        .collect();
    out.sort_by_key(|a| (a.event.evaluated_at, a.event.id));
    Ok(out)
}

/// The signer of each event's certification, for events in id order (see [`audit_trail`]):
/// an event keeps the previous certification of its partition and use exactly when
/// [`record_evaluation`] keeps it — the previous verdict was ready and certified, and this one
/// judged the same captures ready — and then has the same `certified_at`.
fn certification_signers(events: &[ReadinessEvent]) -> Vec<Option<String>> {
    struct Previous<'a> {
        is_ready: bool,
        captures_judged: &'a Value,
        certified_at: Option<DateTime<Utc>>,
        signer: Option<String>,
    }
    let mut previous: HashMap<(&str, &str, &str), Previous<'_>> = HashMap::new();
    events
        .iter()
        .map(|e| {
            if e.backdated {
                return None;
            }
            let key = (
                e.domain.as_str(),
                e.partition_key.as_str(),
                e.ready_for.as_str(),
            );
            let signer = e.certified_at.and_then(|at| match previous.get(&key) {
                Some(p)
                    if p.is_ready
                        && p.certified_at == Some(at)
                        && p.captures_judged == &e.captures_judged =>
                {
                    p.signer.clone()
                }
                _ => e.evaluated_by.clone(),
            });
            previous.insert(
                key,
                Previous {
                    is_ready: e.is_ready,
                    captures_judged: &e.captures_judged,
                    certified_at: e.certified_at,
                    signer: signer.clone(),
                },
            );
            signer
        })
        .collect()
}

/// Midnight UTC at the start of `day`.
fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}
