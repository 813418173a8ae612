//! Market Spine's schema, as `sea-orm-migration` migrations that mean the same on SQLite and
//! PostgreSQL.
//!
//! `docs/SCHEMA.md` is the contract; this crate is its executable form and `spine-model`'s
//! entities mirror it column for column. Tables and indexes are declared with the sea-query
//! builders, so one definition renders correctly for both backends. Only what the builders cannot
//! express (the triggers that make `core_readiness_history` append-only, and on PostgreSQL the
//! identity bookkeeping after a table rebuild) is raw SQL, written once per backend with
//! identical behaviour.
//!
//! The migrations, applied in order:
//! - `m20260101_000001_core`: captures, manifest, rejects, quality, anomalies, readiness,
//!   lineage, schedules, work items, executions;
//! - `m20260101_000002_finra_otc`: the FINRA OTC Transparency domain;
//! - `m20260101_000003_exchange_calendar`: the exchange calendar reference data;
//! - `m20260102_000001_hardening`: the anomaly `cause` (one open anomaly per partition and
//!   cause) and the seeded FINRA OTC weekly schedules;
//! - `m20260103_000001_finra_rows_by_line`: FINRA OTC raw and normalized rows keyed by
//!   `(capture_id, line_number)` (`WITHOUT ROWID` on SQLite), normalized rows without the text
//!   RAW already holds;
//! - `m20260104_000001_readiness_audit_clocks`: the wall clock (`recorded_at`) beside the as-of
//!   clock on readiness history and current verdicts, `backdated` history rows, and
//!   `last_checked_at` on current verdicts (both tables rebuilt, rows kept);
//! - `m20261201_000001_operations`: execution heartbeats (abandoned runs are recognisable) and
//!   captures indexed by content;
//! - `m20261202_000001_sources`: configured sources per domain, their conditional-fetch
//!   validators per partition, and the rate-limit slots every worker shares;
//! - `m20261202_000002_notifications`: the events outbox, subscriptions and deliveries;
//! - `m20261202_000003_worker`: work-item kinds and leases, every attempt of every item, and the
//!   worker processes;
//! - `m20261203_000001_capture_chunks`: the bytes of each capture as received, compressed in
//!   chunks and stored once per content hash (RAW without a second copy of every line);
//! - `m20261204_000001_compact_keys`: NORMALIZED keyed by the capture's integer key, and the
//!   per-symbol and per-venue calc tables keyed by their unique key, without a surrogate `id`.
//!
//! ```no_run
//! # async fn run() -> Result<(), migration::sea_orm_migration::DbErr> {
//! use migration::{Migrator, MigratorTrait};
//! use migration::sea_orm_migration::sea_orm::Database;
//!
//! let db = Database::connect("sqlite://spine.db?mode=rwc").await?;
//! Migrator::up(&db, None).await?;
//! # Ok(()) }
//! ```

mod ddl;
mod m20260101_000001_core;
mod m20260101_000002_finra_otc;
mod m20260101_000003_exchange_calendar;
mod m20260102_000001_hardening;
mod m20260103_000001_finra_rows_by_line;
mod m20260104_000001_readiness_audit_clocks;
mod m20261201_000001_operations;
mod m20261202_000001_sources;
mod m20261202_000002_notifications;
mod m20261202_000003_worker;
mod m20261203_000001_capture_chunks;
mod m20261204_000001_compact_keys;

pub use m20260102_000001_hardening::SEEDED as SEEDED_SCHEDULES;

use sea_orm_migration::prelude::*;

/// Re-exported so callers (the store, `xtask`, tests) use exactly the `sea-orm-migration` this
/// schema was written against, without a dependency of their own to keep in step.
pub use sea_orm_migration;
/// Re-exported so `Migrator::up(&db, None)` works with one `use migration::{Migrator, MigratorTrait}`.
pub use sea_orm_migration::{MigrationStatus, MigratorTrait};

/// The database error message of any attempt to UPDATE or DELETE (or, on PostgreSQL, TRUNCATE)
/// `core_readiness_history`.
///
/// Public so the store can recognise the error and tests can assert on it; the same text is
/// raised by the SQLite and the PostgreSQL triggers.
pub const APPEND_ONLY_MESSAGE: &str = "core_readiness_history is append-only";

/// Name of the partial index on `core_anomalies (resolved_at) WHERE resolved_at IS NULL`, the
/// index readiness uses to find unresolved anomalies.
pub const UNRESOLVED_ANOMALIES_INDEX: &str = "idx_core_anomalies_unresolved";

/// Market Spine's migrator: every migration, oldest first.
///
/// Use it through [`MigratorTrait`]: `Migrator::up(&db, None)`, `Migrator::status(&db)`, ...
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_core::Migration),
            Box::new(m20260101_000002_finra_otc::Migration),
            Box::new(m20260101_000003_exchange_calendar::Migration),
            Box::new(m20260102_000001_hardening::Migration),
            Box::new(m20260103_000001_finra_rows_by_line::Migration),
            Box::new(m20260104_000001_readiness_audit_clocks::Migration),
            Box::new(m20261201_000001_operations::Migration),
            Box::new(m20261202_000001_sources::Migration),
            Box::new(m20261202_000002_notifications::Migration),
            Box::new(m20261202_000003_worker::Migration),
            Box::new(m20261203_000001_capture_chunks::Migration),
            Box::new(m20261204_000001_compact_keys::Migration),
        ]
    }
}

/// Every table the migrations create, in creation order (excluding `seaql_migrations`, the
/// migrator's own bookkeeping table).
///
/// Tests compare it with what the database actually holds, and tooling can use it to check a
/// database without hard-coding table names.
pub fn expected_tables() -> &'static [&'static str] {
    TABLES
}

/// The tables each migration creates, by migration name, oldest first.
///
/// Lets tests check that rolling back one migration removes exactly its own tables.
pub fn expected_tables_by_migration() -> &'static [(&'static str, &'static [&'static str])] {
    TABLES_BY_MIGRATION
}

/// An index the migrations create, as tests and tooling look for it in the database catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedIndex {
    /// The table the index is on.
    pub table: &'static str,
    /// The index name, identical on both backends.
    pub name: &'static str,
    /// Whether it enforces one of SCHEMA.md's `UNIQUE(...)` keys.
    pub unique: bool,
    /// Whether it is a partial index (has a `WHERE` clause).
    pub partial: bool,
}

/// Every named index the migrations create (primary keys excluded).
///
/// `UNIQUE(...)` keys are unique indexes named `uq_<table>_...`; plain indexes are
/// `idx_<table>_...`. Names are at most 63 characters, PostgreSQL's identifier limit.
pub fn expected_indexes() -> &'static [ExpectedIndex] {
    INDEXES
}

const CORE_TABLE_COUNT: usize = 12;
const FINRA_OTC_TABLE_COUNT: usize = 7;
const CALENDAR_TABLE_COUNT: usize = 2;
/// Where `m20261202_000001_sources`'s tables start in [`TABLES`].
const SOURCES_START: usize = CORE_TABLE_COUNT + FINRA_OTC_TABLE_COUNT + CALENDAR_TABLE_COUNT;

const TABLES: &[&str] = &[
    // m20260101_000001_core
    "core_captures",
    "core_manifest",
    "core_rejects",
    "core_quality",
    "core_anomalies",
    "core_data_readiness",
    "core_readiness_history",
    "core_calc_dependencies",
    "core_calc_inputs",
    "core_expected_schedules",
    "core_work_items",
    "core_executions",
    // m20260101_000002_finra_otc
    "finra_otc_raw",
    "finra_otc_normalized",
    "finra_otc_symbol_summary",
    "finra_otc_venue_share",
    "finra_otc_hhi",
    "finra_otc_tier_split",
    "finra_otc_volume_per_day",
    // m20260101_000003_exchange_calendar
    "ref_calendar_holidays",
    "ref_calendar_trading_days",
    // m20261202_000001_sources
    "core_sources",
    "core_source_fetch_state",
    "core_source_rate",
    // m20261202_000002_notifications
    "core_events",
    "core_subscriptions",
    "core_deliveries",
    // m20261202_000003_worker
    "core_work_attempts",
    "core_workers",
    // m20261203_000001_capture_chunks
    "core_capture_chunks",
];

const TABLES_BY_MIGRATION: &[(&str, &[&str])] = &[
    ("m20260101_000001_core", TABLES.split_at(CORE_TABLE_COUNT).0),
    (
        "m20260101_000002_finra_otc",
        TABLES
            .split_at(CORE_TABLE_COUNT)
            .1
            .split_at(FINRA_OTC_TABLE_COUNT)
            .0,
    ),
    (
        "m20260101_000003_exchange_calendar",
        TABLES
            .split_at(CORE_TABLE_COUNT + FINRA_OTC_TABLE_COUNT)
            .1
            .split_at(CALENDAR_TABLE_COUNT)
            .0,
    ),
    // Adds a column, an index and seed rows; no table.
    ("m20260102_000001_hardening", &[]),
    // Rebuilds two tables in place; creates none.
    ("m20260103_000001_finra_rows_by_line", &[]),
    // Rebuilds the two readiness tables in place; creates none.
    ("m20260104_000001_readiness_audit_clocks", &[]),
    // Adds a column and an index; creates no table.
    ("m20261201_000001_operations", &[]),
    (
        "m20261202_000001_sources",
        TABLES.split_at(SOURCES_START).1.split_at(3).0,
    ),
    (
        "m20261202_000002_notifications",
        &["core_events", "core_subscriptions", "core_deliveries"],
    ),
    (
        "m20261202_000003_worker",
        &["core_work_attempts", "core_workers"],
    ),
    ("m20261203_000001_capture_chunks", &["core_capture_chunks"]),
    // Rebuilds five FINRA tables in place; creates none.
    ("m20261204_000001_compact_keys", &[]),
];

/// Shorthand for the [`INDEXES`] table.
const fn ix(table: &'static str, name: &'static str, unique: bool) -> ExpectedIndex {
    ExpectedIndex {
        table,
        name,
        unique,
        partial: false,
    }
}

const INDEXES: &[ExpectedIndex] = &[
    ix("core_captures", "uq_core_captures_capture_id", true),
    ix(
        "core_captures",
        "idx_core_captures_domain_partition_captured_at",
        false,
    ),
    ix(
        "core_captures",
        "idx_core_captures_domain_content_hash",
        false,
    ),
    ix(
        "core_manifest",
        "uq_core_manifest_domain_partition_stage",
        true,
    ),
    ix("core_manifest", "idx_core_manifest_domain_stage", false),
    ix("core_manifest", "idx_core_manifest_updated_at", false),
    ix("core_rejects", "idx_core_rejects_domain_partition", false),
    ix("core_rejects", "idx_core_rejects_capture_id", false),
    ix("core_quality", "idx_core_quality_domain_partition", false),
    ix(
        "core_anomalies",
        "idx_core_anomalies_domain_partition",
        false,
    ),
    ix("core_anomalies", "idx_core_anomalies_severity", false),
    ix("core_anomalies", "idx_core_anomalies_category", false),
    ix("core_anomalies", "idx_core_anomalies_detected_at", false),
    ix(
        "core_anomalies",
        "idx_core_anomalies_domain_partition_category_cause",
        false,
    ),
    ExpectedIndex {
        table: "core_anomalies",
        name: UNRESOLVED_ANOMALIES_INDEX,
        unique: false,
        partial: true,
    },
    ix(
        "core_data_readiness",
        "uq_core_data_readiness_domain_partition_ready_for",
        true,
    ),
    ix(
        "core_data_readiness",
        "idx_core_data_readiness_is_ready_ready_for",
        false,
    ),
    ix(
        "core_readiness_history",
        "idx_core_readiness_history_lookup",
        false,
    ),
    ix(
        "core_calc_dependencies",
        "uq_core_calc_dependencies_edge",
        true,
    ),
    ix(
        "core_calc_dependencies",
        "idx_core_calc_dependencies_calc",
        false,
    ),
    ix(
        "core_calc_dependencies",
        "idx_core_calc_dependencies_upstream",
        false,
    ),
    ix("core_calc_inputs", "uq_core_calc_inputs_edge", true),
    ix("core_calc_inputs", "idx_core_calc_inputs_input", false),
    ix("core_calc_inputs", "idx_core_calc_inputs_calc", false),
    ix(
        "core_expected_schedules",
        "uq_core_expected_schedules_domain_pipeline",
        true,
    ),
    ix(
        "core_expected_schedules",
        "idx_core_expected_schedules_is_active",
        false,
    ),
    ix("core_work_items", m20261202_000003_worker::KEY, true),
    ix(
        "core_work_items",
        "idx_core_work_items_state_next_attempt_at",
        false,
    ),
    ix("core_work_items", "idx_core_work_items_desired_at", false),
    ix("core_work_attempts", "idx_core_work_attempts_item", false),
    ix("core_workers", "uq_core_workers_worker_id", true),
    ix("core_executions", "uq_core_executions_execution_id", true),
    ix("core_executions", "idx_core_executions_status", false),
    ix(
        "core_executions",
        "idx_core_executions_pipeline_started_at",
        false,
    ),
    ix(
        "finra_otc_tier_split",
        "uq_finra_otc_tier_split_week_tier",
        true,
    ),
    ix(
        "finra_otc_tier_split",
        "idx_finra_otc_tier_split_capture_id",
        false,
    ),
    ix(
        "ref_calendar_holidays",
        "uq_ref_calendar_holidays_capture_holiday_date",
        true,
    ),
    ix(
        "ref_calendar_holidays",
        "idx_ref_calendar_holidays_exchange_year",
        false,
    ),
    ix(
        "ref_calendar_trading_days",
        "uq_ref_calendar_trading_days_capture_period",
        true,
    ),
    ix(
        "ref_calendar_trading_days",
        "idx_ref_calendar_trading_days_exchange_period",
        false,
    ),
    ix("core_sources", "uq_core_sources_name", true),
    ix("core_sources", "idx_core_sources_domain_active", false),
    ix(
        "core_source_fetch_state",
        "uq_core_source_fetch_state_source_partition",
        true,
    ),
    ix("core_source_rate", "uq_core_source_rate_rate_key", true),
    ix("core_events", "uq_core_events_dedupe_key", true),
    ix("core_events", "idx_core_events_fanned_out_at", false),
    ix("core_events", "idx_core_events_occurred_at", false),
    ix("core_subscriptions", "uq_core_subscriptions_name", true),
    ix("core_deliveries", "uq_core_deliveries_delivery_id", true),
    ix(
        "core_deliveries",
        "idx_core_deliveries_state_next_attempt_at",
        false,
    ),
    ix("core_deliveries", "idx_core_deliveries_subscription", false),
];
