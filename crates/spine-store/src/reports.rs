//! Read models for the operations and compliance reports (`spine deps impact`, `spine report`).
//!
//! The reports need a few narrow queries the table-family modules do not offer: the recorded
//! inputs of one calc table (to find partitions computed from a superseded upstream capture) and
//! the anomalies detected in a time window (for monthly trends). Grouping and averaging are done
//! in Rust over those rows, not in SQL: date truncation and JSON functions differ between SQLite
//! and PostgreSQL, and the row counts involved (anomalies of a year, inputs of one table) are
//! small.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use spine_model::entities::{core_anomalies, core_calc_inputs};
use spine_model::{Category, Domain, Severity};

use crate::anomalies::{Anomaly, AnomalyExt};
use crate::lineage::CalcInput;
use crate::{StoreError, StoreResult};

/// Every recorded input of one calc table, over all its partitions and captures, ordered by
/// partition then capture: what `deps impact` compares against the latest upstream captures.
pub async fn calc_inputs_of_table<C: ConnectionTrait>(
    conn: &C,
    calc_domain: &Domain,
    calc_table: &str,
) -> StoreResult<Vec<CalcInput>> {
    use core_calc_inputs::Column;
    Ok(core_calc_inputs::Entity::find()
        .filter(Column::CalcDomain.eq(calc_domain.as_str()))
        .filter(Column::CalcTable.eq(calc_table))
        .order_by_asc(Column::CalcPartitionKey)
        .order_by_asc(Column::CalcCaptureId)
        .order_by_asc(Column::InputDomain)
        .order_by_asc(Column::InputPartitionKey)
        .all(conn)
        .await?)
}

/// Anomalies detected in `[from, to]` (both inclusive), oldest first, across all domains.
pub async fn anomalies_detected_between<C: ConnectionTrait>(
    conn: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<Vec<Anomaly>> {
    use core_anomalies::Column;
    Ok(core_anomalies::Entity::find()
        .filter(Column::DetectedAt.gte(from))
        .filter(Column::DetectedAt.lte(to))
        .order_by_asc(Column::DetectedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// The calendar months a trend report covers: `months` months ending with the month of `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MonthWindow {
    /// The first day of the first month covered.
    pub first_day: NaiveDate,
    /// The report's "as of" instant: anomalies detected or resolved later are not counted, so
    /// a report re-run with the same clock gives the same numbers.
    pub as_of: DateTime<Utc>,
    /// How many months are covered.
    pub months: u32,
}

impl MonthWindow {
    /// The window of `months` months up to and including the month of `now`. At least one month:
    /// a report over no time is a usage mistake worth saying so.
    pub fn ending_at(now: DateTime<Utc>, months: u32) -> StoreResult<MonthWindow> {
        if months == 0 {
            return Err(StoreError::Invalid(
                "a trend report needs at least one month (use --months 1 or more)".to_string(),
            ));
        }
        let this_month = now.date_naive().with_day(1).expect("day 1 exists");
        let first_day = this_month
            .checked_sub_months(Months::new(months - 1))
            .ok_or_else(|| {
                StoreError::Invalid(format!("{months} months back from {now} is out of range"))
            })?;
        Ok(MonthWindow {
            first_day,
            as_of: now,
            months,
        })
    }

    /// The first instant covered (midnight UTC of the first day).
    pub fn start(&self) -> DateTime<Utc> {
        self.first_day.and_time(NaiveTime::MIN).and_utc()
    }

    /// `YYYY-MM` of the first month covered.
    pub fn first_month(&self) -> String {
        month_label(self.first_day)
    }

    /// `YYYY-MM` of the last month covered (the month of the clock).
    pub fn last_month(&self) -> String {
        month_label(self.as_of.date_naive())
    }
}

fn month_label(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// One line of the anomaly trend report: the anomalies of one month, severity and category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyTrend {
    /// `YYYY-MM` of `detected_at` (UTC).
    pub month: String,
    /// The severity.
    pub severity: Severity,
    /// The category.
    pub category: Category,
    /// How many anomalies were detected.
    pub count: u64,
    /// The distinct domains they were detected in, sorted.
    pub domains: Vec<String>,
    /// How many of them are resolved (as of the report's clock).
    pub resolved: u64,
    /// Mean days from detection to resolution over the resolved ones; None when none is.
    pub mean_days_to_resolution: Option<f64>,
}

/// Monthly anomaly trends over `window`: one line per (month, severity, category) that had any
/// anomaly, months ascending, worst severity first, then category.
pub async fn anomaly_trends<C: ConnectionTrait>(
    conn: &C,
    window: &MonthWindow,
) -> StoreResult<Vec<AnomalyTrend>> {
    let rows = anomalies_detected_between(conn, window.start(), window.as_of).await?;
    aggregate_anomaly_trends(&rows, window.as_of)
}

/// The grouping behind [`anomaly_trends`], separate so it can be checked without a database.
/// A resolution after `as_of` does not count yet: the report is what was known at that time.
pub fn aggregate_anomaly_trends(
    rows: &[Anomaly],
    as_of: DateTime<Utc>,
) -> StoreResult<Vec<AnomalyTrend>> {
    #[derive(Default)]
    struct Acc {
        count: u64,
        domains: BTreeSet<String>,
        resolved: u64,
        resolution_seconds: i64,
    }
    // Severity sorts worst-first through `Reverse`, categories by their wire name.
    let mut groups: BTreeMap<(String, std::cmp::Reverse<Severity>, &'static str), (Category, Acc)> =
        BTreeMap::new();
    for a in rows {
        let severity = a.severity()?;
        let category = a.category()?;
        let key = (
            month_label(a.detected_at.date_naive()),
            std::cmp::Reverse(severity),
            category.as_str(),
        );
        let (_, acc) = groups
            .entry(key)
            .or_insert_with(|| (category, Acc::default()));
        acc.count += 1;
        acc.domains.insert(a.domain.clone());
        if let Some(resolved_at) = a.resolved_at.filter(|at| *at <= as_of) {
            acc.resolved += 1;
            acc.resolution_seconds += (resolved_at - a.detected_at).num_seconds().max(0);
        }
    }
    Ok(groups
        .into_iter()
        .map(|((month, severity, _), (category, acc))| AnomalyTrend {
            month,
            severity: severity.0,
            category,
            count: acc.count,
            domains: acc.domains.into_iter().collect(),
            resolved: acc.resolved,
            mean_days_to_resolution: (acc.resolved > 0)
                .then(|| acc.resolution_seconds as f64 / 86_400.0 / acc.resolved as f64),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn anomaly(
        id: i64,
        domain: &str,
        severity: &str,
        detected: DateTime<Utc>,
        resolved: Option<DateTime<Utc>>,
    ) -> Anomaly {
        Anomaly {
            id,
            domain: domain.to_string(),
            pipeline: None,
            partition_key: None,
            stage: None,
            severity: severity.to_string(),
            category: "SCHEDULE".to_string(),
            message: String::new(),
            details_json: None,
            affected_records: None,
            sample_records: None,
            execution_id: None,
            batch_id: None,
            capture_id: None,
            detected_at: detected,
            resolved_at: resolved,
            resolution_note: None,
            created_at: detected,
            cause: None,
            resolved_by: None,
        }
    }

    #[test]
    fn trends_group_by_month_severity_and_category_and_average_resolution() {
        let t = |m, d, h| Utc.with_ymd_and_hms(2025, m, d, h, 0, 0).unwrap();
        let as_of = t(12, 31, 0);
        let rows = [
            anomaly(1, "a.b", "WARN", t(11, 1, 0), Some(t(11, 2, 0))),
            anomaly(2, "c.d", "WARN", t(11, 3, 0), Some(t(11, 6, 0))),
            anomaly(3, "a.b", "WARN", t(11, 4, 0), None),
            anomaly(4, "a.b", "CRITICAL", t(11, 5, 0), None),
            // Resolved after the report's clock: not resolved yet as far as the report knows.
            anomaly(5, "a.b", "WARN", t(12, 1, 0), Some(t(12, 31, 12))),
        ];
        let trends = aggregate_anomaly_trends(&rows, as_of).unwrap();
        assert_eq!(trends.len(), 3);
        assert_eq!(
            (trends[0].month.as_str(), trends[0].severity),
            ("2025-11", Severity::Critical)
        );
        let warn = &trends[1];
        assert_eq!((warn.count, warn.resolved), (3, 2));
        assert_eq!(warn.domains, ["a.b", "c.d"]);
        assert_eq!(warn.mean_days_to_resolution, Some(2.0));
        assert_eq!(trends[0].mean_days_to_resolution, None);
        assert_eq!(
            (trends[2].month.as_str(), trends[2].resolved),
            ("2025-12", 0)
        );
    }

    #[test]
    fn the_window_ends_with_the_clock_month() {
        let now = Utc.with_ymd_and_hms(2026, 1, 20, 9, 0, 0).unwrap();
        let w = MonthWindow::ending_at(now, 12).unwrap();
        assert_eq!(w.first_day, NaiveDate::from_ymd_opt(2025, 2, 1).unwrap());
        assert_eq!(
            (w.first_month().as_str(), w.last_month().as_str()),
            ("2025-02", "2026-01")
        );
        let one = MonthWindow::ending_at(now, 1).unwrap();
        assert_eq!(one.first_month(), "2026-01");
        assert!(MonthWindow::ending_at(now, 0).is_err());
    }
}
