//! What every stage of one run shares: the clock, the execution it belongs to, and where its
//! progress goes.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};

/// The context of one pipeline run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's clock (`--now`): captured_at, detected_at and stage times all read it.
    pub now: DateTime<Utc>,
    /// The execution recorded for this run, named by every stage and reject it writes.
    pub execution_id: Option<String>,
    /// Progress reporting for people (hidden unless stderr is a terminal).
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

/// A progress spinner on stderr, shown only when stderr is a terminal so logs and pipes stay
/// clean.
#[derive(Debug, Clone)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// No output.
    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// A spinner on stderr when it is a terminal; hidden otherwise.
    pub fn for_terminal() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec}, {elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// Starts a new phase: resets the count and names the phase.
    pub fn phase(&self, name: &str) {
        if let Some(bar) = &self.0 {
            bar.set_position(0);
            bar.set_message(name.to_string());
        }
    }

    /// Counts rows done in the current phase.
    pub fn inc(&self, rows: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(rows);
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
