//! The names of FINRA's pipelines, in a module of their own so that the stages
//! (`pipeline`) and the detections (`detect`), which record which pipeline found what, both read
//! them without importing each other.

/// The pipeline names registered for `spine run` / `spine pipelines`.
pub const INGEST: &str = "finra_otc.ingest";
/// Re-normalizes the latest capture of a partition from the bytes RAW kept (or, for older
/// captures, its RAW rows).
pub const NORMALIZE: &str = "finra_otc.normalize";
/// Recomputes the calcs of the latest capture of a partition from its NORMALIZED rows.
pub const CALC: &str = "finra_otc.calc";
