//! What every stage of one run shares: the clock, the execution it belongs to, and where its
//! progress goes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Set when the run must stop (SIGTERM, Ctrl-C): stages stop at their next boundary.
    pub cancel: Cancel,
    /// Who acts when the run records something on its own (a worker's id): automatic
    /// re-evaluations are signed by it. None for a person's command.
    pub actor: Option<String>,
}

impl RunContext {
    /// A context with no execution and no progress output (tests, library callers).
    pub fn quiet(now: DateTime<Utc>) -> RunContext {
        RunContext {
            now,
            execution_id: None,
            progress: Progress::hidden(),
            cancel: Cancel::default(),
            actor: None,
        }
    }

    /// A stage boundary: `Err(Aborted)` when the run was asked to stop, so it ends between two
    /// committed stages (and a later run resumes it) rather than in the middle of one.
    pub fn checkpoint(&self, next: &str) -> crate::PipelineResult<()> {
        match self.cancel.reason() {
            Some(reason) => Err(crate::PipelineError::Aborted {
                reason,
                before: next.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// A run's stop request, shared between the signal handler that sets it and the stages that
/// check it at their boundaries.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelInner>);

#[derive(Debug, Default)]
struct CancelInner {
    requested: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Cancel {
    /// Asks the run to stop at its next stage boundary, saying why (the first reason wins).
    pub fn request(&self, reason: impl Into<String>) {
        let mut slot = self.0.reason.lock().expect("never poisoned");
        if slot.is_none() {
            *slot = Some(reason.into());
        }
        self.0.requested.store(true, Ordering::SeqCst);
    }

    /// Why the run was asked to stop, if it was.
    pub fn reason(&self) -> Option<String> {
        if !self.0.requested.load(Ordering::SeqCst) {
            return None;
        }
        self.0.reason.lock().expect("never poisoned").clone()
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
