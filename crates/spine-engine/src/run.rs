//! What every stage of one run shares: the clock, the execution it belongs to, and where its
//! progress goes.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The context of one pipeline run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's clock (`--now`): captured_at, detected_at and stage times all read it.
    pub now: DateTime<Utc>,
    /// The execution recorded for this run, named by every stage and reject it writes.
    pub execution_id: Option<String>,
    /// Progress reporting for people (nothing unless the caller plugs in a sink).
    pub progress: Progress,
}

impl RunContext {
    /// A context with no execution and no progress output (tests, library callers).
    pub fn quiet(now: DateTime<Utc>) -> RunContext {
        RunContext {
            now,
            execution_id: None,
            progress: Progress::hidden(),
        }
    }
}

/// Where a run reports its progress: the CLI plugs in a terminal spinner; the engine only
/// says what phase it is in and how many rows it has done, so it never decides how (or
/// whether) people see it.
pub trait ProgressSink: Send + Sync + std::fmt::Debug {
    /// A new phase starts (e.g. `RAW`): reset the count and name it.
    fn phase(&self, name: &str);
    /// `rows` more rows are done in the current phase.
    fn inc(&self, rows: u64);
    /// The run is over: remove any display.
    fn finish(&self);
}

/// A run's progress reporter: silent unless a [`ProgressSink`] is attached.
#[derive(Debug, Clone, Default)]
pub struct Progress(Option<Arc<dyn ProgressSink>>);

impl Progress {
    /// No output.
    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// Reports to `sink`.
    pub fn to(sink: Arc<dyn ProgressSink>) -> Progress {
        Progress(Some(sink))
    }

    /// Starts a new phase: resets the count and names the phase.
    pub fn phase(&self, name: &str) {
        if let Some(s) = &self.0 {
            s.phase(name);
        }
    }

    /// Counts rows done in the current phase.
    pub fn inc(&self, rows: u64) {
        if let Some(s) = &self.0 {
            s.inc(rows);
        }
    }

    /// Removes the display.
    pub fn finish(&self) {
        if let Some(s) = &self.0 {
            s.finish();
        }
    }
}
