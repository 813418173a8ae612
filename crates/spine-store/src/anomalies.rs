//! `core_anomalies`: every problem detected in the data, with its severity, its evidence and its
//! lifecycle (detected → resolved with a note).
//!
//! Anomalies are recorded by production code from the data; resolving one needs a note, because
//! "who decided this no longer matters, and why" is what compliance asks.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use spine_model::entities::core_anomalies::{self, Column, Entity};
use spine_model::{Category, Domain, EventKind, PartitionKey, Severity, Stage};

use crate::events::NewEvent;
use crate::{StoreError, StoreResult};

/// A stored anomaly.
pub type Anomaly = core_anomalies::Model;

/// An anomaly to record.
#[derive(Debug, Clone)]
pub struct NewAnomaly {
    /// The domain affected.
    pub domain: Domain,
    /// The pipeline that detected it.
    pub pipeline: Option<String>,
    /// The partition affected (None for domain-wide problems).
    pub partition: Option<PartitionKey>,
    /// The stage where it was detected.
    pub stage: Option<Stage>,
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem it is.
    pub category: Category,
    /// One sentence for people.
    pub message: String,
    /// Structured evidence (expected vs actual, baselines, ids).
    pub details: Option<Value>,
    /// How many records are affected.
    pub affected_records: Option<i64>,
    /// A few affected records, for investigation.
    pub sample_records: Option<Value>,
    /// The execution that detected it.
    pub execution_id: Option<String>,
    /// The batch it belonged to.
    pub batch_id: Option<String>,
    /// The capture it is about.
    pub capture_id: Option<String>,
    /// When it was detected (the run's clock).
    pub detected_at: DateTime<Utc>,
    /// A stable cause key, e.g. `source_unavailable`, `missed`, `late`: with it,
    /// [`record_once`] keeps one open anomaly per (domain, partition, category, cause).
    pub cause: Option<String>,
}

impl NewAnomaly {
    /// A minimal anomaly; fill the optional evidence with struct update syntax.
    pub fn new(
        domain: Domain,
        severity: Severity,
        category: Category,
        message: impl Into<String>,
        detected_at: DateTime<Utc>,
    ) -> NewAnomaly {
        NewAnomaly {
            domain,
            pipeline: None,
            partition: None,
            stage: None,
            severity,
            category,
            message: message.into(),
            details: None,
            affected_records: None,
            sample_records: None,
            execution_id: None,
            batch_id: None,
            capture_id: None,
            detected_at,
            cause: None,
        }
    }
}

/// Records an anomaly.
///
/// Announces it in the outbox on the same connection (`anomaly.opened`, and `schedule.missed`
/// for a SCHEDULE anomaly with the `missed` cause): pass the transaction the detection runs in.
pub async fn record<C: ConnectionTrait>(conn: &C, anomaly: NewAnomaly) -> StoreResult<Anomaly> {
    let stored = core_anomalies::ActiveModel {
        domain: Set(anomaly.domain.to_string()),
        pipeline: Set(anomaly.pipeline),
        partition_key: Set(anomaly.partition.map(|p| p.canonical())),
        stage: Set(anomaly.stage.map(|s| s.to_string())),
        severity: Set(anomaly.severity.to_string()),
        category: Set(anomaly.category.to_string()),
        message: Set(anomaly.message),
        details_json: Set(anomaly.details),
        affected_records: Set(anomaly.affected_records),
        sample_records: Set(anomaly.sample_records),
        execution_id: Set(anomaly.execution_id),
        batch_id: Set(anomaly.batch_id),
        capture_id: Set(anomaly.capture_id),
        detected_at: Set(anomaly.detected_at),
        resolved_at: Set(None),
        resolution_note: Set(None),
        created_at: Set(anomaly.detected_at),
        cause: Set(anomaly.cause),
        resolved_by: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    announce(conn, &stored, EventKind::AnomalyOpened, stored.detected_at).await?;
    if stored.category == Category::Schedule.as_str() && stored.cause.as_deref() == Some("missed") {
        announce(conn, &stored, EventKind::ScheduleMissed, stored.detected_at).await?;
    }
    Ok(stored)
}

/// Writes the outbox event `kind` about `anomaly`, once per anomaly and kind.
async fn announce<C: ConnectionTrait>(
    conn: &C,
    anomaly: &Anomaly,
    kind: EventKind,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    crate::events::record(
        conn,
        NewEvent {
            domain: anomaly.domain.parse()?,
            partition: anomaly.partition()?,
            kind,
            ready_for: None,
            severity: Some(anomaly.severity()?),
            payload: json!({
                "anomaly_id": anomaly.id,
                "severity": anomaly.severity,
                "category": anomaly.category,
                "cause": anomaly.cause,
                "stage": anomaly.stage,
                "message": anomaly.message,
                "resolution_note": anomaly.resolution_note,
                "resolved_by": anomaly.resolved_by,
            }),
            capture_id: anomaly.capture_id.clone(),
            previous_capture_id: None,
            occurred_at: at,
            dedupe_key: format!("{}:{}", kind.as_str(), anomaly.id),
        },
    )
    .await?;
    Ok(())
}

/// What [`record_once`] did.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// A new anomaly was recorded.
    Created(Anomaly),
    /// The same (domain, partition, category, cause) was already open: nothing was written.
    AlreadyOpen(Anomaly),
}

impl Recorded {
    /// The anomaly, new or already open.
    pub fn anomaly(&self) -> &Anomaly {
        match self {
            Recorded::Created(a) | Recorded::AlreadyOpen(a) => a,
        }
    }
}

/// The open anomalies of one partition with this category (and cause, when given).
pub async fn open_for<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: Option<&PartitionKey>,
    category: Category,
    cause: Option<&str>,
) -> StoreResult<Vec<Anomaly>> {
    let mut query = Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::Category.eq(category.as_str()))
        .filter(Column::ResolvedAt.is_null());
    query = match partition {
        Some(p) => query.filter(Column::PartitionKey.eq(p.canonical())),
        None => query.filter(Column::PartitionKey.is_null()),
    };
    if let Some(cause) = cause {
        query = query.filter(Column::Cause.eq(cause));
    }
    Ok(query.order_by_asc(Column::Id).all(conn).await?)
}

/// Whether an anomaly with this (domain, partition, category, cause) was ever recorded, open or
/// resolved: for one-time facts (a partition was missed, arrived late) that an operator may have
/// resolved and that must not come back on the next check.
pub async fn ever_recorded<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
    category: Category,
    cause: &str,
) -> StoreResult<bool> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .filter(Column::Category.eq(category.as_str()))
        .filter(Column::Cause.eq(cause))
        .one(conn)
        .await?
        .is_some())
}

/// Records an anomaly unless one with the same (domain, partition, category, cause) is still
/// open: detection that runs on every pipeline run must not pile up duplicates.
pub async fn record_once<C: ConnectionTrait>(
    conn: &C,
    anomaly: NewAnomaly,
) -> StoreResult<Recorded> {
    let Some(cause) = anomaly.cause.clone() else {
        return Err(StoreError::Invalid(
            "record_once needs a cause to recognise the same anomaly".to_string(),
        ));
    };
    let open = open_for(
        conn,
        &anomaly.domain,
        anomaly.partition.as_ref(),
        anomaly.category,
        Some(&cause),
    )
    .await?;
    if let Some(existing) = open.into_iter().next() {
        return Ok(Recorded::AlreadyOpen(existing));
    }
    Ok(Recorded::Created(record(conn, anomaly).await?))
}

/// Resolves every open anomaly of a partition with this category and cause, with the same note:
/// how detection closes what it opened once the data is fixed (a retry succeeded, a recompute
/// ran). Returns what it resolved.
pub async fn resolve_open<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
    category: Category,
    cause: &str,
    note: &str,
    resolved_at: DateTime<Utc>,
) -> StoreResult<Vec<Anomaly>> {
    let mut resolved = Vec::new();
    for open in open_for(conn, domain, Some(partition), category, Some(cause)).await? {
        resolved.push(resolve_as(conn, open.id, note, Some("spine"), resolved_at).await?);
    }
    Ok(resolved)
}

/// Looks up an anomaly by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<Anomaly> {
    Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("anomaly {id}"),
        })
}

/// Resolves an open anomaly. The note is required: it is the audit record of why.
pub async fn resolve<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    note: &str,
    resolved_at: DateTime<Utc>,
) -> StoreResult<Anomaly> {
    resolve_as(conn, id, note, None, resolved_at).await
}

/// Resolves an open anomaly and records who did (a person, or `spine` for automatic
/// resolutions): compliance asks "who decided this no longer matters, and why".
pub async fn resolve_as<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    note: &str,
    resolved_by: Option<&str>,
    resolved_at: DateTime<Utc>,
) -> StoreResult<Anomaly> {
    let note = note.trim();
    if note.is_empty() {
        return Err(StoreError::Invalid(format!(
            "anomaly {id}: a resolution note is required (say why it no longer matters)"
        )));
    }
    let anomaly = get(conn, id).await?;
    if let Some(at) = anomaly.resolved_at {
        return Err(StoreError::Invalid(format!(
            "anomaly {id} was already resolved at {}: {}",
            at.to_rfc3339(),
            anomaly.resolution_note.as_deref().unwrap_or("")
        )));
    }
    let mut active = anomaly.into_active_model();
    active.resolved_at = Set(Some(resolved_at));
    active.resolution_note = Set(Some(note.to_string()));
    active.resolved_by = Set(resolved_by.map(str::to_string));
    let resolved = active.update(conn).await?;
    announce(conn, &resolved, EventKind::AnomalyResolved, resolved_at).await?;
    Ok(resolved)
}

/// Which anomalies to list. Every field narrows the result; the default lists everything.
#[derive(Debug, Clone, Default)]
pub struct AnomalyFilter {
    /// Only this domain.
    pub domain: Option<Domain>,
    /// Only partitions this key covers (a week-level key selects every tier of the week).
    pub partition: Option<PartitionKey>,
    /// Only partitions of this week.
    pub week_ending: Option<NaiveDate>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this severity or worse.
    pub min_severity: Option<Severity>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only anomalies not yet resolved.
    pub unresolved_only: bool,
    /// Only anomalies about this capture.
    pub capture_id: Option<String>,
}

/// Lists anomalies matching the filter, oldest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &AnomalyFilter,
) -> StoreResult<Vec<Anomaly>> {
    let mut query = Entity::find();
    if let Some(domain) = &filter.domain {
        query = query.filter(Column::Domain.eq(domain.as_str()));
    }
    if let Some(severity) = filter.severity {
        query = query.filter(Column::Severity.eq(severity.as_str()));
    }
    if let Some(min) = filter.min_severity {
        let at_least = Severity::ALL
            .iter()
            .filter(|s| **s >= min)
            .map(|s| s.as_str());
        query = query.filter(Column::Severity.is_in(at_least));
    }
    if let Some(category) = filter.category {
        query = query.filter(Column::Category.eq(category.as_str()));
    }
    if filter.unresolved_only {
        query = query.filter(Column::ResolvedAt.is_null());
    }
    if let Some(capture_id) = &filter.capture_id {
        query = query.filter(Column::CaptureId.eq(capture_id.as_str()));
    }
    let rows = query
        .order_by_asc(Column::DetectedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    // Partition scoping compares parsed keys (coverage), which SQL on JSON text cannot do
    // portably; the candidate set is already narrowed by the indexed columns above.
    let needs_key = filter.partition.is_some() || filter.week_ending.is_some();
    if !needs_key {
        return Ok(rows);
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(text) = row.partition_key.as_deref() else {
            continue;
        };
        let key = PartitionKey::parse(text)?;
        if let Some(scope) = &filter.partition
            && !scope.covers(&key)
        {
            continue;
        }
        if let Some(week) = filter.week_ending
            && key.week_ending() != Some(week)
        {
            continue;
        }
        out.push(row);
    }
    Ok(out)
}

/// The unresolved anomalies of `domain` that touch `partition`: those of a partition that
/// covers it or that it covers (a week and its tiers), and the domain-wide ones (no partition),
/// oldest first. What readiness weighs, read through the `(domain, partition_key)` index: the
/// keys that cover the partition are listed exactly, the ones it covers narrowed by their
/// entries, so the cost does not grow with the anomalies of other partitions.
pub async fn open_related<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
) -> StoreResult<Vec<Anomaly>> {
    // Every key made of some of the partition's entries covers it (the empty key included).
    let entries: Vec<(&str, &str)> = partition.entries().collect();
    let mut covering = Vec::with_capacity(1 << entries.len().min(8));
    if entries.len() <= 8 {
        for mask in 0u32..(1 << entries.len()) {
            let mut key = PartitionKey::new();
            for (i, (k, v)) in entries.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    key = key.with(*k, *v);
                }
            }
            covering.push(key.canonical());
        }
    }
    let narrowing = if entries.len() <= 8 {
        Condition::any()
            .add(Column::PartitionKey.is_null())
            .add(Column::PartitionKey.is_in(covering))
            .add(crate::captures::may_be_covered(
                Column::PartitionKey,
                partition,
            ))
    } else {
        // Too many entries to list the covering keys: read the domain's, filter below.
        Condition::all()
    };
    let rows = Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::ResolvedAt.is_null())
        .filter(narrowing)
        .order_by_asc(Column::DetectedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(key) = row.partition()?
            && !key.covers(partition)
            && !partition.covers(&key)
        {
            continue;
        }
        out.push(row);
    }
    Ok(out)
}

/// The parsed vocabulary of a stored anomaly.
pub trait AnomalyExt {
    /// The severity, parsed.
    fn severity(&self) -> StoreResult<Severity>;
    /// The category, parsed.
    fn category(&self) -> StoreResult<Category>;
    /// The partition key, parsed.
    fn partition(&self) -> StoreResult<Option<PartitionKey>>;
}

impl AnomalyExt for Anomaly {
    fn severity(&self) -> StoreResult<Severity> {
        Ok(self.severity.parse()?)
    }
    fn category(&self) -> StoreResult<Category> {
        Ok(self.category.parse()?)
    }
    fn partition(&self) -> StoreResult<Option<PartitionKey>> {
        Ok(self
            .partition_key
            .as_deref()
            .map(PartitionKey::parse)
            .transpose()?)
    }
}
