//! `spine report anomaly-trends|readiness-audit`: the compliance reports.
//!
//! Both are read-only views over what the system already recorded — detected and resolved
//! anomalies, and the append-only readiness history — so a report can be re-run later with the
//! same `--now` and give the same answer.

use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use spine_model::Domain;
use spine_store::Store;
use spine_store::readiness::{self, AuditEvent};
use spine_store::reports::{self, AnomalyTrend, MonthWindow};

use crate::cli::ReportCommand;
use crate::commands::Context;
use crate::output::{Format, Table, emit_sections};

/// Runs a `spine report` command.
pub async fn run(ctx: &Context, cmd: ReportCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ReportCommand::AnomalyTrends { months } => {
            // Validate before touching the database: a bad --months needs no connection.
            let window = MonthWindow::ending_at(ctx.clock.now(), months)?;
            let store = ctx.open_store().await?;
            TrendsReport::load(&store, window)
                .await?
                .emit(ctx.format())?;
        }
        ReportCommand::ReadinessAudit { domain, from, to } => {
            if let (Some(from), Some(to)) = (from, to)
                && from > to
            {
                return Err(crate::errors::usage(format!(
                    "--from {from} is after --to {to}: swap them"
                )));
            }
            let store = ctx.open_store().await?;
            AuditReport::load(&store, domain, from, to)
                .await?
                .emit(ctx.format())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `spine report anomaly-trends`: per month, severity and category, how many anomalies were
/// detected, where, how many are resolved and how fast — what compliance reviews monthly.
#[derive(Debug, Clone)]
pub struct TrendsReport {
    /// The months covered and the "as of" instant.
    pub window: MonthWindow,
    /// One line per (month, severity, category) with anomalies.
    pub trends: Vec<AnomalyTrend>,
}

impl TrendsReport {
    /// Reads the anomalies of the window and groups them.
    pub async fn load(store: &Store, window: MonthWindow) -> anyhow::Result<TrendsReport> {
        let trends = reports::anomaly_trends(store.conn(), &window).await?;
        Ok(TrendsReport { window, trends })
    }

    /// The JSON form: the window, then the lines.
    pub fn to_json(&self) -> Value {
        json!({
            "as_of": self.window.as_of,
            "months": self.window.months,
            "from_month": self.window.first_month(),
            "to_month": self.window.last_month(),
            "trends": self.trends.iter().map(trend_json).collect::<Vec<_>>(),
        })
    }

    /// Prints it: a titled table for people, JSON, or the same columns as CSV.
    pub fn emit(&self, format: Format) -> anyhow::Result<()> {
        let title = format!(
            "Anomalies detected {} to {} (as of {})",
            self.window.first_month(),
            self.window.last_month(),
            timestamp(self.window.as_of)
        );
        let people = trends_table(&self.trends, |m| {
            m.map(|d| format!("{d:.2}")).unwrap_or_else(|| "-".into())
        });
        let csv = trends_table(&self.trends, |m| {
            m.map(|d| d.to_string()).unwrap_or_default()
        });
        emit_sections(format, &[(title, people)], &csv, &self.to_json())
    }
}

/// One trend line as JSON; `mean_days_to_resolution` is null when nothing was resolved.
fn trend_json(t: &AnomalyTrend) -> Value {
    json!({
        "month": t.month,
        "severity": t.severity,
        "category": t.category,
        "count": t.count,
        "domains_affected": t.domains.len(),
        "domains": t.domains,
        "resolved": t.resolved,
        "mean_days_to_resolution": t.mean_days_to_resolution,
    })
}

fn trends_table(trends: &[AnomalyTrend], mean: impl Fn(Option<f64>) -> String) -> Table {
    let mut t = Table::new([
        "month",
        "severity",
        "category",
        "count",
        "domains_affected",
        "resolved",
        "mean_days_to_resolution",
        "domains",
    ]);
    for tr in trends {
        t.push([
            tr.month.clone(),
            tr.severity.to_string(),
            tr.category.to_string(),
            tr.count.to_string(),
            tr.domains.len().to_string(),
            tr.resolved.to_string(),
            mean(tr.mean_days_to_resolution),
            tr.domains.join(" "),
        ]);
    }
    t
}

/// `spine report readiness-audit`: every readiness evaluation of a domain from the append-only
/// history — the answer to "prove when it was certified, and on which data".
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// The domain.
    pub domain: Domain,
    /// First day (inclusive, UTC), if bounded.
    pub from: Option<NaiveDate>,
    /// Last day (inclusive, UTC), if bounded.
    pub to: Option<NaiveDate>,
    /// The evaluations, oldest first (by their as-of clock), each with its certification's
    /// signer.
    pub events: Vec<AuditEvent>,
}

impl AuditReport {
    /// Reads the history of `domain` between `from` and `to`.
    pub async fn load(
        store: &Store,
        domain: Domain,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> anyhow::Result<AuditReport> {
        let events = readiness::audit_trail(store.conn(), &domain, from, to).await?;
        Ok(AuditReport {
            domain,
            from,
            to,
            events,
        })
    }

    /// The JSON form: the scope, then every event.
    pub fn to_json(&self) -> Value {
        json!({
            "domain": self.domain,
            "from": self.from,
            "to": self.to,
            "events": self.events.iter().map(event_json).collect::<Vec<_>>(),
        })
    }

    /// Prints it: an aligned table with compact captures for people; JSON; or CSV with every
    /// field in full.
    pub fn emit(&self, format: Format) -> anyhow::Result<()> {
        let (domain, from, to, events) = (&self.domain, self.from, self.to, &self.events);
        let mut people = Table::new([
            "evaluated_at",
            "recorded_at",
            "partition",
            "ready_for",
            "status",
            "ready",
            "present",
            "stages",
            "anomalies",
            "deps",
            "aged",
            "certified_at",
            "certified_by",
            "evaluated_by",
            "captures",
            "blocking",
        ]);
        let mark = |ok: bool| if ok { "yes" } else { "NO" }.to_string();
        for AuditEvent {
            event: e,
            certified_by,
        } in events
        {
            let blocking = strings(&e.blocking_issues);
            people.push([
                timestamp(e.evaluated_at),
                if e.backdated {
                    format!("{} (backdated)", timestamp(e.recorded_at))
                } else {
                    timestamp(e.recorded_at)
                },
                e.partition_key.clone(),
                e.ready_for.clone(),
                e.status.clone(),
                mark(e.is_ready),
                mark(e.all_partitions_present),
                mark(e.all_stages_complete),
                mark(e.no_critical_anomalies),
                mark(e.dependencies_current),
                mark(e.age_exceeds_preliminary),
                e.certified_at.map(timestamp).unwrap_or_else(|| "-".into()),
                certified_by.clone().unwrap_or_else(|| "-".into()),
                e.evaluated_by.clone().unwrap_or_else(|| "-".into()),
                compact_captures(&strings(&e.captures_judged)),
                if blocking.is_empty() {
                    "-".into()
                } else {
                    blocking.join("; ")
                },
            ]);
        }
        let mut csv = Table::new([
            "evaluated_at",
            "recorded_at",
            "backdated",
            "domain",
            "partition_key",
            "ready_for",
            "status",
            "is_ready",
            "all_partitions_present",
            "all_stages_complete",
            "no_critical_anomalies",
            "dependencies_current",
            "age_exceeds_preliminary",
            "blocking_issues",
            "captures_judged",
            "certified_at",
            "certified_by",
            "evaluated_by",
        ]);
        for AuditEvent {
            event: e,
            certified_by,
        } in events
        {
            csv.push([
                e.evaluated_at.to_rfc3339(),
                e.recorded_at.to_rfc3339(),
                e.backdated.to_string(),
                e.domain.clone(),
                e.partition_key.clone(),
                e.ready_for.clone(),
                e.status.clone(),
                e.is_ready.to_string(),
                e.all_partitions_present.to_string(),
                e.all_stages_complete.to_string(),
                e.no_critical_anomalies.to_string(),
                e.dependencies_current.to_string(),
                e.age_exceeds_preliminary.to_string(),
                strings(&e.blocking_issues).join("; "),
                strings(&e.captures_judged).join(" "),
                e.certified_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                certified_by.clone().unwrap_or_default(),
                e.evaluated_by.clone().unwrap_or_default(),
            ]);
        }
        let span = match (from, to) {
            (None, None) => "all time".to_string(),
            (from, to) => format!(
                "{} to {}",
                from.map_or("the beginning".to_string(), |d| d.to_string()),
                to.map_or("now".to_string(), |d| d.to_string())
            ),
        };
        let title = format!(
            "Readiness evaluations of {domain}, {span} ({}){}",
            events.len(),
            if events.is_empty() {
                format!(" — certify with `spine readiness {domain} --week-ending <FRIDAY>`")
            } else {
                String::new()
            }
        );
        emit_sections(format, &[(title, people)], &csv, &self.to_json())
    }
}

/// One audit event as JSON: both clocks (`evaluated_at`, the as-of clock the evaluation ran on;
/// `recorded_at`, the wall clock it was written at) and whether it was backdated, the criteria
/// as one object (the same field names as `spine readiness`), the stored lists as arrays, and
/// the certification with its signer (who issued it, not necessarily this event's evaluator).
fn event_json(a: &AuditEvent) -> Value {
    let e = &a.event;
    json!({
        "id": e.id,
        "evaluated_at": e.evaluated_at,
        "recorded_at": e.recorded_at,
        "backdated": e.backdated,
        "domain": e.domain,
        "partition_key": e.partition_key,
        "ready_for": e.ready_for,
        "status": e.status,
        "is_ready": e.is_ready,
        "criteria": {
            "all_partitions_present": e.all_partitions_present,
            "all_stages_complete": e.all_stages_complete,
            "no_critical_anomalies": e.no_critical_anomalies,
            "dependencies_current": e.dependencies_current,
            "age_exceeds_preliminary": e.age_exceeds_preliminary,
        },
        "blocking_issues": e.blocking_issues,
        "captures_judged": e.captures_judged,
        "certified_at": e.certified_at,
        "certified_by": a.certified_by,
        "evaluated_by": e.evaluated_by,
    })
}

/// The strings of a stored JSON array (anything else reads as empty: the columns are written
/// by the store as arrays of strings).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Capture ids shortened for a table cell: the count, then the first 8 hex digits of each id
/// (enough to tell them apart by eye; JSON and CSV carry the full ids).
pub fn compact_captures(ids: &[String]) -> String {
    if ids.is_empty() {
        return "-".into();
    }
    let short: Vec<&str> = ids
        .iter()
        .map(|id| {
            let hex = id.strip_prefix("cap_").unwrap_or(id);
            hex.get(..8).unwrap_or(hex)
        })
        .collect();
    format!("{}: {}", ids.len(), short.join(","))
}

/// A timestamp for a table cell: UTC to the second.
fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_are_shortened_but_counted() {
        let ids = [
            "cap_0123456789abcdef01234567".to_string(),
            "cap_fedcba9876543210fedcba98".to_string(),
        ];
        assert_eq!(compact_captures(&ids), "2: 01234567,fedcba98");
        assert_eq!(compact_captures(&[]), "-");
        assert_eq!(compact_captures(&["x".to_string()]), "1: x");
    }
}
