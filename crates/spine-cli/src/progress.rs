//! The terminal progress spinner: the CLI's [`ProgressSink`] for the engine's runs.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use spine_engine::{Progress, ProgressSink};

/// A spinner on stderr.
#[derive(Debug)]
struct Spinner(ProgressBar);

impl ProgressSink for Spinner {
    fn phase(&self, name: &str) {
        self.0.set_position(0);
        self.0.set_message(name.to_string());
    }

    fn inc(&self, rows: u64) {
        self.0.inc(rows);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// A spinner on stderr when it is a terminal; nothing otherwise, so logs and pipes stay clean.
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
    Progress::to(Arc::new(Spinner(bar)))
}
