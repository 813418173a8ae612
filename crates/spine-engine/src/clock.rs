//! The run's clock. Every time-dependent step (captured_at, detected_at, due times, readiness
//! age) reads this one value, set by `--now` / `SPINE_NOW`, so runs and tests are reproducible.

use chrono::{DateTime, Utc};

/// The time a command runs at: fixed by `--now`, or the system clock read once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    now: DateTime<Utc>,
    fixed: bool,
}

impl Clock {
    /// A clock fixed at `now` (from `--now`).
    pub fn fixed(now: DateTime<Utc>) -> Clock {
        Clock { now, fixed: true }
    }

    /// The system clock, read once: a command sees one consistent "now" from start to end.
    pub fn system() -> Clock {
        Clock {
            now: Utc::now(),
            fixed: false,
        }
    }

    /// The command's "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Whether the clock was set explicitly.
    pub fn is_fixed(&self) -> bool {
        self.fixed
    }
}
