//! The exchange-calendar reference domain (`reference.exchange_calendar`): holiday files per
//! (exchange, year), their trading-day counts per week and month, and what a correction makes
//! stale.
//!
//! A domain plugin like any other: the engine runs its capture lifecycle, and reads the stored
//! calendars directly through the store (`spine_engine::calendar`) when due times or calcs need
//! trading days — never through this crate.

pub mod holidays;
pub mod pipeline;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use spine_engine::capture::{FetchedInput, ingest_fetched};
use spine_engine::domain::{
    CalcSpec, CapturePlan, DetectionSpec, DomainPlugin, PipelineSpec, PlannedCapture, Remedy,
    StagesOutcome,
};
use spine_engine::{CaptureReport, Engine, PipelineResult, RunContext, calendar as reference};
use spine_model::{AnomalyCause, Category, Domain, PartitionKey, Severity, Stage};

pub use pipeline::{CalendarDetail, ChangedWeek, DependentCalc, INGEST};

/// The exchange-calendar domain plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct CalendarDomain;

#[async_trait]
impl DomainPlugin for CalendarDomain {
    fn name(&self) -> Domain {
        reference::domain()
    }

    fn description(&self) -> &'static str {
        "exchange holiday calendars and trading days per week and month"
    }

    fn pipelines(&self) -> Vec<PipelineSpec> {
        vec![PipelineSpec {
            name: INGEST,
            arguments: "--file",
            description: "ingest an exchange holiday file and its trading-day counts",
        }]
    }

    fn calcs(&self) -> Vec<CalcSpec> {
        vec![CalcSpec {
            table: reference::TRADING_DAYS_TABLE,
            description: "trading days per week and per month of each exchange-year",
        }]
    }

    fn detections(&self) -> Vec<DetectionSpec> {
        vec![DetectionSpec {
            cause: AnomalyCause::CALENDAR_REVISED,
            category: Category::Dependency,
            severity: Severity::Warn,
            stage: Stage::Calc,
            description: "a corrected calendar changed a week's trading days under a calc that \
                          consumed the previous one: the calc is stale until recomputed",
        }]
    }

    async fn bootstrap(&self, engine: &Engine, now: DateTime<Utc>) -> PipelineResult<()> {
        load_shipped(engine, now).await?;
        Ok(())
    }

    /// Calendars are reference data, not expected on a business date.
    fn business_date(&self, _partition: &PartitionKey) -> Option<NaiveDate> {
        None
    }

    async fn plan(
        &self,
        engine: &Engine,
        input: &FetchedInput,
        _hint: &PartitionKey,
    ) -> PipelineResult<CapturePlan> {
        let text = input.read_to_string()?;
        let computed = pipeline::compute(engine.store().conn(), &text).await?;
        Ok(CapturePlan {
            partition: computed.partition.clone(),
            source_last_update: None,
            metadata: Some(pipeline::metadata(&computed)),
            detail: Some(Arc::new(computed.detail())),
        })
    }

    async fn capture(
        &self,
        engine: &Engine,
        capture: &PlannedCapture,
        input: &FetchedInput,
        run: &RunContext,
    ) -> PipelineResult<StagesOutcome> {
        let text = input.read_to_string()?;
        pipeline::capture(
            engine,
            capture,
            &text,
            &input.locator,
            &input.content_hash,
            run,
        )
        .await
    }

    fn remedy(&self, partition: &PartitionKey, need: Remedy) -> String {
        match need {
            Remedy::IngestFrom(source) => format!("spine calendar ingest --file {source}"),
            _ => format!(
                "spine calendar ingest --file <holiday file for {}>",
                partition.get("year").unwrap_or("the year")
            ),
        }
    }
}

/// Ingests one holiday file's text through the engine's capture lifecycle.
pub async fn ingest_text(
    engine: &Engine,
    text: &str,
    locator: &str,
    run: &RunContext,
) -> PipelineResult<CaptureReport> {
    let input = FetchedInput::memory(text.as_bytes().to_vec(), locator);
    ingest_fetched(engine, &CalendarDomain, &input, &PartitionKey::new(), run).await
}

/// Loads the calendars shipped with Market Spine, oldest year first so each year's first week
/// can use the previous year's closures. Unchanged ones are no-ops.
pub async fn load_shipped(
    engine: &Engine,
    now: DateTime<Utc>,
) -> PipelineResult<Vec<CaptureReport>> {
    let mut reports = Vec::new();
    for (name, json) in holidays::shipped_calendars() {
        reports.push(
            ingest_text(
                engine,
                &json,
                &format!("shipped:{name}"),
                &RunContext::quiet(now),
            )
            .await?,
        );
    }
    Ok(reports)
}
