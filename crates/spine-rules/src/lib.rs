//! Market Spine's policy, as pure functions: facts and a clock value in, verdicts out.
//!
//! This crate has no database, async runtime, HTTP client or filesystem access anywhere in its
//! dependency tree (CI checks `cargo tree -p spine-rules`), so an analytics team can depend on it
//! alone and get exactly the decisions Market Spine makes.

pub mod policy;

pub use policy::BlockingPolicy;
