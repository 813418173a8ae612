//! `GET /metrics`: the Prometheus text exposition format (0.0.4), written by hand.
//!
//! Three gauge families, enough to alert on what the readiness gate cares about:
//! open anomalies per domain and severity, current readiness verdicts per domain, use and
//! status, and the age of each partition's latest capture. The format is small and stable, so
//! a hand-written encoder with correct label escaping is cheaper than a metrics crate and keeps
//! the values computed from the store at scrape time (no process-local state to drift).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use spine_model::{Domain, PartitionKey, ReadinessStatus, Severity};
use spine_store::anomalies::{self, AnomalyFilter};
use spine_store::{Store, StoreResult, captures, overview, readiness, schedules};

/// How many recent weeks `/metrics` writes one series per partition for (`--metrics-weeks`,
/// `SPINE_METRICS_WEEKS`): a quarter. Older partitions are summed up per domain, so the number
/// of series stays bounded however long the history.
pub const DEFAULT_WINDOW_WEEKS: u32 = 13;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value: backslash, double quote and line feed, as the format requires.
/// Partition keys are JSON, so their quotes must be escaped or the line would not parse.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, help: &str) -> Family<'a> {
        Family::of_type(out, name, help, "gauge")
    }

    /// A counter: a total that only grows (Prometheus takes its rate).
    fn counter(out: &'a mut String, name: &'static str, help: &str) -> Family<'a> {
        Family::of_type(out, name, help, "counter")
    }

    fn of_type(out: &'a mut String, name: &'static str, help: &str, kind: &str) -> Family<'a> {
        // HELP text escapes backslash and line feed only.
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{} {value}", self.name);
        } else {
            let _ = writeln!(self.out, "{}{{{}}} {value}", self.name, labels.join(","));
        }
    }
}

/// Every domain the database knows of: captured, with anomalies or verdicts, or scheduled.
pub(super) async fn known_domains(store: &Store) -> StoreResult<BTreeSet<String>> {
    let conn = store.conn();
    let mut domains: BTreeSet<String> = overview::domains(conn)
        .await?
        .into_iter()
        .map(|d| d.domain)
        .collect();
    domains.extend(
        schedules::list(conn, None, false)
            .await?
            .into_iter()
            .map(|s| s.domain),
    );
    Ok(domains)
}

/// Renders every metric from the store's current state at `now`; per-partition series only for
/// the partitions of the `window_weeks` most recent weeks.
pub async fn render(store: &Store, now: DateTime<Utc>, window_weeks: u32) -> StoreResult<String> {
    let conn = store.conn();
    let domains = known_domains(store).await?;

    let mut out = String::new();

    // Zero samples are written for every known (domain, severity): a series that vanishes when
    // the last anomaly is resolved would make "went to zero" look like "stopped reporting".
    let mut open: BTreeMap<(String, String), u64> = domains
        .iter()
        .flat_map(|d| {
            Severity::ALL
                .iter()
                .map(move |s| ((d.clone(), s.as_str().to_string()), 0))
        })
        .collect();
    let unresolved = AnomalyFilter {
        unresolved_only: true,
        ..Default::default()
    };
    for a in anomalies::list(conn, &unresolved).await? {
        *open.entry((a.domain, a.severity)).or_default() += 1;
    }
    let mut family = Family::new(
        &mut out,
        "spine_open_anomalies",
        "Unresolved anomalies per domain and severity.",
    );
    for ((domain, severity), count) in &open {
        family.sample(&[("domain", domain), ("severity", severity)], *count as f64);
    }

    // Current verdicts (one per domain, partition and use), counted per status. Every status
    // of a (domain, use) that has verdicts is written, zeros included.
    let mut verdicts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let current = readiness::list_current(conn, None).await?;
    let uses: BTreeSet<(String, String)> = current
        .iter()
        .map(|r| (r.domain.clone(), r.ready_for.clone()))
        .collect();
    for (domain, ready_for) in &uses {
        for status in ReadinessStatus::ALL {
            verdicts.insert(
                (
                    domain.clone(),
                    ready_for.clone(),
                    status.as_str().to_string(),
                ),
                0,
            );
        }
    }
    for r in current {
        *verdicts
            .entry((r.domain, r.ready_for, r.status))
            .or_default() += 1;
    }
    let mut family = Family::new(
        &mut out,
        "spine_readiness",
        "Current readiness verdicts (partitions) per domain, use and status, from core_data_readiness.",
    );
    for ((domain, ready_for, status), count) in &verdicts {
        family.sample(
            &[
                ("domain", domain),
                ("ready_for", ready_for),
                ("status", status),
            ],
            *count as f64,
        );
    }

    // Runs per domain and status; RUNNING ones whose heartbeat stopped are counted ABANDONED.
    let mut runs: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (domain, status, n) in spine_store::executions::counts(conn).await? {
        *runs.entry((domain, status)).or_default() += n;
    }
    let abandoned_after = spine_engine::capture::Liveness::from_env().abandoned_after_chrono();
    let wall_now = Utc::now();
    let running = spine_store::executions::list(
        conn,
        &spine_store::executions::ExecutionFilter {
            statuses: vec![spine_model::ExecutionStatus::Running],
            ..Default::default()
        },
    )
    .await?;
    for e in running {
        if spine_store::executions::reported_status(&e, abandoned_after, wall_now)
            == spine_model::ExecutionStatus::Abandoned
        {
            *runs
                .entry((e.domain.clone(), "RUNNING".to_string()))
                .or_default() -= 1;
            *runs.entry((e.domain, "ABANDONED".to_string())).or_default() += 1;
        }
    }
    let mut family = Family::new(
        &mut out,
        "spine_executions",
        "Pipeline runs per domain and status; ABANDONED are RUNNING runs whose heartbeat stopped.",
    );
    for ((domain, status), n) in &runs {
        family.sample(&[("domain", domain), ("status", status)], *n as f64);
    }

    // One series per recent partition; the older ones summed up per domain.
    let since = (now - chrono::Duration::weeks(i64::from(window_weeks))).date_naive();
    let mut recent: Vec<(String, String, f64)> = Vec::new();
    let mut older: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for name in &domains {
        let Ok(domain) = Domain::parse(name) else {
            continue;
        };
        older.insert(name.clone(), (0, 0.0));
        for c in captures::latest_covered(conn, &domain, &PartitionKey::new()).await? {
            let age = (now - c.captured_at).num_milliseconds() as f64 / 1000.0;
            let date = PartitionKey::parse(&c.partition_key)
                .ok()
                .and_then(|k| k.week_ending())
                .unwrap_or_else(|| c.captured_at.date_naive());
            if date >= since {
                recent.push((name.clone(), c.partition_key, age));
            } else {
                let entry = older.entry(name.clone()).or_default();
                entry.0 += 1;
                entry.1 = entry.1.max(age);
            }
        }
    }
    let mut family = Family::new(
        &mut out,
        "spine_latest_capture_age_seconds",
        &format!(
            "Seconds between the server clock and the latest capture of each partition of the \
             last {window_weeks} weeks (older partitions: spine_older_partitions)."
        ),
    );
    for (name, key, age) in &recent {
        family.sample(&[("domain", name), ("partition_key", key)], *age);
    }
    let mut family = Family::new(
        &mut out,
        "spine_older_partitions",
        "Captured partitions per domain older than the per-partition window of /metrics.",
    );
    for (name, (count, _)) in &older {
        family.sample(&[("domain", name)], *count as f64);
    }
    let mut family = Family::new(
        &mut out,
        "spine_older_partitions_max_capture_age_seconds",
        "The oldest latest-capture age among those older partitions, per domain (0 when none).",
    );
    for (name, (_, age)) in &older {
        family.sample(&[("domain", name)], *age);
    }
    render_worker(&mut out, store).await?;

    // Notifications: deliveries per state (every state written, zeros included), and the
    // deliveries given up on, which only grows (FAILED deliveries are kept as the log).
    let mut states: BTreeMap<String, i64> = spine_model::DeliveryState::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for (state, n) in spine_store::deliveries::counts(conn).await? {
        *states.entry(state).or_default() += n;
    }
    let failed = states
        .get(spine_model::DeliveryState::Failed.as_str())
        .copied()
        .unwrap_or(0);
    let mut family = Family::new(
        &mut out,
        "spine_notification_deliveries",
        "Notification deliveries per state (PENDING, DELIVERED, FAILED), from core_deliveries.",
    );
    for (state, n) in &states {
        family.sample(&[("state", state)], *n as f64);
    }
    let mut family = Family::counter(
        &mut out,
        "spine_notification_failures_total",
        "Notification deliveries given up on (retries exhausted, refused, or a secret unset).",
    );
    family.sample(&[], failed as f64);
    Ok(out)
}

/// The worker's families: the queue by domain and state, attempts by outcome, lease takeovers,
/// and each worker seen in the last day (older worker ids are left out: a worker id per process
/// would otherwise grow the label set without bound). Each is a fixed number of grouped queries.
async fn render_worker(out: &mut String, store: &Store) -> StoreResult<()> {
    let conn = store.conn();
    let mut family = Family::new(
        out,
        "spine_work_items",
        "Work items per domain and state (PENDING, RUNNING, RETRY_WAIT, COMPLETE, FAILED, CANCELLED).",
    );
    for (domain, state, n) in spine_store::work_items::counts(conn).await? {
        family.sample(&[("domain", &domain), ("state", &state)], n as f64);
    }
    let totals = spine_store::work_attempts::totals(conn).await?;
    let mut family = Family::counter(
        out,
        "spine_work_attempts_total",
        "Attempts at work items, by how they ended (INGESTED, NOT_MODIFIED, RETRY, FAILED, RELEASED, RUNNING).",
    );
    for (outcome, n) in &totals.by_outcome {
        family.sample(&[("outcome", outcome)], *n as f64);
    }
    let mut family = Family::counter(
        out,
        "spine_work_lease_takeovers_total",
        "Attempts that took over an item whose worker's lease had expired (a worker died or hung).",
    );
    family.sample(&[], totals.takeovers as f64);
    let wall_now = Utc::now();
    let recent: Vec<_> = spine_store::workers::list(conn)
        .await?
        .into_iter()
        .filter(|w| wall_now - w.last_seen_at <= chrono::Duration::days(1))
        .collect();
    let mut family = Family::new(
        out,
        "spine_worker_last_seen_seconds",
        "Seconds since each worker seen in the last day last showed signs of life (wall clock).",
    );
    for w in &recent {
        let age = (wall_now - w.last_seen_at).num_milliseconds() as f64 / 1000.0;
        family.sample(&[("worker", &w.worker_id)], age);
    }
    let mut family = Family::counter(
        out,
        "spine_worker_passes_total",
        "Passes each worker seen in the last day has run.",
    );
    for w in &recent {
        family.sample(&[("worker", &w.worker_id)], w.passes as f64);
    }
    let mut family = Family::new(
        out,
        "spine_worker_last_pass_timestamp_seconds",
        "The clock (Unix seconds) of each recent worker's last pass.",
    );
    for w in &recent {
        if let Some(at) = w.last_pass_at {
            family.sample(&[("worker", &w.worker_id)], at.timestamp() as f64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::escape_label;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(
            escape_label(r#"{"tier":"OTC","week_ending":"2025-12-19"}"#),
            r#"{\"tier\":\"OTC\",\"week_ending\":\"2025-12-19\"}"#
        );
        assert_eq!(escape_label("a\\b\nc"), "a\\\\b\\nc");
        assert_eq!(escape_label("plain"), "plain");
    }
}
