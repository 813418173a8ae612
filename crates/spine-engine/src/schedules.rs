//! Expected schedules at work: which partitions each active schedule expects, when each is due
//! (counted in trading time past the stored exchange holidays), and what is missed or late.
//!
//! Missed: due time passed, no capture → ERROR SCHEDULE. Late: the first capture arrived after
//! the due time → WARN FRESHNESS (and the missed anomaly, if any, is resolved). Both are recorded
//! once per partition and cause, so checking again never duplicates.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use spine_model::{AnomalyCause, Category, Domain, ExpectedState, PartitionKey, Severity, Stage};
use spine_rules::TradingCalendar;
use spine_rules::schedule::{ExpectedSchedule, parse_partition_values};
use spine_store::anomalies::{self, Recorded};
use spine_store::schedules::Schedule;
use spine_store::{Store, captures};

use crate::anomaly::{AnomalySummary, Detector};
use crate::{PipelineError, PipelineResult, RunContext, calendar};

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
    /// Present, late, missed or pending (not due yet).
    pub status: ExpectedState,
}

/// What a schedule check found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScheduleCheck {
    /// Every expected partition in the window.
    pub expected: Vec<ExpectedStatus>,
    /// Anomalies recorded by this check.
    pub anomalies: Vec<AnomalySummary>,
}

/// The trading calendar of the stored exchange holidays for the years around `from..=to`.
pub async fn trading_calendar(
    store: &Store,
    from: NaiveDate,
    to: NaiveDate,
) -> PipelineResult<TradingCalendar> {
    calendar::trading_calendar(store.conn(), from, to).await
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

/// The state of an expected partition first captured at `first` (if ever), due at `due`.
pub(crate) fn expected_state(
    first: Option<DateTime<Utc>>,
    due: Option<DateTime<Utc>>,
    run: &RunContext,
) -> ExpectedState {
    match (first, due) {
        (Some(at), Some(due)) if spine_rules::schedule::is_late(due, at) => ExpectedState::Late,
        (Some(_), _) => ExpectedState::Present,
        (None, Some(due)) if spine_rules::schedule::is_missed(due, run.now, false) => {
            ExpectedState::Missed
        }
        (None, _) => ExpectedState::Pending,
    }
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
            let status = expected_state(first, expected.due, run);
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
            let cause_of = |status: ExpectedState| match status {
                ExpectedState::Missed => Some((Category::Schedule, AnomalyCause::MISSED)),
                ExpectedState::Late => Some((Category::Freshness, AnomalyCause::LATE)),
                _ => None,
            };
            let already = match cause_of(status) {
                Some((category, cause_key)) => {
                    anomalies::ever_recorded(
                        store.conn(),
                        domain,
                        &expected.partition,
                        category,
                        cause_key.as_str(),
                    )
                    .await?
                }
                None => false,
            };
            // Anomalies of a schedule carry its domain and its pipeline, whatever the domain.
            let detector = Detector {
                domain,
                pipeline: &schedule.pipeline,
                run,
            };
            let action = match status {
                _ if !record => None,
                ExpectedState::Missed if already => None,
                other => Some(other),
            };
            let recorded = match (action, expected.due) {
                (Some(ExpectedState::Missed), Some(due)) => Some(
                    detector
                        .once(
                            store.conn(),
                            &expected.partition,
                            Some(Stage::Raw),
                            Severity::Error,
                            Category::Schedule,
                            &AnomalyCause::MISSED,
                            format!(
                                "{} was due at {} ({}) and has not arrived",
                                expected.partition,
                                due.to_rfc3339(),
                                schedule.pipeline
                            ),
                            details,
                            None,
                        )
                        .await?,
                ),
                (Some(ExpectedState::Late), Some(due)) => {
                    let at = first.expect("late implies a capture");
                    let hours = (at - due).num_minutes() as f64 / 60.0;
                    let late = if already {
                        None
                    } else {
                        Some(
                            detector
                                .once(
                                    store.conn(),
                                    &expected.partition,
                                    Some(Stage::Raw),
                                    Severity::Warn,
                                    Category::Freshness,
                                    &AnomalyCause::LATE,
                                    format!(
                                        "{} arrived {hours:.1} h late: captured {}, due {}",
                                        expected.partition,
                                        at.to_rfc3339(),
                                        due.to_rfc3339()
                                    ),
                                    details,
                                    history.first().map(|c| c.capture_id.as_str()),
                                )
                                .await?,
                        )
                    };
                    anomalies::resolve_open(
                        store.conn(),
                        domain,
                        &expected.partition,
                        Category::Schedule,
                        AnomalyCause::MISSED.as_str(),
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
                out.anomalies.push(AnomalySummary::opened(a));
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
