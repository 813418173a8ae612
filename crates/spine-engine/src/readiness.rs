//! Readiness certification: gathers the five criteria's facts from the store, lets the pure
//! policy (`spine_rules::readiness`) decide, and records the verdict with its audit trail.

use chrono::NaiveDate;
use serde::Serialize;
use spine_model::{Category, Domain, PartitionKey, ReadinessCriteria, ReadinessStatus, ReadyFor};
use spine_rules::readiness::{
    AnomalyFact, DependencyFact, PartitionFacts, ReadinessFacts, ReadinessVerdict, evaluate,
    related,
};
use spine_store::anomalies::{AnomalyExt, AnomalyFilter};
use spine_store::readiness::{Evaluation, Recorded};
use spine_store::{anomalies, captures, lineage, manifest};

use crate::{Engine, PipelineResult, RunContext, schedules};

/// The printed and served form of a verdict (`spine readiness`, the HTTP API).
#[derive(Debug, Clone, Serialize)]
pub struct Certification {
    /// The domain evaluated.
    pub domain: String,
    /// The partition evaluated, canonical JSON.
    pub partition_key: String,
    /// The use.
    pub ready_for: ReadyFor,
    /// READY, READY_WITH_WARNINGS or NOT_READY.
    pub status: ReadinessStatus,
    /// Whether the partition may be used for `ready_for`.
    pub is_ready: bool,
    /// The five criteria.
    pub criteria: ReadinessCriteria,
    /// What blocks readiness.
    pub blocking_issues: Vec<String>,
    /// Non-blocking open anomalies at WARN or worse.
    pub warnings: Vec<String>,
    /// Open INFO anomalies (e.g. a revision): reported, never a reason for caution.
    pub notices: Vec<String>,
    /// The captures judged: the proof of "on which data".
    pub captures_judged: Vec<String>,
    /// When it was evaluated.
    pub evaluated_at: chrono::DateTime<chrono::Utc>,
    /// When it was certified (None when not ready).
    pub certified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Who certified it.
    pub certified_by: Option<String>,
}

/// Gathers the facts for one (domain, partition, use) at the run's clock. The domain must be
/// registered: its plugin says which stages a complete capture has.
pub async fn facts(
    engine: &Engine,
    domain: &Domain,
    partition: &PartitionKey,
    ready_for: ReadyFor,
    run: &RunContext,
) -> PipelineResult<ReadinessFacts> {
    let plugin = engine.domain(domain)?;
    let store = engine.store();
    let conn = store.conn();
    // 1. Expected partitions, from the schedules, for the evaluated week.
    let mut expected = Vec::new();
    let mut preliminary_hours: Option<i64> = None;
    if let Some(week) = plugin.business_date(partition) {
        let calendar = schedules::trading_calendar(store, week, week).await?;
        for schedule in spine_store::schedules::list(conn, Some(domain), true).await? {
            let parts = schedules::expand(&schedule, week, week, &calendar)?;
            if parts.iter().any(|p| related(partition, &p.partition)) {
                preliminary_hours =
                    preliminary_hours.max(schedule.preliminary_hours.map(i64::from));
            }
            expected.extend(parts.into_iter().map(|p| p.partition));
        }
    }
    // 2. Present partitions: the latest capture of each, and how far it got.
    let mut present = Vec::new();
    let mut dependencies = Vec::new();
    for capture in captures::latest_covered(conn, domain, partition).await? {
        let key = PartitionKey::parse(&capture.partition_key)?;
        let stages = manifest::stages(conn, domain, &key).await?;
        present.push(PartitionFacts {
            partition: key.clone(),
            latest_capture_id: capture.capture_id.clone(),
            captured_at: capture.captured_at,
            furthest_stage: manifest::furthest_stage(&stages, &capture.capture_id),
            required_stages: plugin.required_stages().to_vec(),
            rows_accepted: Some(capture.rows_accepted),
        });
        // 4. Dependencies: what each calc consumed against what is latest now.
        for input in lineage::inputs_of(conn, &capture.capture_id).await? {
            let input_domain = Domain::parse(&input.input_domain)?;
            let input_partition = PartitionKey::parse(&input.input_partition_key)?;
            let latest = captures::latest(conn, &input_domain, &input_partition).await?;
            dependencies.push(DependencyFact {
                calc_partition: key.clone(),
                calc_table: input.calc_table,
                input_domain,
                input_partition,
                consumed_capture_id: input.input_capture_id,
                latest_capture_id: latest.map(|c| c.capture_id),
            });
        }
    }
    // 3. Unresolved anomalies touching the partition.
    let mut open_anomalies = Vec::new();
    let filter = AnomalyFilter {
        domain: Some(domain.clone()),
        unresolved_only: true,
        ..Default::default()
    };
    for a in anomalies::list(conn, &filter).await? {
        let key = a.partition()?;
        if key.as_ref().is_some_and(|k| !related(partition, k)) {
            continue;
        }
        // A notification that could not be delivered is about the channel, not the data: it
        // shows in doctor and /metrics but never changes whether a week can be trusted.
        if a.category == Category::Notification.as_str() {
            continue;
        }
        open_anomalies.push(AnomalyFact {
            id: a.id,
            severity: a.severity()?,
            category: a.category()?,
            partition: key,
            message: a.message.clone(),
        });
    }
    Ok(ReadinessFacts {
        domain: domain.clone(),
        partition: partition.clone(),
        ready_for,
        now: run.now,
        expected_partitions: expected,
        present,
        open_anomalies,
        dependencies,
        preliminary_hours,
    })
}

/// A recorded certification: the verdict as printed and what recording it did.
#[derive(Debug, Clone)]
pub struct Certified {
    /// The printed form of this evaluation's verdict, with the certification it carries: the
    /// current one when the verdict is current (changed or unchanged), none when backdated.
    pub certification: Certification,
    /// What the store did: a change of verdict, an unchanged re-check, or a backdated
    /// evaluation that did not become current.
    pub recorded: Recorded,
}

/// Evaluates and records readiness: detects missed partitions of the week first, decides with
/// the policy, and records the evaluation ([`spine_store::readiness::record_evaluation`]: a
/// change of verdict is appended and made current, a re-check with the same outcome only moves
/// `last_checked_at`, an evaluation as of an earlier time is appended as backdated).
///
/// `certified_by` signs the evaluation (and the certification, when it issues one): a person's
/// name from the caller, or the engine's own signature for automatic re-evaluations.
pub async fn certify(
    engine: &Engine,
    domain: &Domain,
    partition: &PartitionKey,
    ready_for: ReadyFor,
    certified_by: &str,
    run: &RunContext,
) -> PipelineResult<Certified> {
    if let Some(date) = engine.domain(domain)?.business_date(partition) {
        detect_schedule(engine, domain, date, run).await?;
    }
    let verdict = decide(engine, domain, partition, ready_for, run).await?;
    let recorded = spine_store::readiness::record_evaluation(
        engine.store().conn(),
        Evaluation {
            domain: domain.clone(),
            partition: partition.clone(),
            ready_for,
            status: verdict.status,
            criteria: verdict.criteria,
            blocking_issues: verdict.blocking_issues.clone(),
            captures_judged: verdict.captures_judged.clone(),
            evaluated_at: run.now,
            evaluated_by: certified_by.to_string(),
        },
    )
    .await?;
    let (certified_at, certified_by) = match &recorded {
        Recorded::Changed { current, .. } | Recorded::Unchanged { current } => {
            (current.certified_at, current.certified_by.clone())
        }
        Recorded::Backdated { .. } => (None, None),
    };
    Ok(Certified {
        certification: Certification::of(verdict, certified_at, certified_by),
        recorded,
    })
}

/// Evaluates readiness without writing anything (no history row, no detection): for `spine
/// doctor` and the read-only HTTP API. `certified_at`/`certified_by` come from the recorded
/// certification when it judged the same captures.
pub async fn evaluate_only(
    engine: &Engine,
    domain: &Domain,
    partition: &PartitionKey,
    ready_for: ReadyFor,
    run: &RunContext,
) -> PipelineResult<Certification> {
    let verdict = decide(engine, domain, partition, ready_for, run).await?;
    let recorded =
        spine_store::readiness::current(engine.store().conn(), domain, partition, ready_for)
            .await?;
    let judged_json = serde_json::json!(verdict.captures_judged);
    let (certified_at, certified_by) = match recorded {
        Some(r) if verdict.is_ready() && r.is_ready && r.captures_judged == judged_json => {
            (r.certified_at, r.certified_by)
        }
        _ => (None, None),
    };
    Ok(Certification::of(verdict, certified_at, certified_by))
}

/// Gathers the facts and lets the policy decide; the captures judged include the upstream
/// captures the calcs consumed.
async fn decide(
    engine: &Engine,
    domain: &Domain,
    partition: &PartitionKey,
    ready_for: ReadyFor,
    run: &RunContext,
) -> PipelineResult<ReadinessVerdict> {
    let facts = facts(engine, domain, partition, ready_for, run).await?;
    let mut verdict = evaluate(&facts, engine.policy());
    verdict.captures_judged = judged(&verdict.captures_judged, &facts);
    Ok(verdict)
}

impl Certification {
    /// The printed form of a verdict, with the certification it carries (if any).
    fn of(
        verdict: ReadinessVerdict,
        certified_at: Option<chrono::DateTime<chrono::Utc>>,
        certified_by: Option<String>,
    ) -> Certification {
        Certification {
            domain: verdict.domain.to_string(),
            partition_key: verdict.partition.canonical(),
            ready_for: verdict.ready_for,
            status: verdict.status,
            is_ready: verdict.is_ready(),
            criteria: verdict.criteria,
            blocking_issues: verdict.blocking_issues,
            warnings: verdict.warnings,
            notices: verdict.notices,
            captures_judged: verdict.captures_judged,
            evaluated_at: verdict.evaluated_at,
            certified_at,
            certified_by,
        }
    }
}

/// The captures a verdict rests on: the partitions' latest captures and every upstream capture
/// their calcs consumed (the calendar), so a correction upstream is a different judgement and
/// re-certifies.
fn judged(partition_captures: &[String], facts: &ReadinessFacts) -> Vec<String> {
    let mut all: Vec<String> = partition_captures.to_vec();
    all.extend(
        facts
            .dependencies
            .iter()
            .map(|d| d.consumed_capture_id.clone()),
    );
    all.sort();
    all.dedup();
    all
}

/// Re-evaluates every recorded verdict that a new capture of `partition` may change (the week's
/// and the tier's, for each use already certified or judged): "a revision re-certifies".
pub async fn recertify_related(
    engine: &Engine,
    domain: &Domain,
    partition: &PartitionKey,
    run: &RunContext,
) -> PipelineResult<Vec<Certification>> {
    let mut out = Vec::new();
    for current in spine_store::readiness::list_current(engine.store().conn(), Some(domain)).await?
    {
        let key = PartitionKey::parse(&current.partition_key)?;
        if !related(&key, partition) {
            continue;
        }
        let ready_for: ReadyFor = current.ready_for.parse()?;
        // Re-evaluated because the data changed, not because someone asked: recorded as such.
        let by = format!(
            "{} (re-evaluated after a new capture)",
            run.actor.as_deref().unwrap_or("spine")
        );
        out.push(
            certify(engine, domain, &key, ready_for, &by, run)
                .await?
                .certification,
        );
    }
    Ok(out)
}

/// Records missed partitions of one week (late ones are recorded when they arrive).
async fn detect_schedule(
    engine: &Engine,
    domain: &Domain,
    week: NaiveDate,
    run: &RunContext,
) -> PipelineResult<()> {
    schedules::check(engine.store(), domain, week, week, run).await?;
    Ok(())
}
