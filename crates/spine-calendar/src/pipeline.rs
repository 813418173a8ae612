//! The exchange calendar pipeline: a holiday file per (exchange, year) becomes a capture of
//! `reference.exchange_calendar` with its holidays (RAW/NORMALIZED) and its trading-day counts
//! per week and month (CALC), all in one transaction — a calendar is small and must never be
//! half-loaded.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use spine_model::capture::content_hash;
use spine_model::{Domain, PartitionKey, Stage};
use spine_store::captures::{self, CaptureOutcome, NewCapture};
use spine_store::exchange_calendar::{self as repo, HolidayRow, PeriodRow, PeriodType};
use spine_store::manifest::{self, StageRecord};
use spine_store::{ConnectionTrait, Store};

use super::PipelineResult;
use crate::domains::exchange_calendar::holidays::{Holiday, HolidayCalendar, shipped_calendars};
use crate::domains::exchange_calendar::trading_days::{self, PeriodCount, TradingCalendar};

/// The exchange whose calendar the FINRA calcs use (NYSE).
pub const EXCHANGE: &str = "XNYS";
/// The table of trading-day counts the FINRA calcs read.
pub const TRADING_DAYS_TABLE: &str = "ref_calendar_trading_days";
/// The pipeline name registered for `spine run` / `spine pipelines`.
pub const INGEST: &str = "exchange_calendar.ingest";

/// The calendar domain.
pub fn domain() -> Domain {
    Domain::parse(Domain::EXCHANGE_CALENDAR).expect("a valid domain constant")
}

/// The partition of one exchange-year.
pub fn partition(exchange: &str, year: i32) -> PartitionKey {
    PartitionKey::new()
        .with("exchange_code", exchange)
        .with("year", year.to_string())
}

/// What one calendar ingestion did.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarReport {
    /// The capture.
    pub capture_id: String,
    /// Always `reference.exchange_calendar`.
    pub domain: String,
    /// `{"exchange_code":…,"year":…}`.
    pub partition_key: String,
    /// `ingested`, `unchanged` or `revised`.
    pub status: &'static str,
    /// Full-day closures in the file.
    pub holidays: usize,
    /// Trading days in the year.
    pub trading_days_in_year: u32,
    /// The capture this one supersedes.
    pub supersedes: Option<String>,
    /// Weeks whose trading-day count changed against the superseded capture.
    pub changed_weeks: Vec<serde_json::Value>,
    /// Dependent calc partitions: flagged stale (their week changed) or revalidated.
    pub dependents: Vec<serde_json::Value>,
}

/// Ingests one holiday file's text.
pub async fn ingest(
    store: &Store,
    text: &str,
    locator: &str,
    now: DateTime<Utc>,
) -> PipelineResult<CalendarReport> {
    let cal = HolidayCalendar::from_json(text)?;
    let key = partition(cal.exchange_code(), cal.year());
    let new_capture = NewCapture {
        domain: domain(),
        partition: key.clone(),
        content_hash: content_hash(text.as_bytes()),
        source_locator: locator.to_string(),
        source_last_update: None,
        captured_at: now,
        rows_read: cal.holidays().len() as i64,
        rows_accepted: cal.holidays().len() as i64,
        rows_rejected: 0,
        metadata: None,
    };
    let capture_id = new_capture.capture_id();

    // The first week of the year may start in December: count it with last year's closures
    // when they are loaded, and say so when they are not.
    let previous_year = latest_holidays(store.conn(), cal.exchange_code(), cal.year() - 1).await?;
    let assumed_previous = previous_year.is_none();
    let prev_cal = HolidayCalendar::new(
        cal.exchange_code(),
        cal.year() - 1,
        previous_year.unwrap_or_default(),
    )?;
    let trading = TradingCalendar::new([prev_cal, cal.clone()])?;
    let weeks = trading_days::week_counts(&trading, cal.year())?;
    let months = trading_days::month_counts(&trading, cal.year())?;
    let year_days: u32 = months.iter().map(|m| m.trading_days).sum();

    let mut report = CalendarReport {
        capture_id: capture_id.clone(),
        domain: Domain::EXCHANGE_CALENDAR.to_string(),
        partition_key: key.canonical(),
        status: "ingested",
        holidays: cal.holidays().len(),
        trading_days_in_year: year_days,
        supersedes: None,
        changed_weeks: Vec::new(),
        dependents: Vec::new(),
    };

    let txn = store.begin().await?;
    let outcome = captures::record(
        &txn,
        NewCapture {
            metadata: Some(json!({
                "exchange_code": cal.exchange_code(),
                "year": cal.year(),
                "previous_year_closures_assumed_none": assumed_previous,
            })),
            ..new_capture
        },
    )
    .await?;
    match &outcome {
        CaptureOutcome::Unchanged(_) => {
            report.status = "unchanged";
            return Ok(report);
        }
        CaptureOutcome::Revision { previous, .. } => {
            report.status = "revised";
            report.supersedes = Some(previous.capture_id.clone());
            let old = repo::periods(&txn, &previous.capture_id).await?;
            for w in &weeks {
                if let Some(o) = old.iter().find(|o| {
                    o.period_type == PeriodType::Week.as_str() && o.period_end == w.period_end
                }) && o.trading_days as u32 != w.trading_days
                {
                    report.changed_weeks.push(json!({
                        "week_ending": w.period_end,
                        "previous_trading_days": o.trading_days,
                        "trading_days": w.trading_days,
                    }));
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
        weeks.iter().chain(months.iter()).map(to_row).collect(),
    )
    .await?;
    if let CaptureOutcome::Revision { previous, .. } = &outcome {
        report.dependents = flag_dependents(
            &txn,
            &key,
            &previous.capture_id,
            &capture_id,
            &report.changed_weeks,
            now,
        )
        .await?;
    }
    for (stage, rows) in [
        (Stage::Raw, cal.holidays().len()),
        (Stage::Normalized, cal.holidays().len()),
        (Stage::Calc, weeks.len() + months.len()),
    ] {
        manifest::record_stage(
            &txn,
            StageRecord {
                domain: domain(),
                partition: key.clone(),
                stage,
                capture_id: capture_id.clone(),
                row_count: rows as i64,
                metrics: None,
                execution_id: None,
                batch_id: None,
                updated_at: now,
            },
        )
        .await?;
    }
    txn.commit().await?;
    // Verdicts that rested on the superseded calendar are re-evaluated now, so `status`, the
    // doctor and the API never show a certification the data no longer supports.
    for d in &report.dependents {
        if d["status"] != "stale" {
            continue;
        }
        let (Some(domain), Some(key)) = (
            d["calc_domain"]
                .as_str()
                .and_then(|s| Domain::parse(s).ok()),
            d["calc_partition"]
                .as_str()
                .and_then(|s| PartitionKey::parse(s).ok()),
        ) else {
            continue;
        };
        super::readiness::recertify_related(store, &domain, &key, &super::RunContext::quiet(now))
            .await?;
    }
    Ok(report)
}

/// The holidays of the latest capture of (exchange, year), if one is loaded.
pub(crate) async fn latest_holidays<C: ConnectionTrait>(
    conn: &C,
    exchange: &str,
    year: i32,
) -> PipelineResult<Option<Vec<Holiday>>> {
    let Some(capture) = captures::latest(conn, &domain(), &partition(exchange, year)).await? else {
        return Ok(None);
    };
    Ok(Some(
        repo::holidays(conn, &capture.capture_id)
            .await?
            .into_iter()
            .map(|h| Holiday {
                date: h.date,
                name: h.name,
            })
            .collect(),
    ))
}

/// Loads the calendars shipped with Market Spine (XNYS 2024–2026), oldest year first so each
/// year's first week can use the previous year's closures. Unchanged ones are no-ops.
pub async fn load_shipped(
    store: &Store,
    now: DateTime<Utc>,
) -> PipelineResult<Vec<CalendarReport>> {
    let mut reports = Vec::new();
    for (name, json) in shipped_calendars() {
        reports.push(ingest(store, json, &format!("shipped:{name}"), now).await?);
    }
    Ok(reports)
}

/// The trading days of a week from the latest calendar capture covering it.
#[derive(Debug, Clone)]
pub struct CalendarInput {
    /// The calendar capture used.
    pub capture_id: String,
    /// Its partition.
    pub partition: PartitionKey,
    /// Trading days in the week.
    pub trading_days: u32,
}

/// Looks up the trading days of the week ending `week` (its Friday's year decides the calendar).
pub async fn trading_days_for_week<C: ConnectionTrait>(
    conn: &C,
    week: NaiveDate,
) -> PipelineResult<Option<CalendarInput>> {
    let key = partition(EXCHANGE, week.year());
    let Some(capture) = captures::latest(conn, &domain(), &key).await? else {
        return Ok(None);
    };
    Ok(repo::week_trading_days(conn, &capture.capture_id, week)
        .await?
        .map(|days| CalendarInput {
            capture_id: capture.capture_id,
            partition: key,
            trading_days: days as u32,
        }))
}

/// The cause key of the DEPENDENCY anomalies a calendar correction raises.
pub const CALENDAR_REVISED: &str = "calendar_revised";

/// After a calendar revision: every calc that consumed the superseded capture is either flagged
/// stale with a WARN DEPENDENCY anomaly (its week's trading-day count changed: the calc is wrong
/// until recomputed) or revalidated (its week's count is identical in the new capture, so the
/// lineage is re-pointed to it and the calc stays current).
async fn flag_dependents<C: ConnectionTrait>(
    conn: &C,
    calendar_partition: &PartitionKey,
    previous_capture: &str,
    new_capture: &str,
    changed_weeks: &[serde_json::Value],
    now: DateTime<Utc>,
) -> PipelineResult<Vec<serde_json::Value>> {
    use spine_store::anomalies::{NewAnomaly, record_once};
    use spine_store::lineage::{NewCalcInput, consumers_of, record_calc_input};
    let mut out = Vec::new();
    for input in consumers_of(conn, &domain(), calendar_partition).await? {
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
        let changed = calc_partition.week_ending().and_then(|week| {
            changed_weeks
                .iter()
                .find(|w| w["week_ending"] == json!(week))
        });
        match changed {
            Some(change) => {
                let recorded = record_once(
                    conn,
                    NewAnomaly {
                        pipeline: Some(INGEST.to_string()),
                        partition: Some(calc_partition.clone()),
                        stage: Some(Stage::Calc),
                        cause: Some(CALENDAR_REVISED.to_string()),
                        capture_id: Some(input.calc_capture_id.clone()),
                        details: Some(json!({
                            "calc_table": input.calc_table,
                            "calc_capture_id": input.calc_capture_id,
                            "calendar_partition": calendar_partition.canonical(),
                            "previous_calendar_capture_id": previous_capture,
                            "calendar_capture_id": new_capture,
                            "week_ending": change["week_ending"],
                            "previous_trading_days": change["previous_trading_days"],
                            "trading_days": change["trading_days"],
                            "remedy": format!(
                                "spine recompute {} --week-ending {}",
                                input.calc_domain,
                                change["week_ending"].as_str().unwrap_or_default()
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
                                change["previous_trading_days"],
                                change["trading_days"]
                            ),
                            now,
                        )
                    },
                )
                .await?;
                out.push(json!({"calc_domain": calc_domain.as_str(), "calc_partition": calc_partition.canonical(), "calc_table": input.calc_table, "status": "stale", "anomaly_id": recorded.anomaly().id}));
            }
            None => {
                record_calc_input(
                    conn,
                    NewCalcInput {
                        calc_domain,
                        calc_table: input.calc_table.clone(),
                        calc_partition: calc_partition.clone(),
                        calc_capture_id: input.calc_capture_id.clone(),
                        input_domain: domain(),
                        input_table: input.input_table.clone(),
                        input_partition: calendar_partition.clone(),
                        input_capture_id: new_capture.to_string(),
                        recorded_at: now,
                    },
                )
                .await?;
                out.push(json!({"calc_partition": calc_partition.canonical(), "calc_table": input.calc_table, "status": "revalidated"}));
            }
        }
    }
    Ok(out)
}
