//! The exchange calendar's stages: a holiday file per (exchange, year) becomes a capture of
//! `reference.exchange_calendar` with its holidays (RAW/NORMALIZED) and its trading-day counts
//! per week and month (CALC), all in one transaction — a calendar is small and must never be
//! half-loaded. A revision flags the calcs that consumed the superseded capture.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use spine_engine::calendar::{self as reference, latest_holidays};
use spine_engine::domain::{CaptureDetail, PlannedCapture, StagesOutcome};
use spine_engine::{Engine, PipelineError, PipelineResult, RunContext};
use spine_model::{AnomalyCause, Domain, IngestStatus, PartitionKey, Stage};
use spine_rules::calendar::{self as trading_days, PeriodCount, TradingCalendar, YearClosures};
use spine_store::ConnectionTrait;
use spine_store::captures::{self, CaptureOutcome, NewCapture};
use spine_store::exchange_calendar::{self as repo, HolidayRow, PeriodRow, PeriodType};
use spine_store::manifest::{self, StageRecord};

use crate::holidays::{Holiday, HolidayCalendar};

/// The pipeline name registered for `spine run` / `spine pipelines`.
pub const INGEST: &str = "exchange_calendar.ingest";

/// A week whose trading-day count a revision changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedWeek {
    /// The week.
    pub week_ending: NaiveDate,
    /// Its trading days in the superseded capture.
    pub previous_trading_days: i32,
    /// Its trading days now.
    pub trading_days: u32,
}

/// A calc partition that consumed the superseded calendar capture, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum DependentCalc {
    /// Its week's count changed: wrong until recomputed (a WARN DEPENDENCY anomaly says so).
    Stale {
        /// The calc's domain.
        calc_domain: String,
        /// The calc partition.
        calc_partition: String,
        /// The calc table.
        calc_table: String,
        /// The anomaly recorded.
        anomaly_id: i64,
    },
    /// Its week's count is identical in the new capture: its lineage now names it.
    Revalidated {
        /// The calc partition.
        calc_partition: String,
        /// The calc table.
        calc_table: String,
    },
}

/// What a calendar capture holds, beyond what every capture reports.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarDetail {
    /// Full-day closures in the file.
    pub holidays: usize,
    /// Trading days in the year.
    pub trading_days_in_year: u32,
    /// Weeks whose trading-day count changed against the superseded capture.
    pub changed_weeks: Vec<ChangedWeek>,
    /// Dependent calc partitions: flagged stale (their week changed) or revalidated.
    pub dependents: Vec<DependentCalc>,
}

impl CaptureDetail for CalendarDetail {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a calendar detail serializes")
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A parsed holiday file with its trading-day counts, ready to store.
pub(crate) struct Computed {
    pub(crate) calendar: HolidayCalendar,
    pub(crate) partition: PartitionKey,
    pub(crate) weeks: Vec<PeriodCount>,
    pub(crate) months: Vec<PeriodCount>,
    pub(crate) assumed_previous: bool,
}

impl Computed {
    pub(crate) fn year_days(&self) -> u32 {
        self.months.iter().map(|m| m.trading_days).sum()
    }

    pub(crate) fn detail(&self) -> CalendarDetail {
        CalendarDetail {
            holidays: self.calendar.holidays().len(),
            trading_days_in_year: self.year_days(),
            changed_weeks: Vec::new(),
            dependents: Vec::new(),
        }
    }
}

fn closures_of(cal: &HolidayCalendar) -> YearClosures {
    YearClosures {
        exchange_code: cal.exchange_code().to_string(),
        year: cal.year(),
        closures: cal
            .holidays()
            .iter()
            .map(|h| (h.date, h.name.clone()))
            .collect(),
    }
}

/// Parses a holiday file and counts its trading days. The first week of the year may start in
/// December: it is counted with last year's closures when they are loaded, and the capture says
/// so when they are not.
pub(crate) async fn compute<C: ConnectionTrait>(conn: &C, text: &str) -> PipelineResult<Computed> {
    let cal = HolidayCalendar::from_json(text).map_err(PipelineError::domain)?;
    let previous_year = latest_holidays(conn, cal.exchange_code(), cal.year() - 1).await?;
    let assumed_previous = previous_year.is_none();
    let prev_cal = HolidayCalendar::new(
        cal.exchange_code(),
        cal.year() - 1,
        previous_year
            .unwrap_or_default()
            .into_iter()
            .map(|(date, name)| Holiday { date, name })
            .collect(),
    )
    .map_err(PipelineError::domain)?;
    let trading = TradingCalendar::from_years([closures_of(&prev_cal), closures_of(&cal)])?;
    let weeks = trading_days::week_counts(&trading, cal.year())?;
    let months = trading_days::month_counts(&trading, cal.year())?;
    Ok(Computed {
        partition: reference::partition(cal.exchange_code(), cal.year()),
        calendar: cal,
        weeks,
        months,
        assumed_previous,
    })
}

/// Stores one calendar capture: the capture row, holidays, trading-day counts, the dependents a
/// revision affects, and all three stages, in one transaction.
pub(crate) async fn capture(
    engine: &Engine,
    planned: &PlannedCapture,
    text: &str,
    locator: &str,
    content_hash: &str,
    run: &RunContext,
) -> PipelineResult<StagesOutcome> {
    let store = engine.store();
    let computed = compute(store.conn(), text).await?;
    let cal = &computed.calendar;
    let key = computed.partition.clone();
    let capture_id = planned.capture_id.clone();
    let now = run.now;
    let mut detail = computed.detail();
    let mut outcome = StagesOutcome::new(IngestStatus::Ingested);
    outcome.rows_read = cal.holidays().len() as i64;
    outcome.rows_accepted = cal.holidays().len() as i64;

    let txn = store.begin().await?;
    let recorded = captures::record(
        &txn,
        NewCapture {
            domain: reference::domain(),
            partition: key.clone(),
            content_hash: content_hash.to_string(),
            source_locator: locator.to_string(),
            source_last_update: None,
            captured_at: now,
            rows_read: outcome.rows_read,
            rows_accepted: outcome.rows_accepted,
            rows_rejected: 0,
            metadata: planned.plan.metadata.clone(),
        },
    )
    .await?;
    match &recorded {
        CaptureOutcome::Unchanged(_) => {
            outcome.status = IngestStatus::Unchanged;
            outcome.detail = Some(Arc::new(detail));
            return Ok(outcome);
        }
        CaptureOutcome::Revision { previous, .. } => {
            outcome.status = IngestStatus::Revised;
            outcome.supersedes = Some(previous.capture_id.clone());
            let old = repo::periods(&txn, &previous.capture_id).await?;
            for w in &computed.weeks {
                if let Some(o) = old.iter().find(|o| {
                    o.period_type == PeriodType::Week.as_str() && o.period_end == w.period_end
                }) && o.trading_days as u32 != w.trading_days
                {
                    detail.changed_weeks.push(ChangedWeek {
                        week_ending: w.period_end,
                        previous_trading_days: o.trading_days,
                        trading_days: w.trading_days,
                    });
                }
            }
        }
        CaptureOutcome::New(_) => {}
    }
    let to_row = |p: &PeriodCount| PeriodRow {
        period_type: match p.period_type {
            trading_days::PeriodType::Week => PeriodType::Week,
            trading_days::PeriodType::Month => PeriodType::Month,
        },
        period_start: p.period_start,
        period_end: p.period_end,
        trading_days: p.trading_days as i32,
    };
    repo::insert_calendar(
        &txn,
        &capture_id,
        cal.exchange_code(),
        cal.year(),
        cal.holidays()
            .iter()
            .map(|h| HolidayRow {
                date: h.date,
                name: h.name.clone(),
            })
            .collect(),
        computed
            .weeks
            .iter()
            .chain(computed.months.iter())
            .map(to_row)
            .collect(),
    )
    .await?;
    if let CaptureOutcome::Revision { previous, .. } = &recorded {
        detail.dependents = flag_dependents(
            &txn,
            &key,
            &previous.capture_id,
            &capture_id,
            &detail.changed_weeks,
            now,
        )
        .await?;
    }
    for (stage, rows) in [
        (Stage::Raw, cal.holidays().len()),
        (Stage::Normalized, cal.holidays().len()),
        (Stage::Calc, computed.weeks.len() + computed.months.len()),
    ] {
        manifest::record_stage(
            &txn,
            StageRecord {
                domain: reference::domain(),
                partition: key.clone(),
                stage,
                capture_id: capture_id.clone(),
                row_count: rows as i64,
                metrics: None,
                execution_id: run.execution_id.clone(),
                batch_id: None,
                updated_at: now,
            },
        )
        .await?;
    }
    txn.commit().await?;
    outcome.stage = Some(Stage::Calc);
    // Verdicts that rested on the superseded calendar are re-evaluated by the landing step.
    for d in &detail.dependents {
        if let DependentCalc::Stale {
            calc_domain,
            calc_partition,
            ..
        } = d
            && let (Ok(domain), Ok(key)) = (
                Domain::parse(calc_domain),
                PartitionKey::parse(calc_partition),
            )
        {
            outcome.affected.push((domain, key));
        }
    }
    outcome.detail = Some(Arc::new(detail));
    Ok(outcome)
}

/// The metadata a calendar capture keeps.
pub(crate) fn metadata(computed: &Computed) -> serde_json::Value {
    json!({
        "exchange_code": computed.calendar.exchange_code(),
        "year": computed.calendar.year(),
        "previous_year_closures_assumed_none": computed.assumed_previous,
    })
}

/// After a calendar revision: every calc that consumed the superseded capture is either flagged
/// stale with a WARN DEPENDENCY anomaly (its week's trading-day count changed: the calc is wrong
/// until recomputed) or revalidated (its week's count is identical in the new capture, so the
/// lineage is re-pointed to it and the calc stays current).
async fn flag_dependents<C: ConnectionTrait>(
    conn: &C,
    calendar_partition: &PartitionKey,
    previous_capture: &str,
    new_capture: &str,
    changed_weeks: &[ChangedWeek],
    now: DateTime<Utc>,
) -> PipelineResult<Vec<DependentCalc>> {
    use spine_store::anomalies::{NewAnomaly, record_once};
    use spine_store::lineage::{NewCalcInput, consumers_of, record_calc_input};
    let mut out = Vec::new();
    for input in consumers_of(conn, &reference::domain(), calendar_partition).await? {
        if input.input_capture_id != previous_capture {
            continue;
        }
        let calc_partition = PartitionKey::parse(&input.calc_partition_key)?;
        let calc_domain = Domain::parse(&input.calc_domain)?;
        // Only the latest capture of a calc partition matters: a superseded one is history.
        let latest = captures::latest(conn, &calc_domain, &calc_partition).await?;
        if latest.is_none_or(|c| c.capture_id != input.calc_capture_id) {
            continue;
        }
        let changed = calc_partition
            .week_ending()
            .and_then(|week| changed_weeks.iter().find(|w| w.week_ending == week));
        match changed {
            Some(change) => {
                let recorded = record_once(
                    conn,
                    NewAnomaly {
                        pipeline: Some(INGEST.to_string()),
                        partition: Some(calc_partition.clone()),
                        stage: Some(Stage::Calc),
                        cause: Some(AnomalyCause::CALENDAR_REVISED.as_str().to_string()),
                        capture_id: Some(input.calc_capture_id.clone()),
                        details: Some(json!({
                            "calc_table": input.calc_table,
                            "calc_capture_id": input.calc_capture_id,
                            "calendar_partition": calendar_partition.canonical(),
                            "previous_calendar_capture_id": previous_capture,
                            "calendar_capture_id": new_capture,
                            "week_ending": change.week_ending,
                            "previous_trading_days": change.previous_trading_days,
                            "trading_days": change.trading_days,
                            "remedy": format!(
                                "spine recompute {} --week-ending {}",
                                input.calc_domain, change.week_ending
                            ),
                        })),
                        ..NewAnomaly::new(
                            calc_domain.clone(),
                            spine_model::Severity::Warn,
                            spine_model::Category::Dependency,
                            format!(
                                "{} for {} used {} trading days from calendar capture {previous_capture}; the corrected calendar {new_capture} says {}: stale until recomputed",
                                input.calc_table,
                                calc_partition,
                                change.previous_trading_days,
                                change.trading_days
                            ),
                            now,
                        )
                    },
                )
                .await?;
                out.push(DependentCalc::Stale {
                    calc_domain: calc_domain.to_string(),
                    calc_partition: calc_partition.canonical(),
                    calc_table: input.calc_table.clone(),
                    anomaly_id: recorded.anomaly().id,
                });
            }
            None => {
                record_calc_input(
                    conn,
                    NewCalcInput {
                        calc_domain,
                        calc_table: input.calc_table.clone(),
                        calc_partition: calc_partition.clone(),
                        calc_capture_id: input.calc_capture_id.clone(),
                        input_domain: reference::domain(),
                        input_table: input.input_table.clone(),
                        input_partition: calendar_partition.clone(),
                        input_capture_id: new_capture.to_string(),
                        recorded_at: now,
                    },
                )
                .await?;
                out.push(DependentCalc::Revalidated {
                    calc_partition: calc_partition.canonical(),
                    calc_table: input.calc_table.clone(),
                });
            }
        }
    }
    Ok(out)
}
