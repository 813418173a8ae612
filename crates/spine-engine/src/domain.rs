//! The seam between the engine and the domains: the [`DomainPlugin`] trait and the [`Registry`].
//!
//! A domain declares what it is (name, stages, calcs, detections, seeded schedules, calc
//! dependencies) and implements the two steps only it can do: *plan* (read fetched bytes far
//! enough to say which partition they are) and *capture* (run its stages, each in its own
//! transaction, recording the manifest). Everything around those steps — fetching, capture ids,
//! "unchanged" detection, executions, the "capture landed" bookkeeping, schedules, readiness,
//! the doctor, recompute — is the engine's, the same for every domain. The CLI's generic
//! commands and the HTTP server reach domains only through the registry.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use spine_model::{AnomalyCause, Category, Domain, IngestStatus, PartitionKey, Severity, Stage};
use spine_store::lineage::NewDependency;
use spine_store::schedules::NewSchedule;

use crate::capture::FetchedInput;
use crate::{AnomalySummary, Engine, PipelineError, PipelineResult, RunContext};

/// A pipeline a domain offers by name (`spine pipelines`, `spine run NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineSpec {
    /// The registered name, e.g. `finra_otc.normalize`; unique across domains.
    pub name: &'static str,
    /// What it needs, for `spine pipelines` (e.g. `--week-ending --tier`).
    pub arguments: &'static str,
    /// What it does.
    pub description: &'static str,
}

/// A table a domain's CALC stage computes, declared so lineage and docs can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalcSpec {
    /// The table.
    pub table: &'static str,
    /// What one row is.
    pub description: &'static str,
}

/// A detection a domain runs, declared so operators can see what can be raised and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionSpec {
    /// The cause key its anomalies carry.
    pub cause: AnomalyCause,
    /// Its category.
    pub category: Category,
    /// The severity it records.
    pub severity: Severity,
    /// The stage it runs in.
    pub stage: Stage,
    /// What it detects, in a sentence.
    pub description: &'static str,
}

/// What a domain learned from fetched bytes before capturing them: the partition (so the
/// engine can derive the deterministic capture id) and what to keep with the capture.
#[derive(Debug, Clone)]
pub struct CapturePlan {
    /// The partition the bytes belong to.
    pub partition: PartitionKey,
    /// The source's own revision stamp (FINRA's `lastUpdateDate`), when it has one.
    pub source_last_update: Option<NaiveDate>,
    /// Kept with the capture (e.g. how the week was derived).
    pub metadata: Option<serde_json::Value>,
    /// The domain's facts known before any stage runs (what an "unchanged" report shows).
    pub detail: Option<Arc<dyn CaptureDetail>>,
}

/// A planned capture the engine asks a domain to run its stages for.
#[derive(Debug, Clone)]
pub struct PlannedCapture {
    /// The domain's plan.
    pub plan: CapturePlan,
    /// The deterministic capture id (domain, partition, content hash).
    pub capture_id: String,
}

/// A domain's own facts about one capture, beyond what every capture reports (FINRA: the tier,
/// week and how the week was derived; the calendar: holidays and changed weeks). Typed in the
/// domain's crate; the edge prints it through [`CaptureDetail::to_json`] or downcasts it.
pub trait CaptureDetail: Any + Send + Sync + std::fmt::Debug {
    /// The JSON fields the detail adds to a capture report (an object).
    fn to_json(&self) -> serde_json::Value;
    /// For downcasting to the domain's type.
    fn as_any(&self) -> &dyn Any;
}

/// What a domain's stages did with one capture.
#[derive(Debug, Clone)]
pub struct StagesOutcome {
    /// `Ingested`, `Revised`, `Failed` (a stage refused the data) or `Unchanged`.
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
    /// Anomalies recorded or resolved by the stages.
    pub anomalies: Vec<AnomalySummary>,
    /// Notes for the operator (e.g. a calc that could not run).
    pub notes: Vec<String>,
    /// Partitions, of any domain, whose verdicts this capture may change beyond its own
    /// partition's (e.g. the calcs a calendar correction made stale).
    pub affected: Vec<(Domain, PartitionKey)>,
    /// The domain's own facts about the capture.
    pub detail: Option<Arc<dyn CaptureDetail>>,
}

impl StagesOutcome {
    /// An outcome with nothing but a status (fill the rest with struct update syntax).
    pub fn new(status: IngestStatus) -> StagesOutcome {
        StagesOutcome {
            status,
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            rejects_by_reason: BTreeMap::new(),
            supersedes: None,
            stage: None,
            anomalies: Vec::new(),
            notes: Vec::new(),
            affected: Vec::new(),
            detail: None,
        }
    }
}

/// What `spine run <pipeline>` is asked to work on.
#[derive(Debug, Clone, Default)]
pub struct PipelineTarget {
    /// The partition (for stages that work on a stored capture).
    pub partition: Option<PartitionKey>,
    /// The input (for ingest pipelines): a path or a URL.
    pub source: Option<String>,
}

/// What one `spine run` of a stage did.
#[derive(Debug, Clone)]
pub enum PipelineRun {
    /// An ingest ran the whole capture lifecycle.
    Capture(Box<crate::CaptureReport>),
    /// A stage re-ran for a stored capture.
    Stage {
        /// The pipeline run.
        pipeline: String,
        /// The capture it worked on.
        capture_id: String,
        /// Why it is incomplete, if it is (empty: complete).
        notes: Vec<String>,
    },
}

/// The outcome of recomputing one partition's calcs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecomputeResult {
    /// The partition recomputed (or skipped).
    pub partition_key: String,
    /// The capture whose calcs were recomputed.
    pub capture_id: String,
    /// What happened.
    pub outcome: RecomputeOutcome,
    /// Why it is incomplete, if it is.
    pub notes: Vec<String>,
    /// Anomalies recorded or resolved.
    pub anomalies: Vec<AnomalySummary>,
}

/// What recomputing one partition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecomputeOutcome {
    /// Every calc recomputed.
    Recomputed,
    /// Recomputed, but a calc could not run (see the notes).
    Incomplete,
    /// Not recomputed: the capture never reached NORMALIZED.
    NeverNormalized,
}

/// What a remedy is for, so a domain can say which of its commands fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// The partition has no capture: how to ingest it.
    Ingest,
    /// Run the same ingest again, from the source a run that died was reading (redacted): it
    /// resumes what the run left unfinished.
    IngestFrom(String),
    /// The latest capture stopped after `stage`: how to resume it.
    Resume {
        /// The last stage it completed.
        stopped_at: Stage,
        /// Whether a blocking business rule (a CRITICAL anomaly) stopped it.
        business_rule: bool,
    },
}

/// A market-data domain, as the engine sees it. Implemented once per domain crate
/// (`spine-finra`, `spine-calendar`, a test's own domain) and registered in a [`Registry`].
#[async_trait]
pub trait DomainPlugin: Send + Sync + 'static {
    /// The domain's dotted name, e.g. `finra.otc_transparency`.
    fn name(&self) -> Domain;

    /// One line: what data this is.
    fn description(&self) -> &'static str;

    /// The pipelines it offers by name; the first one is its ingest.
    fn pipelines(&self) -> Vec<PipelineSpec>;

    /// The name its capture lifecycle is recorded under (executions, anomalies).
    fn ingest_pipeline(&self) -> &'static str {
        self.pipelines().first().map(|p| p.name).unwrap_or("ingest")
    }

    /// The stages a capture must complete to count as complete (readiness criterion 2).
    fn required_stages(&self) -> &'static [Stage] {
        Stage::ALL
    }

    /// The tables its CALC stage computes.
    fn calcs(&self) -> Vec<CalcSpec> {
        Vec::new()
    }

    /// The detections its stages run.
    fn detections(&self) -> Vec<DetectionSpec> {
        Vec::new()
    }

    /// The schedules it is expected on, seeded into a fresh database (an operator's changes to
    /// them are kept).
    fn seeded_schedules(&self) -> Vec<NewSchedule> {
        Vec::new()
    }

    /// The calc dependencies it declares.
    fn dependencies(&self) -> Vec<NewDependency> {
        Vec::new()
    }

    /// Loads reference data shipped with the domain (idempotent; the calendar's years).
    async fn bootstrap(&self, _engine: &Engine, _now: DateTime<Utc>) -> PipelineResult<()> {
        Ok(())
    }

    /// The business date a partition belongs to (what schedules expand over). By default the
    /// partition's `week_ending`.
    fn business_date(&self, partition: &PartitionKey) -> Option<NaiveDate> {
        partition.week_ending()
    }

    /// The earlier partitions of the same series, most recent first, up to `n` (what a capture's
    /// counts are compared with). By default, for a partition keyed by `week_ending`, the same
    /// key for each of the `n` previous weeks.
    fn series_before(&self, partition: &PartitionKey, n: usize) -> Vec<PartitionKey> {
        let Some(week) = partition
            .week_ending()
            .and_then(|d| spine_model::WeekEnding::new(d).ok())
        else {
            return Vec::new();
        };
        (1..=n as u64)
            .filter_map(|k| week.weeks_before(k))
            .map(|w| {
                partition
                    .clone()
                    .with(PartitionKey::WEEK_ENDING, w.to_string())
            })
            .collect()
    }

    /// The partition a hint names completely enough to track a failed fetch against (FINRA: a
    /// tier and a week), or `None`. By default any non-empty hint.
    fn complete_partition(&self, hint: &PartitionKey) -> Option<PartitionKey> {
        (hint.entries().next().is_some()).then(|| hint.clone())
    }

    /// Reads fetched bytes far enough to say which partition they are. `hint` holds what the
    /// operator said (e.g. `--tier`, `--week-ending`); a contradiction is an error.
    async fn plan(
        &self,
        engine: &Engine,
        input: &FetchedInput,
        hint: &PartitionKey,
    ) -> PipelineResult<CapturePlan>;

    /// Runs the stages for a new capture, each in its own transaction, recording the manifest.
    /// A refused capture (a blocking rule) is an `Ok` outcome with status `Failed`.
    async fn capture(
        &self,
        engine: &Engine,
        capture: &PlannedCapture,
        input: &FetchedInput,
        run: &RunContext,
    ) -> PipelineResult<StagesOutcome>;

    /// Finishes a capture that stopped after `stopped_at` (a crash or a kill between stages):
    /// runs the stages after it from what is stored. The engine calls it when the same bytes are
    /// ingested again, under the partition's lock. By default a domain cannot resume (its
    /// captures are written in one transaction, so they never stop half-way).
    async fn resume(
        &self,
        engine: &Engine,
        capture: &spine_store::captures::Capture,
        stopped_at: Option<Stage>,
        run: &RunContext,
    ) -> PipelineResult<StagesOutcome> {
        let _ = (engine, run);
        Err(PipelineError::Input(format!(
            "capture {} of {} stopped after {}: this domain cannot resume it",
            capture.capture_id,
            self.name(),
            stopped_at.map_or("no stage", Stage::as_str)
        )))
    }

    /// Runs one of its stage pipelines (not the ingest, which the engine runs) for a target.
    async fn run_stage(
        &self,
        engine: &Engine,
        pipeline: &str,
        target: &PipelineTarget,
        run: &RunContext,
    ) -> PipelineResult<PipelineRun> {
        let _ = (engine, target, run);
        Err(PipelineError::Input(format!(
            "{} has no stage pipeline `{pipeline}`",
            self.name()
        )))
    }

    /// Recomputes the calcs of the partitions `partition` covers from their stored rows.
    async fn recompute(
        &self,
        engine: &Engine,
        partition: &PartitionKey,
        run: &RunContext,
    ) -> PipelineResult<Vec<RecomputeResult>> {
        let _ = (engine, run);
        Err(PipelineError::Input(format!(
            "{} has no calcs to recompute for {partition}",
            self.name()
        )))
    }

    /// The command that fixes a partition, for the doctor's remediation list.
    fn remedy(&self, partition: &PartitionKey, need: Remedy) -> String {
        match need {
            Remedy::Ingest => format!("ingest {partition} for {}", self.name()),
            Remedy::IngestFrom(source) => {
                format!("ingest {source} into {partition} for {}", self.name())
            }
            Remedy::Resume { .. } => {
                format!("re-run the pipeline of {} for {partition}", self.name())
            }
        }
    }

    /// What the domain derives for a business date from several partitions and finds missing or
    /// out of date (FINRA: a week's tier split that does not name every tier's latest capture),
    /// each as (what is wrong, the command that fixes it). The doctor reports them.
    async fn derived_gaps(
        &self,
        engine: &Engine,
        date: NaiveDate,
    ) -> PipelineResult<Vec<(String, String)>> {
        let _ = (engine, date);
        Ok(Vec::new())
    }

    /// [`DomainPlugin::derived_gaps`] of several business dates, in their order: what the
    /// doctor asks for every week it examines. By default one call per date; a domain whose
    /// check reads the store overrides it to read all the dates at once.
    async fn derived_gaps_many(
        &self,
        engine: &Engine,
        dates: &[NaiveDate],
    ) -> PipelineResult<Vec<Vec<(String, String)>>> {
        let mut out = Vec::with_capacity(dates.len());
        for date in dates {
            out.push(self.derived_gaps(engine, *date).await?);
        }
        Ok(out)
    }

    /// The `${NAME}` variables a `url-template` source of this domain may use (FINRA: `TIER`,
    /// `WEEK_ENDING`, `WEEK_START`). A template naming any other is refused when the source is
    /// added, so a typo never reaches a fetch. By default none: the domain has no URL sources.
    fn template_variable_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// The values of the template variables for one partition (FINRA, for the OTC tier of the
    /// week ending 2025-12-19: `TIER=OTC`, `WEEK_ENDING=2025-12-19`, `WEEK_START=2025-12-15`).
    /// A variable the partition cannot give (a week-level key has no tier) is left out, and
    /// expanding a template that needs it fails naming it.
    fn template_variables(&self, partition: &PartitionKey) -> Vec<(&'static str, String)> {
        let _ = partition;
        Vec::new()
    }

    /// The source kinds this domain implements itself, beyond the engine's `url-template`
    /// (FINRA: `finra-api`). By default none.
    fn source_kinds(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks the settings of a source of one of [`DomainPlugin::source_kinds`] before it is
    /// stored: an error says what is wrong, in words an operator can act on. Settings never
    /// hold secrets, only the names of environment variables.
    fn validate_source(&self, kind: &str, settings: &serde_json::Value) -> Result<(), String> {
        let _ = settings;
        Err(format!("{} offers no source kind `{kind}`", self.name()))
    }

    /// Fetches one partition from a source of one of [`DomainPlugin::source_kinds`], asking
    /// first whether it changed since `validators` (what the last successful fetch recorded).
    /// The engine has checked that the source is active and expected to serve the partition,
    /// and compares the content hash itself afterwards. Every HTTP request must first reserve
    /// its slot with [`crate::sources::reserve_rate_slot`], so every worker shares one budget.
    async fn fetch_source(
        &self,
        engine: &Engine,
        kind: &str,
        settings: &serde_json::Value,
        partition: &PartitionKey,
        validators: &crate::sources::FetchValidators,
        run: &RunContext,
    ) -> Result<crate::sources::SourceFetch, crate::sources::SourceFetchError> {
        let _ = (engine, settings, partition, validators, run);
        Err(crate::sources::SourceFetchError::Config {
            reason: format!("{} offers no source kind `{kind}`", self.name()),
        })
    }

    /// How people name a missing partition in messages (e.g. "OTC file for the week ending
    /// 2025-12-19"), and what the domain adds to the evidence of a failed fetch.
    async fn describe_unavailable(
        &self,
        engine: &Engine,
        partition: &PartitionKey,
    ) -> PipelineResult<(String, serde_json::Map<String, serde_json::Value>)> {
        let _ = engine;
        Ok((format!("source of {partition}"), serde_json::Map::new()))
    }
}

/// The registered domains: how the engine, the CLI and the server find a domain by name.
#[derive(Default, Clone)]
pub struct Registry {
    plugins: Vec<Arc<dyn DomainPlugin>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers a domain. Refuses a second domain of the same name, or a pipeline name another
    /// domain already registered, so `spine run NAME` is never ambiguous.
    pub fn register(&mut self, plugin: Arc<dyn DomainPlugin>) -> PipelineResult<()> {
        let name = plugin.name();
        if self.get(&name).is_some() {
            return Err(PipelineError::Input(format!(
                "domain {name} is registered twice"
            )));
        }
        for spec in plugin.pipelines() {
            if let Some((owner, _)) = self.pipeline(spec.name) {
                return Err(PipelineError::Input(format!(
                    "pipeline {} of {name} is already registered by {}",
                    spec.name,
                    owner.name()
                )));
            }
        }
        self.plugins.push(plugin);
        Ok(())
    }

    /// Builder form of [`Registry::register`].
    pub fn with(mut self, plugin: Arc<dyn DomainPlugin>) -> PipelineResult<Registry> {
        self.register(plugin)?;
        Ok(self)
    }

    /// The plugin of `domain`, if registered.
    pub fn get(&self, domain: &Domain) -> Option<Arc<dyn DomainPlugin>> {
        self.plugins.iter().find(|p| p.name() == *domain).cloned()
    }

    /// The plugin of `domain`, or [`PipelineError::UnknownDomain`] naming every registered one.
    pub fn require(&self, domain: &Domain) -> PipelineResult<Arc<dyn DomainPlugin>> {
        self.get(domain)
            .ok_or_else(|| PipelineError::UnknownDomain {
                name: domain.to_string(),
                registered: self.names(),
            })
    }

    /// Every registered domain's name, in registration order.
    pub fn names(&self) -> Vec<String> {
        self.plugins.iter().map(|p| p.name().to_string()).collect()
    }

    /// Every registered plugin.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<dyn DomainPlugin>> {
        self.plugins.iter()
    }

    /// The plugin owning pipeline `name`, with the pipeline's declaration.
    pub fn pipeline(&self, name: &str) -> Option<(Arc<dyn DomainPlugin>, PipelineSpec)> {
        self.plugins.iter().find_map(|p| {
            p.pipelines()
                .into_iter()
                .find(|s| s.name == name)
                .map(|s| (p.clone(), s))
        })
    }

    /// Every (domain, pipeline) pair, in registration order.
    pub fn pipelines(&self) -> Vec<(Domain, PipelineSpec)> {
        self.plugins
            .iter()
            .flat_map(|p| p.pipelines().into_iter().map(move |s| (p.name(), s)))
            .collect()
    }
}
