//! Expected schedules at work: which partitions each active schedule expects, when each is due
//! (counted in trading time past the stored exchange holidays), and what is missed or late.
//!
//! Missed: due time passed, no capture → ERROR SCHEDULE. Late: the first capture arrived after
//! the due time → WARN FRESHNESS (and the missed anomaly, if any, is resolved). Both are recorded
//! once per partition and cause, so checking again never duplicates.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use spine_model::{Category, Domain, PartitionKey, Severity, Stage};
use spine_rules::schedule::{ExpectedSchedule, TradingCalendar, parse_partition_values};
use spine_store::anomalies::{self, Recorded};
use spine_store::schedules::Schedule;
use spine_store::{Store, captures};

use super::exchange_calendar::{EXCHANGE, latest_holidays};
use super::finra_otc::detect::{self, cause};
use super::{PipelineError, PipelineResult, RunContext};

/// One expected partition and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectedStatus {
    /// The schedule (its pipeline name) that expects it.
    pub schedule: String,
    /// The partition expected.
    pub partition_key: String,
    /// The business date it belongs to.
    pub business_date: NaiveDate,
    /// When it is due.
    pub due: Option<DateTime<Utc>>,
    /// When its first capture arrived.
    pub first_captured_at: Option<DateTime<Utc>>,
    /// `present`, `late`, `missed` or `pending` (not due yet).
    pub status: &'static str,
}

/// What a schedule check found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScheduleCheck {
    /// Every expected partition in the window.
    pub expected: Vec<ExpectedStatus>,
    /// Anomalies recorded (or found already open) by this check.
    pub anomalies: Vec<serde_json::Value>,
}

/// The trading calendar of the stored exchange holidays for the years around `from..=to`.
pub async fn trading_calendar(
    store: &Store,
    from: NaiveDate,
    to: NaiveDate,
) -> PipelineResult<TradingCalendar> {
    let mut closures = Vec::new();
    for year in from.year() - 1..=to.year() + 1 {
        if let Some(holidays) = latest_holidays(store.conn(), EXCHANGE, year).await? {
            closures.extend(holidays.into_iter().map(|h| h.date));
        }
    }
    Ok(TradingCalendar::new(closures))
}

/// Expands one stored schedule over a window of business dates.
pub fn expand(
    schedule: &Schedule,
    from: NaiveDate,
    to: NaiveDate,
    calendar: &TradingCalendar,
) -> PipelineResult<Vec<spine_rules::schedule::ExpectedPartition>> {
    let invalid = |e: spine_rules::schedule::ScheduleError| {
        PipelineError::Input(format!(
            "schedule {}/{}: {e}",
            schedule.domain, schedule.pipeline
        ))
    };
    let expected = ExpectedSchedule {
        schedule_type: schedule
            .schedule_type
            .parse()
            .map_err(|e: spine_model::VocabError| PipelineError::Input(e.to_string()))?,
        partition_template: schedule.partition_template.clone(),
        partition_values: parse_partition_values(schedule.partition_values.as_ref())
            .map_err(invalid)?,
        expected_delay_hours: schedule.expected_delay_hours.map(i64::from),
        preliminary_hours: schedule.preliminary_hours.map(i64::from),
    };
    expected.expected(from, to, calendar).map_err(invalid)
}

/// The first business date worth checking for a domain: its earliest captured week (data from
/// before Market Spine was watching is not "missed").
pub async fn earliest_week(store: &Store, domain: &Domain) -> PipelineResult<Option<NaiveDate>> {
    Ok(
        captures::latest_covered(store.conn(), domain, &PartitionKey::new())
            .await?
            .iter()
            .filter_map(|c| PartitionKey::parse(&c.partition_key).ok()?.week_ending())
            .min(),
    )
}

/// Checks every active schedule of `domain` for business dates in `from..=to`, recording missed
/// and late partitions.
pub async fn check(
    store: &Store,
    domain: &Domain,
    from: NaiveDate,
    to: NaiveDate,
    run: &RunContext,
) -> PipelineResult<ScheduleCheck> {
    check_with(store, domain, from, to, run, true).await
}

/// The same check without writing anything: what `spine doctor` and the read-only HTTP API use.
pub async fn inspect(
    store: &Store,
    domain: &Domain,
    from: NaiveDate,
    to: NaiveDate,
    run: &RunContext,
) -> PipelineResult<ScheduleCheck> {
    check_with(store, domain, from, to, run, false).await
}

async fn check_with(
    store: &Store,
    domain: &Domain,
    from: NaiveDate,
    to: NaiveDate,
    run: &RunContext,
    record: bool,
) -> PipelineResult<ScheduleCheck> {
    let calendar = trading_calendar(store, from, to).await?;
    let mut out = ScheduleCheck::default();
    for schedule in spine_store::schedules::list(store.conn(), Some(domain), true).await? {
        for expected in expand(&schedule, from, to, &calendar)? {
            let history = captures::history(store.conn(), domain, &expected.partition).await?;
            let first = history.first().map(|c| c.captured_at);
            let status = match (first, expected.due) {
                (Some(at), Some(due)) if spine_rules::schedule::is_late(due, at) => "late",
                (Some(_), _) => "present",
                (None, Some(due)) if spine_rules::schedule::is_missed(due, run.now, false) => {
                    "missed"
                }
                (None, _) => "pending",
            };
            let details = json!({
                "schedule": schedule.pipeline,
                "business_date": expected.business_date,
                "due": expected.due,
                "expected_delay_hours": schedule.expected_delay_hours,
                "checked_at": run.now,
                "first_captured_at": first,
            });
            // Missed and late are one-time facts: once recorded (even if an operator resolved
            // them since), a later check must not raise them again.
            let cause_of = |status: &str| match status {
                "missed" => Some((Category::Schedule, cause::MISSED)),
                "late" => Some((Category::Freshness, cause::LATE)),
                _ => None,
            };
            let already = match cause_of(status) {
                Some((category, cause_key)) => {
                    anomalies::ever_recorded(
                        store.conn(),
                        domain,
                        &expected.partition,
                        category,
                        cause_key,
                    )
                    .await?
                }
                None => false,
            };
            let action = if !record {
                "inspect"
            } else if already && status == "missed" {
                "known"
            } else {
                status
            };
            let recorded = match (action, expected.due) {
                ("missed", Some(due)) => Some(
                    detect::once(
                        store.conn(),
                        &expected.partition,
                        Some(Stage::Raw),
                        Severity::Error,
                        Category::Schedule,
                        cause::MISSED,
                        format!(
                            "{} was due at {} ({}) and has not arrived",
                            expected.partition,
                            due.to_rfc3339(),
                            schedule.pipeline
                        ),
                        details,
                        None,
                        run,
                    )
                    .await?,
                ),
                ("late", Some(due)) => {
                    let at = first.expect("late implies a capture");
                    let hours = (at - due).num_minutes() as f64 / 60.0;
                    let late = if already {
                        None
                    } else {
                        Some(
                            detect::once(
                                store.conn(),
                                &expected.partition,
                                Some(Stage::Raw),
                                Severity::Warn,
                                Category::Freshness,
                                cause::LATE,
                                format!(
                                    "{} arrived {hours:.1} h late: captured {}, due {}",
                                    expected.partition,
                                    at.to_rfc3339(),
                                    due.to_rfc3339()
                                ),
                                details,
                                history.first().map(|c| c.capture_id.as_str()),
                                run,
                            )
                            .await?,
                        )
                    };
                    anomalies::resolve_open(
                        store.conn(),
                        domain,
                        &expected.partition,
                        Category::Schedule,
                        cause::MISSED,
                        &format!(
                            "resolved automatically: arrived late at {}",
                            at.to_rfc3339()
                        ),
                        run.now,
                    )
                    .await?;
                    late
                }
                _ => None,
            };
            if let Some(Recorded::Created(a)) = &recorded {
                out.anomalies.push(detect::summary(a));
            }
            out.expected.push(ExpectedStatus {
                schedule: schedule.pipeline.clone(),
                partition_key: expected.partition.canonical(),
                business_date: expected.business_date,
                due: expected.due,
                first_captured_at: first,
                status,
            });
        }
    }
    Ok(out)
}
