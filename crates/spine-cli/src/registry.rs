//! The domains this binary ships: the one place the CLI names domain crates. Every generic
//! command (`run`, `pipelines`, `readiness`, `doctor`, `recompute`, `schedules`, `deps`) and the
//! HTTP server find a domain through the [`Registry`] built here.

use std::sync::{Arc, OnceLock};

use spine_engine::Registry;

/// The registered domains: FINRA OTC Transparency and the exchange calendar it depends on.
pub fn registry() -> Registry {
    Registry::new()
        .with(spine_finra::plugin())
        .and_then(|r| r.with(Arc::new(spine_calendar::CalendarDomain)))
        .expect("the shipped domains register without conflict")
}

/// The names of the registered domains, for command-line validation.
pub fn domain_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| registry().names())
}
