//! The capture lifecycle, the same for every domain: fetch the source, let the domain plan the
//! partition, derive the deterministic capture id, skip identical bytes, let the domain run its
//! stages, then run the one "capture landed" step. Every run is recorded as an execution; a
//! fetch or pipeline failure leaves a FAILED execution with its cause, never a half-written
//! capture (each stage commits atomically in the domain).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::json;
use spine_model::{Domain, ExecutionStatus, IngestStatus, PartitionKey, Stage};
use spine_store::executions::{self, NewExecution};
use spine_store::{captures, manifest};

use crate::anomaly::{AnomalySummary, Detector};
use crate::domain::{CaptureDetail, DomainPlugin, PlannedCapture, StagesOutcome};
use crate::landed::{self, LandedOutcome};
use crate::source::{FetchOptions, SourceLocator, fetch};
use crate::{Engine, PipelineError, PipelineResult, RunContext};

/// Bytes ready to capture: where they are, how the source is named, and their SHA-256 (the
/// capture id needs the hash before anything is parsed).
#[derive(Debug, Clone)]
pub struct FetchedInput {
    /// The bytes: a local file (fetched sources, large inputs) or memory (shipped reference
    /// data).
    pub bytes: InputBytes,
    /// How the source is named in the capture (path, URL or `shipped:NAME`).
    pub locator: String,
    /// SHA-256 of the bytes, hex.
    pub content_hash: String,
    /// How a configured source obtained the bytes (URL, method, body, pages…), kept in the
    /// capture's metadata under `source_request` so an auditor can replay the fetch. `None` for
    /// a file or URL an operator ingested by hand (the locator says it all).
    pub request: Option<Arc<crate::sources::RequestRecord>>,
}

/// Where a [`FetchedInput`]'s bytes are.
#[derive(Debug, Clone)]
pub enum InputBytes {
    /// A local file (already fetched): streamed, never loaded whole.
    File(PathBuf),
    /// Bytes in memory.
    Memory(Arc<[u8]>),
}

impl FetchedInput {
    /// A local file: read once to hash it, named by its path. What library callers and tests
    /// want when the bytes are already on disk; [`ingest`] does the same after fetching.
    pub fn local_file(path: &Path) -> PipelineResult<FetchedInput> {
        let bytes = std::fs::read(path).map_err(|source| PipelineError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(FetchedInput {
            bytes: InputBytes::File(path.to_path_buf()),
            locator: path.display().to_string(),
            content_hash: spine_model::capture::content_hash(&bytes),
            request: None,
        })
    }

    /// Bytes held in memory, named `locator`.
    pub fn memory(bytes: impl Into<Arc<[u8]>>, locator: impl Into<String>) -> FetchedInput {
        let bytes = bytes.into();
        FetchedInput {
            content_hash: spine_model::capture::content_hash(&bytes),
            bytes: InputBytes::Memory(bytes),
            locator: locator.into(),
            request: None,
        }
    }

    /// The local file, for domains that stream their input; an error for in-memory bytes.
    pub fn file(&self) -> PipelineResult<&Path> {
        match &self.bytes {
            InputBytes::File(p) => Ok(p),
            InputBytes::Memory(_) => Err(PipelineError::Input(format!(
                "{} is not a file: this domain streams its input from a file",
                self.locator
            ))),
        }
    }

    /// The whole input as UTF-8 text (small inputs only: reference files).
    pub fn read_to_string(&self) -> PipelineResult<String> {
        let invalid = |e: std::string::FromUtf8Error| {
            PipelineError::Input(format!("{} is not UTF-8 text: {e}", self.locator))
        };
        match &self.bytes {
            InputBytes::File(p) => {
                let bytes = std::fs::read(p).map_err(|source| PipelineError::Io {
                    path: p.display().to_string(),
                    source,
                })?;
                String::from_utf8(bytes).map_err(invalid)
            }
            InputBytes::Memory(b) => String::from_utf8(b.to_vec()).map_err(invalid),
        }
    }
}

/// What the caller asks to ingest, before fetching.
#[derive(Debug, Clone)]
pub struct SourceRequest {
    /// A path or an http(s) URL.
    pub source: String,
    /// What the operator says the partition is (e.g. `--tier`, `--week-ending`); the domain
    /// checks it against the bytes.
    pub hint: PartitionKey,
    /// Fetch timeouts and limits.
    pub fetch: FetchOptions,
    /// What started the run (`cli`, `demo`, `worker`, …).
    pub trigger: String,
    /// The run's clock and progress (its execution is created here).
    pub run: RunContext,
}

/// What one ingestion did, for every domain: the capture, how far it got, what was detected,
/// and what the "capture landed" step did after it.
#[derive(Debug, Clone)]
pub struct CaptureReport {
    /// The capture (new, or the existing one when unchanged).
    pub capture_id: String,
    /// The domain.
    pub domain: Domain,
    /// The partition captured.
    pub partition: PartitionKey,
    /// What happened to the capture.
    pub status: IngestStatus,
    /// Data lines read.
    pub rows_read: i64,
    /// Lines accepted.
    pub rows_accepted: i64,
    /// Lines rejected (each has a `core_rejects` row).
    pub rows_rejected: i64,
    /// Rejects per reason code.
    pub rejects_by_reason: BTreeMap<String, u64>,
    /// The capture this one supersedes, for a revision.
    pub supersedes: Option<String>,
    /// The furthest stage reached.
    pub stage: Option<Stage>,
    /// Anomalies recorded or resolved by this run (stages first, then the landing).
    pub anomalies: Vec<AnomalySummary>,
    /// Notes for the operator.
    pub notes: Vec<String>,
    /// The domain's own facts about the capture.
    pub detail: Option<Arc<dyn CaptureDetail>>,
    /// The execution recorded for the run, when it was fetched through [`ingest`].
    pub execution_id: Option<String>,
}

impl CaptureReport {
    /// The domain's detail as its own type, when it is one.
    pub fn detail_as<T: 'static>(&self) -> Option<&T> {
        self.detail.as_ref()?.as_any().downcast_ref::<T>()
    }

    fn from_outcome(
        domain: Domain,
        partition: PartitionKey,
        capture_id: String,
        outcome: StagesOutcome,
    ) -> CaptureReport {
        CaptureReport {
            capture_id,
            domain,
            partition,
            status: outcome.status,
            rows_read: outcome.rows_read,
            rows_accepted: outcome.rows_accepted,
            rows_rejected: outcome.rows_rejected,
            rejects_by_reason: outcome.rejects_by_reason,
            supersedes: outcome.supersedes,
            stage: outcome.stage,
            anomalies: outcome.anomalies,
            notes: outcome.notes,
            detail: outcome.detail,
            execution_id: None,
        }
    }

    fn absorb(&mut self, landed: LandedOutcome) {
        self.anomalies.extend(landed.anomalies);
        self.notes.extend(landed.notes);
    }
}

impl Serialize for CaptureReport {
    /// The generic fields, with the domain's detail fields merged in (FINRA adds `tier`,
    /// `week_ending` and `week_derivation`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("capture_id", &self.capture_id)?;
        m.serialize_entry("domain", &self.domain)?;
        m.serialize_entry("partition_key", &self.partition.canonical())?;
        if let Some(serde_json::Value::Object(fields)) = self.detail.as_ref().map(|d| d.to_json()) {
            for (k, v) in &fields {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("rows_read", &self.rows_read)?;
        m.serialize_entry("rows_accepted", &self.rows_accepted)?;
        m.serialize_entry("rows_rejected", &self.rows_rejected)?;
        m.serialize_entry("rejects_by_reason", &self.rejects_by_reason)?;
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("supersedes", &self.supersedes)?;
        m.serialize_entry("stage", &self.stage)?;
        m.serialize_entry("anomalies", &self.anomalies)?;
        m.serialize_entry("notes", &self.notes)?;
        m.end()
    }
}

/// Fetches a source and ingests it through `plugin`, recording the run in `core_executions`.
/// A failed fetch of a named partition is recorded as a source-unavailable anomaly of it.
pub async fn ingest(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    mut req: SourceRequest,
) -> PipelineResult<CaptureReport> {
    let locator = SourceLocator::parse(&req.source).map_err(|error| PipelineError::Source {
        error: Box::new(error),
        execution_id: None,
    })?;
    let domain = plugin.name();
    let partition = plugin.complete_partition(&req.hint);
    let pipeline = plugin.ingest_pipeline();
    let mut params = serde_json::Map::new();
    params.insert(
        "source".into(),
        json!(spine_model::redact::url(&locator.to_string())),
    );
    for (k, v) in req.hint.entries() {
        params.insert(k.to_string(), json!(v));
    }
    let execution = RunningExecution::start(
        engine,
        NewExecution {
            pipeline: pipeline.to_string(),
            domain: domain.clone(),
            partition: partition.clone(),
            params: Some(serde_json::Value::Object(params)),
            trigger_source: req.trigger.clone(),
            work_item_id: None,
            started_at: req.run.now,
        },
    )
    .await?;
    let execution_id = execution.id().to_string();
    req.run.execution_id = Some(execution_id.clone());
    let finish = |status: ExecutionStatus, rows: Option<i64>, error: Option<String>| {
        execution.finish(status, rows, error)
    };
    let fetched = match fetch(&locator, &req.fetch).await {
        Ok(f) => f,
        Err(error) => {
            finish(
                ExecutionStatus::Failed,
                None,
                Some(format!("{}: {error}", error.code())),
            )
            .await?;
            // Tracked against its partition when the caller named it; without a partition an
            // anomaly could only be domain-wide and would block every week. The FAILED execution
            // carries the typed cause either way, and the schedule check flags the partition if
            // it stays absent.
            if let Some(partition) = &partition {
                source_unavailable(
                    engine,
                    plugin,
                    partition,
                    &locator.to_string(),
                    &SourceProblem::from(&error),
                    &req.run,
                )
                .await?;
            }
            return Err(PipelineError::Source {
                error: Box::new(error),
                execution_id: Some(execution_id),
            });
        }
    };
    let input = FetchedInput {
        bytes: InputBytes::File(fetched.path().to_path_buf()),
        // What is stored with the capture: the locator without its credentials.
        locator: spine_model::redact::url(&locator.to_string()),
        content_hash: fetched.sha256().to_string(),
        request: None,
    };
    let result = ingest_fetched(engine, plugin, &input, &req.hint, &req.run).await;
    req.run.progress.finish();
    match result {
        Ok(mut report) => {
            report.execution_id = Some(execution_id.clone());
            if report.status == IngestStatus::Failed {
                finish(ExecutionStatus::Failed, None, Some(report.failure())).await?;
            } else {
                finish(ExecutionStatus::Completed, Some(report.rows_read), None).await?;
            }
            Ok(report)
        }
        Err(e) => {
            let status = if matches!(e, PipelineError::Aborted { .. }) {
                ExecutionStatus::Aborted
            } else {
                ExecutionStatus::Failed
            };
            finish(status, None, Some(e.to_string())).await?;
            Err(e)
        }
    }
}

/// An execution in `core_executions` while it runs: started, its heartbeat renewed in the
/// background (a killed process stops renewing it, which is how reports tell an abandoned run
/// from a long one), finished once with its outcome. `spine ingest` and the worker share it.
pub struct RunningExecution {
    id: String,
    store: spine_store::Store,
    started_at: chrono::DateTime<chrono::Utc>,
    started: std::time::Instant,
    _heartbeat: AbortOnDrop,
}

impl RunningExecution {
    /// Records the start (RUNNING) and starts the heartbeat.
    pub async fn start(engine: &Engine, new: NewExecution) -> PipelineResult<RunningExecution> {
        let store = engine.store().clone();
        let started_at = new.started_at;
        let execution = executions::start(store.conn(), new).await?;
        let id = execution.execution_id;
        let liveness = engine.liveness();
        let heartbeat = {
            let store = store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(liveness.heartbeat_every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = executions::heartbeat(store.conn(), &id).await {
                        tracing::warn!("heartbeat of {id} failed: {e}");
                    }
                }
            })
        };
        Ok(RunningExecution {
            id,
            store,
            started_at,
            started: std::time::Instant::now(),
            _heartbeat: AbortOnDrop(heartbeat),
        })
    }

    /// The execution id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Records the end. The run ends its real duration after it started on the run's clock: a
    /// replay with `--now` still shows how long the work took. The error is redacted and
    /// bounded before it is stored.
    pub async fn finish(
        &self,
        status: ExecutionStatus,
        rows: Option<i64>,
        error: Option<String>,
    ) -> PipelineResult<()> {
        let took = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        executions::finish(
            self.store.conn(),
            &self.id,
            status,
            rows,
            error.map(|e| spine_model::redact::error(&e, spine_model::redact::MAX_ERROR_CHARS)),
            self.started_at + took,
        )
        .await?;
        Ok(())
    }
}

/// How runs show they are alive, and when a silent one counts as dead.
///
/// A running execution renews its heartbeat every `heartbeat_every`; one whose heartbeat is
/// older than `abandoned_after` (six missed beats) is reported ABANDONED: its process died
/// (kill -9, a crash, a lost machine) without finishing it. Every process that writes or
/// reports executions must agree, so the interval is a deployment setting read from
/// `SPINE_HEARTBEAT_SECS` (default 10 s) rather than a per-command flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// How often a running execution renews its heartbeat.
    pub heartbeat_every: std::time::Duration,
    /// How old a heartbeat may be before its run is reported ABANDONED.
    pub abandoned_after: std::time::Duration,
}

impl Liveness {
    /// The environment variable that sets the heartbeat interval, in whole seconds.
    pub const ENV: &'static str = "SPINE_HEARTBEAT_SECS";
    /// Missed beats before a run is reported ABANDONED: long enough that a busy database or a
    /// paused VM does not make a live run look dead.
    pub const MISSED_BEATS: u32 = 6;

    /// A heartbeat every `every`, ABANDONED after [`Liveness::MISSED_BEATS`] missed.
    pub fn every(every: std::time::Duration) -> Liveness {
        Liveness {
            heartbeat_every: every,
            abandoned_after: every * Self::MISSED_BEATS,
        }
    }

    /// From `SPINE_HEARTBEAT_SECS` (1 to 3600); the default when unset. A value that is not a
    /// number in range is ignored with a warning rather than failing every command.
    pub fn from_env() -> Liveness {
        match std::env::var(Self::ENV) {
            Err(_) => Liveness::default(),
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(secs) if (1..=3600).contains(&secs) => {
                    Liveness::every(std::time::Duration::from_secs(secs))
                }
                _ => {
                    tracing::warn!(
                        "{}={v:?} is not a number of seconds from 1 to 3600: using 10",
                        Self::ENV
                    );
                    Liveness::default()
                }
            },
        }
    }

    /// [`Liveness::abandoned_after`] as a chrono duration, for comparing stored times.
    pub fn abandoned_after_chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.abandoned_after).unwrap_or(chrono::Duration::MAX)
    }
}

impl Default for Liveness {
    /// A heartbeat every 10 s; ABANDONED after 60 s of silence.
    fn default() -> Liveness {
        Liveness::every(std::time::Duration::from_secs(10))
    }
}

/// Stops the heartbeat task when the run ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl CaptureReport {
    /// Why a failed capture failed: its notes before the landing's (what the stages said).
    fn failure(&self) -> String {
        self.notes
            .iter()
            .take_while(|n| !n.starts_with("re-evaluated readiness"))
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Ingests bytes that are already local: plan, capture (unless identical bytes were captured),
/// then the "capture landed" step.
pub async fn ingest_fetched(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    input: &FetchedInput,
    hint: &PartitionKey,
    run: &RunContext,
) -> PipelineResult<CaptureReport> {
    let domain = plugin.name();
    let mut plan = plugin.plan(engine, input, hint).await?;
    if let Some(request) = &input.request {
        plan.metadata = Some(with_source_request(plan.metadata.take(), request)?);
    }
    if let Some(id) = &run.execution_id {
        executions::set_partition(engine.store().conn(), id, &plan.partition).await?;
    }
    let capture_id =
        spine_model::capture::capture_id(&domain, &plan.partition, &input.content_hash);
    // One writer per partition: a concurrent ingest of the same partition waits here, then sees
    // this one's capture (unchanged, resumed or superseded in commit order).
    let lock = engine.lock_partition(&domain, &plan.partition).await?;
    let result = capture_locked(engine, plugin, input, &plan, &capture_id, run).await;
    lock.release().await?;
    let (mut report, affected) = result?;
    if report.status != IngestStatus::Unchanged {
        let landed = landed::capture_landed(engine, plugin, &report, &affected, run).await?;
        report.absorb(landed);
    }
    Ok(report)
}

/// The plan's capture metadata with the configured source's request added under
/// `source_request` (a plan's metadata that is not an object is kept under `plan`).
fn with_source_request(
    metadata: Option<serde_json::Value>,
    request: &crate::sources::RequestRecord,
) -> PipelineResult<serde_json::Value> {
    let mut map = match metadata {
        Some(serde_json::Value::Object(map)) => map,
        Some(other) => serde_json::Map::from_iter([("plan".to_string(), other)]),
        None => serde_json::Map::new(),
    };
    let record = serde_json::to_value(request)
        .map_err(|e| PipelineError::Input(format!("cannot record the source request: {e}")))?;
    map.insert("source_request".to_string(), record);
    Ok(serde_json::Value::Object(map))
}

/// The part of [`ingest_fetched`] that runs under the partition's lock: unchanged, resumed,
/// refused as another partition's bytes, or captured.
async fn capture_locked(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    input: &FetchedInput,
    plan: &crate::domain::CapturePlan,
    capture_id: &str,
    run: &RunContext,
) -> PipelineResult<(CaptureReport, Vec<(Domain, PartitionKey)>)> {
    let domain = plugin.name();
    let store = engine.store();
    if let Some(existing) = captures::get(store.conn(), capture_id).await? {
        let stages = manifest::stages(store.conn(), &domain, &plan.partition).await?;
        let reached = manifest::furthest_stage(&stages, capture_id);
        let last = plugin.required_stages().last().copied();
        let blocked = has_open_critical(engine, &domain, &plan.partition, capture_id).await?;
        // Only the partition's latest capture is finished: older bytes were superseded, and
        // capturing them again must not put them back in front.
        let is_latest = captures::latest(store.conn(), &domain, &plan.partition)
            .await?
            .is_some_and(|l| l.capture_id == capture_id);
        if is_latest && reached < last && !blocked {
            // The same bytes stopped short (a crash, a kill): finish them, never pretend.
            let mut outcome = plugin.resume(engine, &existing, reached, run).await?;
            if outcome.status != IngestStatus::Failed {
                outcome.status = IngestStatus::Resumed;
            }
            outcome.notes.insert(
                0,
                format!(
                    "identical bytes were captured at {} but stopped after {}: resumed",
                    existing.captured_at.to_rfc3339(),
                    reached.map_or("no stage", Stage::as_str)
                ),
            );
            if outcome.detail.is_none() {
                outcome.detail = plan.detail.clone();
            }
            let affected = outcome.affected.clone();
            return Ok((
                CaptureReport::from_outcome(
                    domain,
                    plan.partition.clone(),
                    capture_id.to_string(),
                    outcome,
                ),
                affected,
            ));
        }
        let mut outcome = StagesOutcome::new(IngestStatus::Unchanged);
        outcome.rows_read = existing.rows_read;
        outcome.rows_accepted = existing.rows_accepted;
        outcome.rows_rejected = existing.rows_rejected;
        outcome.supersedes = existing.supersedes_capture_id.clone();
        outcome.stage = reached;
        outcome.notes.push(if is_latest && reached < last {
            format!(
                "identical bytes were captured at {} and refused by a blocking rule (see `spine anomalies list --severity CRITICAL`): nothing to do until corrected data arrives",
                existing.captured_at.to_rfc3339()
            )
        } else {
            format!(
                "identical bytes were captured at {}: nothing to do",
                existing.captured_at.to_rfc3339()
            )
        });
        outcome.detail = plan.detail.clone();
        return Ok((
            CaptureReport::from_outcome(
                domain,
                plan.partition.clone(),
                capture_id.to_string(),
                outcome,
            ),
            Vec::new(),
        ));
    }
    // One week per content: the same bytes filed under another partition is a mistake (a
    // wrong `--week-ending`), never a second capture.
    if let Some(other) = captures::with_content(store.conn(), &domain, &input.content_hash)
        .await?
        .into_iter()
        .find(|c| c.partition_key != plan.partition.canonical())
    {
        return Err(PipelineError::Input(format!(
            "{}: these exact bytes were already captured as {} (capture {} at {}); the same file \
             cannot be a second partition: check the partition you named",
            input.locator,
            other.partition_key,
            other.capture_id,
            other.captured_at.to_rfc3339()
        )));
    }
    let planned = PlannedCapture {
        plan: plan.clone(),
        capture_id: capture_id.to_string(),
    };
    let outcome = plugin.capture(engine, &planned, input, run).await?;
    let affected = outcome.affected.clone();
    Ok((
        CaptureReport::from_outcome(
            domain,
            plan.partition.clone(),
            capture_id.to_string(),
            outcome,
        ),
        affected,
    ))
}

/// Whether a blocking business rule (an open CRITICAL anomaly about this capture) stopped it:
/// such a capture is not resumed, it waits for corrected data.
async fn has_open_critical(
    engine: &Engine,
    domain: &Domain,
    partition: &PartitionKey,
    capture_id: &str,
) -> PipelineResult<bool> {
    let open = spine_store::anomalies::list(
        engine.store().conn(),
        &spine_store::anomalies::AnomalyFilter {
            domain: Some(domain.clone()),
            partition: Some(partition.clone()),
            severity: Some(spine_model::Severity::Critical),
            category: Some(spine_model::Category::BusinessRule),
            unresolved_only: true,
            ..Default::default()
        },
    )
    .await?;
    Ok(open
        .iter()
        .any(|a| a.capture_id.as_deref() == Some(capture_id)))
}

/// Why a partition's source could not be fetched, as the anomaly records it: whatever fetched
/// it (a one-off locator, a configured source, an API) says it this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    /// A short code (`SOURCE_NOT_FOUND`, `SOURCE_HTTP_STATUS`, …).
    pub code: String,
    /// The HTTP status, when the source answered one.
    pub http_status: Option<u16>,
    /// Whether trying again may help.
    pub retryable: bool,
    /// What went wrong, for people (redacted when recorded).
    pub message: String,
}

impl From<&crate::source::SourceError> for SourceProblem {
    fn from(error: &crate::source::SourceError) -> SourceProblem {
        SourceProblem {
            code: error.code().to_string(),
            http_status: error.http_status(),
            retryable: error.is_retryable(),
            message: error.to_string(),
        }
    }
}

/// Missing input: the source of a partition could not be fetched. ERROR INCOMPLETE_INPUT with
/// the error code, HTTP status and whether a retry may help, plus what the domain adds; one
/// open anomaly per partition however often the fetch is retried.
pub async fn source_unavailable(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    partition: &PartitionKey,
    source: &str,
    problem: &SourceProblem,
    run: &RunContext,
) -> PipelineResult<spine_store::anomalies::Recorded> {
    let (what, extra) = plugin.describe_unavailable(engine, partition).await?;
    let mut details = serde_json::Map::new();
    details.insert("source".into(), json!(spine_model::redact::url(source)));
    details.insert("error_code".into(), json!(problem.code));
    details.insert("http_status".into(), json!(problem.http_status));
    details.insert("retryable".into(), json!(problem.retryable));
    details.extend(extra);
    let domain = plugin.name();
    let detector = Detector {
        domain: &domain,
        pipeline: plugin.ingest_pipeline(),
        run,
    };
    detector
        .once(
            engine.store().conn(),
            partition,
            Some(Stage::Raw),
            spine_model::Severity::Error,
            spine_model::Category::IncompleteInput,
            &spine_model::AnomalyCause::SOURCE_UNAVAILABLE,
            spine_model::redact::error(
                &format!("{what} is unavailable: {}", problem.message),
                spine_model::redact::MAX_ERROR_CHARS,
            ),
            serde_json::Value::Object(details),
            None,
        )
        .await
}
