//! `core_sources`, `core_source_fetch_state` and `core_source_rate`: where each domain's data
//! comes from, what the last successful fetch of each partition returned, and the request
//! budget every worker shares.
//!
//! Sources are configured once in the database so every worker process, on any machine, fetches
//! the same way; their settings never hold a secret, only the names of environment variables
//! (the engine checks that; this module stores what it is given). Rate-limit slots are reserved
//! in one write transaction ([`reserve_slot`]): `SELECT … FOR UPDATE` on PostgreSQL, the
//! database write lock (`BEGIN IMMEDIATE`) on SQLite, so two workers never take the same slot.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionSession, TransactionTrait, TryInsertResult,
};
use serde_json::Value;
use spine_model::entities::{core_source_fetch_state, core_source_rate, core_sources};
use spine_model::{Domain, PartitionKey};

use crate::{StoreError, StoreResult};

/// A stored source.
pub type Source = core_sources::Model;

/// The stored validators of one (source, partition).
pub type FetchState = core_source_fetch_state::Model;

/// A source to configure.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSource {
    /// Unique name, how operators refer to it (`spine sources remove NAME`).
    pub name: String,
    /// The domain whose partitions it serves.
    pub domain: Domain,
    /// `url-template`, or a kind a domain plugin offers (e.g. `finra-api`).
    pub kind: String,
    /// The kind's settings (a JSON object; secrets only as environment variable names).
    pub settings: Value,
    /// The first week (business date) the source is expected to serve.
    pub since: Option<NaiveDate>,
    /// Inactive sources are kept but never fetched.
    pub active: bool,
}

/// What [`insert`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// The source was stored.
    Added(Source),
    /// A source with that name already exists; nothing was written. The existing one is
    /// returned so the caller can say what it is.
    NameTaken(Source),
}

/// Stores a new source, unless its name is taken (names are unique: an operator removes a source
/// by name, so two of the same name would be ambiguous).
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    source: NewSource,
    now: DateTime<Utc>,
) -> StoreResult<Inserted> {
    if !source.settings.is_object() {
        return Err(StoreError::Invalid(format!(
            "source {}: settings must be a JSON object, got {}",
            source.name, source.settings
        )));
    }
    let model = core_sources::ActiveModel {
        name: Set(source.name.clone()),
        domain: Set(source.domain.to_string()),
        kind: Set(source.kind),
        settings_json: Set(source.settings),
        since: Set(source.since),
        active: Set(source.active),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let inserted = core_sources::Entity::insert(model)
        .on_conflict_do_nothing_on([core_sources::Column::Name])
        .exec_without_returning(conn)
        .await?;
    let stored = by_name(conn, &source.name)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("source {} just stored", source.name),
        })?;
    Ok(
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            Inserted::Added(stored)
        } else {
            Inserted::NameTaken(stored)
        },
    )
}

/// The source named `name`.
pub async fn by_name<C: ConnectionTrait>(conn: &C, name: &str) -> StoreResult<Option<Source>> {
    Ok(core_sources::Entity::find()
        .filter(core_sources::Column::Name.eq(name))
        .one(conn)
        .await?)
}

/// The source with id `id`.
pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<Option<Source>> {
    Ok(core_sources::Entity::find_by_id(id).one(conn).await?)
}

/// Sources, by name; only `domain`'s when given, only active ones when `active_only`.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    domain: Option<&Domain>,
    active_only: bool,
) -> StoreResult<Vec<Source>> {
    let mut query = core_sources::Entity::find();
    if let Some(domain) = domain {
        query = query.filter(core_sources::Column::Domain.eq(domain.as_str()));
    }
    if active_only {
        query = query.filter(core_sources::Column::Active.eq(true));
    }
    Ok(query
        .order_by_asc(core_sources::Column::Name)
        .all(conn)
        .await?)
}

/// Removes the source named `name` and its fetch state; `None` when there is no such source.
/// Pass a transaction to make both deletes one unit. Its captures stay: they record where they
/// came from in their own rows.
pub async fn remove<C: ConnectionTrait>(conn: &C, name: &str) -> StoreResult<Option<Source>> {
    let Some(source) = by_name(conn, name).await? else {
        return Ok(None);
    };
    core_source_fetch_state::Entity::delete_many()
        .filter(core_source_fetch_state::Column::SourceId.eq(source.id))
        .exec(conn)
        .await?;
    core_sources::Entity::delete_by_id(source.id)
        .exec(conn)
        .await?;
    Ok(Some(source))
}

/// What a successful fetch of one partition returned, to ask "changed since?" next time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The HTTP `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The HTTP `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// The source's own revision stamp (FINRA's `lastUpdateDate`), when it can tell it.
    pub last_update_date: Option<NaiveDate>,
    /// SHA-256 of the bytes: a body identical to the last one is not a change.
    pub content_hash: Option<String>,
}

/// The stored validators of (source, partition), if it was ever fetched successfully.
pub async fn fetch_state<C: ConnectionTrait>(
    conn: &C,
    source_id: i64,
    partition: &PartitionKey,
) -> StoreResult<Option<FetchState>> {
    Ok(core_source_fetch_state::Entity::find()
        .filter(core_source_fetch_state::Column::SourceId.eq(source_id))
        .filter(core_source_fetch_state::Column::PartitionKey.eq(partition.canonical()))
        .one(conn)
        .await?)
}

/// Records the validators of a successful fetch of (source, partition), replacing the previous
/// ones. Call it only once what was fetched is safely captured: validators of bytes that never
/// landed would make the next fetch skip them.
pub async fn record_fetch_state<C: ConnectionTrait>(
    conn: &C,
    source_id: i64,
    partition: &PartitionKey,
    validators: &Validators,
    checked_at: DateTime<Utc>,
) -> StoreResult<()> {
    use core_source_fetch_state::Column;
    let model = core_source_fetch_state::ActiveModel {
        source_id: Set(source_id),
        partition_key: Set(partition.canonical()),
        etag: Set(validators.etag.clone()),
        last_modified: Set(validators.last_modified.clone()),
        last_update_date: Set(validators.last_update_date),
        content_hash: Set(validators.content_hash.clone()),
        checked_at: Set(checked_at),
        ..Default::default()
    };
    core_source_fetch_state::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([Column::SourceId, Column::PartitionKey])
                .update_columns([
                    Column::Etag,
                    Column::LastModified,
                    Column::LastUpdateDate,
                    Column::ContentHash,
                    Column::CheckedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Moves the `checked_at` of (source, partition) to `checked_at`: the source was asked and
/// nothing changed. Returns whether a row was there to update.
pub async fn touch_fetch_state<C: ConnectionTrait>(
    conn: &C,
    source_id: i64,
    partition: &PartitionKey,
    checked_at: DateTime<Utc>,
) -> StoreResult<bool> {
    use core_source_fetch_state::Column;
    let updated = core_source_fetch_state::Entity::update_many()
        .col_expr(Column::CheckedAt, Expr::value(checked_at))
        .filter(Column::SourceId.eq(source_id))
        .filter(Column::PartitionKey.eq(partition.canonical()))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Reserves the next request slot of `rate_key`, `interval` apart from the one before, and
/// returns when it starts: the caller waits until then and sends its request.
///
/// The read and the write are one write transaction: the row is read `FOR UPDATE` on
/// PostgreSQL, and SQLite's `BEGIN IMMEDIATE` holds the database write lock, so concurrent
/// callers — tasks, processes or machines sharing the database — are served one after another
/// and each gets its own slot. `now` is the wall clock (rate limits are real time, whatever
/// clock a run judges data by). Times are kept to the microsecond.
pub async fn reserve_slot<C: TransactionTrait>(
    conn: &C,
    rate_key: &str,
    interval: std::time::Duration,
    now: DateTime<Utc>,
) -> StoreResult<DateTime<Utc>> {
    use core_source_rate::Column;
    let interval = chrono::Duration::from_std(interval)
        .map_err(|e| StoreError::Invalid(format!("rate interval {interval:?}: {e}")))?;
    // Both backends keep microseconds: a slot computed from a finer clock would not read back
    // as it was written.
    let now = chrono::SubsecRound::trunc_subsecs(now, 6);
    let txn = crate::begin_write(conn).await?;
    let locked = || {
        core_source_rate::Entity::find()
            .filter(Column::RateKey.eq(rate_key))
            .lock_exclusive()
    };
    let row = match locked().one(&txn).await? {
        Some(row) => row,
        None => {
            // The first request of this key anywhere: create its row (a concurrent first
            // request creates it too; one of the two inserts does nothing), then lock it.
            let model = core_source_rate::ActiveModel {
                rate_key: Set(rate_key.to_string()),
                next_slot_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            core_source_rate::Entity::insert(model)
                .on_conflict_do_nothing_on([Column::RateKey])
                .exec_without_returning(&txn)
                .await?;
            locked()
                .one(&txn)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("the rate row of {rate_key} just created"),
                })?
        }
    };
    let slot = row.next_slot_at.max(now);
    core_source_rate::Entity::update_many()
        .col_expr(Column::NextSlotAt, Expr::value(slot + interval))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(slot)
}
