//! "Capture landed": the one step that runs after any domain's capture has gone through its
//! stages (however far they got), so everything that follows a new capture happens in one
//! place, the same for every domain:
//!
//! 1. anomaly resolution — the partition arrived, so "its source was unavailable" and "it was
//!    missed" no longer hold; and completeness — the capture is judged against
//!    `spine_rules::completeness`: no accepted line (CRITICAL), rejected lines (WARN, ERROR past
//!    the policy's share), accepted rows far below the partition's previous capture or its
//!    series' trailing baseline (ERROR, CRITICAL);
//! 2. late/missed bookkeeping — the partition's schedules are checked at the run's clock, so a
//!    late arrival is recorded the moment it lands;
//! 3. recompute — calcs of the domain that a calendar correction left stale are recomputed;
//! 4. re-certification — every recorded verdict the capture may change (its own partition's,
//!    and those of partitions it made stale, such as the calcs a calendar correction affects)
//!    is re-evaluated, so `status`, the doctor and the API never show a certification the data
//!    no longer supports.
//!
//! This is where later work plugs in (partition locks, completeness checks, the worker,
//! notifications): it returns a typed [`LandedOutcome`].

use serde::Serialize;
use spine_model::{AnomalyCause, Category, Domain, IngestStatus, PartitionKey, Stage};
use spine_store::anomalies::{self, AnomalyFilter};

use crate::anomaly::{AnomalySummary, Detector};
use crate::capture::CaptureReport;
use crate::domain::{DomainPlugin, RecomputeResult};
use crate::readiness::{Certification, recertify_related};
use crate::{Engine, PipelineResult, RunContext, schedules};

/// What the landing step did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LandedOutcome {
    /// Anomalies it resolved (the partition arrived) or recorded (it arrived late).
    pub anomalies: Vec<AnomalySummary>,
    /// Verdicts re-evaluated because of the capture.
    pub recertified: Vec<Certification>,
    /// Stale calcs recomputed.
    pub recomputed: Vec<RecomputeResult>,
    /// What to tell the operator about it.
    pub notes: Vec<String>,
}

/// Runs the landing step for a capture that went through its stages (`report`), plus the
/// verdicts of `affected` partitions (of any domain) the capture may change.
pub async fn capture_landed(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    report: &CaptureReport,
    affected: &[(Domain, PartitionKey)],
    run: &RunContext,
) -> PipelineResult<LandedOutcome> {
    let mut out = LandedOutcome::default();
    let domain = plugin.name();
    let partition = &report.partition;
    let store = engine.store();

    // 1. The partition arrived: close what its absence opened.
    let detector = Detector {
        domain: &domain,
        pipeline: plugin.ingest_pipeline(),
        run,
    };
    let note = format!(
        "resolved automatically: capture {} ingested at {}",
        report.capture_id,
        run.now.to_rfc3339()
    );
    for (category, cause) in [
        (Category::IncompleteInput, AnomalyCause::SOURCE_UNAVAILABLE),
        (Category::Schedule, AnomalyCause::MISSED),
    ] {
        out.anomalies.extend(
            detector
                .resolve(store.conn(), partition, category, &cause, &note)
                .await?,
        );
    }

    // 1b. Is it complete?
    if report.status != IngestStatus::Unchanged {
        out.anomalies
            .extend(completeness(engine, plugin, report, run).await?);
    }

    // 2. Was it expected earlier? A broken schedule must not stop data from flowing: say so and
    // carry on.
    if let Some(date) = plugin.business_date(partition) {
        match schedules::check(store, &domain, date, date, run).await {
            Ok(checked) => out.anomalies.extend(checked.anomalies),
            Err(e) => out.notes.push(format!("schedule check skipped: {e}")),
        }
    }

    // 3. Calcs of this domain a calendar correction left stale heal on its next capture, before
    // any verdict is re-evaluated on them.
    let recomputed = recompute_stale(engine, plugin, run).await?;

    // 4. Verdicts the new capture may change.
    if report.status != IngestStatus::Unchanged {
        for cert in recertify_related(engine, &domain, partition, run).await? {
            out.notes.push(format!(
                "re-evaluated readiness of {} for {}: {}",
                cert.partition_key, cert.ready_for, cert.status
            ));
            out.recertified.push(cert);
        }
        for (other_domain, key) in affected {
            if engine.registry().get(other_domain).is_none() {
                continue;
            }
            out.recertified
                .extend(recertify_related(engine, other_domain, key, run).await?);
        }
    }

    if !recomputed.is_empty() {
        let mut keys: Vec<String> = recomputed
            .iter()
            .filter_map(|r| {
                PartitionKey::parse(&r.partition_key)
                    .ok()?
                    .week_ending()
                    .map(|w| w.to_string())
            })
            .collect();
        keys.dedup();
        out.notes.push(format!(
            "recomputed calcs left stale by a calendar correction, for the weeks ending {}",
            keys.join(", ")
        ));
        out.recomputed = recomputed;
    }
    Ok(out)
}

/// A capture that accepted no line.
pub const EMPTY_CAPTURE: AnomalyCause = AnomalyCause::named("empty_capture");
/// A capture with rejected lines.
pub const REJECTED_LINES: AnomalyCause = AnomalyCause::named("rejected_lines");
/// A capture whose accepted rows fell far below the partition's previous capture or baseline.
pub const ROW_COUNT_DROP: AnomalyCause = AnomalyCause::named("row_count_drop");

/// Judges one capture's completeness from its counts, its partition's previous capture and its
/// series' trailing baseline; records what fails (naming the capture) and resolves what an
/// earlier capture of the partition opened and this one passes.
async fn completeness(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    report: &CaptureReport,
    run: &RunContext,
) -> PipelineResult<Vec<AnomalySummary>> {
    use spine_rules::completeness::{self as rules, LineCounts, Reference};
    let policy = engine.completeness_policy();
    let domain = plugin.name();
    let conn = engine.store().conn();
    let partition = &report.partition;
    let counts = LineCounts {
        read: report.rows_read.max(0) as u64,
        accepted: report.rows_accepted.max(0) as u64,
        rejected: report.rows_rejected.max(0) as u64,
        rejected_by_reason: report.rejects_by_reason.clone(),
    };
    // References for the accepted rows: the capture this one supersedes, and the latest
    // non-empty capture of each earlier partition of the series.
    let mut references = Vec::new();
    if let Some(previous) = &report.supersedes
        && let Some(prev) = spine_store::captures::get(conn, previous).await?
        && prev.rows_accepted > 0
    {
        references.push(Reference {
            what: "previous capture".into(),
            value: prev.rows_accepted as f64,
            evidence: serde_json::json!({"capture_id": prev.capture_id, "rows_accepted": prev.rows_accepted}),
        });
    }
    let mut observations = Vec::new();
    for earlier in plugin.series_before(partition, policy.baseline_window) {
        if let Some(c) = spine_store::captures::latest(conn, &domain, &earlier).await?
            && c.rows_accepted > 0
        {
            observations.push((earlier.canonical(), c.rows_accepted as u64));
        }
    }
    references.extend(rules::baseline(&observations, policy));

    let findings = [
        (
            EMPTY_CAPTURE,
            Category::IncompleteInput,
            rules::empty(&counts),
        ),
        (
            REJECTED_LINES,
            Category::IncompleteInput,
            rules::rejects(&counts, policy),
        ),
        (
            ROW_COUNT_DROP,
            Category::Completeness,
            rules::drop("accepted rows", counts.accepted, &references, policy),
        ),
    ];
    // An empty capture is judged empty, and only that: "0 rows, 0 of the usual" adds nothing.
    let findings = findings
        .into_iter()
        .filter(|(cause, _, _)| counts.accepted > 0 || *cause != ROW_COUNT_DROP);
    let detector = Detector {
        domain: &domain,
        pipeline: plugin.ingest_pipeline(),
        run,
    };
    let mut out = Vec::new();
    for (cause, category, finding) in findings {
        match finding {
            Some(f) => {
                let recorded = detector
                    .replace(
                        conn,
                        partition,
                        Some(Stage::Raw),
                        f.severity,
                        f.category,
                        &cause,
                        f.message,
                        f.details,
                        &report.capture_id,
                    )
                    .await?;
                if let spine_store::anomalies::Recorded::Created(a) = recorded {
                    out.push(AnomalySummary::opened(&a));
                }
            }
            None => out.extend(
                detector
                    .resolve(
                        conn,
                        partition,
                        category,
                        &cause,
                        &format!(
                            "resolved automatically: capture {} of the partition passes",
                            report.capture_id
                        ),
                    )
                    .await?,
            ),
        }
    }
    Ok(out)
}

/// Recomputes every partition of the domain whose calcs a calendar correction made stale (the
/// open DEPENDENCY anomalies say which): how stale calcs heal without an operator.
pub async fn recompute_stale(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    run: &RunContext,
) -> PipelineResult<Vec<RecomputeResult>> {
    let filter = AnomalyFilter {
        domain: Some(plugin.name()),
        category: Some(Category::Dependency),
        unresolved_only: true,
        ..Default::default()
    };
    let mut stale: Vec<PartitionKey> = anomalies::list(engine.store().conn(), &filter)
        .await?
        .into_iter()
        .filter(|a| a.cause.as_deref() == Some(AnomalyCause::CALENDAR_REVISED.as_str()))
        .filter_map(|a| PartitionKey::parse(a.partition_key.as_deref()?).ok())
        .collect();
    stale.sort();
    stale.dedup();
    let mut out = Vec::new();
    for key in stale {
        out.extend(plugin.recompute(engine, &key, run).await?);
    }
    Ok(out)
}
