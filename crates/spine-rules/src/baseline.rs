//! The venue-coverage baseline: is this week's venue count for a tier plausible against the
//! tier's recent history?
//!
//! A tier whose file arrives with far fewer venues (MPIDs) than usual is probably partial, and
//! every concentration figure computed from it overstates concentration. The check compares the
//! current count with the median of recent *trustworthy* weeks:
//!
//! * the caller supplies one [`WeekObservation`] per past week of the same tier and marks as
//!   ineligible the weeks that were not ready or still carry unresolved ERROR/CRITICAL
//!   anomalies — a bad week must not poison the baseline;
//! * [`VenueBaseline::from_history`] keeps the eligible weeks strictly before the current week,
//!   takes the most recent [`BaselineConfig::window_weeks`] of them (12 by default) and computes
//!   p10/p50/p90 by the **nearest-rank** method (below);
//! * with fewer than [`BaselineConfig::min_weeks`] eligible weeks (4 by default) there is no
//!   baseline and so explicitly no verdict ([`CoverageVerdict::InsufficientHistory`]): a check
//!   against two weeks of history would cry wolf;
//! * [`check_venue_coverage`] flags a count strictly below `threshold × p50` (0.70 by default)
//!   as a WARN `COMPLETENESS` finding that carries the evidence.
//!
//! # Percentiles: nearest rank
//!
//! For `n` sorted counts `x[1] ≤ … ≤ x[n]` and `0 < p ≤ 100`, the p-th percentile is
//! `x[⌈p/100 × n⌉]`. It is always one of the observed counts (no interpolation, so a baseline is
//! a real week's venue count that operators can look up), and it is monotone in `p`. With 12
//! weeks: p10 = `x[2]`, p50 = `x[6]`, p90 = `x[11]`; with 4 weeks: `x[1]`, `x[2]`, `x[4]`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use spine_model::{Category, Severity};

/// The default share of the median below which coverage is flagged (DESIGN: 70 %).
pub const DEFAULT_COVERAGE_THRESHOLD: f64 = 0.70;

/// One past week's venue count for the tier being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekObservation {
    /// The week (its Friday).
    pub week_ending: NaiveDate,
    /// Distinct venues (MPIDs) reported for the tier that week.
    pub venue_count: u32,
    /// False when the week was not ready or still carries unresolved ERROR/CRITICAL anomalies;
    /// such weeks are left out of the baseline.
    pub eligible: bool,
}

/// How much history the baseline uses and how much it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// At most this many of the most recent eligible weeks are used (default 12).
    pub window_weeks: usize,
    /// With fewer eligible weeks than this there is no baseline (default 4).
    pub min_weeks: usize,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            window_weeks: 12,
            min_weeks: 4,
        }
    }
}

/// The trailing distribution of a tier's venue counts over its recent eligible weeks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueBaseline {
    /// The weeks used, ascending: the evidence behind the percentiles.
    pub weeks_used: Vec<NaiveDate>,
    /// 10th percentile (nearest rank).
    pub p10: u32,
    /// Median (nearest rank): the reference the threshold applies to.
    pub p50: u32,
    /// 90th percentile (nearest rank).
    pub p90: u32,
}

/// The outcome of building a baseline: either one, or an explicit "not enough history".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Baseline {
    /// Enough eligible weeks: the distribution.
    Established(VenueBaseline),
    /// Too few eligible weeks to judge; the check gives no verdict.
    InsufficientHistory {
        /// Eligible weeks found before the current week.
        eligible_weeks: usize,
        /// [`BaselineConfig::min_weeks`].
        required: usize,
    },
}

impl VenueBaseline {
    /// Builds the baseline for `current_week` from the tier's history (see the module docs).
    ///
    /// Weeks on or after `current_week` are ignored, so re-running an old week never uses its
    /// future. When the history holds the same week twice, the later entry in the slice wins.
    pub fn from_history(
        current_week: NaiveDate,
        history: &[WeekObservation],
        config: &BaselineConfig,
    ) -> Baseline {
        let by_week: BTreeMap<NaiveDate, WeekObservation> = history
            .iter()
            .filter(|o| o.week_ending < current_week)
            .map(|o| (o.week_ending, *o))
            .collect();
        let recent: Vec<&WeekObservation> = by_week
            .values()
            .rev()
            .filter(|o| o.eligible)
            .take(config.window_weeks)
            .collect();
        if recent.len() < config.min_weeks.max(1) {
            return Baseline::InsufficientHistory {
                eligible_weeks: recent.len(),
                required: config.min_weeks.max(1),
            };
        }
        let mut counts: Vec<u32> = recent.iter().map(|o| o.venue_count).collect();
        counts.sort_unstable();
        let mut weeks_used: Vec<NaiveDate> = recent.iter().map(|o| o.week_ending).collect();
        weeks_used.sort_unstable();
        Baseline::Established(VenueBaseline {
            weeks_used,
            p10: nearest_rank(&counts, 10),
            p50: nearest_rank(&counts, 50),
            p90: nearest_rank(&counts, 90),
        })
    }
}

/// The nearest-rank percentile `x[⌈p/100 × n⌉]` of sorted, non-empty `sorted`, for `0 < p ≤ 100`.
///
/// Integer arithmetic, so there is no floating-point rounding in which week is chosen.
///
/// # Panics
/// When `sorted` is empty or `p` is outside `1..=100`.
pub fn nearest_rank(sorted: &[u32], p: u32) -> u32 {
    assert!(!sorted.is_empty(), "a percentile of no values");
    assert!((1..=100).contains(&p), "percentile {p} outside 1..=100");
    let n = sorted.len();
    let rank = (p as usize * n).div_ceil(100);
    sorted[rank.max(1) - 1]
}

/// A venue count too low against the baseline: the evidence for a WARN `COMPLETENESS` anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageFinding {
    /// The current week's venue count.
    pub current: u32,
    /// The threshold share of the median that was applied.
    pub threshold: f64,
    /// `threshold × p50`: the count the current one fell below.
    pub floor: f64,
    /// The baseline the count was judged against.
    pub baseline: VenueBaseline,
}

impl CoverageFinding {
    /// The severity to record: WARN (partial coverage is suspicious, not proof of error).
    pub const SEVERITY: Severity = Severity::Warn;
    /// The category to record: COMPLETENESS (less data than expected).
    pub const CATEGORY: Category = Category::Completeness;

    /// One sentence for people, e.g. "venue count 12 is below 70% of the baseline median 40
    /// (p10 35, p50 40, p90 44 over 12 eligible weeks)".
    pub fn message(&self) -> String {
        format!(
            "venue count {} is below {}% of the baseline median {} (p10 {}, p50 {}, p90 {} over \
             {} eligible weeks)",
            self.current,
            fmt_percent(self.threshold),
            self.baseline.p50,
            self.baseline.p10,
            self.baseline.p50,
            self.baseline.p90,
            self.baseline.weeks_used.len()
        )
    }

    /// The anomaly's `details`: current count, p10/p50/p90, threshold and the weeks used.
    pub fn details(&self) -> serde_json::Value {
        serde_json::json!({
            "current_venue_count": self.current,
            "threshold": self.threshold,
            "floor": self.floor,
            "baseline_p10": self.baseline.p10,
            "baseline_p50": self.baseline.p50,
            "baseline_p90": self.baseline.p90,
            "baseline_weeks": self.baseline.weeks_used.len(),
            "baseline_week_endings": self
                .baseline
                .weeks_used
                .iter()
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect::<Vec<_>>(),
        })
    }
}

fn fmt_percent(share: f64) -> String {
    let pct = share * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{}", pct.round() as i64)
    } else {
        format!("{pct:.1}")
    }
}

/// What the coverage check concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CoverageVerdict {
    /// The count is at or above `threshold × p50`.
    Sufficient {
        /// The current count.
        current: u32,
        /// `threshold × p50`.
        floor: f64,
    },
    /// The count is below `threshold × p50`: record the finding.
    BelowBaseline(CoverageFinding),
    /// Not enough eligible history to judge: explicitly no verdict.
    InsufficientHistory {
        /// Eligible weeks found.
        eligible_weeks: usize,
        /// Weeks required.
        required: usize,
    },
}

/// Judges `current` against `baseline` with `threshold` (a share of the median, normally
/// [`DEFAULT_COVERAGE_THRESHOLD`]).
///
/// Below means strictly below `threshold × p50`. A NaN threshold flags nothing (no comparison
/// with NaN holds); the caller validates configured thresholds.
pub fn check_venue_coverage(current: u32, baseline: &Baseline, threshold: f64) -> CoverageVerdict {
    match baseline {
        Baseline::InsufficientHistory {
            eligible_weeks,
            required,
        } => CoverageVerdict::InsufficientHistory {
            eligible_weeks: *eligible_weeks,
            required: *required,
        },
        Baseline::Established(b) => {
            let floor = threshold * f64::from(b.p50);
            if f64::from(current) < floor {
                CoverageVerdict::BelowBaseline(CoverageFinding {
                    current,
                    threshold,
                    floor,
                    baseline: b.clone(),
                })
            } else {
                CoverageVerdict::Sufficient { current, floor }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use proptest::prelude::*;

    fn friday(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 12, 19).unwrap() + TimeDelta::weeks(n)
    }

    fn obs(n: i64, venue_count: u32, eligible: bool) -> WeekObservation {
        WeekObservation {
            week_ending: friday(n),
            venue_count,
            eligible,
        }
    }

    fn established(b: Baseline) -> VenueBaseline {
        match b {
            Baseline::Established(b) => b,
            other => panic!("expected a baseline, got {other:?}"),
        }
    }

    #[test]
    fn nearest_rank_picks_observed_values() {
        let xs: Vec<u32> = (1..=12).map(|i| i * 10).collect();
        assert_eq!(nearest_rank(&xs, 10), 20);
        assert_eq!(nearest_rank(&xs, 50), 60);
        assert_eq!(nearest_rank(&xs, 90), 110);
        assert_eq!(nearest_rank(&xs, 100), 120);
        assert_eq!(nearest_rank(&xs, 1), 10);
        let four = [5, 6, 7, 8];
        assert_eq!(
            (
                nearest_rank(&four, 10),
                nearest_rank(&four, 50),
                nearest_rank(&four, 90)
            ),
            (5, 6, 8)
        );
        assert_eq!(nearest_rank(&[42], 50), 42);
    }

    #[test]
    fn uses_the_last_twelve_eligible_weeks_before_the_current_one() {
        // 20 past weeks with counts 101..=120 (week -20 → 101, week -1 → 120), plus the
        // current week and a later week that must be ignored.
        let mut history: Vec<WeekObservation> =
            (1..=20).map(|i| obs(-i, 121 - i as u32, true)).collect();
        history.push(obs(0, 1, true));
        history.push(obs(1, 1, true));
        let b = established(VenueBaseline::from_history(
            friday(0),
            &history,
            &BaselineConfig::default(),
        ));
        assert_eq!(b.weeks_used.len(), 12);
        assert_eq!(b.weeks_used.first(), Some(&friday(-12)));
        assert_eq!(b.weeks_used.last(), Some(&friday(-1)));
        // Counts 109..=120: p10 = x[2] = 110, p50 = x[6] = 114, p90 = x[11] = 119.
        assert_eq!((b.p10, b.p50, b.p90), (110, 114, 119));
    }

    #[test]
    fn ineligible_weeks_are_skipped_not_counted() {
        let mut history: Vec<WeekObservation> = (1..=14).map(|i| obs(-i, 100, true)).collect();
        // Two bad weeks inside the window: a partial week (5 venues) and a failed one.
        history[0] = obs(-1, 5, false);
        history[3] = obs(-4, 0, false);
        let b = established(VenueBaseline::from_history(
            friday(0),
            &history,
            &BaselineConfig::default(),
        ));
        assert_eq!(b.weeks_used.len(), 12);
        assert!(!b.weeks_used.contains(&friday(-1)));
        assert!(!b.weeks_used.contains(&friday(-4)));
        assert_eq!(b.weeks_used.first(), Some(&friday(-14)));
        assert_eq!((b.p10, b.p50, b.p90), (100, 100, 100));
    }

    #[test]
    fn too_little_history_is_an_explicit_non_verdict() {
        let history = [obs(-1, 100, true), obs(-2, 100, true), obs(-3, 100, false)];
        let b = VenueBaseline::from_history(friday(0), &history, &BaselineConfig::default());
        assert_eq!(
            b,
            Baseline::InsufficientHistory {
                eligible_weeks: 2,
                required: 4
            }
        );
        assert_eq!(
            check_venue_coverage(1, &b, DEFAULT_COVERAGE_THRESHOLD),
            CoverageVerdict::InsufficientHistory {
                eligible_weeks: 2,
                required: 4
            }
        );
        let relaxed = BaselineConfig {
            window_weeks: 12,
            min_weeks: 2,
        };
        assert!(matches!(
            VenueBaseline::from_history(friday(0), &history, &relaxed),
            Baseline::Established(_)
        ));
        let empty = VenueBaseline::from_history(
            friday(0),
            &[],
            &BaselineConfig {
                window_weeks: 12,
                min_weeks: 0,
            },
        );
        assert!(matches!(
            empty,
            Baseline::InsufficientHistory { required: 1, .. }
        ));
    }

    #[test]
    fn a_later_duplicate_week_replaces_the_earlier() {
        let history = [
            obs(-1, 100, true),
            obs(-2, 100, true),
            obs(-3, 100, true),
            obs(-4, 100, true),
            obs(-1, 100, false),
        ];
        let b = VenueBaseline::from_history(friday(0), &history, &BaselineConfig::default());
        assert!(matches!(
            b,
            Baseline::InsufficientHistory {
                eligible_weeks: 3,
                ..
            }
        ));
    }

    #[test]
    fn coverage_below_seventy_percent_of_the_median_is_a_warn_completeness_finding() {
        let history: Vec<WeekObservation> = (1..=12)
            .map(|i| obs(-i, 36 + (i as u32 % 9), true))
            .collect();
        let baseline = VenueBaseline::from_history(friday(0), &history, &BaselineConfig::default());
        let b = established(baseline.clone());
        assert_eq!((b.p10, b.p50, b.p90), (37, 39, 43));
        // floor = 0.7 × 39 = 27.3
        let CoverageVerdict::BelowBaseline(finding) =
            check_venue_coverage(12, &baseline, DEFAULT_COVERAGE_THRESHOLD)
        else {
            panic!("12 venues against a median of 39 must be flagged");
        };
        assert_eq!(CoverageFinding::SEVERITY, Severity::Warn);
        assert_eq!(CoverageFinding::CATEGORY, Category::Completeness);
        assert_eq!(
            finding.message(),
            "venue count 12 is below 70% of the baseline median 39 (p10 37, p50 39, p90 43 over \
             12 eligible weeks)"
        );
        let details = finding.details();
        assert_eq!(details["current_venue_count"], 12);
        assert_eq!(details["baseline_p10"], 37);
        assert_eq!(details["baseline_p50"], 39);
        assert_eq!(details["baseline_p90"], 43);
        assert_eq!(details["baseline_weeks"], 12);
        assert_eq!(details["baseline_week_endings"][11], "2025-12-12");

        assert!(matches!(
            check_venue_coverage(28, &baseline, DEFAULT_COVERAGE_THRESHOLD),
            CoverageVerdict::Sufficient { current: 28, .. }
        ));
        assert!(matches!(
            check_venue_coverage(27, &baseline, DEFAULT_COVERAGE_THRESHOLD),
            CoverageVerdict::BelowBaseline(_)
        ));
        // Exactly at the floor is not below it.
        let tens: Vec<WeekObservation> = (1..=4).map(|i| obs(-i, 10, true)).collect();
        let tens = VenueBaseline::from_history(friday(0), &tens, &BaselineConfig::default());
        assert!(matches!(
            check_venue_coverage(7, &tens, 0.7),
            CoverageVerdict::Sufficient { .. }
        ));
        assert!(matches!(
            check_venue_coverage(6, &tens, 0.7),
            CoverageVerdict::BelowBaseline(_)
        ));
        assert!(matches!(
            check_venue_coverage(0, &tens, f64::NAN),
            CoverageVerdict::Sufficient { .. }
        ));
    }

    #[test]
    fn verdicts_serialize_with_a_kind_tag() {
        let v = CoverageVerdict::InsufficientHistory {
            eligible_weeks: 1,
            required: 4,
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"kind":"insufficient_history","eligible_weeks":1,"required":4}"#
        );
    }

    fn arb_history() -> impl Strategy<Value = Vec<WeekObservation>> {
        prop::collection::vec((-40i64..5, 0u32..500, any::<bool>()), 0..40).prop_map(|v| {
            v.into_iter()
                .map(|(n, c, e)| obs(n, c, e))
                .collect::<Vec<_>>()
        })
    }

    proptest! {
        #[test]
        fn percentiles_are_ordered_observed_eligible_past_counts(
            history in arb_history(),
            window in 1usize..15,
            min in 0usize..6,
        ) {
            let config = BaselineConfig { window_weeks: window, min_weeks: min };
            match VenueBaseline::from_history(friday(0), &history, &config) {
                Baseline::Established(b) => {
                    prop_assert!(b.p10 <= b.p50 && b.p50 <= b.p90);
                    prop_assert!(b.weeks_used.len() <= window);
                    prop_assert!(b.weeks_used.len() >= min.max(1));
                    prop_assert!(b.weeks_used.windows(2).all(|w| w[0] < w[1]));
                    // Every week used is before the current one and, by its last entry,
                    // eligible; every percentile is a count of a week used.
                    let last: BTreeMap<NaiveDate, WeekObservation> =
                        history.iter().map(|o| (o.week_ending, *o)).collect();
                    for w in &b.weeks_used {
                        prop_assert!(*w < friday(0));
                        prop_assert!(last[w].eligible);
                    }
                    let used: Vec<u32> = b.weeks_used.iter().map(|w| last[w].venue_count).collect();
                    for p in [b.p10, b.p50, b.p90] {
                        prop_assert!(used.contains(&p));
                    }
                    // No eligible past week newer than the oldest used one was skipped.
                    let oldest = b.weeks_used[0];
                    let newer_eligible = last
                        .values()
                        .filter(|o| o.eligible && o.week_ending >= oldest && o.week_ending < friday(0))
                        .count();
                    prop_assert_eq!(newer_eligible, b.weeks_used.len());
                }
                Baseline::InsufficientHistory { eligible_weeks, required } => {
                    prop_assert!(eligible_weeks < required);
                }
            }
        }

        #[test]
        fn a_count_at_or_above_the_median_is_never_flagged(
            history in arb_history(),
            extra in 0u32..100,
            threshold in 0.0f64..=1.0,
        ) {
            let baseline = VenueBaseline::from_history(friday(0), &history, &BaselineConfig::default());
            if let Baseline::Established(b) = &baseline {
                let verdict = check_venue_coverage(b.p50 + extra, &baseline, threshold);
                prop_assert!(
                    matches!(verdict, CoverageVerdict::Sufficient { .. }),
                    "flagged {:?}", verdict
                );
            }
        }
    }
}
