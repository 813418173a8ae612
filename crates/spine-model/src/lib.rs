//! Market Spine's shared model: the vocabulary every crate speaks and, behind the default
//! `entities` feature, one SeaORM entity per table.
//!
//! The vocabulary lives here rather than in `spine-rules` so that the store, the CLI and the
//! policy crate agree on one definition of each term. `spine-rules` depends on this crate with
//! `default-features = false`, which keeps SeaORM out of its dependency tree.

pub mod capture;
pub mod cause;
pub mod escape;
pub mod redact;
pub mod vocab;
pub mod week;

/// The SeaORM entities, one per table; behind the `entities` feature so `spine-rules` stays free
/// of any database crate.
#[cfg(feature = "entities")]
pub mod entities;

pub use cause::AnomalyCause;
pub use vocab::{
    AttemptOutcome, Category, Channel, DeliveryState, DependencyType, DigestMode, Domain,
    EventKind, ExecutionStatus, ExpectedState, IngestStatus, PartitionKey, QualityStatus,
    ReadinessCriteria, ReadinessStatus, ReadyFor, ScheduleType, Severity, Stage, Tier, VocabError,
    WorkItemState, WorkKind,
};
pub use week::WeekEnding;
