//! The `Entity` type of every table under its table's name in `UpperCamelCase`, for
//! `use spine_model::entities::prelude::*;` in code that queries many tables.

pub use super::core_anomalies::Entity as CoreAnomalies;
pub use super::core_calc_dependencies::Entity as CoreCalcDependencies;
pub use super::core_calc_inputs::Entity as CoreCalcInputs;
pub use super::core_capture_chunks::Entity as CoreCaptureChunks;
pub use super::core_captures::Entity as CoreCaptures;
pub use super::core_data_readiness::Entity as CoreDataReadiness;
pub use super::core_deliveries::Entity as CoreDeliveries;
pub use super::core_events::Entity as CoreEvents;
pub use super::core_executions::Entity as CoreExecutions;
pub use super::core_expected_schedules::Entity as CoreExpectedSchedules;
pub use super::core_manifest::Entity as CoreManifest;
pub use super::core_quality::Entity as CoreQuality;
pub use super::core_readiness_history::Entity as CoreReadinessHistory;
pub use super::core_rejects::Entity as CoreRejects;
pub use super::core_source_fetch_state::Entity as CoreSourceFetchState;
pub use super::core_source_rate::Entity as CoreSourceRate;
pub use super::core_sources::Entity as CoreSources;
pub use super::core_subscriptions::Entity as CoreSubscriptions;
pub use super::core_work_attempts::Entity as CoreWorkAttempts;
pub use super::core_work_items::Entity as CoreWorkItems;
pub use super::core_workers::Entity as CoreWorkers;
pub use super::finra_otc_hhi::Entity as FinraOtcHhi;
pub use super::finra_otc_normalized::Entity as FinraOtcNormalized;
pub use super::finra_otc_raw::Entity as FinraOtcRaw;
pub use super::finra_otc_symbol_summary::Entity as FinraOtcSymbolSummary;
pub use super::finra_otc_tier_split::Entity as FinraOtcTierSplit;
pub use super::finra_otc_venue_share::Entity as FinraOtcVenueShare;
pub use super::finra_otc_volume_per_day::Entity as FinraOtcVolumePerDay;
pub use super::ref_calendar_holidays::Entity as RefCalendarHolidays;
pub use super::ref_calendar_trading_days::Entity as RefCalendarTradingDays;
