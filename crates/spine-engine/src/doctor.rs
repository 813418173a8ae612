//! `spine doctor`: what operations asks every morning — what is expected, what arrived, where
//! each partition stopped, what is open, whether each week can be used, and exactly what to run.
//!
//! Read-only: it evaluates readiness without recording it and checks schedules without
//! recording anomalies, so running it (or serving it over HTTP) never changes the audit trail.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use spine_model::{
    Domain, ExpectedState, PartitionKey, ReadinessStatus, ReadyFor, Severity, Stage, WeekEnding,
};
use spine_store::anomalies::{self, AnomalyExt, AnomalyFilter};
use spine_store::{captures, manifest};

use crate::domain::Remedy;
use crate::readiness::{Certification, evaluate_only};
use crate::{Engine, PipelineResult, RunContext, schedules};

/// The diagnosis of one domain.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The domain diagnosed.
    pub domain: String,
    /// When (the run's clock).
    pub checked_at: DateTime<Utc>,
    /// The most recent week whose every expected partition is due: the first verdict to read.
    pub latest_due_week: Option<NaiveDate>,
    /// That week's verdict in one line.
    pub headline: Option<String>,
    /// The weeks examined, most recent first.
    pub weeks: Vec<WeekDiagnosis>,
    /// Unresolved anomalies of the domain, grouped by severity, worst first.
    pub open_anomalies: Vec<SeverityGroup>,
    /// Runs of the domain that died without finishing (their heartbeat stopped).
    pub abandoned: Vec<AbandonedRun>,
    /// The domain's work queue: whether the system is running itself, and what it gave up on.
    pub work: WorkQueueState,
    /// Every remediation command, deduplicated, in the order to run them.
    pub remediation: Vec<String>,
    /// Whether anything blocks a use of any examined week.
    pub blocking: bool,
}

/// A domain's work queue as `doctor` reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkQueueState {
    /// Items per state (only states with items).
    pub by_state: BTreeMap<String, i64>,
    /// Items the worker gave up on (FAILED), with why: each needs a person.
    pub failed: Vec<FailedItem>,
    /// The most recent pass of any worker (the pass's clock), if a worker ever ran.
    pub last_pass_at: Option<DateTime<Utc>>,
    /// The worker that ran it.
    pub last_pass_by: Option<String>,
}

/// A FAILED work item.
#[derive(Debug, Clone, Serialize)]
pub struct FailedItem {
    /// The item id (for `spine work retry ID`).
    pub id: i64,
    /// Its partition.
    pub partition_key: String,
    /// FETCH or REVISION_CHECK.
    pub kind: String,
    /// Attempts made.
    pub attempts: i32,
    /// The last error.
    pub last_error: Option<String>,
}

/// One week's state.
#[derive(Debug, Clone, Serialize)]
pub struct WeekDiagnosis {
    /// The Friday ending the week.
    pub week_ending: NaiveDate,
    /// Whether every partition expected for the week is due (otherwise it is only partly due,
    /// and what is missing may simply not be published yet).
    pub fully_due: bool,
    /// Partitions the schedules expect.
    pub expected: Vec<String>,
    /// Partitions with a capture, and how far their latest capture got.
    pub present: Vec<PartitionState>,
    /// Expected partitions without a capture, or whose latest capture did not complete.
    pub missing: Vec<MissingPartition>,
    /// What the domain derives for the week and finds missing or out of date.
    pub derived: Vec<DerivedGap>,
    /// The readiness verdict per use.
    pub readiness: Vec<Certification>,
    /// READY, READY with warnings, or NOT READY (the strictest over the uses).
    pub summary: String,
}

/// A present partition.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionState {
    /// The partition.
    pub partition_key: String,
    /// Its latest capture.
    pub capture_id: String,
    /// When that capture was taken.
    pub captured_at: DateTime<Utc>,
    /// The furthest stage it reached.
    pub stage: Option<Stage>,
}

/// A partition that is not (fully) there.
#[derive(Debug, Clone, Serialize)]
pub struct MissingPartition {
    /// The partition.
    pub partition_key: String,
    /// Missed (past due, no capture), pending (not due yet) or incomplete (a capture stopped
    /// before its last stage).
    pub status: MissingStatus,
    /// The stage its latest capture stopped at, if any.
    pub stopped_at: Option<Stage>,
    /// When it was due.
    pub due: Option<DateTime<Utc>>,
    /// The command that fixes it.
    pub remedy: String,
}

/// A run whose process died without finishing it (kill -9, a crash, a lost machine): what it
/// wrote is committed stage by stage, and the same ingest again resumes it.
#[derive(Debug, Clone, Serialize)]
pub struct AbandonedRun {
    /// The execution.
    pub execution_id: String,
    /// Its pipeline.
    pub pipeline: String,
    /// Its partition, when it had one.
    pub partition_key: Option<String>,
    /// When it started (the run's clock).
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat (wall clock).
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// Something derived for a week from several partitions that is missing or out of date.
#[derive(Debug, Clone, Serialize)]
pub struct DerivedGap {
    /// What is wrong.
    pub problem: String,
    /// The command that fixes it.
    pub remedy: String,
}

/// Why an expected partition is not (fully) there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingStatus {
    /// Past its due time with no capture.
    Missed,
    /// Not due yet.
    Pending,
    /// Its latest capture stopped before the last stage.
    Incomplete,
}

impl MissingStatus {
    /// The printed spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            MissingStatus::Missed => "missed",
            MissingStatus::Pending => "pending",
            MissingStatus::Incomplete => "incomplete",
        }
    }
}

impl std::fmt::Display for MissingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The open anomalies of one severity.
#[derive(Debug, Clone, Serialize)]
pub struct SeverityGroup {
    /// The severity.
    pub severity: Severity,
    /// How many.
    pub count: usize,
    /// Which.
    pub anomalies: Vec<AnomalyLine>,
}

/// An open anomaly, briefly.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyLine {
    /// Its id (for `spine anomalies resolve`).
    pub id: i64,
    /// Its category.
    pub category: String,
    /// Its partition.
    pub partition_key: Option<String>,
    /// What it says.
    pub message: String,
}

/// The weeks worth examining, most recent first: every newer week that is only partly due
/// (FINRA publishes Tier 2 and OTC weeks after Tier 1, so the newest weeks are always partial),
/// then the `weeks` most recent *fully due* weeks — where a verdict can be wrong rather than
/// early. A week with nothing due and nothing captured is not examined. Returns the weeks and
/// the most recent fully due one.
async fn due_weeks(
    engine: &Engine,
    domain: &Domain,
    weeks: u32,
    run: &RunContext,
) -> PipelineResult<(Vec<(NaiveDate, bool)>, Option<NaiveDate>)> {
    let store = engine.store();
    let today = run.now.date_naive();
    let mut friday = WeekEnding::on_or_before(today).date();
    let earliest = schedules::earliest_week(store, domain).await?;
    let mut out = Vec::new();
    let mut fully_due = 0u32;
    let mut latest_due = None;
    // Look back at most two years; stop at the earliest capture when there is one.
    for _ in 0..105 {
        if fully_due >= weeks.max(1) || earliest.is_some_and(|e| friday < e) {
            break;
        }
        let check = schedules::inspect(store, domain, friday, friday, run).await?;
        let any_due = check
            .expected
            .iter()
            .any(|e| e.status != ExpectedState::Pending);
        let all_due = !check.expected.is_empty()
            && check
                .expected
                .iter()
                .all(|e| e.status != ExpectedState::Pending);
        let captured = !captures::latest_covered(store.conn(), domain, &PartitionKey::week(friday))
            .await?
            .is_empty();
        if all_due || (check.expected.is_empty() && captured) {
            fully_due += 1;
            latest_due.get_or_insert(friday);
            out.push((friday, true));
        } else if (any_due || captured) && fully_due == 0 {
            out.push((friday, false));
        }
        friday = friday - chrono::Days::new(7);
    }
    Ok((out, latest_due))
}

/// Diagnoses a domain over its `weeks` most recent fully due weeks (and the newer, partly due
/// ones).
pub async fn diagnose(
    engine: &Engine,
    domain: &Domain,
    weeks: u32,
    run: &RunContext,
) -> PipelineResult<DoctorReport> {
    let plugin = engine.domain(domain)?;
    let store = engine.store();
    let mut remediation: Vec<String> = Vec::new();
    let mut blocking = false;
    let open = anomalies::list(
        store.conn(),
        &AnomalyFilter {
            domain: Some(domain.clone()),
            unresolved_only: true,
            ..Default::default()
        },
    )
    .await?;
    let mut diagnoses = Vec::new();
    let (examined, latest_due_week) = due_weeks(engine, domain, weeks, run).await?;
    for (week, fully_due) in examined {
        let check = schedules::inspect(store, domain, week, week, run).await?;
        let mut present = Vec::new();
        let mut missing = Vec::new();
        for capture in
            captures::latest_covered(store.conn(), domain, &PartitionKey::week(week)).await?
        {
            let key = PartitionKey::parse(&capture.partition_key)?;
            let stages = manifest::stages(store.conn(), domain, &key).await?;
            let stage = manifest::furthest_stage(&stages, &capture.capture_id);
            let last = plugin.required_stages().last().copied();
            if stage < last {
                let business_rule = open.iter().any(|a| {
                    a.partition_key.as_deref() == Some(capture.partition_key.as_str())
                        && a.severity().is_ok_and(|s| s == Severity::Critical)
                });
                let remedy = plugin.remedy(
                    &key,
                    Remedy::Resume {
                        stopped_at: stage.unwrap_or(Stage::Raw),
                        business_rule,
                    },
                );
                missing.push(MissingPartition {
                    partition_key: capture.partition_key.clone(),
                    status: MissingStatus::Incomplete,
                    stopped_at: stage,
                    due: None,
                    remedy: remedy.clone(),
                });
                remediation.push(remedy);
            }
            present.push(PartitionState {
                partition_key: capture.partition_key,
                capture_id: capture.capture_id,
                captured_at: capture.captured_at,
                stage,
            });
        }
        for e in check
            .expected
            .iter()
            .filter(|e| e.first_captured_at.is_none())
        {
            let key = PartitionKey::parse(&e.partition_key)?;
            let pending = e.status == ExpectedState::Pending;
            let remedy = if pending {
                format!(
                    "wait: due {}",
                    e.due.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into())
                )
            } else {
                plugin.remedy(&key, Remedy::Ingest)
            };
            if !pending {
                remediation.push(remedy.clone());
            }
            missing.push(MissingPartition {
                partition_key: e.partition_key.clone(),
                status: if pending {
                    MissingStatus::Pending
                } else {
                    MissingStatus::Missed
                },
                stopped_at: None,
                due: e.due,
                remedy,
            });
        }
        // What the domain derives for the week from several partitions, and finds out of date.
        let mut derived = Vec::new();
        for (problem, remedy) in plugin.derived_gaps(engine, week).await? {
            remediation.push(remedy.clone());
            derived.push(DerivedGap { problem, remedy });
        }
        let mut readiness = Vec::new();
        for use_ in ReadyFor::ALL {
            let cert = evaluate_only(engine, domain, &PartitionKey::week(week), *use_, run).await?;
            readiness.push(cert);
        }
        let worst = readiness
            .iter()
            .map(|c| match c.status {
                ReadinessStatus::NotReady => 2,
                ReadinessStatus::ReadyWithWarnings => 1,
                ReadinessStatus::Ready => 0,
            })
            .max()
            .unwrap_or(2);
        // A week that is only waiting — for partitions not yet due, or for its preliminary
        // window to pass — is pending, not broken: FINRA publishes Tier 2 and OTC weeks after
        // Tier 1, so the newest weeks are always partial. Anything else that fails blocks.
        let pending: Vec<&MissingPartition> = missing
            .iter()
            .filter(|m| m.status == MissingStatus::Pending)
            .collect();
        let broken =
            missing.iter().any(|m| m.status != MissingStatus::Pending) || !derived.is_empty();
        let only_pending = worst == 2
            && !broken
            && readiness.iter().all(|c| {
                (c.criteria.all_partitions_present || !pending.is_empty())
                    && c.criteria.all_stages_complete
                    && c.criteria.no_critical_anomalies
                    && c.criteria.dependencies_current
            });
        if (worst == 2 && !only_pending) || !derived.is_empty() {
            blocking = true;
        }
        for cert in &readiness {
            if !cert.criteria.dependencies_current {
                remediation.push(format!("spine recompute {domain} --week-ending {week}"));
            }
            if !cert.criteria.age_exceeds_preliminary && cert.criteria.all_partitions_present {
                remediation.push(format!(
                    "wait for the preliminary window to pass, then: spine readiness {domain} --week-ending {week} --for {}",
                    cert.ready_for
                ));
            }
        }
        let summary = match worst {
            0 => "READY".to_string(),
            1 => "READY with warnings".to_string(),
            _ if only_pending && !pending.is_empty() => format!(
                "PENDING: {} partition(s) not due yet (next due {})",
                pending.len(),
                pending
                    .iter()
                    .filter_map(|m| m.due)
                    .min()
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_else(|| "-".into())
            ),
            _ if only_pending => "PENDING: inside the preliminary window".to_string(),
            _ => {
                let reasons: Vec<String> = readiness
                    .iter()
                    .filter(|c| !c.is_ready)
                    .map(|c| format!("{}: {}", c.ready_for, c.blocking_issues.len()))
                    .collect();
                format!("NOT READY ({} blocking issues)", reasons.join(", "))
            }
        };
        diagnoses.push(WeekDiagnosis {
            week_ending: week,
            fully_due,
            expected: check
                .expected
                .iter()
                .map(|e| e.partition_key.clone())
                .collect(),
            present,
            missing,
            derived,
            readiness,
            summary,
        });
    }
    let mut grouped: BTreeMap<std::cmp::Reverse<Severity>, Vec<AnomalyLine>> = BTreeMap::new();
    for a in &open {
        grouped
            .entry(std::cmp::Reverse(a.severity()?))
            .or_default()
            .push(AnomalyLine {
                id: a.id,
                category: a.category.clone(),
                partition_key: a.partition_key.clone(),
                message: a.message.clone(),
            });
    }
    let open_anomalies: Vec<SeverityGroup> = grouped
        .into_iter()
        .map(|(severity, anomalies)| SeverityGroup {
            severity: severity.0,
            count: anomalies.len(),
            anomalies,
        })
        .collect();
    // Runs that died: their partitions resume when the same ingest runs again.
    let abandoned_after = engine.liveness().abandoned_after_chrono();
    let wall_now = Utc::now();
    let mut abandoned = Vec::new();
    let dead: Vec<_> = spine_store::executions::list(
        store.conn(),
        &spine_store::executions::ExecutionFilter {
            statuses: vec![spine_model::ExecutionStatus::Running],
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .filter(|e| {
        e.domain == domain.as_str()
            && spine_store::executions::reported_status(e, abandoned_after, wall_now)
                == spine_model::ExecutionStatus::Abandoned
    })
    .collect();
    // A later run of the same partition that completed has resumed (or replaced) what the
    // dead one left: it stays ABANDONED in the history, but there is nothing left to do.
    let completed = match dead.iter().map(|e| e.started_at).min() {
        Some(since) => {
            spine_store::executions::list(
                store.conn(),
                &spine_store::executions::ExecutionFilter {
                    statuses: vec![spine_model::ExecutionStatus::Completed],
                    since: Some(since),
                    limit: None,
                },
            )
            .await?
        }
        None => Vec::new(),
    };
    for e in dead {
        let resolved = e.partition_key.is_some()
            && completed.iter().any(|c| {
                c.domain == e.domain
                    && c.partition_key == e.partition_key
                    && c.started_at >= e.started_at
            });
        if resolved {
            continue;
        }
        if let Some(key) = e
            .partition_key
            .as_deref()
            .and_then(|k| PartitionKey::parse(k).ok())
        {
            // The run's own (redacted) source when it recorded one: the same command again.
            let need = e
                .params_json
                .as_ref()
                .and_then(|p| p.get("source"))
                .and_then(serde_json::Value::as_str)
                .map_or(Remedy::Ingest, |s| Remedy::IngestFrom(s.to_string()));
            remediation.push(format!(
                "{}  # resumes what run {} left unfinished",
                plugin.remedy(&key, need),
                e.execution_id
            ));
        }
        abandoned.push(AbandonedRun {
            execution_id: e.execution_id,
            pipeline: e.pipeline,
            partition_key: e.partition_key,
            started_at: e.started_at,
            heartbeat_at: e.heartbeat_at,
        });
    }
    // What a detection knew would fix it (a missing calendar, a stale calc).
    for a in &open {
        if let Some(remedy) = a
            .details_json
            .as_ref()
            .and_then(|d| d.get("remedy"))
            .and_then(serde_json::Value::as_str)
        {
            remediation.push(remedy.to_string());
        }
    }
    if !open.is_empty() {
        remediation.push(format!(
            "spine anomalies list --domain {domain} --unresolved  # review; resolve with: spine anomalies resolve ID --note \"why\""
        ));
    }
    // What the worker gave up on needs a person.
    let work = work_queue_state(store, domain).await?;
    match work.failed.as_slice() {
        [] => {}
        [one] => remediation.push(format!(
            "spine work list --state FAILED --domain {domain}  # once the cause is fixed: spine work retry {}",
            one.id
        )),
        many => remediation.push(format!(
            "spine work list --state FAILED --domain {domain}  # {} items gave up; once the cause is fixed: spine work retry ID for each (first: {})",
            many.len(),
            many[0].id
        )),
    }
    let mut seen = std::collections::BTreeSet::new();
    remediation.retain(|r| seen.insert(r.clone()));
    let headline = latest_due_week.and_then(|w| {
        diagnoses
            .iter()
            .find(|d| d.week_ending == w)
            .map(|d| format!("latest fully due week {w}: {}", d.summary))
    });
    Ok(DoctorReport {
        domain: domain.to_string(),
        checked_at: run.now,
        latest_due_week,
        headline,
        weeks: diagnoses,
        open_anomalies,
        abandoned,
        work,
        remediation,
        blocking,
    })
}

/// The domain's work queue: counts by state, the FAILED items, the latest pass.
async fn work_queue_state(
    store: &spine_store::Store,
    domain: &Domain,
) -> PipelineResult<WorkQueueState> {
    let conn = store.conn();
    let mut state = WorkQueueState::default();
    for (d, s, n) in spine_store::work_items::counts(conn).await? {
        if d == domain.as_str() {
            state.by_state.insert(s, n);
        }
    }
    if state.by_state.contains_key("FAILED") {
        for item in spine_store::work_items::list(
            conn,
            &spine_store::work_items::WorkFilter {
                state: Some(spine_model::WorkItemState::Failed),
                domain: Some(domain.clone()),
                limit: Some(50),
            },
        )
        .await?
        {
            state.failed.push(FailedItem {
                id: item.id,
                partition_key: item.partition_key,
                kind: item.kind,
                attempts: item.attempt_count,
                last_error: item.last_error,
            });
        }
    }
    if let Some(latest) = spine_store::workers::list(conn)
        .await?
        .into_iter()
        .filter(|w| w.last_pass_at.is_some())
        .max_by_key(|w| w.last_pass_at)
    {
        state.last_pass_at = latest.last_pass_at;
        state.last_pass_by = Some(latest.worker_id);
    }
    Ok(state)
}
