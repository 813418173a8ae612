//! Completeness of one capture, as policy data: is there data at all, how much of the input was
//! refused, and did the capture lose most of what the partition (or its series) usually holds?
//!
//! The pipelines gather the counts; these functions decide, from thresholds that are data
//! ([`CompletenessPolicy`], overridable), whether the capture is complete and how bad it is when
//! not. The severities decide which uses are blocked through the [`crate::BlockingPolicy`]:
//!
//! | finding | default severity | blocks |
//! |---|---|---|
//! | no accepted line | CRITICAL | every use: there is no data to trade on or report |
//! | any rejected line | WARN | nothing (a warning on the verdict) |
//! | more than 1% of lines, or more than 100 lines, rejected | ERROR | compliance |
//! | a count (rows, symbols, venues) below 50% of the previous capture or of the trailing baseline | ERROR | compliance |
//! | a count below 10% of either | CRITICAL | every use: a capture that kept a tenth of its data would move every venue share and concentration a desk routes on |
//!
//! Why trading is blocked only by the empty and the near-empty cases: a trading desk routes on
//! the week's shape (venue shares, concentration), which a few rejected lines or a thinner week
//! do not change materially, while compliance must report the complete week or nothing. A
//! capture that lost nine tenths of its data changes the shape too, so it blocks every use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use spine_model::{Category, Severity};

/// The thresholds completeness is judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletenessPolicy {
    /// Share of the lines read above which rejects are an ERROR (e.g. 0.01 = 1%).
    pub reject_share_error: f64,
    /// Count of rejected lines above which rejects are an ERROR, whatever their share.
    pub reject_count_error: u64,
    /// A count below this fraction of its reference is an ERROR (e.g. 0.5).
    pub drop_error_ratio: f64,
    /// A count below this fraction of its reference is CRITICAL (e.g. 0.1).
    pub drop_critical_ratio: f64,
    /// How many trailing partitions of the series form the baseline.
    pub baseline_window: usize,
    /// How many of them must be present for the baseline to be used.
    pub baseline_min_observations: usize,
}

impl Default for CompletenessPolicy {
    fn default() -> Self {
        CompletenessPolicy {
            reject_share_error: 0.01,
            reject_count_error: 100,
            drop_error_ratio: 0.5,
            drop_critical_ratio: 0.1,
            baseline_window: 8,
            baseline_min_observations: 3,
        }
    }
}

/// What a capture read, accepted and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineCounts {
    /// Data lines read.
    pub read: u64,
    /// Lines accepted.
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Rejected lines per reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
}

/// One completeness finding: how bad, what kind, in words, with the numbers as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Its category (`INCOMPLETE_INPUT` for the input's own faults, `COMPLETENESS` for drops).
    pub category: Category,
    /// One sentence for people, with the numbers.
    pub message: String,
    /// The evidence.
    pub details: serde_json::Value,
}

fn reasons(by_reason: &BTreeMap<String, u64>) -> String {
    let mut items: Vec<(&String, &u64)> = by_reason.iter().collect();
    items.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    items
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A capture that accepted no line: CRITICAL, whatever else is true of it.
pub fn empty(counts: &LineCounts) -> Option<Finding> {
    if counts.accepted > 0 {
        return None;
    }
    let message = if counts.read == 0 {
        "the capture holds no data line (a header-only or empty file)".to_string()
    } else {
        format!(
            "the capture accepted none of its {} lines ({})",
            counts.read,
            reasons(&counts.rejected_by_reason)
        )
    };
    Some(Finding {
        severity: Severity::Critical,
        category: Category::IncompleteInput,
        message,
        details: serde_json::json!({
            "rows_read": counts.read,
            "rows_accepted": counts.accepted,
            "rows_rejected": counts.rejected,
            "rejected_by_reason": counts.rejected_by_reason,
        }),
    })
}

/// Rejected lines: WARN for any, ERROR past the policy's share or count. `None` when nothing
/// was rejected, or when the capture is empty (that is [`empty`]'s finding).
pub fn rejects(counts: &LineCounts, policy: &CompletenessPolicy) -> Option<Finding> {
    if counts.rejected == 0 || counts.accepted == 0 {
        return None;
    }
    let share = counts.rejected as f64 / counts.read.max(1) as f64;
    let severe = share > policy.reject_share_error || counts.rejected > policy.reject_count_error;
    Some(Finding {
        severity: if severe {
            Severity::Error
        } else {
            Severity::Warn
        },
        category: Category::IncompleteInput,
        message: format!(
            "{} of {} lines rejected ({:.2}%: {}); see `spine rejects list`",
            counts.rejected,
            counts.read,
            share * 100.0,
            reasons(&counts.rejected_by_reason)
        ),
        details: serde_json::json!({
            "rows_read": counts.read,
            "rows_rejected": counts.rejected,
            "reject_share": share,
            "rejected_by_reason": counts.rejected_by_reason,
            "error_share": policy.reject_share_error,
            "error_count": policy.reject_count_error,
        }),
    })
}

/// What a count is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reference {
    /// `previous capture` or `trailing baseline`.
    pub what: String,
    /// Its value (the previous capture's count, or the baseline's median).
    pub value: f64,
    /// What it is made of, for the evidence (capture ids, weeks and their counts).
    pub evidence: serde_json::Value,
}

/// The median of a trailing window, as a [`Reference`], when enough of it is there.
pub fn baseline(observations: &[(String, u64)], policy: &CompletenessPolicy) -> Option<Reference> {
    if observations.len() < policy.baseline_min_observations.max(1) {
        return None;
    }
    let mut values: Vec<u64> = observations.iter().map(|(_, v)| *v).collect();
    values.sort_unstable();
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2] as f64
    } else {
        (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0
    };
    Some(Reference {
        what: "trailing baseline".into(),
        value: median,
        evidence: serde_json::json!({
            "median": median,
            "partitions": observations.iter().map(|(k, v)| serde_json::json!({"partition": k, "count": v})).collect::<Vec<_>>(),
        }),
    })
}

/// A count far below its reference: ERROR below the policy's error ratio, CRITICAL below its
/// critical ratio; the worst over the references wins, and the finding names them all.
pub fn drop(
    metric: &str,
    current: u64,
    references: &[Reference],
    policy: &CompletenessPolicy,
) -> Option<Finding> {
    let mut worst: Option<(Severity, &Reference, f64)> = None;
    for r in references.iter().filter(|r| r.value > 0.0) {
        let ratio = current as f64 / r.value;
        let severity = if ratio < policy.drop_critical_ratio {
            Severity::Critical
        } else if ratio < policy.drop_error_ratio {
            Severity::Error
        } else {
            continue;
        };
        if worst.is_none_or(|(s, _, _)| severity > s) {
            worst = Some((severity, r, ratio));
        }
    }
    let (severity, reference, ratio) = worst?;
    Some(Finding {
        severity,
        category: Category::Completeness,
        message: format!(
            "{metric}: {current} against {} in the {} ({:.0}% of it)",
            reference.value,
            reference.what,
            ratio * 100.0
        ),
        details: serde_json::json!({
            "metric": metric,
            "current": current,
            "ratio": ratio,
            "error_ratio": policy.drop_error_ratio,
            "critical_ratio": policy.drop_critical_ratio,
            "references": references,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(read: u64, rejected: u64) -> LineCounts {
        LineCounts {
            read,
            accepted: read - rejected,
            rejected,
            rejected_by_reason: if rejected > 0 {
                BTreeMap::from([("BAD_DATE".to_string(), rejected)])
            } else {
                BTreeMap::new()
            },
        }
    }

    #[test]
    fn a_header_only_or_all_rejected_capture_is_critical() {
        let header_only = empty(&counts(0, 0)).unwrap();
        assert_eq!(header_only.severity, Severity::Critical);
        assert!(header_only.message.contains("header-only"));
        let all_rejected = empty(&counts(27, 27)).unwrap();
        assert!(
            all_rejected
                .message
                .contains("none of its 27 lines (BAD_DATE 27)")
        );
        assert!(empty(&counts(10, 9)).is_none());
        // The empty finding is the one that speaks: no second finding for its rejects.
        assert!(rejects(&counts(27, 27), &CompletenessPolicy::default()).is_none());
    }

    #[test]
    fn rejects_warn_then_error_past_the_share_or_the_count() {
        let p = CompletenessPolicy::default();
        assert!(rejects(&counts(5_355, 0), &p).is_none());
        // 27 of 5,355 is 0.5%: a warning.
        let few = rejects(&counts(5_355, 27), &p).unwrap();
        assert_eq!(few.severity, Severity::Warn);
        assert!(
            few.message
                .starts_with("27 of 5355 lines rejected (0.50%: BAD_DATE 27)")
        );
        // Over 1%: an error.
        assert_eq!(
            rejects(&counts(1_000, 11), &p).unwrap().severity,
            Severity::Error
        );
        // Over 100 lines, even as a small share.
        assert_eq!(
            rejects(&counts(1_000_000, 101), &p).unwrap().severity,
            Severity::Error
        );
    }

    #[test]
    fn a_count_far_below_its_reference_is_an_error_or_critical() {
        let p = CompletenessPolicy::default();
        let previous = Reference {
            what: "previous capture".into(),
            value: 3_000.0,
            evidence: serde_json::json!({}),
        };
        assert!(drop("symbols", 2_900, std::slice::from_ref(&previous), &p).is_none());
        let half = drop("symbols", 1_400, std::slice::from_ref(&previous), &p).unwrap();
        assert_eq!(half.severity, Severity::Error);
        assert!(
            half.message
                .contains("1400 against 3000 in the previous capture (47% of it)")
        );
        let one = drop("symbols", 1, std::slice::from_ref(&previous), &p).unwrap();
        assert_eq!(one.severity, Severity::Critical);
        // No reference (nothing before it): nothing to judge.
        assert!(drop("symbols", 1, &[], &p).is_none());
    }

    #[test]
    fn the_baseline_is_a_median_of_enough_observations() {
        let p = CompletenessPolicy::default();
        let obs = |v: &[u64]| -> Vec<(String, u64)> {
            v.iter()
                .enumerate()
                .map(|(i, v)| (format!("w{i}"), *v))
                .collect()
        };
        assert!(baseline(&obs(&[100, 200]), &p).is_none());
        assert_eq!(baseline(&obs(&[100, 300, 200]), &p).unwrap().value, 200.0);
        assert_eq!(
            baseline(&obs(&[100, 300, 200, 400]), &p).unwrap().value,
            250.0
        );
    }
}
