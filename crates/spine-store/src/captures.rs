//! `core_captures`: one row per ingestion of one partition.
//!
//! Captures are never updated or deleted: a changed file is a new capture that names the one it
//! supersedes, so both "latest" and "as of a capture or a time" stay answerable.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};
use spine_model::capture::capture_id;
use spine_model::entities::core_captures::{self, Column, Entity};
use spine_model::{Domain, EventKind, PartitionKey, ReadyFor, Severity};

use crate::StoreResult;
use crate::events::NewEvent;

/// A stored capture.
pub type Capture = core_captures::Model;

/// What an ingestion learned about one partition's content, before it is stored.
#[derive(Debug, Clone)]
pub struct NewCapture {
    /// The domain the partition belongs to.
    pub domain: Domain,
    /// The partition captured.
    pub partition: PartitionKey,
    /// SHA-256 of the source bytes (see `spine_model::capture::content_hash`).
    pub content_hash: String,
    /// Where the bytes came from (a path or a URL).
    pub source_locator: String,
    /// The source's own revision stamp (FINRA's `lastUpdateDate`), when it has one.
    pub source_last_update: Option<NaiveDate>,
    /// When Market Spine captured it (the CLI's `--now` clock).
    pub captured_at: DateTime<Utc>,
    /// Data lines read from the source.
    pub rows_read: i64,
    /// Lines accepted.
    pub rows_accepted: i64,
    /// Lines rejected (each has a `core_rejects` row).
    pub rows_rejected: i64,
    /// Anything else worth keeping with the capture (e.g. how the week was derived).
    pub metadata: Option<Value>,
}

impl NewCapture {
    /// The deterministic id this capture will have.
    pub fn capture_id(&self) -> String {
        capture_id(&self.domain, &self.partition, &self.content_hash)
    }
}

/// What recording a capture did.
#[derive(Debug, Clone)]
pub enum CaptureOutcome {
    /// The first capture of this partition.
    New(Capture),
    /// A new capture that supersedes `previous`.
    Revision {
        /// The capture just stored.
        capture: Capture,
        /// The capture it supersedes (boxed: the variants stay small).
        previous: Box<Capture>,
    },
    /// The same bytes were captured before: nothing was written.
    Unchanged(Capture),
}

impl CaptureOutcome {
    /// The capture this outcome is about (the stored one, or the existing one when unchanged).
    pub fn capture(&self) -> &Capture {
        match self {
            CaptureOutcome::New(c) | CaptureOutcome::Unchanged(c) => c,
            CaptureOutcome::Revision { capture, .. } => capture,
        }
    }
}

/// Looks up a capture by id.
pub async fn get<C: ConnectionTrait>(conn: &C, capture_id: &str) -> StoreResult<Option<Capture>> {
    Ok(Entity::find()
        .filter(Column::CaptureId.eq(capture_id))
        .one(conn)
        .await?)
}

/// Records a capture unless the same bytes were already captured for this partition.
///
/// Run it inside the transaction that writes the capture's rows, so a failure leaves neither.
pub async fn record<C: ConnectionTrait>(conn: &C, new: NewCapture) -> StoreResult<CaptureOutcome> {
    let id = new.capture_id();
    if let Some(existing) = get(conn, &id).await? {
        return Ok(CaptureOutcome::Unchanged(existing));
    }
    let previous = latest(conn, &new.domain, &new.partition).await?;
    let model = core_captures::ActiveModel {
        capture_id: Set(id),
        domain: Set(new.domain.to_string()),
        partition_key: Set(new.partition.canonical()),
        content_hash: Set(new.content_hash),
        source_locator: Set(new.source_locator),
        source_last_update: Set(new.source_last_update),
        captured_at: Set(new.captured_at),
        rows_read: Set(new.rows_read),
        rows_accepted: Set(new.rows_accepted),
        rows_rejected: Set(new.rows_rejected),
        supersedes_capture_id: Set(previous.as_ref().map(|p| p.capture_id.clone())),
        metadata_json: Set(new.metadata),
        created_at: Set(new.captured_at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    if let Some(previous) = &previous {
        announce_revision(conn, &model, previous).await?;
    }
    Ok(match previous {
        Some(previous) => CaptureOutcome::Revision {
            capture: model,
            previous: Box::new(previous),
        },
        None => CaptureOutcome::New(model),
    })
}

/// Every capture of `domain` whose bytes hash to `content_hash`, oldest first: how the same file
/// filed under two partitions is caught.
pub async fn with_content<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    content_hash: &str,
) -> StoreResult<Vec<Capture>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::ContentHash.eq(content_hash))
        .order_by_asc(Column::CapturedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Every capture of `domain`, in the order they were recorded: one query, for readers that
/// answer questions about many partitions at once (`spine doctor`) from memory.
pub async fn all_of<C: ConnectionTrait>(conn: &C, domain: &Domain) -> StoreResult<Vec<Capture>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// The latest capture of a partition: the one recorded last. Captures of one partition are
/// recorded one at a time (the engine holds the partition's lock), so record order is commit
/// order, and the supersede chain follows it whatever clock each run was given.
pub async fn latest<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
) -> StoreResult<Option<Capture>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .order_by_desc(Column::Id)
        .one(conn)
        .await?)
}

/// The capture that was latest at time `at` (captured at or before it).
pub async fn as_of<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
    at: DateTime<Utc>,
) -> StoreResult<Option<Capture>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .filter(Column::CapturedAt.lte(at))
        .order_by_desc(Column::CapturedAt)
        .order_by_desc(Column::Id)
        .one(conn)
        .await?)
}

/// Every capture of a partition, in the order they were recorded.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    partition: &PartitionKey,
) -> StoreResult<Vec<Capture>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// A condition narrowing `column` (canonical partition keys) to the keys that contain every
/// entry of `scope`: one `LIKE '%"key":"value"%'` per entry. It selects a superset of the keys
/// `scope` covers (the caller re-checks with [`PartitionKey::covers`]), so the database reads
/// only the rows of the covered partitions, whatever the history of the others.
pub(crate) fn may_be_covered<Col: ColumnTrait>(column: Col, scope: &PartitionKey) -> Condition {
    let mut condition = Condition::all();
    for (key, value) in scope.entries() {
        let entry = format!(
            "{}:{}",
            serde_json::Value::from(key),
            serde_json::Value::from(value)
        );
        let mut pattern = String::with_capacity(entry.len() + 2);
        pattern.push('%');
        for c in entry.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        condition = condition.add(column.like(LikeExpr::new(pattern).escape('\\')));
    }
    condition
}

/// The latest capture of every partition of `domain` that `scope` covers (e.g. every tier of a
/// week for a week-level key; every partition for an empty key), ordered by partition key.
///
/// Only the covered partitions' captures are read ([`may_be_covered`]), so the cost of a week's
/// captures does not grow with the weeks captured before it.
pub async fn latest_covered<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    scope: &PartitionKey,
) -> StoreResult<Vec<Capture>> {
    let all = Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(may_be_covered(Column::PartitionKey, scope))
        .order_by_asc(Column::PartitionKey)
        .order_by_desc(Column::Id)
        .all(conn)
        .await?;
    let mut out: Vec<Capture> = Vec::new();
    let mut previous_key: Option<String> = None;
    for capture in all {
        // Rows are grouped by partition key, latest first: the first row of a group is its
        // latest capture, the rest are older ones.
        if previous_key.as_deref() == Some(capture.partition_key.as_str()) {
            continue;
        }
        previous_key = Some(capture.partition_key.clone());
        if scope.covers(&PartitionKey::parse(&capture.partition_key)?) {
            out.push(capture);
        }
    }
    Ok(out)
}

/// The outbox events of a revision, on the capture's own connection (its transaction):
/// `capture.revised`, and `certification.invalidated` for every certified current verdict (any
/// domain, partition and use) that judged the superseded capture — naming the certification,
/// who signed it, and the old and new captures.
async fn announce_revision<C: ConnectionTrait>(
    conn: &C,
    capture: &Capture,
    previous: &Capture,
) -> StoreResult<()> {
    use spine_model::entities::core_data_readiness;
    let domain: Domain = capture.domain.parse()?;
    let partition = PartitionKey::parse(&capture.partition_key)?;
    crate::events::record(
        conn,
        NewEvent {
            domain: domain.clone(),
            partition: Some(partition.clone()),
            kind: EventKind::CaptureRevised,
            ready_for: None,
            severity: Some(Severity::Info),
            payload: json!({
                "capture_id": capture.capture_id,
                "previous_capture_id": previous.capture_id,
                "source_last_update": capture.source_last_update,
                "previous_source_last_update": previous.source_last_update,
                "rows_accepted": capture.rows_accepted,
                "previous_rows_accepted": previous.rows_accepted,
            }),
            capture_id: Some(capture.capture_id.clone()),
            previous_capture_id: Some(previous.capture_id.clone()),
            occurred_at: capture.captured_at,
            dedupe_key: format!("capture.revised:{}", capture.capture_id),
        },
    )
    .await?;
    let certified = core_data_readiness::Entity::find()
        .filter(core_data_readiness::Column::CertifiedAt.is_not_null())
        .all(conn)
        .await?;
    for verdict in certified {
        let judged_old = verdict.captures_judged.as_array().is_some_and(|ids| {
            ids.iter()
                .any(|id| id.as_str() == Some(&previous.capture_id))
        });
        if !judged_old {
            continue;
        }
        let ready_for: ReadyFor = verdict.ready_for.parse()?;
        crate::events::record(
            conn,
            NewEvent {
                domain: verdict.domain.parse()?,
                partition: Some(PartitionKey::parse(&verdict.partition_key)?),
                kind: EventKind::CertificationInvalidated,
                ready_for: Some(ready_for),
                severity: Some(Severity::Warn),
                payload: json!({
                    "certification": {
                        "domain": verdict.domain,
                        "partition_key": verdict.partition_key,
                        "ready_for": verdict.ready_for,
                        "status": verdict.status,
                        "certified_at": verdict.certified_at,
                        "certified_by": verdict.certified_by,
                        "captures_judged": verdict.captures_judged,
                    },
                    "certified_by": verdict.certified_by,
                    "old_capture_id": previous.capture_id,
                    "new_capture_id": capture.capture_id,
                    "revised_partition_key": capture.partition_key,
                }),
                capture_id: Some(capture.capture_id.clone()),
                previous_capture_id: Some(previous.capture_id.clone()),
                occurred_at: capture.captured_at,
                dedupe_key: format!(
                    "certification.invalidated:{}:{}",
                    verdict.id, capture.capture_id
                ),
            },
        )
        .await?;
    }
    Ok(())
}
