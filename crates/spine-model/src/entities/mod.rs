//! One SeaORM entity per table of `docs/SCHEMA.md`, column for column the same as the
//! `migration` crate creates them.
//!
//! Why the entities live here and not in the store: the scenario tests and the CLI read rows
//! through the same types the store writes, and one crate owns the mapping from SQL types to Rust
//! types. Conventions (see SCHEMA.md):
//! - vocabulary values (severity, stage, tier, states, ...) are `String` wire spellings; the store
//!   converts them to the typed enums in [`crate::vocab`] at the edge;
//! - `partition_key` is the canonical JSON text of a [`crate::PartitionKey`], compared as text;
//! - timestamps are [`DateTimeUtc`](sea_orm::prelude::DateTimeUtc), business dates
//!   [`Date`](sea_orm::prelude::Date) (`chrono::NaiveDate`), JSON payloads
//!   [`Json`](sea_orm::prelude::Json) (`serde_json::Value`), quantities `i64`, ratios `f64`;
//! - every table has an auto-increment `id: i64` primary key and no foreign keys, so every
//!   `Relation` enum is empty.
//!
//! The `migration` crate's tests create each table from its entity and compare it with the
//! migrated one on SQLite and PostgreSQL, so a drift between the two fails CI.

pub mod prelude;

// Created by m20260101_000001_core.
pub mod core_anomalies;
pub mod core_calc_dependencies;
pub mod core_calc_inputs;
pub mod core_captures;
pub mod core_data_readiness;
pub mod core_executions;
pub mod core_expected_schedules;
pub mod core_manifest;
pub mod core_quality;
pub mod core_readiness_history;
pub mod core_rejects;
pub mod core_work_items;

// Created by m20260101_000002_finra_otc.
pub mod finra_otc_hhi;
pub mod finra_otc_normalized;
pub mod finra_otc_raw;
pub mod finra_otc_symbol_summary;
pub mod finra_otc_tier_split;
pub mod finra_otc_venue_share;
pub mod finra_otc_volume_per_day;

// Created by m20260101_000003_exchange_calendar.
pub mod ref_calendar_holidays;
pub mod ref_calendar_trading_days;

// Created by m20261202_000001_sources.
pub mod core_source_fetch_state;
pub mod core_source_rate;
pub mod core_sources;
// Created by m20261202_000002_notifications.
pub mod core_deliveries;
pub mod core_events;
pub mod core_subscriptions;
// Created by m20261202_000003_worker.
pub mod core_work_attempts;
pub mod core_workers;
// Created by m20261203_000001_capture_chunks.
pub mod core_capture_chunks;
