//! The FINRA OTC calculations of DESIGN.md, computed in one streaming pass.
//!
//! Per (week, tier) — one [`WeekAccumulator`] fed every accepted row of a capture:
//! - **symbol summary** per symbol: total shares, total trades, venue count;
//! - **venue share** per MPID: MPID shares / tier shares (the shares sum to 1);
//! - **HHI concentration** per symbol: Σ (MPID shares / symbol shares)², in [0, 1].
//!
//! Per week, across tiers: [`tier_split`]. Per (week, tier, symbol), with the exchange calendar's
//! trading days for the week: [`volume_per_day`].
//!
//! Why this shape:
//! - **One pass, bounded memory.** The accumulator keeps one small record per distinct symbol and
//!   per MPID and a 4-byte MPID id per (symbol, MPID) pair, never the rows; a million-row week
//!   costs tens of megabytes.
//! - **Exact until the last step.** Totals are integers; HHI accumulates Σ sᵢ² exactly in `u128`
//!   and divides once, so results do not depend on row order and are reproducible from the
//!   normalized rows bit for bit.
//! - **Undefined is not zero.** A ratio with a zero denominator is reported as missing, never as
//!   0 or NaN: see [`WeekCalcs::hhi_undefined_symbols`], [`WeekCalcs::venue_shares`],
//!   [`CalcError::ZeroTotalShares`] and [`CalcError::ZeroTradingDays`].
//! - **Deterministic output.** Every list is sorted (by symbol, MPID or tier), so snapshots and
//!   stored rows are stable.

use chrono::NaiveDate;
use foldhash::HashMap;
use serde::Serialize;
use spine_model::{PartitionKey, Tier};

use super::parse::{FinraRow, VenueSet};
use spine_model::week::is_friday;

/// Why a calculation input was refused. On error nothing is applied, so the accumulator stays
/// consistent and the caller decides whether to continue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    /// A `week_ending` must be a Friday.
    #[error("week_ending {date} is not a Friday")]
    NotAFriday {
        /// The date given.
        date: NaiveDate,
    },
    /// A row of another tier was pushed into a tier's accumulator.
    #[error(
        "row from line {line_number} is tier {found}, but this accumulator is for tier {expected}"
    )]
    TierMismatch {
        /// The accumulator's tier.
        expected: Tier,
        /// The row's tier.
        found: Tier,
        /// The row's line in its source file.
        line_number: u64,
    },
    /// A negative share or trade quantity (the parser rejects these; this guards other sources).
    #[error("{field} of symbol `{symbol}` at MPID `{mpid}` is negative ({value})")]
    NegativeQuantity {
        /// The symbol.
        symbol: String,
        /// The MPID.
        mpid: String,
        /// `shares` or `trades`.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// The same (symbol, MPID) pair twice in one week and tier: venue counts and HHI would be
    /// wrong, so it is refused rather than merged.
    #[error("symbol `{symbol}` at MPID `{mpid}` was pushed twice for the same week and tier")]
    DuplicateSymbolMpid {
        /// The symbol.
        symbol: String,
        /// The MPID.
        mpid: String,
    },
    /// A total does not fit in 64 bits.
    #[error("the total {what} overflows a 64-bit integer")]
    Overflow {
        /// Which total: `tier shares`, `tier trades` or `all-tier shares`.
        what: &'static str,
    },
    /// The same tier twice in a tier split's input.
    #[error("tier {tier} appears twice in the tier split input")]
    DuplicateTier {
        /// The repeated tier.
        tier: Tier,
    },
    /// A tier with negative shares in a tier split's input.
    #[error("tier {tier} has negative shares ({shares})")]
    NegativeTierShares {
        /// The tier.
        tier: Tier,
        /// The value given.
        shares: i64,
    },
    /// Every tier has zero shares, so no tier has a defined share of the total.
    #[error("all tiers have zero shares: the tier split is undefined")]
    ZeroTotalShares,
    /// Volume per trading day over zero trading days is undefined, not infinite.
    #[error("trading_days is 0: volume per trading day is undefined for a week without trading")]
    ZeroTradingDays,
}

/// Shares, trades and venue count of one symbol in one week and tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolSummary {
    /// `issueSymbolIdentifier`.
    pub symbol: String,
    /// Σ shares over the symbol's venues.
    pub total_shares: i64,
    /// Σ trades over the symbol's venues.
    pub total_trades: i64,
    /// Number of distinct MPIDs that reported the symbol.
    pub venue_count: u32,
}

/// One venue's part of its tier's volume in one week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VenueShare {
    /// The venue.
    pub mpid: String,
    /// Σ shares over the venue's symbols.
    pub shares: i64,
    /// Σ trades over the venue's symbols.
    pub trades: i64,
    /// Number of distinct symbols the venue reported.
    pub symbol_count: u32,
    /// `shares / tier shares`, in [0, 1]; the shares of a tier-week sum to 1.
    pub share: f64,
}

/// How concentrated one symbol's volume is across venues (Herfindahl–Hirschman index).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolConcentration {
    /// `issueSymbolIdentifier`.
    pub symbol: String,
    /// Number of venues; `hhi >= 1 / venue_count`.
    pub venue_count: u32,
    /// The symbol's total shares (always > 0 here).
    pub total_shares: i64,
    /// Σ (venue shares / symbol shares)², in (0, 1]: 1 for a single venue, 1/n for n equal ones.
    pub hhi: f64,
}

/// Everything one [`WeekAccumulator`] computes for its week and tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekCalcs {
    /// The week (its Friday).
    pub week_ending: NaiveDate,
    /// The tier.
    pub tier: Tier,
    /// Rows pushed.
    pub rows: u64,
    /// Σ shares over the tier: the venue-share denominator.
    pub tier_shares: i64,
    /// Σ trades over the tier.
    pub tier_trades: i64,
    /// One per symbol, sorted by symbol.
    pub symbol_summaries: Vec<SymbolSummary>,
    /// One per MPID, sorted by MPID; **empty when `tier_shares` is 0**, since no venue then has a
    /// defined share.
    pub venue_shares: Vec<VenueShare>,
    /// One per symbol with total shares > 0, sorted by symbol.
    pub concentrations: Vec<SymbolConcentration>,
    /// Symbols whose total shares are 0: their HHI is undefined (0/0), so they are listed here
    /// instead of in `concentrations`. Sorted.
    pub hhi_undefined_symbols: Vec<String>,
}

impl WeekCalcs {
    /// The partition these results belong to: `{"tier":…,"week_ending":…}`.
    pub fn partition_key(&self) -> PartitionKey {
        PartitionKey::week_tier(self.week_ending, self.tier)
    }
}

/// Running totals of one symbol.
#[derive(Default)]
struct SymbolTotals {
    shares: i64,
    trades: i64,
    /// Σ sᵢ² over venues; exact because Σ sᵢ² ≤ (Σ sᵢ)² < 2¹²⁶ whenever Σ sᵢ fits in an i64.
    sum_squares: u128,
    /// Ids of the MPIDs seen for this symbol, to refuse duplicates; its length is the venue
    /// count.
    venues: VenueSet<()>,
}

/// Running totals of one venue.
#[derive(Default)]
struct VenueTotals {
    shares: i64,
    trades: i64,
    symbols: u32,
}

/// Maps each distinct string to a dense id, so per-row state is integers.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
}

impl Interner {
    fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    fn intern(&mut self, s: &str) -> (u32, bool) {
        if let Some(id) = self.get(s) {
            return (id, false);
        }
        let id = u32::try_from(self.ids.len()).expect("fewer than 2^32 distinct values");
        self.ids.insert(s.into(), id);
        (id, true)
    }

    /// The strings in id order.
    fn into_names(self) -> Vec<String> {
        let mut names = vec![String::new(); self.ids.len()];
        for (name, id) in self.ids {
            names[id as usize] = name.into_string();
        }
        names
    }
}

/// Accumulates one week and tier of rows and computes its calcs in [`WeekAccumulator::finish`].
///
/// Feed it every accepted row of one capture (order does not matter), with
/// [`WeekAccumulator::push`] when you have parsed rows or [`WeekAccumulator::push_values`] when
/// recomputing from stored normalized rows.
pub struct WeekAccumulator {
    week_ending: NaiveDate,
    tier: Tier,
    symbols: Interner,
    symbol_totals: Vec<SymbolTotals>,
    mpids: Interner,
    venue_totals: Vec<VenueTotals>,
    rows: u64,
    tier_shares: i64,
    tier_trades: i64,
}

impl std::fmt::Debug for WeekAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeekAccumulator")
            .field("week_ending", &self.week_ending)
            .field("tier", &self.tier)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl WeekAccumulator {
    /// Starts an empty week for one tier; `week_ending` must be a Friday.
    pub fn new(week_ending: NaiveDate, tier: Tier) -> Result<WeekAccumulator, CalcError> {
        if !is_friday(week_ending) {
            return Err(CalcError::NotAFriday { date: week_ending });
        }
        Ok(WeekAccumulator {
            week_ending,
            tier,
            symbols: Interner::default(),
            symbol_totals: Vec::new(),
            mpids: Interner::default(),
            venue_totals: Vec::new(),
            rows: 0,
            tier_shares: 0,
            tier_trades: 0,
        })
    }

    /// The week this accumulator is for.
    pub fn week_ending(&self) -> NaiveDate {
        self.week_ending
    }

    /// The tier this accumulator is for.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds one parsed row; its tier must be this accumulator's.
    pub fn push(&mut self, row: &FinraRow) -> Result<(), CalcError> {
        if row.tier() != self.tier {
            return Err(CalcError::TierMismatch {
                expected: self.tier,
                found: row.tier(),
                line_number: row.line_number(),
            });
        }
        self.push_values(row.symbol(), row.mpid(), row.shares(), row.trades())
    }

    /// Adds one (symbol, MPID) observation of this week and tier.
    ///
    /// Refuses negative quantities, a pair already pushed, and totals that would overflow; a
    /// refused row changes nothing.
    pub fn push_values(
        &mut self,
        symbol: &str,
        mpid: &str,
        shares: i64,
        trades: i64,
    ) -> Result<(), CalcError> {
        for (field, value) in [("shares", shares), ("trades", trades)] {
            if value < 0 {
                return Err(CalcError::NegativeQuantity {
                    symbol: symbol.to_string(),
                    mpid: mpid.to_string(),
                    field,
                    value,
                });
            }
        }
        // Every partial sum is bounded by the tier total, so checking the tier totals suffices.
        let tier_shares = self
            .tier_shares
            .checked_add(shares)
            .ok_or(CalcError::Overflow {
                what: "tier shares",
            })?;
        let tier_trades = self
            .tier_trades
            .checked_add(trades)
            .ok_or(CalcError::Overflow {
                what: "tier trades",
            })?;
        // A pair can only be a duplicate if both strings are already known, so a duplicate is
        // detected before anything new is interned.
        if let (Some(s), Some(m)) = (self.symbols.get(symbol), self.mpids.get(mpid))
            && self.symbol_totals[s as usize].venues.get(m).is_some()
        {
            return Err(CalcError::DuplicateSymbolMpid {
                symbol: symbol.to_string(),
                mpid: mpid.to_string(),
            });
        }
        let (symbol_id, new_symbol) = self.symbols.intern(symbol);
        if new_symbol {
            self.symbol_totals.push(SymbolTotals::default());
        }
        let (mpid_id, new_mpid) = self.mpids.intern(mpid);
        if new_mpid {
            self.venue_totals.push(VenueTotals::default());
        }
        let s = &mut self.symbol_totals[symbol_id as usize];
        s.venues.insert(mpid_id, ());
        s.shares += shares;
        s.trades += trades;
        let shares_u = u128::from(shares.unsigned_abs());
        s.sum_squares += shares_u * shares_u;
        let v = &mut self.venue_totals[mpid_id as usize];
        v.shares += shares;
        v.trades += trades;
        v.symbols += 1;
        self.tier_shares = tier_shares;
        self.tier_trades = tier_trades;
        self.rows += 1;
        Ok(())
    }

    /// Computes the week's calcs, every list sorted.
    pub fn finish(self) -> WeekCalcs {
        let mut names = self.symbols.into_names();
        // Sort ids rather than (name, totals) pairs: a million symbols then cost 4 MB to sort.
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_unstable_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));

        let mut symbol_summaries = Vec::with_capacity(order.len());
        let mut concentrations = Vec::with_capacity(order.len());
        let mut hhi_undefined_symbols = Vec::new();
        for id in order {
            let symbol = std::mem::take(&mut names[id as usize]);
            let t = &self.symbol_totals[id as usize];
            let venue_count = u32::try_from(t.venues.len()).expect("fewer than 2^32 venues");
            if t.shares > 0 {
                let total = u128::from(t.shares.unsigned_abs());
                concentrations.push(SymbolConcentration {
                    symbol: symbol.clone(),
                    venue_count,
                    total_shares: t.shares,
                    // Both sides are exact integers; one rounding each, and since
                    // sum_squares <= total², the quotient never exceeds 1.
                    hhi: t.sum_squares as f64 / (total * total) as f64,
                });
            } else {
                hhi_undefined_symbols.push(symbol.clone());
            }
            symbol_summaries.push(SymbolSummary {
                symbol,
                total_shares: t.shares,
                total_trades: t.trades,
                venue_count,
            });
        }
        drop(self.symbol_totals);

        let mut venue_shares = Vec::new();
        if self.tier_shares > 0 {
            let tier_shares = self.tier_shares as f64;
            venue_shares = self
                .mpids
                .into_names()
                .into_iter()
                .zip(self.venue_totals)
                .map(|(mpid, v)| VenueShare {
                    mpid,
                    shares: v.shares,
                    trades: v.trades,
                    symbol_count: v.symbols,
                    share: v.shares as f64 / tier_shares,
                })
                .collect();
            venue_shares.sort_unstable_by(|a, b| a.mpid.cmp(&b.mpid));
        }

        WeekCalcs {
            week_ending: self.week_ending,
            tier: self.tier,
            rows: self.rows,
            tier_shares: self.tier_shares,
            tier_trades: self.tier_trades,
            symbol_summaries,
            venue_shares,
            concentrations,
            hhi_undefined_symbols,
        }
    }
}

/// One tier's part of a week's volume across all tiers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierSplit {
    /// The tier.
    pub tier: Tier,
    /// The tier's total shares for the week.
    pub shares: i64,
    /// `shares / all-tier shares`, in [0, 1]; the shares of the tiers given sum to 1.
    pub share: f64,
}

/// Each tier's share of the week's all-tier shares, sorted by tier.
///
/// Takes `(tier, tier shares)` for the tiers present (typically [`WeekCalcs::tier_shares`] of each
/// tier's latest capture); whether all three tiers are present is a completeness question for the
/// caller, not this function. Empty input gives an empty split; a repeated tier, negative shares,
/// or all-zero shares are errors.
pub fn tier_split(tiers: &[(Tier, i64)]) -> Result<Vec<TierSplit>, CalcError> {
    let mut sorted: Vec<(Tier, i64)> = tiers.to_vec();
    sorted.sort_unstable_by_key(|(tier, _)| *tier);
    let mut total: i64 = 0;
    for (i, (tier, shares)) in sorted.iter().enumerate() {
        if i > 0 && sorted[i - 1].0 == *tier {
            return Err(CalcError::DuplicateTier { tier: *tier });
        }
        if *shares < 0 {
            return Err(CalcError::NegativeTierShares {
                tier: *tier,
                shares: *shares,
            });
        }
        total = total.checked_add(*shares).ok_or(CalcError::Overflow {
            what: "all-tier shares",
        })?;
    }
    if sorted.is_empty() {
        return Ok(Vec::new());
    }
    if total == 0 {
        return Err(CalcError::ZeroTotalShares);
    }
    Ok(sorted
        .into_iter()
        .map(|(tier, shares)| TierSplit {
            tier,
            shares,
            share: shares as f64 / total as f64,
        })
        .collect())
}

/// A symbol's average daily volume over the trading days of its week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumePerDay {
    /// `issueSymbolIdentifier`.
    pub symbol: String,
    /// The symbol's total shares for the week.
    pub total_shares: i64,
    /// The exchange calendar's trading days in the week (a REQUIRED upstream fact).
    pub trading_days: u32,
    /// `total_shares / trading_days`.
    pub shares_per_day: f64,
}

/// Shares per trading day for every symbol of a week and tier, sorted by symbol.
///
/// `trading_days` comes from the exchange calendar (`trading_days_in_week`); 0 is
/// [`CalcError::ZeroTradingDays`], never a division by zero.
pub fn volume_per_day(
    summaries: &[SymbolSummary],
    trading_days: u32,
) -> Result<Vec<VolumePerDay>, CalcError> {
    let mut out: Vec<VolumePerDay> = volume_per_day_iter(summaries, trading_days)?.collect();
    out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    Ok(out)
}

/// [`volume_per_day`] one row at a time, in the order of `summaries` (sorted by symbol when they
/// come from [`WeekAccumulator::finish`]), so a caller can store a week's rows without holding
/// them all at once.
pub fn volume_per_day_iter(
    summaries: &[SymbolSummary],
    trading_days: u32,
) -> Result<impl Iterator<Item = VolumePerDay> + '_, CalcError> {
    if trading_days == 0 {
        return Err(CalcError::ZeroTradingDays);
    }
    let days = f64::from(trading_days);
    Ok(summaries.iter().map(move |s| VolumePerDay {
        symbol: s.symbol.clone(),
        total_shares: s.total_shares,
        trading_days,
        shares_per_day: s.total_shares as f64 / days,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::parse::{FinraReader, Line};

    fn friday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 12, 19).unwrap()
    }

    fn acc() -> WeekAccumulator {
        WeekAccumulator::new(friday(), Tier::NmsTier1).unwrap()
    }

    /// Checks the invariants every result must satisfy.
    fn check_invariants(calcs: &WeekCalcs) {
        if calcs.tier_shares > 0 {
            let sum: f64 = calcs.venue_shares.iter().map(|v| v.share).sum();
            assert!((sum - 1.0).abs() < 1e-9, "venue shares sum to {sum}");
        } else {
            assert!(calcs.venue_shares.is_empty());
        }
        for c in &calcs.concentrations {
            assert!(c.hhi > 0.0 && c.hhi <= 1.0, "{c:?}");
            assert!(c.hhi >= 1.0 / f64::from(c.venue_count) - 1e-12, "{c:?}");
        }
        assert_eq!(
            calcs.concentrations.len() + calcs.hhi_undefined_symbols.len(),
            calcs.symbol_summaries.len()
        );
        let total: i64 = calcs.symbol_summaries.iter().map(|s| s.total_shares).sum();
        assert_eq!(total, calcs.tier_shares);
        let rows: u64 = calcs
            .symbol_summaries
            .iter()
            .map(|s| u64::from(s.venue_count))
            .sum();
        assert_eq!(rows, calcs.rows);
        for w in calcs.symbol_summaries.windows(2) {
            assert!(w[0].symbol < w[1].symbol);
        }
        for w in calcs.venue_shares.windows(2) {
            assert!(w[0].mpid < w[1].mpid);
        }
    }

    #[test]
    fn hand_computed_week() {
        // AAA: X 600, Y 300, Z 100  → total 1000, HHI = .36 + .09 + .01 = .46
        // BBB: X 50                 → HHI 1
        // CCC: Y 0, Z 0             → HHI undefined
        // Tier shares 1050: X 650, Y 300, Z 100.
        let mut a = acc();
        for (symbol, mpid, shares, trades) in [
            ("CCC", "Z", 0, 0),
            ("AAA", "Y", 300, 3),
            ("BBB", "X", 50, 5),
            ("AAA", "X", 600, 6),
            ("CCC", "Y", 0, 1),
            ("AAA", "Z", 100, 1),
        ] {
            a.push_values(symbol, mpid, shares, trades).unwrap();
        }
        assert_eq!(a.rows(), 6);
        let c = a.finish();
        check_invariants(&c);
        assert_eq!(c.tier_shares, 1050);
        assert_eq!(c.tier_trades, 16);
        assert_eq!(
            c.symbol_summaries,
            vec![
                SymbolSummary {
                    symbol: "AAA".into(),
                    total_shares: 1000,
                    total_trades: 10,
                    venue_count: 3
                },
                SymbolSummary {
                    symbol: "BBB".into(),
                    total_shares: 50,
                    total_trades: 5,
                    venue_count: 1
                },
                SymbolSummary {
                    symbol: "CCC".into(),
                    total_shares: 0,
                    total_trades: 1,
                    venue_count: 2
                },
            ]
        );
        assert_eq!(c.concentrations.len(), 2);
        assert_eq!(c.concentrations[0].symbol, "AAA");
        assert!((c.concentrations[0].hhi - 0.46).abs() < 1e-15);
        assert_eq!(c.concentrations[1].hhi, 1.0);
        assert_eq!(c.hhi_undefined_symbols, vec!["CCC".to_string()]);
        let venues: Vec<(&str, i64, i64, u32)> = c
            .venue_shares
            .iter()
            .map(|v| (v.mpid.as_str(), v.shares, v.trades, v.symbol_count))
            .collect();
        assert_eq!(
            venues,
            [("X", 650, 11, 2), ("Y", 300, 4, 2), ("Z", 100, 1, 2)]
        );
        assert!((c.venue_shares[0].share - 650.0 / 1050.0).abs() < 1e-15);
        assert!((c.venue_shares[1].share - 2.0 / 7.0).abs() < 1e-15);
        assert_eq!(
            c.partition_key().canonical(),
            r#"{"tier":"NMS_TIER_1","week_ending":"2025-12-19"}"#
        );
    }

    #[test]
    fn hhi_is_one_for_one_venue_and_one_over_n_for_n_equal_venues() {
        for n in 1..=50u32 {
            let mut a = acc();
            for m in 0..n {
                a.push_values("SYM", &format!("M{m}"), 12_345, 1).unwrap();
            }
            let c = a.finish();
            let expected = 1.0 / f64::from(n);
            assert!((c.concentrations[0].hhi - expected).abs() < 1e-15, "n={n}");
        }
        // Huge but legal quantities stay exact.
        let mut a = acc();
        a.push_values("BIG", "A", i64::MAX / 2, 0).unwrap();
        a.push_values("BIG", "B", i64::MAX / 2, 0).unwrap();
        let c = a.finish();
        assert_eq!(c.concentrations[0].hhi, 0.5);
    }

    #[test]
    fn zero_tier_shares_leave_venue_shares_undefined() {
        let mut a = acc();
        a.push_values("A", "X", 0, 3).unwrap();
        let c = a.finish();
        check_invariants(&c);
        assert!(c.venue_shares.is_empty());
        assert_eq!(c.hhi_undefined_symbols, ["A"]);
        assert_eq!(c.symbol_summaries[0].total_trades, 3);
        let empty = acc().finish();
        assert!(empty.symbol_summaries.is_empty() && empty.venue_shares.is_empty());
    }

    #[test]
    fn refused_rows_change_nothing() {
        let mut a = acc();
        a.push_values("A", "X", 10, 1).unwrap();
        assert_eq!(
            a.push_values("A", "X", 5, 1),
            Err(CalcError::DuplicateSymbolMpid {
                symbol: "A".into(),
                mpid: "X".into()
            })
        );
        assert!(matches!(
            a.push_values("B", "Y", -1, 1),
            Err(CalcError::NegativeQuantity {
                field: "shares",
                value: -1,
                ..
            })
        ));
        assert!(matches!(
            a.push_values("B", "Y", 1, -2),
            Err(CalcError::NegativeQuantity {
                field: "trades",
                value: -2,
                ..
            })
        ));
        assert_eq!(
            a.push_values("B", "Y", i64::MAX, 0),
            Err(CalcError::Overflow {
                what: "tier shares"
            })
        );
        let c = a.finish();
        check_invariants(&c);
        assert_eq!(c.rows, 1);
        assert_eq!(c.symbol_summaries.len(), 1, "no phantom symbol B");
        assert_eq!(c.venue_shares.len(), 1, "no phantom venue Y");
    }

    #[test]
    fn week_must_be_a_friday_and_rows_must_match_the_tier() {
        let thursday = NaiveDate::from_ymd_opt(2025, 12, 18).unwrap();
        assert_eq!(
            WeekAccumulator::new(thursday, Tier::Otc).unwrap_err(),
            CalcError::NotAFriday { date: thursday }
        );
        let text = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\nOTC|A|a|p|X|1|1|2025-12-15\n";
        let mut reader = FinraReader::new(text.as_bytes()).unwrap();
        let Some(Ok(Line::Accepted(row))) = reader.next_line() else {
            panic!()
        };
        let mut a = acc();
        assert_eq!(
            a.push(&row),
            Err(CalcError::TierMismatch {
                expected: Tier::NmsTier1,
                found: Tier::Otc,
                line_number: 2
            })
        );
        let mut otc = WeekAccumulator::new(friday(), Tier::Otc).unwrap();
        otc.push(&row).unwrap();
        assert_eq!(otc.finish().symbol_summaries[0].total_shares, 1);
    }

    /// A tiny deterministic generator, so the property checks need no extra crate.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn properties_hold_on_random_weeks_in_any_order() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for case in 0..200 {
            let symbols = 1 + rng.below(40);
            let venues = 1 + rng.below(12);
            let mut rows = Vec::new();
            for s in 0..symbols {
                for v in 0..venues {
                    if rng.below(3) > 0 {
                        let shares = match rng.below(10) {
                            0 => 0,
                            1 => rng.below(1 << 40) as i64,
                            _ => rng.below(100_000) as i64,
                        };
                        rows.push((
                            format!("S{s}"),
                            format!("V{v}"),
                            shares,
                            rng.below(500) as i64,
                        ));
                    }
                }
            }
            let run = |rows: &[(String, String, i64, i64)]| {
                let mut a = acc();
                for (s, m, sh, tr) in rows {
                    a.push_values(s, m, *sh, *tr).unwrap();
                }
                a.finish()
            };
            let forward = run(&rows);
            check_invariants(&forward);
            // Order independence: the same rows reversed give identical results, bit for bit.
            rows.reverse();
            assert_eq!(run(&rows), forward, "case {case}");
            // HHI equals a naive floating-point computation.
            for c in &forward.concentrations {
                let naive: f64 = rows
                    .iter()
                    .filter(|r| r.0 == c.symbol)
                    .map(|r| {
                        let p = r.2 as f64 / c.total_shares as f64;
                        p * p
                    })
                    .sum();
                assert!((naive - c.hhi).abs() < 1e-12, "{c:?} vs {naive}");
            }
        }
    }

    #[test]
    fn tier_split_hand_computed() {
        let split = tier_split(&[
            (Tier::Otc, 250),
            (Tier::NmsTier1, 600),
            (Tier::NmsTier2, 150),
        ])
        .unwrap();
        assert_eq!(
            split,
            vec![
                TierSplit {
                    tier: Tier::NmsTier1,
                    shares: 600,
                    share: 0.6
                },
                TierSplit {
                    tier: Tier::NmsTier2,
                    shares: 150,
                    share: 0.15
                },
                TierSplit {
                    tier: Tier::Otc,
                    shares: 250,
                    share: 0.25
                },
            ]
        );
        assert_eq!(tier_split(&[(Tier::Otc, 7)]).unwrap()[0].share, 1.0);
        assert_eq!(tier_split(&[]).unwrap(), vec![]);
        assert_eq!(
            tier_split(&[(Tier::Otc, 0), (Tier::NmsTier1, 0)]),
            Err(CalcError::ZeroTotalShares)
        );
        assert_eq!(
            tier_split(&[(Tier::Otc, 1), (Tier::Otc, 2)]),
            Err(CalcError::DuplicateTier { tier: Tier::Otc })
        );
        assert_eq!(
            tier_split(&[(Tier::Otc, -1)]),
            Err(CalcError::NegativeTierShares {
                tier: Tier::Otc,
                shares: -1
            })
        );
        assert!(matches!(
            tier_split(&[(Tier::Otc, i64::MAX), (Tier::NmsTier1, 1)]),
            Err(CalcError::Overflow { .. })
        ));
    }

    #[test]
    fn volume_per_day_divides_by_trading_days() {
        let summaries = vec![
            SymbolSummary {
                symbol: "B".into(),
                total_shares: 1000,
                total_trades: 9,
                venue_count: 2,
            },
            SymbolSummary {
                symbol: "A".into(),
                total_shares: 10,
                total_trades: 1,
                venue_count: 1,
            },
        ];
        let v = volume_per_day(&summaries, 4).unwrap();
        assert_eq!(
            v,
            vec![
                VolumePerDay {
                    symbol: "A".into(),
                    total_shares: 10,
                    trading_days: 4,
                    shares_per_day: 2.5
                },
                VolumePerDay {
                    symbol: "B".into(),
                    total_shares: 1000,
                    trading_days: 4,
                    shares_per_day: 250.0
                },
            ]
        );
        assert_eq!(
            volume_per_day(&summaries, 0),
            Err(CalcError::ZeroTradingDays)
        );
        assert_eq!(volume_per_day(&[], 5).unwrap(), vec![]);
    }

    #[test]
    fn real_file_matches_an_independent_naive_sum() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/finra/finra_otc_weekly_otc_20251215.csv"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            assert!(
                std::env::var_os("SPINE_REQUIRE_REAL_SAMPLE").is_none(),
                "SPINE_REQUIRE_REAL_SAMPLE is set but {path} is missing"
            );
            eprintln!("SKIPPED: real FINRA file not found at {path}; its checks did not run");
            return;
        };
        // Naive: split every line by hand, sum per symbol and per MPID.
        let mut naive: BTreeMap<&str, (i64, i64, BTreeSet<&str>)> = BTreeMap::new();
        let mut naive_venues: BTreeMap<&str, i64> = BTreeMap::new();
        let mut naive_hhi_terms: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split('|').collect();
            let (shares, trades): (i64, i64) = (f[5].parse().unwrap(), f[6].parse().unwrap());
            let e = naive.entry(f[1]).or_default();
            e.0 += shares;
            e.1 += trades;
            e.2.insert(f[4]);
            *naive_venues.entry(f[4]).or_default() += shares;
            naive_hhi_terms.entry(f[1]).or_default().push(shares);
        }

        let mut reader = FinraReader::new(text.as_bytes()).unwrap();
        let mut a = WeekAccumulator::new(NaiveDate::from_ymd_opt(2025, 11, 14).unwrap(), Tier::Otc)
            .unwrap();
        for line in reader.by_ref() {
            match line.unwrap() {
                Line::Accepted(row) => a.push(&row).unwrap(),
                Line::Rejected(r) => panic!("{r:?}"),
            }
        }
        let c = a.finish();
        check_invariants(&c);
        assert_eq!(c.rows, 5_328);
        assert_eq!(c.symbol_summaries.len(), 3_111);
        assert_eq!(c.venue_shares.len(), 9);
        for s in &c.symbol_summaries {
            let (shares, trades, venues) = &naive[s.symbol.as_str()];
            assert_eq!(s.total_shares, *shares, "{}", s.symbol);
            assert_eq!(s.total_trades, *trades, "{}", s.symbol);
            assert_eq!(s.venue_count as usize, venues.len(), "{}", s.symbol);
        }
        let tier_total: i64 = naive_venues.values().sum();
        assert_eq!(c.tier_shares, tier_total);
        for v in &c.venue_shares {
            assert_eq!(v.shares, naive_venues[v.mpid.as_str()]);
            assert!((v.share - v.shares as f64 / tier_total as f64).abs() < 1e-15);
        }
        for h in &c.concentrations {
            let terms = &naive_hhi_terms[h.symbol.as_str()];
            let total: f64 = terms.iter().map(|&s| s as f64).sum();
            let hhi: f64 = terms.iter().map(|&s| (s as f64 / total).powi(2)).sum();
            assert!((hhi - h.hhi).abs() < 1e-12, "{}", h.symbol);
        }
        for symbol in &c.hhi_undefined_symbols {
            assert_eq!(naive[symbol.as_str()].0, 0);
        }
    }

    /// Peak memory of parse + calcs over a streamed synthetic million-row week. Run alone with
    /// `cargo test -p spine-cli --release --lib calcs_memory -- --ignored --nocapture`.
    #[test]
    #[ignore = "memory measurement; run explicitly, alone"]
    fn calcs_memory() {
        use std::io::Read;

        /// Generates a FINRA file line by line, so the input itself costs no memory.
        struct Synthetic {
            row: usize,
            rows: usize,
            venues: usize,
            pending: Vec<u8>,
            pos: usize,
        }
        impl Read for Synthetic {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                use std::io::Write;
                if self.pos == self.pending.len() {
                    self.pending.clear();
                    self.pos = 0;
                    if self.row == 0 {
                        self.pending
                            .extend_from_slice(crate::parse::EXPECTED_HEADER.join("|").as_bytes());
                        self.pending.push(b'\n');
                    }
                    while self.pending.len() < 64 * 1024 && self.row < self.rows {
                        let (s, m) = (self.row / self.venues, self.row % self.venues);
                        writeln!(
                            self.pending,
                            "NMS Tier 1|S{s:07}|Synthetic Issue {s} Common Stock|Venue {m} ATS|M{m:03}|{}|{}|2025-12-15",
                            (s * 7919 + m * 104_729) % 5_000_000,
                            (s + m) % 10_000
                        )?;
                        self.row += 1;
                    }
                }
                let n = buf.len().min(self.pending.len() - self.pos);
                buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
                self.pos += n;
                Ok(n)
            }
        }

        for venues in [40, 4, 1] {
            let rows = 1_000_000;
            let input = Synthetic {
                row: 0,
                rows,
                venues,
                pending: Vec::new(),
                pos: 0,
            };
            let start = std::time::Instant::now();
            let mut reader = FinraReader::new(input).unwrap();
            let mut a = WeekAccumulator::new(friday(), Tier::NmsTier1).unwrap();
            for line in reader.by_ref() {
                if let Line::Accepted(row) = line.unwrap() {
                    a.push(&row).unwrap();
                }
            }
            let c = a.finish();
            assert_eq!(c.rows, rows as u64);
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let peak = status
                .lines()
                .find(|l| l.starts_with("VmHWM"))
                .unwrap_or("VmHWM: unknown");
            println!(
                "{rows} rows, {venues} venues ({} symbols): parse+calcs in {:?}; peak RSS so far {peak}",
                c.symbol_summaries.len(),
                start.elapsed()
            );
        }
    }
}
