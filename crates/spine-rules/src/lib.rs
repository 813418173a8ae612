//! Market Spine's policy, as pure functions: facts and a clock value in, verdicts out.
//!
//! This crate has no database, async runtime, HTTP client or filesystem access anywhere in its
//! dependency tree (CI checks `cargo tree -p spine-rules`), so an analytics team can depend on it
//! alone and get exactly the decisions Market Spine makes. Nothing here reads the system clock:
//! every time-dependent function takes `now` (or the relevant timestamps) as a parameter, so a
//! decision can be replayed exactly for an audit.
//!
//! * [`policy`] — which anomaly severities block which use ([`BlockingPolicy`]), as data.
//! * [`readiness`] — the five-criteria readiness decision ([`evaluate`]).
//! * [`baseline`] — the venue-coverage baseline and check ([`check_venue_coverage`]).
//! * [`revision`] — what a revision changed ([`diff_revision`]).
//! * [`schedule`] — schedule expansion, business dates and due-time arithmetic.
//! * [`completeness`] — is a capture complete: empty, rejected lines, counts far below the usual.
//! * [`calendar`] — the one trading calendar ([`TradingCalendar`]) and trading-day counts.
//! * [`xnys`] — the NYSE's full-day closures computed from its rules, for every year.
//! * [`lineage`] — the calc dependency graph: cycles, transitive dependents, staleness.
//!
//! ```
//! use chrono::{NaiveDate, TimeZone, Utc};
//! use spine_model::{Domain, PartitionKey, ReadinessStatus, ReadyFor, Stage, Tier};
//! use spine_rules::{BlockingPolicy, PartitionFacts, ReadinessFacts, evaluate};
//!
//! let week = NaiveDate::from_ymd_opt(2025, 12, 19).unwrap();
//! let facts = ReadinessFacts {
//!     domain: Domain::parse(Domain::FINRA_OTC).unwrap(),
//!     partition: PartitionKey::week(week),
//!     ready_for: ReadyFor::Trading,
//!     now: Utc.with_ymd_and_hms(2026, 1, 20, 12, 0, 0).unwrap(),
//!     expected_partitions: Tier::ALL.iter().map(|t| PartitionKey::week_tier(week, *t)).collect(),
//!     present: vec![PartitionFacts {
//!         partition: PartitionKey::week_tier(week, Tier::NmsTier1),
//!         latest_capture_id: "cap_t1".into(),
//!         captured_at: Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap(),
//!         furthest_stage: Some(Stage::Calc),
//!         required_stages: vec![],
//!         rows_accepted: Some(5_328),
//!     }],
//!     open_anomalies: vec![],
//!     dependencies: vec![],
//!     preliminary_hours: Some(48),
//! };
//! let verdict = evaluate(&facts, &BlockingPolicy::default());
//! assert_eq!(verdict.status, ReadinessStatus::NotReady);
//! assert_eq!(
//!     verdict.blocking_issues,
//!     [r#"missing tiers: NMS_TIER_2, OTC for {"week_ending":"2025-12-19"}"#]
//! );
//! ```

#![warn(missing_docs)]

pub mod baseline;
pub mod calendar;
pub mod completeness;
pub mod lineage;
pub mod policy;
pub mod readiness;
pub mod revision;
pub mod schedule;
pub mod xnys;

pub use baseline::{
    Baseline, BaselineConfig, CoverageFinding, CoverageVerdict, DEFAULT_COVERAGE_THRESHOLD,
    VenueBaseline, WeekObservation, check_venue_coverage,
};
pub use calendar::{TradingCalendar, TradingDaysError, YearClosures};
pub use policy::BlockingPolicy;
pub use readiness::{
    AnomalyFact, DependencyFact, PartitionFacts, ReadinessFacts, ReadinessVerdict, evaluate,
};
pub use revision::{DEFAULT_HHI_THRESHOLD, HhiMove, RevisionDiff, SymbolStats, diff_revision};
pub use schedule::{
    ExpectedPartition, ExpectedSchedule, PartitionTemplate, PartitionValues, ScheduleError,
    business_dates, due_time, expand_partitions, is_late, is_missed, parse_partition_values,
};
