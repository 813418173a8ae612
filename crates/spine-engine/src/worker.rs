//! The worker: Market Spine running itself.
//!
//! One [`pass`] does what an operator would otherwise do by hand each week, in this order:
//! 1. **enqueue what is due**: every active schedule of every domain with a configured source is
//!    expanded up to the clock; each expected partition whose fetch window has opened (its due
//!    time minus [`WorkerConfig::fetch_lead`]), that has no capture and no FETCH item yet, gets
//!    one (idempotent: the queue's unique key makes a second pass enqueue nothing new);
//! 2. **enqueue revision checks**: captured partitions whose week ended within the lookback
//!    window (and never data older than [`WorkerConfig::max_history`]) get a REVISION_CHECK
//!    item, due again [`WorkerConfig::revision_every`] after the previous check;
//! 3. **heal stale calcs**: calcs a calendar correction made stale are recomputed;
//! 4. **work the queue**: [`WorkerConfig::concurrency`] tasks claim items (leases, takeovers:
//!    `spine_store::work_items`), fetch each from its source and ingest it through the same
//!    capture lifecycle as `spine ingest`; failures are retried with backoff
//!    ([`RetryPolicy`]) or end FAILED with their history;
//! 5. **re-evaluate verdicts** of the recent weeks and record the changes, signed by the worker.
//!
//! Times: the run clock (`--now`) decides what is due and when to retry; leases and liveness are
//! wall clock, because they are about processes, not about business time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use spine_model::{
    AttemptOutcome, Domain, ExecutionStatus, IngestStatus, PartitionKey, ReadinessStatus, ReadyFor,
    Stage, WorkItemState, WorkKind,
};
use spine_store::executions::NewExecution;
use spine_store::work_attempts::{self, AttemptEnd, NewAttempt};
use spine_store::work_items::{self, Claimed, NewWorkItem, Settle, WorkItem};
use spine_store::{captures, manifest, readiness as stored_readiness, workers};

use crate::capture::{RunningExecution, SourceProblem};
use crate::domain::DomainPlugin;
use crate::sources::{self, SourceConfig, SourceFetch};
use crate::{Engine, PipelineError, PipelineResult, RunContext};

/// When a failed attempt is tried again.
///
/// Defaults: the first retry about 15 minutes after the failure, doubling each time, at most
/// 6 hours apart, each delay moved by up to ±20% (jitter, so many workers do not retry in
/// step); a source's `Retry-After` wins when it is longer. "Not published yet" (HTTP 404) is
/// retried until the partition's retry horizon, 14 days past its due time, however many attempts
/// that takes; any other retryable failure (408, 429, 5xx, timeouts, connection errors) at most
/// [`RetryPolicy::max_attempts`] times and within the horizon too.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The delay before the first retry.
    pub first: Duration,
    /// The longest delay between two attempts.
    pub cap: Duration,
    /// How long past its due time a partition is still retried.
    pub horizon: Duration,
    /// Attempts before a retryable failure other than "not published yet" is final.
    pub max_attempts: i32,
    /// The fraction by which a delay may move either way.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            first: Duration::minutes(15),
            cap: Duration::hours(6),
            horizon: Duration::days(14),
            max_attempts: 8,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay after attempt `attempt` (1-based) of item `item_id` failed: exponential,
    /// capped, jittered deterministically from the item and the attempt (a replay with the same
    /// clock schedules the same retries), and never shorter than the source's `Retry-After`.
    pub fn delay(&self, item_id: i64, attempt: i32, retry_after: Option<Duration>) -> Duration {
        let exponent = u32::try_from((attempt - 1).clamp(0, 20)).unwrap_or(0);
        let base = self
            .first
            .checked_mul(2_i32.saturating_pow(exponent))
            .unwrap_or(self.cap)
            .min(self.cap);
        // A fraction in [-1, 1) from a hash of (item, attempt).
        let mut h = (item_id as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(attempt.unsigned_abs()));
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        let unit = (h % 2_000_001) as f64 / 1_000_000.0 - 1.0;
        let jittered_ms = base.num_milliseconds() as f64 * (1.0 + self.jitter * unit);
        let delay = Duration::milliseconds(jittered_ms.round() as i64).max(Duration::seconds(1));
        match retry_after {
            Some(r) if r > delay => r,
            _ => delay,
        }
    }
}

/// How one worker behaves. [`WorkerConfig::new`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Who this worker is: it holds leases and signs the verdicts it records under this name.
    pub worker_id: String,
    /// Items worked on at once.
    pub concurrency: usize,
    /// How long a claim holds without renewal (wall clock); renewed every third of it.
    pub lease: std::time::Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Captured partitions whose week ended within this many weeks are checked for revisions.
    pub revision_lookback_weeks: i64,
    /// How often one partition is checked for a revision.
    pub revision_every: Duration,
    /// Nothing older than this is fetched or checked (FINRA's data older than a year is final).
    pub max_history: Duration,
    /// How long before its due time a partition's fetch window opens (FINRA publishes on the
    /// Monday; the seeded schedules expect the files by 18:00 UTC).
    pub fetch_lead: Duration,
    /// At most this many items per pass, so one pass always ends.
    pub max_items_per_pass: usize,
}

impl WorkerConfig {
    /// The defaults for `worker_id`: one item at a time, 60 s leases, the default retry
    /// policy, revision checks of the last 8 weeks at most once per 24 h, nothing older than 12
    /// months, fetches from 8 h before the due time.
    pub fn new(worker_id: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            worker_id: worker_id.into(),
            concurrency: 1,
            lease: std::time::Duration::from_secs(60),
            retry: RetryPolicy::default(),
            revision_lookback_weeks: 8,
            revision_every: Duration::hours(24),
            max_history: Duration::days(365),
            fetch_lead: Duration::hours(8),
            max_items_per_pass: 10_000,
        }
    }
}

/// A partition put in the queue by a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    /// The domain.
    pub domain: String,
    /// The partition.
    pub partition_key: String,
    /// FETCH or REVISION_CHECK.
    pub kind: WorkKind,
    /// When it may first run.
    pub next_attempt_at: DateTime<Utc>,
}

/// How one attempt at one item went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemResult {
    /// The item.
    pub item_id: i64,
    /// Its domain.
    pub domain: String,
    /// Its partition.
    pub partition_key: String,
    /// FETCH or REVISION_CHECK.
    pub kind: WorkKind,
    /// The attempt number.
    pub attempt: i32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// What the ingest did, when one ran.
    pub ingest: Option<IngestStatus>,
    /// The capture it produced or found.
    pub capture_id: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// The next attempt it scheduled.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The worker whose expired lease it took over.
    pub took_over_from: Option<String>,
    /// The execution it ran.
    pub execution_id: Option<String>,
}

/// A verdict the pass recorded because it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictChange {
    /// The domain.
    pub domain: String,
    /// The partition judged (a week).
    pub partition_key: String,
    /// The use.
    pub ready_for: ReadyFor,
    /// The verdict before, if there was one.
    pub previous: Option<ReadinessStatus>,
    /// The verdict now.
    pub status: ReadinessStatus,
    /// When it was certified (ready verdicts).
    pub certified_at: Option<DateTime<Utc>>,
    /// Why it is not ready, when it is not.
    pub blocking_issues: Vec<String>,
}

/// What one pass did, for the CLI to print and `core_workers` to keep.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    /// The pass's clock.
    pub now: DateTime<Utc>,
    /// Items the pass put in the queue.
    pub enqueued: Vec<Enqueued>,
    /// Calc recomputes it ran (stale after a calendar correction).
    pub recomputed: usize,
    /// Attempts it made.
    pub items: Vec<ItemResult>,
    /// Verdicts that changed.
    pub verdicts: Vec<VerdictChange>,
    /// Whether a stop request ended it early.
    pub stopped: bool,
}

impl PassReport {
    /// Counts by outcome, for `core_workers.last_pass_json` and the log line.
    pub fn summary(&self) -> serde_json::Value {
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for i in &self.items {
            *outcomes.entry(i.outcome.to_string()).or_default() += 1;
        }
        json!({
            "now": self.now,
            "enqueued": self.enqueued.len(),
            "recomputed": self.recomputed,
            "attempts": self.items.len(),
            "outcomes": outcomes,
            "verdicts_changed": self.verdicts.len(),
            "stopped": self.stopped,
        })
    }
}

/// Runs one pass at `run.now` (see the module documentation). Stops claiming new items when
/// `run.cancel` is set; the items in hand finish (or are released at a stage boundary).
pub async fn pass(
    engine: &Engine,
    config: &WorkerConfig,
    run: &RunContext,
) -> PipelineResult<PassReport> {
    let mut report = PassReport {
        now: run.now,
        ..Default::default()
    };
    let run = RunContext {
        actor: Some(config.worker_id.clone()),
        ..run.clone()
    };
    for plugin in engine.registry().plugins() {
        report
            .enqueued
            .extend(enqueue(engine, plugin.as_ref(), config, &run).await?);
    }
    for plugin in engine.registry().plugins() {
        report.recomputed += crate::landed::recompute_stale(engine, plugin.as_ref(), &run)
            .await?
            .len();
    }
    // The verdicts as they stood before the queue was worked: a capture that lands re-evaluates
    // its week itself (the capture path records "re-evaluated after a new capture"), and the
    // pass reports that move too, not only what its own re-evaluation changes afterwards.
    let mut before = BTreeMap::new();
    for plugin in engine.registry().plugins() {
        for (week, ready_for) in judged_weeks(engine, plugin.as_ref(), config, &run, false).await? {
            let current = stored_readiness::current(
                engine.store().conn(),
                &plugin.name(),
                &PartitionKey::week(week),
                ready_for,
            )
            .await?;
            before.insert((plugin.name().to_string(), week, ready_for), current);
        }
    }
    report.items = work_queue(engine, config, &run).await?;
    report.stopped = run.cancel.reason().is_some();
    for plugin in engine.registry().plugins() {
        report
            .verdicts
            .extend(reevaluate(engine, plugin.as_ref(), config, &run, &before).await?);
    }
    workers::pass_done(
        engine.store().conn(),
        &config.worker_id,
        run.now,
        report.summary(),
        Utc::now(),
    )
    .await?;
    Ok(report)
}

/// The partitions a domain's schedules expect from `from` to the clock's date, with their due
/// times.
async fn expected(
    engine: &Engine,
    domain: &Domain,
    from: NaiveDate,
    run: &RunContext,
) -> PipelineResult<Vec<spine_rules::schedule::ExpectedPartition>> {
    let to = run.now.date_naive();
    if from > to {
        return Ok(Vec::new());
    }
    let calendar = crate::schedules::trading_calendar(engine.store(), from, to).await?;
    let mut out = Vec::new();
    for schedule in spine_store::schedules::list(engine.store().conn(), Some(domain), true).await? {
        out.extend(crate::schedules::expand(&schedule, from, to, &calendar)?);
    }
    Ok(out)
}

/// Steps 1 and 2 of a pass for one domain.
async fn enqueue(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    config: &WorkerConfig,
    run: &RunContext,
) -> PipelineResult<Vec<Enqueued>> {
    let domain = plugin.name();
    let conn = engine.store().conn();
    let sources = sources::active_sources(engine, &domain).await?;
    if sources.is_empty() {
        // Nothing to fetch from: the schedule check reports what does not arrive.
        return Ok(Vec::new());
    }
    let oldest = (run.now - config.max_history).date_naive();
    let since = sources
        .iter()
        .map(|s| s.since.unwrap_or(oldest).max(oldest))
        .min()
        .unwrap_or(oldest);
    let lookback_from = run.now.date_naive() - Duration::weeks(config.revision_lookback_weeks);
    let fetches: BTreeMap<String, WorkItem> = work_items::of_kind(conn, &domain, WorkKind::Fetch)
        .await?
        .into_iter()
        .map(|i| (i.partition_key.clone(), i))
        .collect();
    let checks: BTreeMap<String, WorkItem> =
        work_items::of_kind(conn, &domain, WorkKind::RevisionCheck)
            .await?
            .into_iter()
            .map(|i| (i.partition_key.clone(), i))
            .collect();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for expected in expected(engine, &domain, since, run).await? {
        let key = expected.partition.canonical();
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(source) = source_for(&sources, expected.business_date) else {
            continue;
        };
        let in_lookback = expected.business_date >= lookback_from;
        let has_fetch = fetches.contains_key(&key);
        if has_fetch && !in_lookback {
            continue;
        }
        let latest = captures::latest(conn, &domain, &expected.partition).await?;
        // The work item for this expected partition from this source: a first fetch or a
        // revision check, which differ only by kind and priority.
        let item = |kind: WorkKind, priority| NewWorkItem {
            domain: domain.clone(),
            pipeline: plugin.ingest_pipeline().to_string(),
            kind,
            partition: expected.partition.clone(),
            params: Some(json!({
                "source": source.name,
                "due": expected.due,
                "business_date": expected.business_date,
            })),
            desired_at: run.now,
            priority,
            max_attempts: config.retry.max_attempts,
        };
        match (&latest, has_fetch) {
            (None, false) => {
                let opens = expected.due.map_or(run.now, |due| due - config.fetch_lead);
                if opens > run.now {
                    continue;
                }
                let (stored, created) =
                    work_items::enqueue(conn, item(WorkKind::Fetch, 100), run.now).await?;
                if created {
                    out.push(Enqueued {
                        domain: domain.to_string(),
                        partition_key: key.clone(),
                        kind: WorkKind::Fetch,
                        next_attempt_at: stored.next_attempt_at.unwrap_or(run.now),
                    });
                }
            }
            (Some(capture), _) if in_lookback => {
                let next = match checks.get(&key) {
                    None => capture.captured_at + config.revision_every,
                    Some(check) if check.state == WorkItemState::Complete.as_str() => {
                        check.completed_at.unwrap_or(check.updated_at) + config.revision_every
                    }
                    // Pending, running, waiting to retry, failed or cancelled: leave it be.
                    Some(_) => continue,
                };
                if next > run.now {
                    continue;
                }
                match checks.get(&key) {
                    None => {
                        work_items::enqueue(conn, item(WorkKind::RevisionCheck, 50), run.now)
                            .await?;
                    }
                    Some(check) => {
                        work_items::reschedule(conn, check.id, run.now, run.now).await?;
                    }
                }
                out.push(Enqueued {
                    domain: domain.to_string(),
                    partition_key: key.clone(),
                    kind: WorkKind::RevisionCheck,
                    next_attempt_at: run.now,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The source that serves a business date: the first active one whose `since` is not after it.
fn source_for(sources: &[SourceConfig], date: NaiveDate) -> Option<&SourceConfig> {
    sources
        .iter()
        .find(|s| s.since.is_none_or(|since| since <= date))
}

/// Step 4: claims and works items with `config.concurrency` tasks until nothing is claimable,
/// the pass's item budget is spent, or a stop is requested.
async fn work_queue(
    engine: &Engine,
    config: &WorkerConfig,
    run: &RunContext,
) -> PipelineResult<Vec<ItemResult>> {
    let budget = Arc::new(AtomicUsize::new(config.max_items_per_pass));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..config.concurrency.max(1) {
        let engine = engine.clone();
        let config = config.clone();
        let run = run.clone();
        let budget = budget.clone();
        tasks.spawn(async move {
            let mut results = Vec::new();
            loop {
                if run.cancel.reason().is_some() {
                    break;
                }
                if budget
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                    .is_err()
                {
                    break;
                }
                let wall = Utc::now();
                let lease_until = wall + lease(&config);
                let Some(claimed) = work_items::claim_next(
                    engine.store().conn(),
                    &config.worker_id,
                    run.now,
                    wall,
                    lease_until,
                )
                .await?
                else {
                    break;
                };
                results.push(work_item(&engine, &config, claimed, &run).await?);
            }
            Ok::<_, PipelineError>(results)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let results =
            joined.map_err(|e| PipelineError::Input(format!("a worker task died: {e}")))??;
        out.extend(results);
    }
    out.sort_by_key(|a| (a.item_id, a.attempt));
    Ok(out)
}

fn lease(config: &WorkerConfig) -> Duration {
    Duration::from_std(config.lease).unwrap_or(Duration::seconds(60))
}

/// Renews the lease every third of its length while the item is worked on; stops when dropped.
struct LeaseKeeper(tokio::task::JoinHandle<()>);

impl LeaseKeeper {
    fn start(engine: &Engine, config: &WorkerConfig, item_id: i64) -> LeaseKeeper {
        let store = engine.store().clone();
        let worker = config.worker_id.clone();
        let length = config.lease;
        LeaseKeeper(tokio::spawn(async move {
            let mut tick = tokio::time::interval(length / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                let until =
                    Utc::now() + Duration::from_std(length).unwrap_or(Duration::seconds(60));
                match work_items::renew_lease(store.conn(), item_id, &worker, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            "{worker} lost work item {item_id} (taken over or cancelled): its result will be dropped"
                        );
                        return;
                    }
                    Err(e) => tracing::warn!("renewing the lease of work item {item_id}: {e}"),
                }
            }
        }))
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One attempt at one claimed item: fetch, ingest, settle, record.
async fn work_item(
    engine: &Engine,
    config: &WorkerConfig,
    claimed: Claimed,
    run: &RunContext,
) -> PipelineResult<ItemResult> {
    let Claimed {
        item,
        took_over_from,
    } = claimed;
    let conn = engine.store().conn();
    let kind: WorkKind = item.kind.parse()?;
    let domain = Domain::parse(&item.domain)?;
    let partition = PartitionKey::parse(&item.partition_key)?;
    let attempt_id = work_attempts::start(
        conn,
        NewAttempt {
            work_item_id: item.id,
            attempt: item.attempt_count,
            worker_id: config.worker_id.clone(),
            started_at: run.now,
            took_over_from: took_over_from.clone(),
        },
    )
    .await?;
    let _lease = LeaseKeeper::start(engine, config, item.id);
    let mut result = ItemResult {
        item_id: item.id,
        domain: domain.to_string(),
        partition_key: item.partition_key.clone(),
        kind,
        attempt: item.attempt_count,
        outcome: AttemptOutcome::Running,
        ingest: None,
        capture_id: None,
        error: None,
        next_attempt_at: None,
        took_over_from,
        execution_id: None,
    };
    let (settle, end) = match attempt(engine, config, &item, kind, &domain, &partition, run).await {
        Ok(done) => {
            result.outcome = done.outcome;
            result.ingest = done.ingest;
            result.capture_id = done.capture_id;
            result.execution_id = done.execution_id.clone();
            (
                Settle::Complete {
                    execution_id: done.execution_id.clone(),
                },
                AttemptEnd {
                    execution_id: done.execution_id,
                    ..Default::default()
                },
            )
        }
        Err(failure) if failure.stopped => {
            result.outcome = AttemptOutcome::Released;
            result.error = Some(failure.message.clone());
            (
                Settle::Release,
                AttemptEnd {
                    execution_id: failure.execution_id.clone(),
                    error: Some(failure.message),
                    ..Default::default()
                },
            )
        }
        Err(failure) => {
            let next = next_attempt(config, &item, &failure, run.now);
            result.execution_id = failure.execution_id.clone();
            result.error = Some(failure.message.clone());
            result.next_attempt_at = next;
            result.outcome = if next.is_some() {
                AttemptOutcome::Retry
            } else {
                AttemptOutcome::Failed
            };
            let end = AttemptEnd {
                execution_id: failure.execution_id.clone(),
                error: Some(failure.message.clone()),
                error_code: Some(failure.code.clone()),
                http_status: failure.http_status,
                retry_after_seconds: failure.retry_after.map(|d| d.num_seconds()),
                next_attempt_at: next,
                body_sha256: failure.body_sha256.clone(),
                body_prefix: failure.body_prefix.clone(),
            };
            let settle = match next {
                Some(next_attempt_at) => Settle::Retry {
                    error: failure.message.clone(),
                    next_attempt_at,
                },
                None => Settle::Fail {
                    error: failure.message.clone(),
                },
            };
            (settle, end)
        }
    };
    let held = work_items::settle(conn, item.id, &config.worker_id, settle, run.now).await?;
    if held.is_none() {
        result.error = Some(format!(
            "{}; the item was taken over or cancelled meanwhile, so this result was dropped",
            result.error.as_deref().unwrap_or("done")
        ));
    }
    work_attempts::finish(conn, attempt_id, result.outcome, end, run.now).await?;
    Ok(result)
}

/// What a successful attempt did.
struct Done {
    outcome: AttemptOutcome,
    ingest: Option<IngestStatus>,
    capture_id: Option<String>,
    execution_id: Option<String>,
}

/// Why an attempt failed, with what the retry policy needs.
struct Failure {
    message: String,
    code: String,
    http_status: Option<u16>,
    retryable: bool,
    retry_after: Option<Duration>,
    body_sha256: Option<String>,
    body_prefix: Option<String>,
    execution_id: Option<String>,
    /// A stop request (SIGTERM) ended it at a stage boundary: release, do not count.
    stopped: bool,
    /// The source has not published it yet (HTTP 404, no file in the drop folder, an API week
    /// without rows).
    not_published: bool,
}

impl Failure {
    /// "Not published yet": an HTTP 404, or a drop folder without the file. Retried until the
    /// partition's retry horizon however many attempts that takes.
    fn not_published(&self) -> bool {
        self.not_published
    }

    fn of_pipeline(e: &PipelineError, execution_id: Option<String>) -> Failure {
        Failure {
            message: spine_model::redact::error(
                &e.to_string(),
                spine_model::redact::MAX_ERROR_CHARS,
            ),
            code: match e {
                PipelineError::Aborted { .. } => "STOPPED".to_string(),
                _ => "PIPELINE".to_string(),
            },
            http_status: None,
            retryable: false,
            retry_after: None,
            body_sha256: None,
            body_prefix: None,
            execution_id,
            stopped: matches!(e, PipelineError::Aborted { .. }),
            not_published: false,
        }
    }
}

/// When to try again after `failure`, or None when it is final (see [`RetryPolicy`]).
fn next_attempt(
    config: &WorkerConfig,
    item: &WorkItem,
    failure: &Failure,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !failure.retryable && !failure.not_published() {
        return None;
    }
    let due: Option<DateTime<Utc>> = item
        .params_json
        .as_ref()
        .and_then(|p| p.get("due"))
        .and_then(|d| serde_json::from_value(d.clone()).ok());
    let horizon = due.unwrap_or(item.created_at) + config.retry.horizon;
    let not_published = failure.not_published();
    if !not_published && item.attempt_count >= config.retry.max_attempts {
        return None;
    }
    let next = now
        + config
            .retry
            .delay(item.id, item.attempt_count, failure.retry_after);
    (next <= horizon).then_some(next)
}

/// Fetches the item's partition from its source and ingests it.
async fn attempt(
    engine: &Engine,
    config: &WorkerConfig,
    item: &WorkItem,
    kind: WorkKind,
    domain: &Domain,
    partition: &PartitionKey,
    run: &RunContext,
) -> Result<Done, Failure> {
    let pipeline_failure = |e: PipelineError| Failure::of_pipeline(&e, None);
    let plugin = engine.domain(domain).map_err(pipeline_failure)?;
    let wanted = item
        .params_json
        .as_ref()
        .and_then(|p| p.get("source"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    let all = sources::active_sources(engine, domain)
        .await
        .map_err(pipeline_failure)?;
    let date = plugin.business_date(partition);
    let source = wanted
        .as_deref()
        .and_then(|name| all.iter().find(|s| s.name == name))
        .or_else(|| date.and_then(|d| source_for(&all, d)))
        .or(all.first())
        .cloned()
        .ok_or_else(|| Failure {
            message: format!("no active source for {domain}: add one with `spine sources add`"),
            code: "NO_SOURCE".to_string(),
            http_status: None,
            retryable: false,
            retry_after: None,
            body_sha256: None,
            body_prefix: None,
            execution_id: None,
            stopped: false,
            not_published: false,
        })?;

    let mut params = serde_json::Map::new();
    params.insert("source".into(), json!(source.name));
    params.insert("work_item_id".into(), json!(item.id));
    params.insert("kind".into(), json!(kind));
    params.insert("worker".into(), json!(config.worker_id));
    let execution = RunningExecution::start(
        engine,
        NewExecution {
            pipeline: plugin.ingest_pipeline().to_string(),
            domain: domain.clone(),
            partition: Some(partition.clone()),
            params: Some(serde_json::Value::Object(params)),
            trigger_source: "worker".to_string(),
            work_item_id: Some(item.id),
            started_at: run.now,
        },
    )
    .await
    .map_err(pipeline_failure)?;
    let execution_id = execution.id().to_string();
    let run = RunContext {
        execution_id: Some(execution_id.clone()),
        ..run.clone()
    };
    let finish_failed = |f: Failure| async {
        let status = if f.stopped {
            ExecutionStatus::Aborted
        } else {
            ExecutionStatus::Failed
        };
        if let Err(e) = execution
            .finish(status, None, Some(f.message.clone()))
            .await
        {
            tracing::warn!("recording the end of {}: {e}", execution.id());
        }
        f
    };

    let fetched = match sources::fetch_partition(engine, &source, partition, &run).await {
        Ok(f) => f,
        Err(e) => {
            let problem = SourceProblem {
                code: e.code().to_string(),
                http_status: e.http_status(),
                retryable: e.is_retryable() || e.is_not_published(),
                message: e.redacted(),
            };
            if kind == WorkKind::Fetch
                && let Err(err) = crate::capture::source_unavailable(
                    engine,
                    plugin.as_ref(),
                    partition,
                    &source.name,
                    &problem,
                    &run,
                )
                .await
            {
                tracing::warn!("recording that {partition} is unavailable: {err}");
            }
            let (body_sha256, body_prefix) = e
                .body_sample()
                .map(|b| (b.sha256.clone(), b.prefix.clone()))
                .unzip();
            let failure = Failure {
                message: spine_model::redact::error(
                    &format!("{}: {}", e.code(), e.redacted()),
                    spine_model::redact::MAX_ERROR_CHARS,
                ),
                code: e.code().to_string(),
                http_status: e.http_status(),
                retryable: e.is_retryable(),
                retry_after: e.retry_after().and_then(|d| Duration::from_std(d).ok()),
                body_sha256,
                body_prefix,
                execution_id: Some(execution_id.clone()),
                stopped: false,
                not_published: e.is_not_published(),
            };
            return Err(finish_failed(failure).await);
        }
    };
    let fetched = match fetched {
        SourceFetch::NotModified { reason } => {
            execution
                .finish(ExecutionStatus::Completed, Some(0), None)
                .await
                .map_err(pipeline_failure)?;
            tracing::info!("{partition}: not modified ({reason})");
            return Ok(Done {
                outcome: AttemptOutcome::NotModified,
                ingest: None,
                capture_id: None,
                execution_id: Some(execution_id),
            });
        }
        SourceFetch::Fetched(f) => f,
    };
    let report = match crate::capture::ingest_fetched(
        engine,
        plugin.as_ref(),
        &fetched.input,
        &fetched.hint,
        &run,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let failure = Failure::of_pipeline(&e, Some(execution_id.clone()));
            return Err(finish_failed(failure).await);
        }
    };
    if report.status == IngestStatus::Failed {
        // The bytes were captured but a stage refused them (a business rule, unusable
        // input): trying the same bytes again changes nothing, so it is final; a corrected
        // publication arrives through the next revision check.
        let failure = Failure {
            message: spine_model::redact::error(
                &format!(
                    "{} was captured but not processed: {}",
                    report.capture_id,
                    report.notes.join("; ")
                ),
                spine_model::redact::MAX_ERROR_CHARS,
            ),
            code: "REFUSED".to_string(),
            http_status: None,
            retryable: false,
            retry_after: None,
            body_sha256: Some(fetched.content_hash().to_string()),
            body_prefix: fetched.body_sample().ok().map(|b| b.prefix),
            execution_id: Some(execution_id.clone()),
            stopped: false,
            not_published: false,
        };
        return Err(finish_failed(failure).await);
    }
    if let Err(e) = sources::record_fetched(engine, &source, partition, &fetched).await {
        tracing::warn!(
            "remembering what {} served for {partition}: {e}",
            source.name
        );
    }
    execution
        .finish(ExecutionStatus::Completed, Some(report.rows_read), None)
        .await
        .map_err(pipeline_failure)?;
    Ok(Done {
        // Bytes identical to a complete capture: the source changed nothing.
        outcome: if report.status == IngestStatus::Unchanged {
            AttemptOutcome::NotModified
        } else {
            AttemptOutcome::Ingested
        },
        ingest: Some(report.status),
        capture_id: Some(report.capture_id),
        execution_id: Some(execution_id),
    })
}

/// Step 5 for one domain: evaluates every use of each recent week that has a capture and
/// records the verdicts that changed, signed by the worker.
async fn reevaluate(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    config: &WorkerConfig,
    run: &RunContext,
    before: &BTreeMap<(String, NaiveDate, ReadyFor), Option<stored_readiness::Readiness>>,
) -> PipelineResult<Vec<VerdictChange>> {
    let domain = plugin.name();
    let conn = engine.store().conn();
    let mut out = Vec::new();
    for (week, ready_for) in judged_weeks(engine, plugin, config, run, true).await? {
        let key = PartitionKey::week(week);
        let previous = match before.get(&(domain.to_string(), week, ready_for)) {
            Some(snapshot) => snapshot.clone(),
            // A week that came into the window during the pass: judged for the first time.
            None => None,
        };
        let certified =
            crate::readiness::certify(engine, &domain, &key, ready_for, &config.worker_id, run)
                .await?;
        let current = match &certified.recorded {
            stored_readiness::Recorded::Changed { current, .. } => Some(current.clone()),
            // Unchanged by this evaluation, but perhaps by a capture earlier in the pass.
            _ => stored_readiness::current(conn, &domain, &key, ready_for).await?,
        };
        let Some(current) = current else {
            continue;
        };
        // One row per partition and use, updated in place: a new record shows as a new
        // evaluation time or a different verdict.
        let same = |p: &stored_readiness::Readiness| {
            p.evaluated_at == current.evaluated_at
                && p.status == current.status
                && p.captures_judged == current.captures_judged
        };
        if previous.as_ref().is_some_and(same)
            && !matches!(
                certified.recorded,
                stored_readiness::Recorded::Changed { .. }
            )
        {
            continue;
        }
        out.push(VerdictChange {
            domain: domain.to_string(),
            partition_key: key.canonical(),
            ready_for,
            previous: previous.as_ref().map(|p| p.status.parse()).transpose()?,
            status: current.status.parse()?,
            certified_at: current.certified_at,
            blocking_issues: certified.certification.blocking_issues.clone(),
        });
    }
    Ok(out)
}

/// The weeks (and uses) a pass judges: every week the domain's schedules expect a partition
/// of in the revision window (and four weeks more) — with `captured_only`, only those with a
/// capture.
async fn judged_weeks(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    config: &WorkerConfig,
    run: &RunContext,
    captured_only: bool,
) -> PipelineResult<Vec<(NaiveDate, ReadyFor)>> {
    let domain = plugin.name();
    let conn = engine.store().conn();
    let today = run.now.date_naive();
    let from = today - Duration::weeks(config.revision_lookback_weeks.max(1) + 4);
    let mut weeks = BTreeSet::new();
    for expected in expected(engine, &domain, from, run).await? {
        if let Some(date) = plugin.business_date(&expected.partition)
            && date.weekday() == chrono::Weekday::Fri
        {
            weeks.insert(date);
        }
    }
    let mut out = Vec::new();
    for week in weeks {
        if captured_only
            && captures::latest_covered(conn, &domain, &PartitionKey::week(week))
                .await?
                .is_empty()
        {
            continue;
        }
        out.extend(ReadyFor::ALL.iter().map(|r| (week, *r)));
    }
    Ok(out)
}

/// Whether a partition's latest capture reached the domain's last stage.
pub async fn is_complete(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    partition: &PartitionKey,
) -> PipelineResult<bool> {
    let domain = plugin.name();
    let Some(latest) = captures::latest(engine.store().conn(), &domain, partition).await? else {
        return Ok(false);
    };
    let stages = manifest::stages(engine.store().conn(), &domain, partition).await?;
    let last: Option<Stage> = plugin.required_stages().last().copied();
    Ok(manifest::furthest_stage(&stages, &latest.capture_id) >= last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_about_15_minutes_to_a_6_hour_cap_and_retry_after_wins() {
        let policy = RetryPolicy::default();
        let minutes = |a: i32| policy.delay(7, a, None).num_seconds() as f64 / 60.0;
        assert!((12.0..=18.0).contains(&minutes(1)), "{}", minutes(1));
        assert!((24.0..=36.0).contains(&minutes(2)), "{}", minutes(2));
        assert!((48.0..=72.0).contains(&minutes(3)), "{}", minutes(3));
        for attempt in 6..40 {
            let m = minutes(attempt);
            assert!((288.0..=432.0).contains(&m), "attempt {attempt}: {m}");
        }
        // Deterministic: the same item and attempt get the same delay.
        assert_eq!(policy.delay(7, 3, None), policy.delay(7, 3, None));
        assert_ne!(policy.delay(7, 3, None), policy.delay(8, 3, None));
        // Retry-After wins when longer, not when shorter.
        assert_eq!(
            policy.delay(7, 1, Some(Duration::hours(2))),
            Duration::hours(2)
        );
        assert_eq!(
            policy.delay(7, 1, Some(Duration::seconds(5))),
            policy.delay(7, 1, None)
        );
    }
}
