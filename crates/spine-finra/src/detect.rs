//! Detection for the FINRA OTC pipeline: production code that reads the data and the store and
//! records anomalies. Nothing here is told what to find; it is found.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};
use spine_model::{Category, PartitionKey, Severity, Stage, Tier};
use spine_store::anomalies::{self, NewAnomaly, Recorded};
use spine_store::{ConnectionTrait, Store, captures};

use super::domain;
use crate::domains::source::SourceError;
use crate::pipelines::{PipelineResult, RunContext};

/// The pipeline name anomalies from this module carry.
const PIPELINE: &str = super::INGEST;

/// Causes: stable keys that make detection idempotent (one open anomaly per partition and cause).
pub mod cause {
    /// The tier's source could not be fetched.
    pub const SOURCE_UNAVAILABLE: &str = "source_unavailable";
    /// Rows with trades but no shares.
    pub const TRADES_WITHOUT_SHARES: &str = "trades_without_shares";
    /// Average trade size outside the plausible range.
    pub const TRADE_SIZE: &str = "avg_trade_size_out_of_range";
    /// Fewer venues than the tier's baseline.
    pub const VENUE_COVERAGE: &str = "venue_coverage";
    /// HHI computed from too few venues.
    pub const HHI_OVERSTATED: &str = "hhi_may_overstate";
    /// A new capture replaced an earlier one.
    pub const REVISION: &str = "revision";
    /// The calendar a calc used was revised.
    pub const CALENDAR_REVISED: &str = "calendar_revised";
    /// An expected partition did not arrive by its due time.
    pub const MISSED: &str = "missed";
    /// A partition arrived after its due time.
    pub const LATE: &str = "late";
}

/// The plausible range of average trade size (shares per trade) per row. Below 1 is impossible
/// (a trade moves at least one share); the real OTC week tops out near 2.7 M, so 10 M leaves
/// room for sub-penny names while catching unit errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeSizeRange {
    /// Lowest plausible shares per trade.
    pub min: f64,
    /// Highest plausible shares per trade.
    pub max: f64,
}

impl Default for TradeSizeRange {
    fn default() -> Self {
        TradeSizeRange {
            min: 1.0,
            max: 10_000_000.0,
        }
    }
}

fn anomaly(
    partition: Option<&PartitionKey>,
    stage: Option<Stage>,
    severity: Severity,
    category: Category,
    cause: &str,
    message: String,
    run: &RunContext,
) -> NewAnomaly {
    NewAnomaly {
        pipeline: Some(PIPELINE.to_string()),
        partition: partition.cloned(),
        stage,
        execution_id: run.execution_id.clone(),
        cause: Some(cause.to_string()),
        ..NewAnomaly::new(domain(), severity, category, message, run.now)
    }
}

/// A compact JSON form of a recorded anomaly for run reports.
pub fn summary(a: &spine_store::anomalies::Anomaly) -> Value {
    json!({"id": a.id, "severity": a.severity, "category": a.category, "message": a.message})
}

/// The tiers of a week that have at least one capture.
pub async fn captured_tiers<C: ConnectionTrait>(
    conn: &C,
    week: NaiveDate,
) -> PipelineResult<Vec<Tier>> {
    let mut tiers: Vec<Tier> = captures::latest_covered(conn, &domain(), &PartitionKey::week(week))
        .await?
        .iter()
        .filter_map(|c| PartitionKey::parse(&c.partition_key).ok()?.tier())
        .collect();
    tiers.sort();
    tiers.dedup();
    Ok(tiers)
}

/// Missing tier: the source of a partition could not be fetched. ERROR INCOMPLETE_INPUT with the
/// HTTP status and expected vs actual tiers; one open anomaly per partition however often the
/// fetch is retried.
pub async fn source_unavailable(
    store: &Store,
    partition: Option<&PartitionKey>,
    source: &str,
    error: &SourceError,
    run: &RunContext,
) -> PipelineResult<Recorded> {
    let (tier, week) = (
        partition.and_then(PartitionKey::tier),
        partition.and_then(PartitionKey::week_ending),
    );
    let actual = match week {
        Some(w) => captured_tiers(store.conn(), w).await?,
        None => Vec::new(),
    };
    let missing: Vec<Tier> = Tier::ALL
        .iter()
        .copied()
        .filter(|t| !actual.contains(t))
        .collect();
    let what = match (tier, week) {
        (Some(t), Some(w)) => format!("{t} file for the week ending {w}"),
        _ => "source file".to_string(),
    };
    let message = format!("{what} is unavailable: {error}");
    let details = json!({
        "source": source,
        "error_code": error.code(),
        "http_status": error.http_status(),
        "retryable": error.is_retryable(),
        "expected_tiers": Tier::ALL,
        "actual_tiers": actual,
        "missing_tiers": missing,
    });
    Ok(anomalies::record_once(
        store.conn(),
        NewAnomaly {
            details: Some(details),
            ..anomaly(
                partition,
                Some(Stage::Raw),
                Severity::Error,
                Category::IncompleteInput,
                cause::SOURCE_UNAVAILABLE,
                message,
                run,
            )
        },
    )
    .await?)
}

/// A partition's capture succeeded: close what its absence had opened.
pub async fn partition_arrived(
    store: &Store,
    partition: &PartitionKey,
    capture_id: &str,
    run: &RunContext,
) -> PipelineResult<Vec<Value>> {
    let note = format!(
        "resolved automatically: capture {capture_id} ingested at {}",
        run.now.to_rfc3339()
    );
    let mut resolved = Vec::new();
    for (category, cause) in [
        (Category::IncompleteInput, cause::SOURCE_UNAVAILABLE),
        (Category::Schedule, cause::MISSED),
    ] {
        for a in anomalies::resolve_open(
            store.conn(),
            &domain(),
            partition,
            category,
            cause,
            &note,
            run.now,
        )
        .await?
        {
            resolved.push(json!({"id": a.id, "resolved": true, "message": a.message}));
        }
    }
    Ok(resolved)
}

/// What normalization found against the business rules.
#[derive(Debug, Default)]
pub struct RuleFindings {
    /// Rows with trades > 0 and shares = 0, counted.
    pub trades_without_shares: u64,
    /// Up to five such rows.
    pub trades_without_shares_samples: Vec<Value>,
    /// Rows whose shares per trade fall outside the range.
    pub trade_size_outliers: u64,
    /// Up to five such rows.
    pub trade_size_samples: Vec<Value>,
}

impl RuleFindings {
    /// Checks one normalized row.
    pub fn check(
        &mut self,
        line: i64,
        symbol: &str,
        mpid: &str,
        shares: i64,
        trades: i64,
        range: TradeSizeRange,
    ) {
        let sample = || json!({"line": line, "symbol": symbol, "mpid": mpid, "shares": shares, "trades": trades});
        if trades > 0 && shares == 0 {
            self.trades_without_shares += 1;
            if self.trades_without_shares_samples.len() < 5 {
                self.trades_without_shares_samples.push(sample());
            }
        } else if trades > 0 {
            let size = shares as f64 / trades as f64;
            if size < range.min || size > range.max {
                self.trade_size_outliers += 1;
                if self.trade_size_samples.len() < 5 {
                    let mut s = sample();
                    s["shares_per_trade"] = json!(size);
                    self.trade_size_samples.push(s);
                }
            }
        }
    }
}

/// Records the business-rule findings of a normalization. Returns the CRITICAL anomaly when the
/// capture must not be normalized (trades without shares), and any WARN recorded.
pub async fn business_rules<C: ConnectionTrait>(
    conn: &C,
    partition: &PartitionKey,
    capture_id: &str,
    findings: &RuleFindings,
    range: TradeSizeRange,
    run: &RunContext,
) -> PipelineResult<(Option<spine_store::anomalies::Anomaly>, Vec<Value>)> {
    let mut recorded = Vec::new();
    let mut critical = None;
    if findings.trades_without_shares > 0 {
        let a = anomalies::record(
            conn,
            NewAnomaly {
                capture_id: Some(capture_id.to_string()),
                affected_records: Some(findings.trades_without_shares as i64),
                sample_records: Some(json!(findings.trades_without_shares_samples)),
                details: Some(json!({
                    "rule": "a row with trades must have shares",
                    "affected_records": findings.trades_without_shares,
                    "capture_id": capture_id,
                    "consequence": "NORMALIZED failed for this capture; no calc was computed from it",
                })),
                ..anomaly(
                    Some(partition),
                    Some(Stage::Normalized),
                    Severity::Critical,
                    Category::BusinessRule,
                    cause::TRADES_WITHOUT_SHARES,
                    format!(
                        "{} rows report trades but zero shares: capture {capture_id} is not normalized",
                        findings.trades_without_shares
                    ),
                    run,
                )
            },
        )
        .await?;
        recorded.push(summary(&a));
        critical = Some(a);
    }
    if findings.trade_size_outliers > 0 {
        let a = anomalies::record(
            conn,
            NewAnomaly {
                capture_id: Some(capture_id.to_string()),
                affected_records: Some(findings.trade_size_outliers as i64),
                sample_records: Some(json!(findings.trade_size_samples)),
                details: Some(
                    json!({"min_shares_per_trade": range.min, "max_shares_per_trade": range.max}),
                ),
                ..anomaly(
                    Some(partition),
                    Some(Stage::Normalized),
                    Severity::Warn,
                    Category::BusinessRule,
                    cause::TRADE_SIZE,
                    format!(
                        "{} rows have an average trade size outside [{}, {}] shares per trade",
                        findings.trade_size_outliers, range.min, range.max
                    ),
                    run,
                )
            },
        )
        .await?;
        recorded.push(summary(&a));
    }
    Ok((critical, recorded))
}

/// The Fridays of the `weeks` weeks before `week`, most recent first.
pub fn previous_weeks(week: NaiveDate, weeks: u64) -> Vec<NaiveDate> {
    (1..=weeks)
        .filter_map(|k| week.checked_sub_days(Days::new(7 * k)))
        .collect()
}

/// Records an INFO FRESHNESS anomaly describing a revision.
pub async fn revision<C: ConnectionTrait>(
    conn: &C,
    partition: &PartitionKey,
    previous_capture: &str,
    new_capture: &str,
    diff: Value,
    run: &RunContext,
) -> PipelineResult<Value> {
    let message = if diff["previous_symbols"] == 0 {
        // Nothing to compare with: the superseded capture never produced calcs (e.g. it was
        // refused by a business rule). Saying "N symbols added" would mislead.
        format!(
            "revised: capture {new_capture} supersedes {previous_capture}, which never reached CALC: no symbol-level diff"
        )
    } else {
        format!(
            "revised: capture {new_capture} supersedes {previous_capture} ({} symbols added, {} removed, {} HHI moves over 0.05)",
            diff["added"].as_array().map_or(0, Vec::len),
            diff["removed"].as_array().map_or(0, Vec::len),
            diff["hhi_moved_count"].as_u64().unwrap_or(0),
        )
    };
    let a = anomalies::record(
        conn,
        NewAnomaly {
            capture_id: Some(new_capture.to_string()),
            details: Some(diff),
            ..anomaly(
                Some(partition),
                Some(Stage::Calc),
                Severity::Info,
                Category::Freshness,
                cause::REVISION,
                message,
                run,
            )
        },
    )
    .await?;
    Ok(summary(&a))
}

/// Records a WARN or INFO anomaly once per partition and cause (baseline, HHI, late, missed…).
#[allow(clippy::too_many_arguments)]
pub async fn once<C: ConnectionTrait>(
    conn: &C,
    partition: &PartitionKey,
    stage: Option<Stage>,
    severity: Severity,
    category: Category,
    cause_key: &str,
    message: String,
    details: Value,
    capture_id: Option<&str>,
    run: &RunContext,
) -> PipelineResult<Recorded> {
    Ok(anomalies::record_once(
        conn,
        NewAnomaly {
            details: Some(details),
            capture_id: capture_id.map(str::to_string),
            ..anomaly(
                Some(partition),
                stage,
                severity,
                category,
                cause_key,
                message,
                run,
            )
        },
    )
    .await?)
}

/// The venue counts of the same tier over the trailing weeks, each marked eligible or not for
/// the baseline: a week whose partition still carries an unresolved ERROR or CRITICAL anomaly, or
/// whose week was judged not ready, must not poison the baseline.
pub async fn venue_history(
    store: &Store,
    tier: Tier,
    week: NaiveDate,
    weeks: u64,
) -> PipelineResult<Vec<spine_rules::baseline::WeekObservation>> {
    let conn = store.conn();
    let mut out = Vec::new();
    for earlier in previous_weeks(week, weeks) {
        let key = PartitionKey::week_tier(earlier, tier);
        let Some(capture) = captures::latest(conn, &domain(), &key).await? else {
            continue;
        };
        let venues = spine_store::finra_otc::venue_share(conn, &capture.capture_id).await?;
        if venues.is_empty() {
            continue; // never reached CALC: no venue count to learn from
        }
        let blocking = anomalies::list(
            conn,
            &anomalies::AnomalyFilter {
                domain: Some(domain()),
                partition: Some(PartitionKey::week(earlier)),
                min_severity: Some(Severity::Error),
                unresolved_only: true,
                ..Default::default()
            },
        )
        .await?
        .into_iter()
        .any(|a| {
            a.partition_key.as_deref().is_some_and(|k| {
                PartitionKey::parse(k).is_ok_and(|k| spine_rules::readiness::related(&key, &k))
            })
        });
        let not_ready = spine_store::readiness::list_current(conn, Some(&domain()))
            .await?
            .into_iter()
            .any(|r| {
                !r.is_ready
                    && PartitionKey::parse(&r.partition_key)
                        .is_ok_and(|k| spine_rules::readiness::related(&key, &k))
            });
        out.push(spine_rules::baseline::WeekObservation {
            week_ending: earlier,
            venue_count: venues.len() as u32,
            eligible: !blocking && !not_ready,
        });
    }
    Ok(out)
}

/// Venue coverage against the tier's baseline: WARN COMPLETENESS when below 70% of the median,
/// and the HHI caveat (WARN INCOMPLETE_INPUT) that goes with it. Records through `conn` (the
/// CALC transaction), once per partition.
pub async fn venue_coverage<C: ConnectionTrait>(
    conn: &C,
    partition: &PartitionKey,
    capture_id: &str,
    current: u32,
    history: &[spine_rules::baseline::WeekObservation],
    run: &RunContext,
) -> PipelineResult<Vec<Value>> {
    use spine_rules::baseline::{
        BaselineConfig, CoverageVerdict, DEFAULT_COVERAGE_THRESHOLD, VenueBaseline,
        check_venue_coverage,
    };
    let Some(week) = partition.week_ending() else {
        return Ok(Vec::new());
    };
    let baseline = VenueBaseline::from_history(week, history, &BaselineConfig::default());
    let verdict = check_venue_coverage(current, &baseline, DEFAULT_COVERAGE_THRESHOLD);
    if matches!(verdict, CoverageVerdict::InsufficientHistory { .. }) {
        // No baseline to judge against: neither raise nor clear anything.
        return Ok(Vec::new());
    }
    let CoverageVerdict::BelowBaseline(finding) = verdict else {
        // Coverage is back within the baseline: close what an earlier capture opened.
        let note = format!(
            "resolved automatically: capture {capture_id} has {current} venues, within the baseline"
        );
        let mut resolved = Vec::new();
        for (category, cause_key) in [
            (Category::Completeness, cause::VENUE_COVERAGE),
            (Category::IncompleteInput, cause::HHI_OVERSTATED),
        ] {
            for a in anomalies::resolve_open(
                conn,
                &domain(),
                partition,
                category,
                cause_key,
                &note,
                run.now,
            )
            .await?
            {
                resolved.push(json!({"id": a.id, "resolved": true, "severity": a.severity, "message": a.message}));
            }
        }
        return Ok(resolved);
    };
    let mut recorded = Vec::new();
    let details = finding.details();
    let coverage = once(
        conn,
        partition,
        Some(Stage::Calc),
        Severity::Warn,
        Category::Completeness,
        cause::VENUE_COVERAGE,
        finding.message(),
        details.clone(),
        Some(capture_id),
        run,
    )
    .await?;
    recorded.push(summary(coverage.anomaly()));
    let hhi = once(
        conn,
        partition,
        Some(Stage::Calc),
        Severity::Warn,
        Category::IncompleteInput,
        cause::HHI_OVERSTATED,
        format!(
            "HHI computed from {current} venues against a baseline median of {}: concentration may be overstated",
            details["baseline_p50"]
        ),
        json!({"venue_count": current, "baseline": details, "table": "finra_otc_hhi"}),
        Some(capture_id),
        run,
    )
    .await?;
    recorded.push(summary(hhi.anomaly()));
    Ok(recorded)
}

/// Per-symbol (total shares, HHI) of a stored capture, for the revision diff.
pub async fn symbol_stats(
    store: &Store,
    capture_id: &str,
) -> PipelineResult<BTreeMap<String, spine_rules::revision::SymbolStats>> {
    let conn = store.conn();
    let hhi: BTreeMap<String, f64> = spine_store::finra_otc::hhi(conn, capture_id, None)
        .await?
        .into_iter()
        .map(|h| (h.symbol, h.hhi))
        .collect();
    Ok(
        spine_store::finra_otc::symbol_summary(conn, capture_id, None)
            .await?
            .into_iter()
            .map(|s| {
                let hhi = hhi.get(&s.symbol).copied().unwrap_or(0.0);
                (
                    s.symbol,
                    spine_rules::revision::SymbolStats {
                        total_shares: s.total_shares,
                        hhi,
                    },
                )
            })
            .collect(),
    )
}

/// The revision diff of a new capture's calcs against the capture it supersedes, as JSON
/// evidence for the FRESHNESS anomaly.
pub fn revision_diff(
    previous_capture: &str,
    new_capture: &str,
    previous: &BTreeMap<String, spine_rules::revision::SymbolStats>,
    new: &BTreeMap<String, spine_rules::revision::SymbolStats>,
) -> Value {
    let diff = spine_rules::revision::diff_revision(
        previous,
        new,
        spine_rules::revision::DEFAULT_HHI_THRESHOLD,
    );
    json!({
        "previous_capture_id": previous_capture,
        "new_capture_id": new_capture,
        "previous_symbols": diff.previous_symbols,
        "new_symbols": diff.new_symbols,
        "added": diff.added,
        "removed": diff.removed,
        "hhi_moved_count": diff.hhi_moved_count,
        "hhi_threshold": spine_rules::revision::DEFAULT_HHI_THRESHOLD,
        "hhi_moved": diff.hhi_moved.iter().take(20).map(|m| json!({"symbol": m.symbol, "old": m.old, "new": m.new})).collect::<Vec<_>>(),
        "previous_total_shares": diff.previous_total_shares,
        "new_total_shares": diff.new_total_shares,
    })
}
