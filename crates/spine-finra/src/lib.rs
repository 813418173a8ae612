//! The FINRA OTC Transparency domain (`finra.otc_transparency`): weekly files per tier, parsed
//! and validated line by line, normalized, and turned into analytics (symbol summaries, venue
//! share, HHI concentration, tier split, volume per trading day), with the detections that
//! belong to this data (trades without shares, implausible trade sizes, thin venue coverage,
//! revision diffs).
//!
//! It plugs into the engine as [`FinraDomain`]; the engine runs the capture lifecycle around its
//! stages and everything that follows a capture. Its sources ([`sources`]) are `url-template`s
//! filled with `${TIER}`, `${WEEK_ENDING}` and `${WEEK_START}`, and FINRA's Query API
//! (`finra-api`, the client in [`api`]).

pub mod api;
mod background;
pub mod calcs;
pub mod detect;
mod names;
pub mod parse;
pub mod pipeline;
pub mod sources;
#[cfg(any(test, feature = "test-support"))]
pub mod test_server;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::json;
use spine_engine::capture::FetchedInput;
use spine_engine::domain::{
    CalcSpec, CapturePlan, DetectionSpec, DomainPlugin, PipelineRun, PipelineSpec, PipelineTarget,
    PlannedCapture, RecomputeResult, Remedy, StagesOutcome,
};
use spine_engine::sources::{FetchValidators, SourceFetch, SourceFetchError};
use spine_engine::{Engine, PipelineError, PipelineResult, RunContext};
use spine_model::{Category, Domain, PartitionKey, ScheduleType, Severity, Stage, Tier};
use spine_store::lineage::NewDependency;
use spine_store::schedules::NewSchedule;

pub use pipeline::{CALC, FinraDetail, INGEST, NORMALIZE, WeekDerivation};

/// `finra.otc_transparency`.
pub fn domain() -> Domain {
    Domain::parse(Domain::FINRA_OTC).expect("a valid domain constant")
}

impl From<parse::ParseError> for PipelineError {
    fn from(e: parse::ParseError) -> Self {
        PipelineError::domain(e)
    }
}

impl From<calcs::CalcError> for PipelineError {
    fn from(e: calcs::CalcError) -> Self {
        PipelineError::domain(e)
    }
}

/// The FINRA OTC Transparency domain plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct FinraDomain {
    /// Publication lags used to derive a file's week when the operator does not give it.
    pub lags: parse::PublicationLags,
}

impl FinraDomain {
    /// The domain with explicit publication lags (`--lag-tier1-days`, `--lag-tier2-otc-days`).
    pub fn with_lags(lags: parse::PublicationLags) -> FinraDomain {
        FinraDomain { lags }
    }
}

/// The seeded schedules: (pipeline, tier, expected delay in hours, description).
///
/// FINRA publishes NMS Tier 1 two weeks after the week and NMS Tier 2 and OTC four weeks after,
/// on the Monday that follows: the file for the week ending Friday F appears on the Monday after
/// F + 14 days (Tier 1) or F + 28 days (Tier 2, OTC). `expected_delay_hours` counts trading time
/// only (weekends and exchange holidays do not count): that Monday is 11 (Tier 1) or 21 (Tier 2,
/// OTC) trading days after F, and due is 18:00 UTC on it, later when a holiday intervenes, as
/// FINRA's own publication slips. Preliminary for 48 h: FINRA re-stamps early corrections within
/// days of publication.
const SCHEDULES: &[(&str, Tier, i32, &str)] = &[
    (
        "finra_otc.ingest.nms_tier_1",
        Tier::NmsTier1,
        11 * 24 + 18,
        "FINRA OTC Transparency, NMS Tier 1: published two weeks after the week, on Monday",
    ),
    (
        "finra_otc.ingest.nms_tier_2",
        Tier::NmsTier2,
        21 * 24 + 18,
        "FINRA OTC Transparency, NMS Tier 2: published four weeks after the week, on Monday",
    ),
    (
        "finra_otc.ingest.otc",
        Tier::Otc,
        21 * 24 + 18,
        "FINRA OTC Transparency, OTC: published four weeks after the week, on Monday",
    ),
];

/// Hours after capture during which a week is preliminary.
const PRELIMINARY_HOURS: i32 = 48;

fn target_capture(target: &PipelineTarget, pipeline: &str) -> PipelineResult<(NaiveDate, Tier)> {
    match target
        .partition
        .as_ref()
        .map(|p| (p.week_ending(), p.tier()))
    {
        Some((Some(w), Some(t))) => Ok((w, t)),
        _ => Err(PipelineError::Input(format!(
            "{pipeline} needs --week-ending and --tier"
        ))),
    }
}

#[async_trait]
impl DomainPlugin for FinraDomain {
    fn name(&self) -> Domain {
        domain()
    }

    fn description(&self) -> &'static str {
        "FINRA OTC Transparency weekly ATS volume per symbol and venue, three tiers"
    }

    fn pipelines(&self) -> Vec<PipelineSpec> {
        vec![
            PipelineSpec {
                name: INGEST,
                arguments: "--file [--tier] [--week-ending]",
                description: "fetch a FINRA OTC weekly file and run RAW → NORMALIZED → CALC",
            },
            PipelineSpec {
                name: NORMALIZE,
                arguments: "--week-ending --tier",
                description: "re-run NORMALIZED (and CALC) for the latest capture from its RAW rows",
            },
            PipelineSpec {
                name: CALC,
                arguments: "--week-ending --tier",
                description: "recompute the calcs of the latest capture from its NORMALIZED rows",
            },
        ]
    }

    fn calcs(&self) -> Vec<CalcSpec> {
        vec![
            CalcSpec {
                table: "finra_otc_symbol_summary",
                description: "per (week, tier, symbol): total shares, trades, venue count",
            },
            CalcSpec {
                table: "finra_otc_venue_share",
                description: "per (week, tier, MPID): shares and share of the tier",
            },
            CalcSpec {
                table: "finra_otc_hhi",
                description: "per (week, tier, symbol): HHI venue concentration",
            },
            CalcSpec {
                table: "finra_otc_tier_split",
                description: "per week: each tier's share of all tiers' shares",
            },
            CalcSpec {
                table: pipeline::VOLUME_PER_DAY_TABLE,
                description: "per (week, tier, symbol): shares per exchange trading day",
            },
        ]
    }

    fn detections(&self) -> Vec<DetectionSpec> {
        vec![
            DetectionSpec {
                cause: detect::cause::TRADES_WITHOUT_SHARES,
                category: Category::BusinessRule,
                severity: Severity::Critical,
                stage: Stage::Normalized,
                description: "rows report trades but zero shares: the capture is not normalized",
            },
            DetectionSpec {
                cause: detect::cause::TRADE_SIZE,
                category: Category::BusinessRule,
                severity: Severity::Warn,
                stage: Stage::Normalized,
                description: "average trade size outside the plausible range",
            },
            DetectionSpec {
                cause: detect::cause::VENUE_COVERAGE,
                category: Category::Completeness,
                severity: Severity::Warn,
                stage: Stage::Calc,
                description: "fewer venues than 70% of the tier's trailing baseline (ERROR below \
                              50%, CRITICAL below 10%)",
            },
            DetectionSpec {
                cause: detect::cause::HHI_OVERSTATED,
                category: Category::IncompleteInput,
                severity: Severity::Warn,
                stage: Stage::Calc,
                description: "HHI computed from too few venues may overstate concentration",
            },
            DetectionSpec {
                cause: detect::cause::SYMBOL_COUNT_DROP,
                category: Category::Completeness,
                severity: Severity::Error,
                stage: Stage::Calc,
                description: "far fewer symbols than the previous capture or the tier's baseline \
                              (ERROR below 50%, CRITICAL below 10%)",
            },
            DetectionSpec {
                cause: detect::cause::VENUE_COUNT_DROP,
                category: Category::Completeness,
                severity: Severity::Error,
                stage: Stage::Calc,
                description: "far fewer venues than the capture it revises (ERROR below 50%, \
                              CRITICAL below 10%)",
            },
            DetectionSpec {
                cause: detect::cause::REVISION,
                category: Category::Freshness,
                severity: Severity::Info,
                stage: Stage::Calc,
                description: "a new capture superseded the week: what changed",
            },
        ]
    }

    fn seeded_schedules(&self) -> Vec<NewSchedule> {
        SCHEDULES
            .iter()
            .map(|(pipeline, tier, delay, description)| NewSchedule {
                domain: domain(),
                pipeline: (*pipeline).to_string(),
                schedule_type: ScheduleType::Weekly,
                cron_expression: None,
                partition_template: r#"{"tier":"${TIER}","week_ending":"${FRIDAY}"}"#.to_string(),
                partition_values: Some(json!({ "TIER": [tier.as_str()] })),
                expected_delay_hours: Some(*delay),
                preliminary_hours: Some(PRELIMINARY_HOURS),
                description: Some((*description).to_string()),
                is_active: true,
            })
            .collect()
    }

    fn dependencies(&self) -> Vec<NewDependency> {
        pipeline::dependencies()
    }

    fn complete_partition(&self, hint: &PartitionKey) -> Option<PartitionKey> {
        Some(PartitionKey::week_tier(hint.week_ending()?, hint.tier()?))
    }

    async fn plan(
        &self,
        _engine: &Engine,
        input: &FetchedInput,
        hint: &PartitionKey,
    ) -> PipelineResult<CapturePlan> {
        pipeline::plan(input, hint, &self.lags)
    }

    async fn capture(
        &self,
        engine: &Engine,
        capture: &PlannedCapture,
        input: &FetchedInput,
        run: &RunContext,
    ) -> PipelineResult<StagesOutcome> {
        pipeline::capture(engine, capture, input, run).await
    }

    async fn resume(
        &self,
        engine: &Engine,
        capture: &spine_store::captures::Capture,
        stopped_at: Option<Stage>,
        run: &RunContext,
    ) -> PipelineResult<StagesOutcome> {
        pipeline::resume(engine, capture, stopped_at, run).await
    }

    async fn run_stage(
        &self,
        engine: &Engine,
        name: &str,
        target: &PipelineTarget,
        run: &RunContext,
    ) -> PipelineResult<PipelineRun> {
        let store = engine.store();
        let (week, tier) = target_capture(target, name)?;
        // One writer per partition, as for an ingest.
        let lock = engine
            .lock_partition(&domain(), &PartitionKey::week_tier(week, tier))
            .await?;
        let capture = pipeline::resolve_capture(store, week, tier, None).await?;
        let notes = match name {
            NORMALIZE => {
                let normalized = pipeline::normalize(store, &capture, run).await?;
                pipeline::calc(engine, &capture, Some(normalized.calcs), run)
                    .await?
                    .notes
            }
            CALC => pipeline::calc(engine, &capture, None, run).await?.notes,
            other => {
                return Err(PipelineError::Input(format!(
                    "{} has no stage pipeline `{other}`",
                    self.name()
                )));
            }
        };
        lock.release().await?;
        Ok(PipelineRun::Stage {
            pipeline: name.to_string(),
            capture_id: capture.capture_id,
            notes,
        })
    }

    async fn recompute(
        &self,
        engine: &Engine,
        partition: &PartitionKey,
        run: &RunContext,
    ) -> PipelineResult<Vec<RecomputeResult>> {
        pipeline::recompute(engine, partition, run).await
    }

    fn remedy(&self, key: &PartitionKey, need: Remedy) -> String {
        let domain = self.name();
        let ingest_from = |key: &PartitionKey, source: &str| match (key.tier(), key.week_ending()) {
            (Some(tier), Some(week)) => {
                format!("spine ingest finra-otc --file {source} --tier {tier} --week-ending {week}")
            }
            _ => format!("spine ingest finra-otc --file {source}"),
        };
        let ingest = |key: &PartitionKey| match (key.tier(), key.week_ending()) {
            (Some(_), Some(_)) => ingest_from(key, "<FINRA file or URL>"),
            _ => format!("ingest {key} for {domain}"),
        };
        let (Some(tier), Some(week)) = (key.tier(), key.week_ending()) else {
            return match need {
                Remedy::Ingest => ingest(key),
                Remedy::IngestFrom(source) => ingest_from(key, &source),
                Remedy::Resume { .. } => format!("re-run the pipeline of {domain} for {key}"),
            };
        };
        match need {
            Remedy::Ingest => ingest(key),
            Remedy::IngestFrom(source) => ingest_from(key, &source),
            Remedy::Resume {
                stopped_at: Stage::Raw,
                business_rule: true,
            } => format!(
                "spine anomalies list --domain {domain} --week-ending {week} --severity CRITICAL  # then ingest a corrected file: {}",
                ingest(key)
            ),
            Remedy::Resume {
                stopped_at: Stage::Raw,
                business_rule: false,
            } => format!("spine run {NORMALIZE} --week-ending {week} --tier {tier}"),
            Remedy::Resume { .. } => format!("spine run {CALC} --week-ending {week} --tier {tier}"),
        }
    }

    async fn derived_gaps(
        &self,
        engine: &Engine,
        week: NaiveDate,
    ) -> PipelineResult<Vec<(String, String)>> {
        Ok(self
            .derived_gaps_many(engine, &[week])
            .await?
            .pop()
            .unwrap_or_default())
    }

    /// Every week's tier split against its tiers' latest captures, in four queries whatever the
    /// number of weeks: the domain's captures, their venue counts, the weeks' splits.
    async fn derived_gaps_many(
        &self,
        engine: &Engine,
        weeks: &[NaiveDate],
    ) -> PipelineResult<Vec<Vec<(String, String)>>> {
        let conn = engine.store().conn();
        let mut latest: std::collections::BTreeMap<String, spine_store::captures::Capture> =
            std::collections::BTreeMap::new();
        for c in spine_store::captures::all_of(conn, &domain()).await? {
            latest.insert(c.partition_key.clone(), c);
        }
        let mut by_week: std::collections::HashMap<NaiveDate, Vec<String>> =
            std::collections::HashMap::new();
        for c in latest.values() {
            if let Some(week) = PartitionKey::parse(&c.partition_key)?.week_ending()
                && weeks.contains(&week)
            {
                by_week.entry(week).or_default().push(c.capture_id.clone());
            }
        }
        let ids: Vec<String> = by_week.values().flatten().cloned().collect();
        let venues = spine_store::finra_otc::venue_counts(conn, &ids).await?;
        let splits = spine_store::finra_otc::tier_splits(conn, weeks).await?;
        let mut out = Vec::with_capacity(weeks.len());
        for week in weeks {
            let week = *week;
            let mut with_calcs = Vec::new();
            let mut without = false;
            for id in by_week.get(&week).into_iter().flatten() {
                if venues.get(id).copied().unwrap_or(0) == 0 {
                    // A tier without calcs: the split is rightly not refreshed (the stage says so).
                    without = true;
                    break;
                }
                with_calcs.push(id.clone());
            }
            if without || with_calcs.is_empty() {
                out.push(Vec::new());
                continue;
            }
            let split = splits.get(&week).map(Vec::as_slice).unwrap_or(&[]);
            let mut named: Vec<String> = split.iter().map(|s| s.capture_id.clone()).collect();
            named.sort();
            with_calcs.sort();
            if named == with_calcs {
                out.push(Vec::new());
                continue;
            }
            out.push(vec![(
                format!(
                    "the tier split of the week ending {week} {}",
                    if split.is_empty() {
                        "is missing".to_string()
                    } else {
                        "does not name every tier's latest capture".to_string()
                    }
                ),
                format!("spine recompute {} --week-ending {week}", domain()),
            )]);
        }
        Ok(out)
    }

    fn template_variable_names(&self) -> &'static [&'static str] {
        sources::TEMPLATE_VARIABLES
    }

    fn template_variables(&self, partition: &PartitionKey) -> Vec<(&'static str, String)> {
        sources::template_variables(partition)
    }

    fn source_kinds(&self) -> &'static [&'static str] {
        &[sources::FINRA_API]
    }

    fn validate_source(&self, kind: &str, settings: &serde_json::Value) -> Result<(), String> {
        if kind != sources::FINRA_API {
            return Err(format!("{} offers no source kind `{kind}`", self.name()));
        }
        sources::FinraApiSettings::parse(settings)?.validate()
    }

    async fn fetch_source(
        &self,
        engine: &Engine,
        kind: &str,
        settings: &serde_json::Value,
        partition: &PartitionKey,
        validators: &FetchValidators,
        run: &RunContext,
    ) -> Result<SourceFetch, SourceFetchError> {
        if kind != sources::FINRA_API {
            return Err(SourceFetchError::Config {
                reason: format!("{} offers no source kind `{kind}`", self.name()),
            });
        }
        sources::fetch_api(engine, settings, partition, validators, run).await
    }

    async fn describe_unavailable(
        &self,
        engine: &Engine,
        partition: &PartitionKey,
    ) -> PipelineResult<(String, serde_json::Map<String, serde_json::Value>)> {
        let (tier, week) = (partition.tier(), partition.week_ending());
        let actual = match week {
            Some(w) => detect::captured_tiers(engine.store().conn(), w).await?,
            None => Vec::new(),
        };
        let missing: Vec<Tier> = Tier::ALL
            .iter()
            .copied()
            .filter(|t| !actual.contains(t))
            .collect();
        let what = match (tier, week) {
            (Some(t), Some(w)) => format!("{t} file for the week ending {w}"),
            _ => "source file".to_string(),
        };
        let mut extra = serde_json::Map::new();
        extra.insert("expected_tiers".into(), json!(Tier::ALL));
        extra.insert("actual_tiers".into(), json!(actual));
        extra.insert("missing_tiers".into(), json!(missing));
        Ok((what, extra))
    }
}

/// The shared handle the CLI and tests register.
pub fn plugin() -> Arc<dyn DomainPlugin> {
    Arc::new(FinraDomain::default())
}
