//! Pipelines: the domain code (`crate::domains`) wired to the store, one stage per transaction.
//!
//! Each stage of a capture commits atomically: RAW (accepted lines, rejects, the capture row),
//! NORMALIZED (typed rows), CALC (analytics and their lineage). A failure or a kill part-way
//! through a stage leaves nothing of that stage behind, and the manifest says how far each
//! capture got.

pub mod doctor;
pub mod exchange_calendar;
pub mod finra_otc;
pub mod readiness;
pub mod run;
pub mod schedules;

pub use run::{Progress, RunContext};

use spine_store::StoreError;

/// Why a pipeline run failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The input is not what the pipeline can process, or contradicts what the user said.
    #[error("{0}")]
    Input(String),
    /// The input could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was being read.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The FINRA file could not be parsed at all (header, I/O).
    #[error(transparent)]
    Parse(#[from] crate::domains::finra_otc::parse::ParseError),
    /// A calculation refused its input.
    #[error(transparent)]
    Calc(#[from] crate::domains::finra_otc::calcs::CalcError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A holiday file is invalid.
    #[error(transparent)]
    Holidays(#[from] crate::domains::exchange_calendar::holidays::HolidayFileError),
    /// The source could not be fetched (missing file, HTTP 404/5xx, timeout, connection).
    #[error("{error}")]
    Source {
        /// The typed fetch failure (boxed: it carries the locator, and errors stay small).
        error: Box<crate::domains::source::SourceError>,
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
    /// Trading days could not be counted.
    #[error(transparent)]
    TradingDays(#[from] crate::domains::exchange_calendar::trading_days::TradingDaysError),
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

/// The result type of pipelines.
pub type PipelineResult<T> = Result<T, PipelineError>;
