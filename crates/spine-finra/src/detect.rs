//! Detection for the FINRA OTC pipeline: production code that reads the data and the store and
//! records anomalies. Nothing here is told what to find; it is found.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};
use spine_engine::anomaly::{AnomalySummary, Detector};
use spine_engine::{PipelineResult, RunContext};
use spine_model::{AnomalyCause, Category, PartitionKey, Severity, Stage, Tier};
use spine_store::anomalies::{self, NewAnomaly, Recorded};
use spine_store::{ConnectionTrait, Store, captures};

use crate::domain;

/// The pipeline name anomalies from this module carry.
const PIPELINE: &str = crate::names::INGEST;

/// FINRA's own causes: stable keys that make detection idempotent (one open anomaly per
/// partition and cause). The causes every domain shares (missed, late, source unavailable,
/// calendar revised) are [`AnomalyCause`]'s own constants.
pub mod cause {
    use spine_model::AnomalyCause;

    /// Rows with trades but no shares.
    pub const TRADES_WITHOUT_SHARES: AnomalyCause = AnomalyCause::named("trades_without_shares");
    /// Average trade size outside the plausible range.
    pub const TRADE_SIZE: AnomalyCause = AnomalyCause::named("avg_trade_size_out_of_range");
    /// Fewer venues than the tier's baseline.
    pub const VENUE_COVERAGE: AnomalyCause = AnomalyCause::named("venue_coverage");
    /// HHI computed from too few venues.
    pub const HHI_OVERSTATED: AnomalyCause = AnomalyCause::named("hhi_may_overstate");
    /// A new capture replaced an earlier one.
    pub const REVISION: AnomalyCause = AnomalyCause::named("revision");
    /// Far fewer symbols than the previous capture or the tier's baseline.
    pub const SYMBOL_COUNT_DROP: AnomalyCause = AnomalyCause::named("symbol_count_drop");
    /// Far fewer venues than the previous capture or the tier's baseline.
    pub const VENUE_COUNT_DROP: AnomalyCause = AnomalyCause::named("venue_count_drop");
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

fn detector<'a>(run: &'a RunContext, domain: &'a spine_model::Domain) -> Detector<'a> {
    Detector {
        domain,
        pipeline: PIPELINE,
        run,
    }
}

fn anomaly(
    partition: Option<&PartitionKey>,
    stage: Option<Stage>,
    severity: Severity,
    category: Category,
    cause: &AnomalyCause,
    message: String,
    run: &RunContext,
) -> NewAnomaly {
    detector(run, &domain()).anomaly(partition, stage, severity, category, cause, message)
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
) -> PipelineResult<(Option<spine_store::anomalies::Anomaly>, Vec<AnomalySummary>)> {
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
                    &cause::TRADES_WITHOUT_SHARES,
                    format!(
                        "{} rows report trades but zero shares: capture {capture_id} is not normalized",
                        findings.trades_without_shares
                    ),
                    run,
                )
            },
        )
        .await?;
        recorded.push(AnomalySummary::opened(&a));
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
                    &cause::TRADE_SIZE,
                    format!(
                        "{} rows have an average trade size outside [{}, {}] shares per trade",
                        findings.trade_size_outliers, range.min, range.max
                    ),
                    run,
                )
            },
        )
        .await?;
        recorded.push(AnomalySummary::opened(&a));
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
) -> PipelineResult<AnomalySummary> {
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
                &cause::REVISION,
                message,
                run,
            )
        },
    )
    .await?;
    Ok(AnomalySummary::opened(&a))
}

/// One earlier week of a tier, as the baselines see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesObservation {
    /// The week.
    pub week_ending: NaiveDate,
    /// Its latest capture.
    pub capture_id: String,
    /// Symbols in that capture's calcs.
    pub symbols: u64,
    /// Venues in that capture's calcs.
    pub venues: u64,
    /// Whether it may serve as a baseline (no unresolved ERROR or worse, not judged not ready).
    pub eligible: bool,
}

impl SeriesObservation {
    /// The venue-coverage baseline's view of it.
    pub fn venue_week(&self) -> spine_rules::baseline::WeekObservation {
        spine_rules::baseline::WeekObservation {
            week_ending: self.week_ending,
            venue_count: self.venues as u32,
            eligible: self.eligible,
        }
    }
}

/// The symbol and venue counts of the same tier over the trailing weeks, each marked eligible or
/// not for the baselines: a week whose partition still carries an unresolved ERROR or CRITICAL
/// anomaly, or whose week was judged not ready, must not poison a baseline.
pub async fn series_history(
    store: &Store,
    tier: Tier,
    week: NaiveDate,
    weeks: u64,
) -> PipelineResult<Vec<SeriesObservation>> {
    let conn = store.conn();
    let mut out = Vec::new();
    for earlier in previous_weeks(week, weeks) {
        let key = PartitionKey::week_tier(earlier, tier);
        let Some(capture) = captures::latest(conn, &domain(), &key).await? else {
            continue;
        };
        let (symbols, venues) =
            spine_store::finra_otc::calc_counts(conn, &capture.capture_id).await?;
        if venues == 0 {
            continue; // never reached CALC: no count to learn from
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
        out.push(SeriesObservation {
            week_ending: earlier,
            capture_id: capture.capture_id,
            symbols,
            venues,
            eligible: !blocking && !not_ready,
        });
    }
    Ok(out)
}

/// What a capture's calcs counted, and what they are compared with.
#[derive(Debug, Clone)]
pub struct CountFacts {
    /// Symbols and venues of the capture judged.
    pub current: (u64, u64),
    /// The capture it supersedes, with its counts, when that one reached CALC.
    pub previous: Option<(String, u64, u64)>,
    /// The tier's trailing weeks.
    pub history: Vec<SeriesObservation>,
}

/// Symbols and venues far below the partition's previous capture or the tier's trailing baseline
/// (`spine_rules::completeness` thresholds): ERROR COMPLETENESS, CRITICAL below a tenth, with both
/// numbers and the weeks used; resolved when a later capture passes.
pub async fn count_drops<C: ConnectionTrait>(
    conn: &C,
    partition: &PartitionKey,
    capture_id: &str,
    facts: &CountFacts,
    policy: &spine_rules::completeness::CompletenessPolicy,
    run: &RunContext,
) -> PipelineResult<Vec<AnomalySummary>> {
    use spine_rules::completeness::{self as rules, Reference};
    let domain = domain();
    let detector = detector(run, &domain);
    let mut out = Vec::new();
    if facts.current.0 == 0 {
        // An empty capture is the landing step's to judge: "0 symbols of the usual" adds nothing.
        return Ok(out);
    }
    for (metric, cause, pick) in [
        ("symbols", &cause::SYMBOL_COUNT_DROP, 0usize),
        ("venues", &cause::VENUE_COUNT_DROP, 1usize),
    ] {
        let of = |pair: (u64, u64)| if pick == 0 { pair.0 } else { pair.1 };
        let mut references = Vec::new();
        if let Some((id, symbols, venues)) = &facts.previous {
            references.push(Reference {
                what: "previous capture".into(),
                value: of((*symbols, *venues)) as f64,
                evidence: json!({"capture_id": id, "count": of((*symbols, *venues))}),
            });
        }
        // Venues against the tier's baseline are the venue-coverage detection's (escalated by
        // the same thresholds); here they are judged against the previous capture only.
        if pick == 0 {
            let observations: Vec<(String, u64)> = facts
                .history
                .iter()
                .filter(|o| o.eligible)
                .take(policy.baseline_window)
                .map(|o| (o.week_ending.to_string(), of((o.symbols, o.venues))))
                .collect();
            references.extend(rules::baseline(&observations, policy));
        }
        match rules::drop(metric, of(facts.current), &references, policy) {
            Some(f) => {
                if let Recorded::Created(a) = detector
                    .replace(
                        conn,
                        partition,
                        Some(Stage::Calc),
                        f.severity,
                        f.category,
                        cause,
                        f.message,
                        f.details,
                        capture_id,
                    )
                    .await?
                {
                    out.push(AnomalySummary::opened(&a));
                }
            }
            None => out.extend(
                detector
                    .resolve(
                        conn,
                        partition,
                        Category::Completeness,
                        cause,
                        &format!(
                            "resolved automatically: capture {capture_id} has {} {metric}",
                            of(facts.current)
                        ),
                    )
                    .await?,
            ),
        }
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
    policy: &spine_rules::completeness::CompletenessPolicy,
    run: &RunContext,
) -> PipelineResult<Vec<AnomalySummary>> {
    use spine_rules::baseline::{
        BaselineConfig, CoverageVerdict, DEFAULT_COVERAGE_THRESHOLD, VenueBaseline,
        check_venue_coverage,
    };
    let Some(week) = partition.week_ending() else {
        return Ok(Vec::new());
    };
    if current == 0 {
        // An empty capture is the landing step's to judge (CRITICAL, "empty"), not a coverage
        // question.
        return Ok(Vec::new());
    }
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
        let domain = domain();
        for (category, cause_key) in [
            (Category::Completeness, cause::VENUE_COVERAGE),
            (Category::IncompleteInput, cause::HHI_OVERSTATED),
        ] {
            resolved.extend(
                detector(run, &domain)
                    .resolve(conn, partition, category, &cause_key, &note)
                    .await?,
            );
        }
        return Ok(resolved);
    };
    let mut recorded = Vec::new();
    let details = finding.details();
    let domain = domain();
    let detector = detector(run, &domain);
    // Below the coverage threshold is a warning; far below it (the completeness policy's drop
    // ratios) the week is too incomplete to report (ERROR) or to use at all (CRITICAL).
    let ratio = f64::from(current) / f64::from(finding.baseline.p50.max(1));
    let (severity, message) = if ratio < policy.drop_critical_ratio {
        (
            Severity::Critical,
            format!(
                "{}; below {:.0}% of it: too incomplete for any use",
                finding.message(),
                policy.drop_critical_ratio * 100.0
            ),
        )
    } else if ratio < policy.drop_error_ratio {
        (
            Severity::Error,
            format!(
                "{}; below {:.0}% of it: too incomplete to report",
                finding.message(),
                policy.drop_error_ratio * 100.0
            ),
        )
    } else {
        (Severity::Warn, finding.message())
    };
    let coverage = detector
        .replace(
            conn,
            partition,
            Some(Stage::Calc),
            severity,
            Category::Completeness,
            &cause::VENUE_COVERAGE,
            message,
            details.clone(),
            capture_id,
        )
        .await?;
    recorded.push(AnomalySummary::opened(coverage.anomaly()));
    let hhi = detector
        .once(
        conn,
        partition,
        Some(Stage::Calc),
        Severity::Warn,
        Category::IncompleteInput,
        &cause::HHI_OVERSTATED,
        format!(
            "HHI computed from {current} venues against a baseline median of {}: concentration may be overstated",
            details["baseline_p50"]
        ),
        json!({"venue_count": current, "baseline": details, "table": "finra_otc_hhi"}),
        Some(capture_id),
    )
    .await?;
    recorded.push(AnomalySummary::opened(hhi.anomaly()));
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
