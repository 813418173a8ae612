//! The revision diff: what changed between two captures of the same partition.
//!
//! When FINRA re-publishes a week, Market Spine keeps both captures and records an INFO
//! `FRESHNESS` anomaly whose details say how much the revision matters: how many symbols each
//! capture has, which appeared or disappeared, and how many symbols' venue concentration (HHI)
//! moved by more than a threshold. A revision that only re-stamps `lastUpdateDate` shows an empty
//! diff; one that adds a missing venue shows HHI moves. The inputs are per-symbol summaries the
//! caller computed from each capture's normalized rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The default HHI move that counts as material (DESIGN/issue: 0.05).
pub const DEFAULT_HHI_THRESHOLD: f64 = 0.05;

/// One symbol's summary in one capture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SymbolStats {
    /// Total weekly shares across venues.
    pub total_shares: i64,
    /// Herfindahl–Hirschman index of venue shares, in `[0, 1]`.
    pub hhi: f64,
}

/// A symbol whose HHI moved by more than the threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HhiMove {
    /// The symbol.
    pub symbol: String,
    /// HHI in the previous capture.
    pub old: f64,
    /// HHI in the new capture.
    pub new: f64,
}

/// What a revision changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionDiff {
    /// Symbols in the previous capture.
    pub previous_symbols: usize,
    /// Symbols in the new capture.
    pub new_symbols: usize,
    /// Symbols only in the new capture, sorted.
    pub added: Vec<String>,
    /// Symbols only in the previous capture, sorted.
    pub removed: Vec<String>,
    /// Symbols in both whose HHI moved by more than the threshold, sorted by symbol.
    pub hhi_moved: Vec<HhiMove>,
    /// `hhi_moved.len()`, spelled out because it is the headline number in anomaly details.
    pub hhi_moved_count: usize,
    /// Σ total_shares over the previous capture's symbols.
    pub previous_total_shares: i64,
    /// Σ total_shares over the new capture's symbols.
    pub new_total_shares: i64,
}

impl RevisionDiff {
    /// True when the revision changed nothing this diff measures (a pure re-stamp).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.hhi_moved.is_empty()
            && self.previous_total_shares == self.new_total_shares
    }
}

/// Diffs two captures' per-symbol summaries.
///
/// A symbol's HHI counts as moved when `|new − old| > hhi_threshold` (strictly). A NaN HHI on
/// either side never counts as moved (no comparison with NaN holds); HHI is computed from
/// shares and is NaN only for a symbol with zero shares, which the business rules already flag.
/// Share totals saturate rather than overflow.
pub fn diff_revision(
    previous: &BTreeMap<String, SymbolStats>,
    new: &BTreeMap<String, SymbolStats>,
    hhi_threshold: f64,
) -> RevisionDiff {
    let added: Vec<String> = new
        .keys()
        .filter(|s| !previous.contains_key(*s))
        .cloned()
        .collect();
    let removed: Vec<String> = previous
        .keys()
        .filter(|s| !new.contains_key(*s))
        .cloned()
        .collect();
    let hhi_moved: Vec<HhiMove> = previous
        .iter()
        .filter_map(|(symbol, old)| {
            let new = new.get(symbol)?;
            ((new.hhi - old.hhi).abs() > hhi_threshold).then(|| HhiMove {
                symbol: symbol.clone(),
                old: old.hhi,
                new: new.hhi,
            })
        })
        .collect();
    let total = |m: &BTreeMap<String, SymbolStats>| {
        m.values()
            .fold(0i64, |acc, s| acc.saturating_add(s.total_shares))
    };
    RevisionDiff {
        previous_symbols: previous.len(),
        new_symbols: new.len(),
        hhi_moved_count: hhi_moved.len(),
        added,
        removed,
        hhi_moved,
        previous_total_shares: total(previous),
        new_total_shares: total(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stats(entries: &[(&str, i64, f64)]) -> BTreeMap<String, SymbolStats> {
        entries
            .iter()
            .map(|(s, shares, hhi)| {
                (
                    s.to_string(),
                    SymbolStats {
                        total_shares: *shares,
                        hhi: *hhi,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn reports_added_removed_and_material_hhi_moves() {
        let previous = stats(&[
            ("AAPL", 1000, 0.20),
            ("MSFT", 500, 0.50),
            ("ZZZZ", 10, 1.0),
            ("TSLA", 800, 0.30),
        ]);
        let new = stats(&[
            ("AAPL", 1100, 0.26),
            ("MSFT", 500, 0.46),
            ("TSLA", 800, 0.30),
            ("NVDA", 900, 0.10),
            ("AMD", 50, 0.90),
        ]);
        let diff = diff_revision(&previous, &new, DEFAULT_HHI_THRESHOLD);
        assert_eq!(diff.previous_symbols, 4);
        assert_eq!(diff.new_symbols, 5);
        assert_eq!(diff.added, ["AMD", "NVDA"]);
        assert_eq!(diff.removed, ["ZZZZ"]);
        assert_eq!(
            diff.hhi_moved,
            [HhiMove {
                symbol: "AAPL".into(),
                old: 0.20,
                new: 0.26
            }]
        );
        assert_eq!(diff.hhi_moved_count, 1);
        assert_eq!(diff.previous_total_shares, 2310);
        assert_eq!(diff.new_total_shares, 3350);
        assert!(!diff.is_empty());
    }

    #[test]
    fn a_move_of_exactly_the_threshold_is_not_material() {
        let previous = stats(&[("A", 1, 0.25)]);
        let new = stats(&[("A", 1, 0.5)]);
        assert_eq!(diff_revision(&previous, &new, 0.25).hhi_moved_count, 0);
        assert_eq!(diff_revision(&previous, &new, 0.2).hhi_moved_count, 1);
    }

    #[test]
    fn nan_hhi_never_counts_as_moved() {
        let previous = stats(&[("A", 0, f64::NAN)]);
        let new = stats(&[("A", 10, 1.0)]);
        assert_eq!(diff_revision(&previous, &new, 0.05).hhi_moved_count, 0);
    }

    #[test]
    fn identical_captures_diff_to_nothing() {
        let m = stats(&[("A", 1, 0.3), ("B", 2, 0.4)]);
        let diff = diff_revision(&m, &m, DEFAULT_HHI_THRESHOLD);
        assert!(diff.is_empty());
        assert_eq!(diff.previous_symbols, 2);
        let empty = diff_revision(&BTreeMap::new(), &BTreeMap::new(), 0.05);
        assert!(empty.is_empty());
        assert_eq!(empty.new_symbols, 0);
    }

    #[test]
    fn serializes_for_anomaly_details() {
        let diff = diff_revision(&stats(&[("A", 1, 0.1)]), &stats(&[("A", 1, 0.9)]), 0.05);
        let json = serde_json::to_value(&diff).unwrap();
        assert_eq!(json["hhi_moved_count"], 1);
        assert_eq!(json["hhi_moved"][0]["symbol"], "A");
        assert_eq!(json["added"], serde_json::json!([]));
    }

    fn arb_map() -> impl Strategy<Value = BTreeMap<String, SymbolStats>> {
        prop::collection::btree_map(
            "[A-E]{1,2}",
            (0i64..1_000_000, 0.0f64..=1.0)
                .prop_map(|(total_shares, hhi)| SymbolStats { total_shares, hhi }),
            0..20,
        )
    }

    proptest! {
        #[test]
        fn diff_accounts_for_every_symbol(a in arb_map(), b in arb_map(), t in 0.0f64..0.5) {
            let diff = diff_revision(&a, &b, t);
            prop_assert_eq!(diff.previous_symbols - diff.removed.len() + diff.added.len(), diff.new_symbols);
            prop_assert!(diff.added.iter().all(|s| !diff.removed.contains(s)));
            prop_assert!(diff.added.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(diff.removed.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(diff.hhi_moved_count, diff.hhi_moved.len());
            for m in &diff.hhi_moved {
                prop_assert!(a.contains_key(&m.symbol) && b.contains_key(&m.symbol));
                prop_assert!((m.new - m.old).abs() > t);
            }
        }

        #[test]
        fn diff_is_antisymmetric(a in arb_map(), b in arb_map(), t in 0.0f64..0.5) {
            let ab = diff_revision(&a, &b, t);
            let ba = diff_revision(&b, &a, t);
            prop_assert_eq!(&ab.added, &ba.removed);
            prop_assert_eq!(&ab.removed, &ba.added);
            prop_assert_eq!(ab.hhi_moved_count, ba.hhi_moved_count);
            prop_assert!(diff_revision(&a, &a, t).is_empty());
        }
    }
}
