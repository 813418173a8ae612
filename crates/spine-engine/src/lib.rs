//! Market Spine's domain-neutral runtime.
//!
//! The engine drives every domain the same way — source → parse/validate → RAW → NORMALIZED →
//! CALC, then one "capture landed" step — and owns everything that is not about one domain's
//! data: the run context and clock, sources (files, HTTP), the capture lifecycle, anomaly
//! recording, expected schedules (missed, late), readiness (facts → [`spine_rules`] →
//! certification with its audit trail), the doctor, lineage and staleness, and recompute.
//!
//! A domain plugs in through [`DomainPlugin`] and a [`Registry`]; the engine never names a domain
//! crate (`cargo xtask tidy` checks it), so adding a market-data domain touches no file here.
//! The one reference dataset the engine reads directly is the exchange calendar, and only through
//! the store ([`calendar`]): due times and trading-day counts need it whichever domain asks.
//!
//! Every database access goes through `spine-store`; every decision through `spine-rules`.

pub mod anomaly;
pub mod calendar;
pub mod capture;
pub mod clock;
pub mod doctor;
pub mod domain;
pub mod landed;
pub mod lineage;
pub mod readiness;
pub mod reads;
pub mod received;
pub mod recompute;
pub mod run;
pub mod schedules;
pub mod source;
pub mod sources;
pub mod stage;
pub mod worker;

use std::sync::Arc;

pub use anomaly::AnomalySummary;
pub use capture::{CaptureReport, FetchedInput, InputBytes, SourceRequest};
pub use clock::Clock;
pub use domain::{DomainPlugin, PipelineSpec, Registry};
pub use run::{Cancel, Progress, ProgressSink, RunContext};

use spine_model::Domain;
use spine_rules::BlockingPolicy;
use spine_rules::completeness::CompletenessPolicy;
use spine_store::{Store, StoreError};

/// Why a pipeline or engine step failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The input is not what the pipeline can process, or contradicts what the user said.
    #[error("{0}")]
    Input(String),
    /// A domain name that no registered domain owns.
    #[error("unknown domain `{name}`; registered domains: {}", registered.join(", "))]
    UnknownDomain {
        /// The name given.
        name: String,
        /// Every registered domain.
        registered: Vec<String>,
    },
    /// The input could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was being read.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source could not be fetched (missing file, HTTP 404/5xx, timeout, connection).
    #[error("{error}")]
    Source {
        /// The typed fetch failure (boxed: it carries the locator, and errors stay small).
        error: Box<source::SourceError>,
        /// The execution recorded as FAILED for it.
        execution_id: Option<String>,
    },
    /// The data broke a blocking business rule; the stage failed and the anomaly says why.
    #[error("{stage} failed for capture {capture_id}: {message} (anomaly #{anomaly_id})")]
    BusinessRule {
        /// The stage that refused the data.
        stage: spine_model::Stage,
        /// The capture refused.
        capture_id: String,
        /// What rule was broken.
        message: String,
        /// The CRITICAL anomaly recorded.
        anomaly_id: i64,
    },
    /// The run was asked to stop (SIGTERM, Ctrl-C) and stopped at a stage boundary: everything
    /// before it is committed, and ingesting the same bytes again resumes it.
    #[error("stopped before {before}: {reason}")]
    Aborted {
        /// Why (e.g. `SIGTERM`).
        reason: String,
        /// The stage it stopped before.
        before: String,
    },
    /// A trading-day count could not be made (a week outside the loaded calendars, say).
    #[error(transparent)]
    TradingDays(#[from] spine_rules::TradingDaysError),
    /// A domain's own failure (its parser, its calcs), kept typed behind the trait object so
    /// callers can still downcast it.
    #[error(transparent)]
    Domain(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl PipelineError {
    /// Wraps a domain's own error type.
    pub fn domain(e: impl std::error::Error + Send + Sync + 'static) -> PipelineError {
        PipelineError::Domain(Box::new(e))
    }
}

impl From<spine_model::VocabError> for PipelineError {
    fn from(e: spine_model::VocabError) -> Self {
        PipelineError::Store(StoreError::Vocab(e))
    }
}

impl From<spine_store::DbErr> for PipelineError {
    fn from(e: spine_store::DbErr) -> Self {
        PipelineError::Store(StoreError::Db(e))
    }
}

/// The result type of pipelines and engine steps.
pub type PipelineResult<T> = Result<T, PipelineError>;

/// The runtime every command, server handler and worker shares: the store, the registered
/// domains and the one blocking policy.
///
/// Cheap to clone. The policy lives here, once, so every verdict — the CLI's, the server's, a
/// re-certification after a revision — is decided by the same rules.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    registry: Arc<Registry>,
    policy: Arc<BlockingPolicy>,
    completeness: Arc<CompletenessPolicy>,
    liveness: capture::Liveness,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("domains", &self.registry.names())
            .finish()
    }
}

impl Engine {
    /// An engine over `store` driving the domains of `registry`, with the default blocking
    /// policy (DESIGN.md: CRITICAL blocks every use, ERROR also blocks compliance).
    pub fn new(store: Store, registry: Registry) -> Engine {
        Engine::with_policy(store, registry, BlockingPolicy::default())
    }

    /// An engine with an explicit blocking policy (an operator's override).
    pub fn with_policy(store: Store, registry: Registry, policy: BlockingPolicy) -> Engine {
        Engine {
            store,
            registry: Arc::new(registry),
            policy: Arc::new(policy),
            completeness: Arc::new(CompletenessPolicy::default()),
            liveness: capture::Liveness::from_env(),
        }
    }

    /// How this engine's runs show they are alive and when a silent run counts as dead.
    pub fn liveness(&self) -> capture::Liveness {
        self.liveness
    }

    /// The same engine judging completeness by `policy` (an operator's thresholds).
    pub fn with_completeness(mut self, policy: CompletenessPolicy) -> Engine {
        self.completeness = Arc::new(policy);
        self
    }

    /// The thresholds every capture's completeness is judged by.
    pub fn completeness_policy(&self) -> &CompletenessPolicy {
        &self.completeness
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The registered domains.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The blocking policy every verdict is decided with.
    pub fn policy(&self) -> &BlockingPolicy {
        &self.policy
    }

    /// Takes the write lock of one partition: one writer per partition at a time, across
    /// processes and machines sharing the database (`spine_store::locks`). Waits up to ten
    /// minutes for another writer.
    pub async fn lock_partition(
        &self,
        domain: &Domain,
        partition: &spine_model::PartitionKey,
    ) -> PipelineResult<spine_store::locks::Lock> {
        Ok(self
            .store
            .lock(
                &format!("partition {domain} {}", partition.canonical()),
                std::time::Duration::from_secs(600),
            )
            .await?)
    }

    /// The plugin of `domain`, or [`PipelineError::UnknownDomain`] naming the registered ones.
    pub fn domain(&self, domain: &Domain) -> PipelineResult<Arc<dyn DomainPlugin>> {
        self.registry.require(domain)
    }

    /// Prepares the database for the registered domains: each declares its calc dependencies
    /// and seeded schedules (idempotently; an operator's changes to a seeded schedule are kept)
    /// and loads the reference data it ships.
    pub async fn bootstrap(&self, now: chrono::DateTime<chrono::Utc>) -> PipelineResult<()> {
        for plugin in self.registry.plugins() {
            for dep in plugin.dependencies() {
                spine_store::lineage::register_dependency(self.store.conn(), dep, now).await?;
            }
            for schedule in plugin.seeded_schedules() {
                spine_store::schedules::insert_if_absent(self.store.conn(), schedule, now).await?;
            }
            plugin.bootstrap(self, now).await?;
        }
        Ok(())
    }
}
