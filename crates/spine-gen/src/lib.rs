//! Deterministic, realistic FINRA OTC Transparency weekly files for tests, the demo and the
//! benchmark.
//!
//! Why a generator: the real data may not be copied into the project, yet every stage of the
//! pipeline (parse → normalize → calcs → anomaly rules → readiness) has to run on files that look
//! and behave like FINRA's: the exact pipe-delimited format, thousands of symbols, a few dominant
//! venues, heavy-tailed volumes, the publication lag, and the ways real deliveries go wrong. The
//! module is pure: it takes a configuration and writes files; no database, clock or network.
//!
//! # Model
//!
//! - **Venues** (MPIDs) are one table per seed, shared by every tier. Each tier ranks them in its
//!   own random order and a symbol picks its venues by Zipf-distributed rank, so a few venues
//!   appear on most symbols and carry most of the volume, as in the real data.
//! - **Symbols** are a per-tier universe that depends only on `(seed, tier, symbols)`, never on
//!   the week, so every week of a tier has the same symbols and baselines are meaningful. Symbol
//!   `i` is drawn from the `i`-th slice of the sorted space of possible codes, which makes codes
//!   unique and already sorted: NMS tiers use 1–4 letter codes (Tier 1 and Tier 2 take disjoint
//!   halves of each slice), OTC uses 5-letter codes (`…F` foreign ordinaries, `…Y` ADRs).
//! - **Volumes** are log-normal per symbol (heavier-tailed for OTC), with a market-wide weekly
//!   factor and a per-symbol weekly factor, split over the symbol's venues by venue rank. Trade
//!   counts follow from a per-symbol average trade size, so `1 <= trades <= shares`.
//! - Every random draw comes from a `ChaCha8Rng` seeded from a hash of `(seed, purpose, tier,
//!   symbol, week)`. The same configuration therefore writes byte-identical files, a given
//!   calendar week gets the same data whatever the first generated week, and injecting a fault
//!   never changes the data of another file. (Volumes go through `f64` `exp`/`ln`; they are
//!   identical across runs and machines of one platform, and rounding to whole shares hides the
//!   last-bit differences other platforms' math libraries could produce in all but freak cases.)
//!
//! # Faults
//!
//! [`Fault`] lists the injectable delivery problems. All of them act on the **last** generated
//! week only, so earlier weeks stay clean and form the baseline the hardening rules compare
//! against. Each [`GeneratedFile`] reports the faults applied to it and the exact physical line
//! numbers (header = line 1) they touched.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, StandardNormal, Zipf};
use serde::{Serialize, Serializer};
use spine_model::Tier;

/// FINRA's header line, exactly as FINRA writes it (without the newline).
pub const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";

/// How many rows a row-level fault corrupts in each affected file ("a few": enough to see a
/// pattern, few enough that the rest of the file stays usable).
pub const FAULT_ROWS: usize = 3;

/// How many days after the original `lastUpdateDate` the `revision` fault re-stamps the revised
/// file (a Thursday after FINRA's Monday stamp: still maps back to the same week).
pub const REVISION_RESTAMP_DAYS: u64 = 3;

/// The share of a tier-week's venues that `low-venue-coverage` keeps.
pub const COVERAGE_KEEP: f64 = 0.4;

/// Upper bound on `mpids`: MPIDs are 4 letters and names must stay unique, and no real week has
/// more than a few hundred participants.
pub const MAX_MPIDS: usize = 10_000;

/// Probability that a symbol's non-primary venue reports in a given week: venue counts wobble a
/// little week to week, as they do in the real data, while the symbol universe stays fixed.
const WEEKLY_PRESENCE: f64 = 0.92;

/// Cap on one row's shares, far above anything real, so no arithmetic can overflow.
const MAX_SHARES: f64 = 1e11;

// Domain-separation tags for the seed hash: one per purpose, so draws for one purpose never
// shift the draws for another.
const TAG_VENUES: u64 = 1;
const TAG_RANK: u64 = 2;
const TAG_CODE: u64 = 3;
const TAG_ATTR: u64 = 4;
const TAG_WEEK: u64 = 5;
const TAG_MARKET: u64 = 6;
const TAG_FAULT: u64 = 7;
const TAG_REV_CODE: u64 = 8;
const TAG_REV_ATTR: u64 = 9;
/// Added to a symbol index to key the revision-only symbols' weekly draws apart from the
/// universe's own symbols.
const REV_INDEX_OFFSET: u64 = 1 << 40;

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Why generation failed. Configuration errors say what to change; I/O errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The configuration cannot produce the requested files.
    #[error("invalid generator configuration: {0}")]
    InvalidConfig(String),
    /// FINRA weeks end on Fridays; any other date would produce a week no schedule expects.
    #[error("week ending {0} is a {1}, not a Friday; FINRA weeks end on Fridays")]
    NotAFriday(NaiveDate, Weekday),
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The caller's writer failed while streaming a week.
    #[error("cannot write the FINRA week: {0}")]
    Write(#[from] io::Error),
}

/// Why a `--inject` value is not a fault; names every accepted spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{value}`; expected one of: {}", Fault::NAMES.join(", "))]
pub struct UnknownFault {
    /// The text that was given.
    pub value: String,
}

/// A delivery problem the generator can inject, to prove the pipeline notices it.
///
/// Parser faults (see [`Fault::is_parser_fault`]) corrupt [`FAULT_ROWS`] rows (or the last line)
/// of the last week's file of every configured tier; the parser must reject exactly the reported
/// lines. Hardening faults produce well-formed files that a rule further down must catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Rows with 7 or 9 fields instead of 8 (a dropped last field, or a trailing `|`).
    WrongFieldCount,
    /// Rows delimited by commas (CSV-quoted where needed) instead of pipes.
    CommaDelimited,
    /// The file ends in the middle of its last row, without a final newline.
    TruncatedLastLine,
    /// Share quantities that are not integers (`N/A`, `1,234,567`, `12.5K`).
    NonNumericQuantity,
    /// Negative share quantities.
    NegativeQuantity,
    /// Rows with an empty `issueSymbolIdentifier`.
    EmptySymbol,
    /// Rows with an empty `MPID`.
    EmptyMpid,
    /// Rows whose `tierDescription` is not one of FINRA's three spellings.
    UnknownTier,
    /// Rows whose `lastUpdateDate` is not a valid `YYYY-MM-DD` date.
    BadDate,
    /// An existing (symbol, MPID) row repeated later in the file.
    DuplicatePair,
    /// Well-formed rows with trades > 0 but zero shares: a business-rule violation.
    ZeroVolume,
    /// One tier's last week keeps only ~40% of its venues: a completeness problem.
    LowVenueCoverage,
    /// The last week's NMS Tier 2 file is not written: an expected partition is missing.
    MissingTier,
    /// The last week is also delivered as a revised `_rev1` file with a later stamp.
    Revision,
    /// One partition of the last week is meant to be ingested late; the files do not change.
    LateArrival,
}

impl Fault {
    /// Every fault, in the order they are applied and reported.
    pub const ALL: &'static [Fault] = &[
        Fault::WrongFieldCount,
        Fault::CommaDelimited,
        Fault::TruncatedLastLine,
        Fault::NonNumericQuantity,
        Fault::NegativeQuantity,
        Fault::EmptySymbol,
        Fault::EmptyMpid,
        Fault::UnknownTier,
        Fault::BadDate,
        Fault::DuplicatePair,
        Fault::ZeroVolume,
        Fault::LowVenueCoverage,
        Fault::MissingTier,
        Fault::Revision,
        Fault::LateArrival,
    ];

    /// The kebab-case spellings, in [`Fault::ALL`] order (for `--help` and error messages).
    pub const NAMES: &'static [&'static str] = &[
        "wrong-field-count",
        "comma-delimited",
        "truncated-last-line",
        "non-numeric-quantity",
        "negative-quantity",
        "empty-symbol",
        "empty-mpid",
        "unknown-tier",
        "bad-date",
        "duplicate-pair",
        "zero-volume",
        "low-venue-coverage",
        "missing-tier",
        "revision",
        "late-arrival",
    ];

    /// The kebab-case spelling used by `--inject`.
    pub const fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// One line saying what the fault does to the generated files.
    pub const fn description(self) -> &'static str {
        match self {
            Fault::WrongFieldCount => "a few rows have 7 or 9 fields instead of 8",
            Fault::CommaDelimited => "a few rows are comma-delimited instead of pipe-delimited",
            Fault::TruncatedLastLine => "the file ends mid-row, without a final newline",
            Fault::NonNumericQuantity => "a few rows have a non-integer share quantity",
            Fault::NegativeQuantity => "a few rows have a negative share quantity",
            Fault::EmptySymbol => "a few rows have an empty issue symbol",
            Fault::EmptyMpid => "a few rows have an empty MPID",
            Fault::UnknownTier => "a few rows have a tier description FINRA does not use",
            Fault::BadDate => "a few rows have an invalid lastUpdateDate",
            Fault::DuplicatePair => "a few (symbol, MPID) rows are repeated later in the file",
            Fault::ZeroVolume => "a few rows report trades but zero shares",
            Fault::LowVenueCoverage => {
                "the last week of the first tier keeps only ~40% of its venues"
            }
            Fault::MissingTier => "the last week's NMS Tier 2 file is not written",
            Fault::Revision => {
                "the last week is re-delivered as a _rev1 file with a later stamp and changes"
            }
            Fault::LateArrival => {
                "the last week of the last tier is flagged for late ingestion (files unchanged)"
            }
        }
    }

    /// True when the parser must reject the reported lines; false for hardening faults, whose
    /// files parse cleanly and must be caught by anomaly rules, schedules or revisions.
    pub const fn is_parser_fault(self) -> bool {
        matches!(
            self,
            Fault::WrongFieldCount
                | Fault::CommaDelimited
                | Fault::TruncatedLastLine
                | Fault::NonNumericQuantity
                | Fault::NegativeQuantity
                | Fault::EmptySymbol
                | Fault::EmptyMpid
                | Fault::UnknownTier
                | Fault::BadDate
                | Fault::DuplicatePair
        )
    }

    /// True for faults that replace the content of individual rows (and report their lines).
    const fn is_row_replacement(self) -> bool {
        matches!(
            self,
            Fault::WrongFieldCount
                | Fault::CommaDelimited
                | Fault::NonNumericQuantity
                | Fault::NegativeQuantity
                | Fault::EmptySymbol
                | Fault::EmptyMpid
                | Fault::UnknownTier
                | Fault::BadDate
                | Fault::ZeroVolume
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fault {
    type Err = UnknownFault;

    /// Parses the kebab-case spelling; case and `_`/`-` are forgiven for people typing flags.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| UnknownFault {
                value: s.to_string(),
            })
    }
}

impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What to generate: how many weeks, how big, which tiers, which faults.
///
/// The defaults give a realistic demo set: four weeks ending 2025-12-19, all three tiers,
/// ~3,000 symbols per tier over 50 venues, no faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of consecutive weeks, from `first_week_ending`.
    pub weeks: u32,
    /// Symbols per tier; the same symbols appear every week.
    pub symbols: usize,
    /// Number of venues (MPIDs) in the venue table shared by all tiers.
    pub mpids: usize,
    /// The seed every draw derives from; same seed, same bytes.
    pub seed: u64,
    /// The Friday ending the first week.
    pub first_week_ending: NaiveDate,
    /// The tiers to write, in the order files are written (no duplicates).
    pub tiers: Vec<Tier>,
    /// Faults to inject into the last week (see [`Fault`]).
    pub faults: Vec<Fault>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            weeks: 4,
            symbols: 3_000,
            mpids: 50,
            seed: 42,
            first_week_ending: NaiveDate::from_ymd_opt(2025, 11, 28).expect("valid date"),
            tiers: Tier::ALL.to_vec(),
            faults: Vec::new(),
        }
    }
}

/// One fault applied to one file, with the lines it touched, so tests can assert exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InjectedFault {
    /// The fault.
    pub fault: Fault,
    /// 1-based physical line numbers (header = 1) the fault corrupted or changed, ascending.
    /// Empty for faults that act on the whole file or partition (coverage, missing tier,
    /// late arrival, the note on a revised original).
    pub lines: Vec<usize>,
    /// What was done, for people (e.g. which MPIDs were dropped, which line a duplicate repeats).
    pub detail: String,
}

/// One file written by [`generate`], with what a test needs to check it without re-reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedFile {
    /// Where it was written: `finra_otc_weekly_{tier}_{yyyymmdd}.csv` (or `…_rev1.csv`).
    pub path: PathBuf,
    /// The tier of every row.
    pub tier: Tier,
    /// The Friday ending the week the file covers.
    pub week_ending: NaiveDate,
    /// The `lastUpdateDate` stamped on its rows.
    pub last_update: NaiveDate,
    /// Number of data lines (physical lines minus the header), including corrupted ones.
    pub rows: usize,
    /// 0 for an original delivery, 1 for the `_rev1` file of the `revision` fault.
    pub revision: u32,
    /// The faults applied to (or noted on) this file, in [`Fault::ALL`] order.
    pub faults: Vec<InjectedFault>,
}

/// The size and seed of one streamed week (see [`write_week`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekSpec {
    /// Exact number of data rows to write.
    pub rows: u64,
    /// Number of venues (MPIDs) to spread the rows over.
    pub mpids: usize,
    /// The seed every draw derives from.
    pub seed: u64,
}

impl Default for WeekSpec {
    fn default() -> Self {
        WeekSpec {
            rows: 10_000,
            mpids: 50,
            seed: 42,
        }
    }
}

/// What [`write_week`] wrote, so a benchmark can report throughput without re-reading the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekStats {
    /// Data rows written (always the requested count).
    pub rows: u64,
    /// Distinct symbols written.
    pub symbols: u64,
    /// Distinct MPIDs written.
    pub venues: usize,
    /// Sum of `totalWeeklyShareQuantity`.
    pub total_shares: u64,
    /// Sum of `totalWeeklyTradeCount`.
    pub total_trades: u64,
    /// Bytes written, header included.
    pub bytes: u64,
    /// The `lastUpdateDate` stamped on every row.
    pub last_update: NaiveDate,
}

/// Days FINRA waits after a week before publishing it: two weeks for Tier 1, four for Tier 2
/// and OTC (DESIGN.md, "FINRA OTC Transparency input").
pub const fn publication_lag_days(tier: Tier) -> u64 {
    match tier {
        Tier::NmsTier1 => 14,
        Tier::NmsTier2 | Tier::Otc => 28,
    }
}

/// The `lastUpdateDate` FINRA stamps on a week: `week_ending` + the tier's lag, moved to the
/// following Monday (kept if already a Monday).
///
/// For a Friday `week_ending`, the latest Friday `F` with `F + lag <= lastUpdateDate` is
/// `week_ending` itself, which is how the pipeline maps a stamp back to its week.
pub fn last_update_date(tier: Tier, week_ending: NaiveDate) -> NaiveDate {
    let published = week_ending + Days::new(publication_lag_days(tier));
    let to_monday = (7 - published.weekday().num_days_from_monday()) % 7;
    published + Days::new(u64::from(to_monday))
}

/// The file name FINRA-style deliveries get here: `finra_otc_weekly_nms_tier_1_20251219.csv`.
pub fn file_name(tier: Tier, week_ending: NaiveDate) -> String {
    format!(
        "finra_otc_weekly_{}_{}.csv",
        tier.as_str().to_ascii_lowercase(),
        week_ending.format("%Y%m%d")
    )
}

/// The file name of a revised delivery: `finra_otc_weekly_nms_tier_1_20251219_rev1.csv`.
pub fn revision_file_name(tier: Tier, week_ending: NaiveDate, revision: u32) -> String {
    format!(
        "finra_otc_weekly_{}_{}_rev{revision}.csv",
        tier.as_str().to_ascii_lowercase(),
        week_ending.format("%Y%m%d")
    )
}

/// Writes one file per tier per week into `out_dir` (created if needed), injecting the
/// configured faults into the last week, and reports every file written.
///
/// Files are listed week by week, tiers in `cfg.tiers` order, a `_rev1` file right after its
/// original. Where each hardening fault lands:
/// - `low-venue-coverage`: the first configured tier (other than a missing one);
/// - `missing-tier`: NMS Tier 2, which must be configured along with another tier; the other
///   last-week files carry a note;
/// - `revision`: every tier written in the last week gets a `_rev1` file;
/// - `late-arrival`: the last configured tier (other than a missing one).
pub fn generate(cfg: &GenConfig, out_dir: &Path) -> Result<Vec<GeneratedFile>, GenError> {
    cfg.validate()?;
    let faults: Vec<Fault> = Fault::ALL
        .iter()
        .copied()
        .filter(|f| cfg.faults.contains(f))
        .collect();
    let has = |f: Fault| faults.contains(&f);
    let targets = Targets::new(cfg, has(Fault::MissingTier))?;

    fs::create_dir_all(out_dir).map_err(|source| GenError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;

    let venues = venue_table(cfg.seed, cfg.mpids);
    let mut universes = Vec::with_capacity(cfg.tiers.len());
    for &tier in &cfg.tiers {
        let universe = Universe::new(tier, cfg.seed, &venues, cfg.symbols as u64)?;
        let statics: Vec<SymbolStatic> = (0..cfg.symbols as u64)
            .map(|i| universe.symbol(i, |k| k))
            .collect();
        universes.push((universe, statics));
    }

    let mut files = Vec::new();
    for w in 0..cfg.weeks {
        let week_ending = cfg.first_week_ending + Days::new(7 * u64::from(w));
        let last = w + 1 == cfg.weeks;
        for (universe, statics) in &universes {
            let tier = universe.tier;
            if last && targets.missing == Some(tier) {
                continue;
            }
            let week = WeekFile {
                universe,
                week_ending,
                last_update: last_update_date(tier, week_ending),
            };
            let clean = universe.week_rows_all(statics, week_ending);
            let mut notes = Vec::new();

            let mut rows = clean.clone();
            if last && has(Fault::LowVenueCoverage) && targets.coverage == tier {
                notes.push(week.drop_venues(&mut rows));
            }
            let mut lines: Vec<DataLine> = rows
                .iter()
                .enumerate()
                .map(|(id, row)| week.line(statics, row, id))
                .collect();
            if last {
                notes.extend(week.apply_row_faults(&mut lines, &faults));
                if let Some(missing) = targets.missing {
                    notes.push(InjectedFault {
                        fault: Fault::MissingTier,
                        lines: Vec::new(),
                        detail: format!(
                            "the {} file for week {week_ending} ({}) was not written",
                            missing.finra_description(),
                            file_name(missing, week_ending)
                        ),
                    });
                }
                if has(Fault::LateArrival) && targets.late == tier {
                    notes.push(InjectedFault {
                        fault: Fault::LateArrival,
                        lines: Vec::new(),
                        detail: format!(
                            "ingest this {} partition of week {week_ending} after the other \
                             tiers, later than its expected arrival on {}",
                            tier.as_str(),
                            week.last_update
                        ),
                    });
                }
            }

            let path = out_dir.join(file_name(tier, week_ending));
            write_lines(&path, &lines)?;
            let mut original = GeneratedFile {
                path,
                tier,
                week_ending,
                last_update: week.last_update,
                rows: lines.len(),
                revision: 0,
                faults: Vec::new(),
            };

            let revised = if last && has(Fault::Revision) {
                let rev_name = revision_file_name(tier, week_ending, 1);
                let revised = week.revise(&clean, statics, out_dir.join(&rev_name))?;
                notes.push(InjectedFault {
                    fault: Fault::Revision,
                    lines: Vec::new(),
                    detail: format!("superseded by {rev_name}, stamped {}", revised.last_update),
                });
                Some(revised)
            } else {
                None
            };

            notes.sort_by_key(|n| n.fault);
            original.faults = notes;
            files.push(original);
            files.extend(revised);
        }
    }
    Ok(files)
}

/// Streams one week of one tier with exactly `spec.rows` data rows to `w`, header first.
///
/// Built for the 1,000,000-row benchmark: rows are produced symbol by symbol and written through
/// a buffer; nothing proportional to the file is held in memory. The number of symbols is chosen
/// from the venue-count distribution so that symbols × venues reaches the row count, and the
/// venue counts of the symbols are nudged (within `1..=mpids`) so the total is exact. Rows are
/// sorted by symbol then MPID and each (symbol, MPID) pair appears once.
pub fn write_week(
    w: impl Write,
    tier: Tier,
    week_ending: NaiveDate,
    spec: &WeekSpec,
) -> Result<WeekStats, GenError> {
    check_friday(week_ending)?;
    check_mpids(spec.mpids)?;
    let venues = venue_table(spec.seed, spec.mpids);
    let m = spec.mpids as u64;
    let n = spec.rows;

    // The mean natural venue count does not depend on the universe size; estimate it from the
    // first symbols, then size the universe so that symbols × mean venues ≈ rows.
    let probe = Universe::new(tier, spec.seed, &venues, 1)?;
    let probe_n = 2_048u64;
    let mean_k = (0..probe_n).map(|i| probe.natural_k(i) as f64).sum::<f64>() / probe_n as f64;
    let symbols = if n == 0 {
        0
    } else {
        ((n as f64 / mean_k).ceil() as u64).clamp(n.div_ceil(m), n)
    };
    let universe = Universe::new(tier, spec.seed, &venues, symbols.max(1))?;

    let last_update = last_update_date(tier, week_ending);
    let date = last_update.format("%Y-%m-%d").to_string();
    let tier_desc = tier.finra_description();
    let wk = week_key(week_ending);
    let market = universe.market_factor(wk);

    let mut out = BufWriter::with_capacity(1 << 16, w);
    let mut stats = WeekStats {
        rows: 0,
        symbols: 0,
        venues: 0,
        total_shares: 0,
        total_trades: 0,
        bytes: 0,
        last_update,
    };
    out.write_all(HEADER.as_bytes())?;
    out.write_all(b"\n")?;
    stats.bytes += HEADER.len() as u64 + 1;

    let mut used = vec![false; venues.len()];
    let mut remaining = n;
    let mut rows = Vec::new();
    let mut line = String::with_capacity(256);
    for i in 0..symbols {
        let left = symbols - i; // symbols still to write, this one included
        let lo = remaining.saturating_sub((left - 1) * m).max(1);
        let hi = (remaining - (left - 1)).min(m);
        let target = remaining as f64 / left as f64 / mean_k;
        let st = universe.symbol(i, |k| {
            ((k as f64 * target).round() as u64).clamp(lo, hi) as usize
        });
        universe.week_rows(&st, wk, market, true, &mut rows);
        for &(venue, shares, trades) in &rows {
            line.clear();
            let v = &venues[venue];
            let _ = writeln!(
                line,
                "{tier_desc}|{}|{}|{}|{}|{shares}|{trades}|{date}",
                st.symbol, st.name, v.name, v.mpid
            );
            out.write_all(line.as_bytes())?;
            stats.bytes += line.len() as u64;
            stats.total_shares += shares;
            stats.total_trades += trades;
            used[venue] = true;
        }
        stats.rows += rows.len() as u64;
        stats.symbols += 1;
        remaining -= rows.len() as u64;
    }
    out.flush()?;
    debug_assert_eq!(stats.rows, n);
    stats.venues = used.iter().filter(|u| **u).count();
    Ok(stats)
}

// ---------------------------------------------------------------------------------------------
// Configuration checks
// ---------------------------------------------------------------------------------------------

impl GenConfig {
    /// Rejects configurations that cannot produce a meaningful set of files, with the reason.
    fn validate(&self) -> Result<(), GenError> {
        let invalid = |m: String| Err(GenError::InvalidConfig(m));
        if self.weeks == 0 {
            return invalid("`weeks` must be at least 1".into());
        }
        if self.symbols == 0 {
            return invalid("`symbols` must be at least 1".into());
        }
        check_mpids(self.mpids)?;
        check_friday(self.first_week_ending)?;
        if self
            .first_week_ending
            .checked_add_days(Days::new(7 * u64::from(self.weeks) + 60))
            .is_none()
        {
            return invalid(format!(
                "{} weeks run past the last date chrono can represent",
                self.weeks
            ));
        }
        if self.tiers.is_empty() {
            return invalid("`tiers` must name at least one tier".into());
        }
        for (i, t) in self.tiers.iter().enumerate() {
            if self.tiers[..i].contains(t) {
                return invalid(format!("tier {t} is listed twice in `tiers`"));
            }
        }
        Ok(())
    }
}

fn check_friday(date: NaiveDate) -> Result<(), GenError> {
    spine_model::WeekEnding::new(date)
        .map(|_| ())
        .map_err(|_| GenError::NotAFriday(date, date.weekday()))
}

fn check_mpids(mpids: usize) -> Result<(), GenError> {
    if (1..=MAX_MPIDS).contains(&mpids) {
        Ok(())
    } else {
        Err(GenError::InvalidConfig(format!(
            "`mpids` must be between 1 and {MAX_MPIDS}, got {mpids}"
        )))
    }
}

/// Which tier each partition-level fault lands on.
struct Targets {
    missing: Option<Tier>,
    coverage: Tier,
    late: Tier,
}

impl Targets {
    fn new(cfg: &GenConfig, missing_tier: bool) -> Result<Targets, GenError> {
        let missing = if missing_tier {
            if !cfg.tiers.contains(&Tier::NmsTier2) || cfg.tiers.len() < 2 {
                return Err(GenError::InvalidConfig(
                    "fault `missing-tier` withholds the NMS Tier 2 file, so `tiers` must include \
                     NMS_TIER_2 and at least one other tier"
                        .into(),
                ));
            }
            Some(Tier::NmsTier2)
        } else {
            None
        };
        let mut present = cfg.tiers.iter().copied().filter(|t| Some(*t) != missing);
        let coverage = present.next().expect("validated: at least one other tier");
        let late = present.next_back().unwrap_or(coverage);
        Ok(Targets {
            missing,
            coverage,
            late,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

const fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A well-mixed 64-bit key for `(seed, parts…)`: the seed of one independent random stream.
fn mix(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(splitmix64(seed), |h, &p| {
        splitmix64(h.rotate_left(23) ^ splitmix64(p))
    })
}

fn rng_for(seed: u64, parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed, parts))
}

const fn tier_code(tier: Tier) -> u64 {
    match tier {
        Tier::NmsTier1 => 1,
        Tier::NmsTier2 => 2,
        Tier::Otc => 3,
    }
}

/// Keys weekly draws by calendar date, so a week's data does not depend on the first week.
fn week_key(week_ending: NaiveDate) -> u64 {
    week_ending.num_days_from_ce() as u64
}

fn std_normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
    "cr", "dr", "fr", "gr", "pr", "tr", "bl", "cl", "fl", "gl", "pl", "sl", "st", "sh", "ch", "th",
    "l", "m", "n", "r", "v",
];
const VOWELS: &[&str] = &[
    "a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "io", "ou", "y",
];
const CODAS: &[&str] = &[
    "n", "r", "l", "s", "x", "m", "nt", "rk", "st", "th", "ck", "ll", "ss", "nd",
];

/// An invented, pronounceable word (never a real company name), optionally starting with a
/// given letter so that issue names echo their symbols.
fn pseudo_word(rng: &mut ChaCha8Rng, first: Option<u8>, syllables: usize) -> String {
    let mut w = String::with_capacity(12);
    match first.map(|c| c.to_ascii_lowercase()) {
        Some(c @ (b'a' | b'e' | b'i' | b'o' | b'u')) => {
            w.push(char::from(c));
            w.push_str(pick(rng, CODAS));
        }
        Some(b'q') => {
            w.push_str("qu");
            w.push_str(pick(rng, &["a", "e", "i", "o"]));
        }
        Some(c @ (b'x' | b'y')) => {
            w.push(char::from(c));
            w.push_str(pick(rng, &["a", "e", "o", "u"]));
        }
        Some(c) => {
            w.push(char::from(c));
            if matches!(c, b'b' | b'c' | b'f' | b'g' | b'p') && rng.random_bool(0.25) {
                w.push(if rng.random_bool(0.5) { 'r' } else { 'l' });
            } else if matches!(c, b'd' | b't' | b'k') && rng.random_bool(0.2) {
                w.push('r');
            }
            w.push_str(pick(rng, VOWELS));
        }
        None => {
            w.push_str(pick(rng, ONSETS));
            w.push_str(pick(rng, VOWELS));
        }
    }
    for _ in 1..syllables {
        w.push_str(pick(rng, ONSETS));
        w.push_str(pick(rng, VOWELS));
    }
    if rng.random_bool(0.45) {
        w.push_str(pick(rng, CODAS));
    }
    let mut chars = w.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => w,
    }
}

const SECTORS: &[&str] = &[
    "Therapeutics",
    "Energy",
    "Resources",
    "Holdings",
    "Bancorp",
    "Technologies",
    "Minerals",
    "Pharmaceuticals",
    "Capital",
    "Realty",
    "Systems",
    "Foods",
    "Gold",
    "Mining",
    "Media",
    "Financial",
    "Semiconductor",
    "Networks",
    "Biosciences",
    "Industries",
    "Brands",
    "Logistics",
    "Software",
    "Materials",
    "Utilities",
    "Health",
];
const CORP_SUFFIXES: &[&str] = &[
    " Inc",
    " Inc.",
    " Corp",
    " Corporation",
    " Holdings Inc",
    " Ltd",
    " plc",
    " Co",
    " Group Inc",
    ", Inc.",
    ", Ltd.",
];
const FOREIGN_SUFFIXES: &[&str] = &[
    "Ltd", "AG", "SA", "NV", "plc", "ASA", "Co Ltd", "SE", "Berhad",
];
const COUNTRIES: &[&str] = &[
    "Canada",
    "Japan",
    "Germany",
    "United Kingdom",
    "Australia",
    "France",
    "Switzerland",
    "Netherlands",
    "Hong Kong",
    "Sweden",
    "Norway",
    "Brazil",
    "Mexico",
    "South Africa",
    "Singapore",
    "Israel",
    "Cayman Islands",
    "Bermuda",
];
const ETF_THEMES: &[&str] = &[
    "Dividend Growth",
    "Clean Energy",
    "Small Cap Value",
    "Treasury Bond",
    "Global Infrastructure",
    "Semiconductor",
    "Momentum Factor",
    "Emerging Markets",
    "Short Duration Income",
    "Equal Weight",
];
const NMS_CLASSES: &[(&str, u32)] = &[
    ("Common Stock", 70),
    ("Class A Common Stock", 10),
    ("Ordinary Shares", 8),
    ("American Depositary Shares", 6),
    ("Common Shares", 6),
];

/// A plausible issue name for a symbol: its first word starts with the symbol's first letter,
/// NMS names read like exchange listings, OTC names like FINRA's OTC descriptions (foreign
/// ordinaries for `…F`, ADRs for `…Y`, some in upper-case "COM" style).
fn issue_name(tier: Tier, symbol: &str, rng: &mut ChaCha8Rng) -> String {
    let first = symbol.as_bytes().first().copied();
    let syllables = 2 + usize::from(rng.random_bool(0.35));
    let word = pseudo_word(rng, first, syllables);
    let sector = pick(rng, SECTORS);
    match tier {
        Tier::NmsTier1 | Tier::NmsTier2 => {
            let etf_share = if tier == Tier::NmsTier1 { 0.12 } else { 0.06 };
            if rng.random_bool(etf_share) {
                return format!("{word} {} ETF", pick(rng, ETF_THEMES));
            }
            let corp = pick(rng, CORP_SUFFIXES);
            let total: u32 = NMS_CLASSES.iter().map(|c| c.1).sum();
            let mut roll = rng.random_range(0..total);
            let class = NMS_CLASSES
                .iter()
                .find(|c| {
                    if roll < c.1 {
                        true
                    } else {
                        roll -= c.1;
                        false
                    }
                })
                .map_or("Common Stock", |c| c.0);
            if rng.random_bool(0.5) {
                format!("{word} {sector}{corp} {class}")
            } else {
                format!("{word}{corp} {class}")
            }
        }
        Tier::Otc => {
            let country = pick(rng, COUNTRIES);
            let foreign = pick(rng, FOREIGN_SUFFIXES);
            match symbol.as_bytes().last() {
                Some(b'Y') => {
                    let kind = pick(rng, &["Unsponsored ADR", "American Depositary Shares"]);
                    format!("{word} {sector} {foreign} {kind} ({country})")
                }
                Some(b'F') => {
                    let kind = pick(rng, &["Ordinary Shares", "Common Shares"]);
                    format!("{word} {sector} {foreign} {kind} ({country})")
                }
                _ if rng.random_bool(0.25) => {
                    let kind = pick(rng, &["COM", "COM NEW", "ORD", "PFD SER A"]);
                    let corp = pick(rng, &["INC", "CORP", "LTD", "HLDGS INC"]);
                    format!(
                        "{} {} {corp} {kind}",
                        word.to_ascii_uppercase(),
                        sector.to_ascii_uppercase()
                    )
                }
                _ => {
                    let corp = pick(rng, CORP_SUFFIXES);
                    format!("{word} {sector}{corp} Common Stock")
                }
            }
        }
    }
}

const PARTICIPANT_SUFFIXES: &[&str] = &[
    "SECURITIES LLC",
    "CAPITAL MARKETS, LLC",
    "EXECUTION SERVICES LLC",
    "ATS",
    "CROSS ATS",
    "TRADING LLC",
    "MARKETS INC.",
    "FINANCIAL SERVICES LLC",
    "& CO. LLC",
    "BROKERAGE INC",
    "ECN",
    "GLOBAL MARKETS LLC",
    "PRIME SERVICES LLC",
];

/// A venue: the MPID and the participant name that goes with it.
#[derive(Debug, Clone)]
struct Venue {
    mpid: String,
    name: String,
}

/// The venue table for a seed: `count` venues with unique 4-letter MPIDs and unique invented
/// participant names, sorted by MPID (so a venue's index orders like its MPID). The first
/// venues do not depend on `count`.
fn venue_table(seed: u64, count: usize) -> Vec<Venue> {
    let mut rng = rng_for(seed, &[TAG_VENUES]);
    let mut mpids = HashSet::new();
    let mut names = HashSet::new();
    let mut venues = Vec::with_capacity(count);
    while venues.len() < count {
        let syllables = 2 + usize::from(rng.random_bool(0.4));
        let word = pseudo_word(&mut rng, None, syllables).to_ascii_uppercase();
        let suffix = pick(&mut rng, PARTICIPANT_SUFFIXES);
        let name = if rng.random_bool(0.25) {
            let second = pseudo_word(&mut rng, None, 2).to_ascii_uppercase();
            format!("{word} {second} {suffix}")
        } else {
            format!("{word} {suffix}")
        };
        if names.contains(&name) {
            continue;
        }
        let letters: Vec<u8> = word.bytes().filter(u8::is_ascii_uppercase).collect();
        let mut mpid: String = letters.iter().take(4).map(|&b| char::from(b)).collect();
        while mpid.len() < 4 {
            mpid.push(char::from(b'A' + rng.random_range(0..26u8)));
        }
        while mpids.contains(&mpid) {
            // Keep the first letters (MPIDs echo the firm), vary the tail, then everything.
            let keep = if rng.random_bool(0.7) { 3 } else { 2 };
            mpid.truncate(keep);
            while mpid.len() < 4 {
                mpid.push(char::from(b'A' + rng.random_range(0..26u8)));
            }
            if mpids.contains(&mpid) && rng.random_bool(0.3) {
                mpid = (0..4)
                    .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
                    .collect();
            }
        }
        mpids.insert(mpid.clone());
        names.insert(name.clone());
        venues.push(Venue { mpid, name });
    }
    venues.sort_by(|a, b| a.mpid.cmp(&b.mpid));
    venues
}

// ---------------------------------------------------------------------------------------------
// Symbol codes
// ---------------------------------------------------------------------------------------------

/// Number of strings of length `0..=n` over A–Z: the size of a subtree of the code trie.
fn subtree(n: u32) -> u64 {
    (0..=n).map(|j| 26u64.pow(j)).sum()
}

/// The `idx`-th string, in sorted order, of all strings of length `1..=max_len` over A–Z.
fn lex_code(mut idx: u64, max_len: u32) -> String {
    let mut s = String::with_capacity(max_len as usize);
    for depth in 1..=max_len {
        let size = subtree(max_len - depth);
        s.push(char::from(b'A' + (idx / size) as u8));
        idx %= size;
        if idx == 0 {
            break;
        }
        idx -= 1;
    }
    s
}

/// The `idx`-th string, in sorted order, of all strings of exactly `len` letters.
fn fixed_code(idx: u64, len: u32) -> String {
    (0..len)
        .rev()
        .map(|p| char::from(b'A' + ((idx / 26u64.pow(p)) % 26) as u8))
        .collect()
}

/// The sorted space of codes a tier draws its symbols from.
#[derive(Debug, Clone, Copy)]
enum Space {
    /// All codes of 1..=max_len letters (NMS tiers); `upper` picks Tier 2's half of each slice.
    Lex { max_len: u32, upper: bool },
    /// Codes of exactly 5 letters (OTC).
    Five,
}

impl Space {
    /// The code space of a tier sized for `symbols`, and its number of codes. Each symbol gets
    /// its own slice; slices must hold at least two codes so revisions can add new symbols.
    fn for_tier(tier: Tier, symbols: u64) -> Result<(Space, u64), GenError> {
        let (space, total, per_symbol) = match tier {
            Tier::NmsTier1 | Tier::NmsTier2 => {
                let upper = tier == Tier::NmsTier2;
                // Prefer codes of up to 4 letters; use 5 only for benchmark-sized universes.
                let max_len = if symbols.saturating_mul(8) <= 26 * subtree(3) {
                    4
                } else {
                    5
                };
                let total = 26 * subtree(max_len - 1);
                (Space::Lex { max_len, upper }, total, 4)
            }
            Tier::Otc => (Space::Five, 26u64.pow(5), 2),
        };
        let capacity = total / per_symbol;
        if symbols > capacity {
            return Err(GenError::InvalidConfig(format!(
                "{symbols} symbols do not fit in the {} symbol space ({capacity} at most)",
                tier.as_str()
            )));
        }
        Ok((space, total))
    }

    fn code(self, idx: u64) -> String {
        match self {
            Space::Lex { max_len, .. } => lex_code(idx, max_len),
            Space::Five => fixed_code(idx, 5),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The per-tier universe
// ---------------------------------------------------------------------------------------------

/// Volume and venue shape of a tier, tuned against the real data's orders of magnitude.
struct TierModel {
    /// Median weekly shares per symbol.
    median_shares: f64,
    /// Log-scale spread of weekly shares across symbols.
    sigma_shares: f64,
    /// Median number of venues per symbol.
    median_venues: f64,
    /// Zipf exponent of venue popularity: higher means more concentrated.
    venue_zipf: f64,
    /// Median average trade size (shares per trade).
    median_trade: f64,
    /// Log-scale spread of average trade size across symbols.
    sigma_trade: f64,
}

const fn tier_model(tier: Tier) -> TierModel {
    match tier {
        Tier::NmsTier1 => TierModel {
            median_shares: 2_000_000.0,
            sigma_shares: 1.2,
            median_venues: 4.0,
            venue_zipf: 1.2,
            median_trade: 150.0,
            sigma_trade: 0.45,
        },
        Tier::NmsTier2 => TierModel {
            median_shares: 150_000.0,
            sigma_shares: 1.5,
            median_venues: 3.0,
            venue_zipf: 1.3,
            median_trade: 180.0,
            sigma_trade: 0.6,
        },
        Tier::Otc => TierModel {
            median_shares: 8_000.0,
            sigma_shares: 2.5,
            median_venues: 1.5,
            venue_zipf: 1.8,
            median_trade: 400.0,
            sigma_trade: 1.5,
        },
    }
}

/// A symbol's week-independent attributes.
#[derive(Debug, Clone)]
struct SymbolStatic {
    /// Keys the symbol's weekly draws.
    key: u64,
    symbol: String,
    name: String,
    /// ln of the symbol's median weekly shares.
    log_shares: f64,
    /// Average trade size.
    avg_trade: f64,
    /// The venues it trades on, sorted by venue index (= MPID order).
    slots: Vec<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    venue: usize,
    /// Share of the symbol's volume, summing to 1 over the slots.
    weight: f64,
    /// The first-picked venue always reports, so the symbol appears every week.
    primary: bool,
}

/// One row of a week, before rendering: indices into the symbol and venue tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RowVals {
    sym: usize,
    venue: usize,
    shares: u64,
    trades: u64,
}

/// Everything needed to produce a tier's symbols and their weekly rows.
struct Universe<'v> {
    tier: Tier,
    seed: u64,
    venues: &'v [Venue],
    venue_of_rank: Vec<usize>,
    rank_of_venue: Vec<usize>,
    zipf: Zipf<f64>,
    symbols: u64,
    space: Space,
    space_total: u64,
    model: TierModel,
}

impl<'v> Universe<'v> {
    fn new(tier: Tier, seed: u64, venues: &'v [Venue], symbols: u64) -> Result<Self, GenError> {
        let (space, space_total) = Space::for_tier(tier, symbols)?;
        let model = tier_model(tier);
        let mut venue_of_rank: Vec<usize> = (0..venues.len()).collect();
        venue_of_rank.shuffle(&mut rng_for(seed, &[TAG_RANK, tier_code(tier)]));
        let mut rank_of_venue = vec![0; venues.len()];
        for (rank, &v) in venue_of_rank.iter().enumerate() {
            rank_of_venue[v] = rank;
        }
        let zipf = Zipf::new(venues.len() as f64, model.venue_zipf)
            .map_err(|e| GenError::InvalidConfig(format!("venue popularity: {e}")))?;
        Ok(Universe {
            tier,
            seed,
            venues,
            venue_of_rank,
            rank_of_venue,
            zipf,
            symbols,
            space,
            space_total,
            model,
        })
    }

    /// The code-space slice of symbol `i`: `[start, start + len)`.
    fn stratum(&self, i: u64) -> (u64, u64) {
        let t = u128::from(self.space_total);
        let s = u128::from(self.symbols);
        let lo = (u128::from(i) * t / s) as u64;
        let hi = (u128::from(i + 1) * t / s) as u64;
        match self.space {
            Space::Lex { upper: false, .. } => (lo, (hi - lo) / 2),
            Space::Lex { upper: true, .. } => {
                let mid = lo + (hi - lo) / 2;
                (mid, hi - mid)
            }
            Space::Five => (lo, hi - lo),
        }
    }

    fn code(&self, i: u64) -> String {
        let (start, len) = self.stratum(i);
        let offset = mix(self.seed, &[TAG_CODE, tier_code(self.tier), i]) % len;
        self.space.code(start + offset)
    }

    /// A code in symbol `i`'s slice that is not symbol `i`: a new symbol for a revision, unique
    /// and in sort position by construction. `None` if the slice has a single code.
    fn alternate_code(&self, i: u64) -> Option<String> {
        let (start, len) = self.stratum(i);
        if len < 2 {
            return None;
        }
        let offset = mix(self.seed, &[TAG_CODE, tier_code(self.tier), i]) % len;
        let step = 1 + mix(self.seed, &[TAG_REV_CODE, tier_code(self.tier), i]) % (len - 1);
        Some(self.space.code(start + (offset + step) % len))
    }

    fn venue_count(&self, z: f64, noise: f64) -> usize {
        let k = (self.model.median_venues * (0.45 * z + 0.5 * noise).exp()).round();
        (k as usize).clamp(1, self.venues.len())
    }

    /// The venue count symbol `i` would naturally get (its first two attribute draws).
    fn natural_k(&self, i: u64) -> usize {
        let mut rng = rng_for(self.seed, &[TAG_ATTR, tier_code(self.tier), i]);
        let z = std_normal(&mut rng);
        let noise = std_normal(&mut rng);
        self.venue_count(z, noise)
    }

    /// Symbol `i` of the universe; `adjust` may change its venue count (exact-row streaming).
    fn symbol(&self, i: u64, adjust: impl FnOnce(usize) -> usize) -> SymbolStatic {
        let rng = rng_for(self.seed, &[TAG_ATTR, tier_code(self.tier), i]);
        self.build_symbol(i, self.code(i), rng, adjust)
    }

    fn build_symbol(
        &self,
        key: u64,
        code: String,
        mut rng: ChaCha8Rng,
        adjust: impl FnOnce(usize) -> usize,
    ) -> SymbolStatic {
        let z = std_normal(&mut rng);
        let noise = std_normal(&mut rng);
        let k = adjust(self.venue_count(z, noise)).clamp(1, self.venues.len());
        let name = issue_name(self.tier, &code, &mut rng);
        let log_shares = self.model.median_shares.ln() + self.model.sigma_shares * z;
        let avg_trade = LogNormal::new(self.model.median_trade.ln(), self.model.sigma_trade)
            .expect("finite parameters")
            .sample(&mut rng)
            .clamp(1.0, 500_000.0);
        let slots = self.choose_venues(k, &mut rng);
        SymbolStatic {
            key,
            symbol: code,
            name,
            log_shares,
            avg_trade,
            slots,
        }
    }

    /// Picks `k` distinct venues by Zipf-distributed rank and weights them by rank, so the
    /// dominant venues are on most symbols and take most of each symbol's volume.
    fn choose_venues(&self, k: usize, rng: &mut ChaCha8Rng) -> Vec<Slot> {
        let m = self.venues.len();
        let mut ranks: Vec<usize> = Vec::with_capacity(k);
        let mut taken = vec![false; if k > 16 { m } else { 0 }];
        let is_taken = |ranks: &[usize], taken: &[bool], r: usize| {
            if taken.is_empty() {
                ranks.contains(&r)
            } else {
                taken[r]
            }
        };
        let mut attempts = 0;
        while ranks.len() < k && attempts < 32 * k + 64 {
            attempts += 1;
            let r = (self.zipf.sample(rng) as usize).clamp(1, m) - 1;
            if !is_taken(&ranks, &taken, r) {
                ranks.push(r);
                if !taken.is_empty() {
                    taken[r] = true;
                }
            }
        }
        // Rare: the tail venues were too unlikely to draw; fill with the best ranks left.
        let mut r = 0;
        while ranks.len() < k {
            if !is_taken(&ranks, &taken, r) {
                ranks.push(r);
                if !taken.is_empty() {
                    taken[r] = true;
                }
            }
            r += 1;
        }
        let mut slots: Vec<Slot> = ranks
            .iter()
            .enumerate()
            .map(|(j, &r)| Slot {
                venue: self.venue_of_rank[r],
                weight: (r as f64 + 1.0).powf(-1.0) * (0.8 * std_normal(rng)).exp(),
                primary: j == 0,
            })
            .collect();
        let total: f64 = slots.iter().map(|s| s.weight).sum();
        for s in &mut slots {
            s.weight /= total;
        }
        slots.sort_by_key(|s| s.venue);
        slots
    }

    /// The market-wide volume factor of a tier-week (busy and quiet weeks).
    fn market_factor(&self, wk: u64) -> f64 {
        let mut rng = rng_for(self.seed, &[TAG_MARKET, tier_code(self.tier), wk]);
        (0.12 * std_normal(&mut rng)).exp()
    }

    /// One symbol's rows for a week as `(venue, shares, trades)`, in MPID order. With
    /// `keep_all`, every venue reports; otherwise non-primary venues sometimes skip a week.
    fn week_rows(
        &self,
        st: &SymbolStatic,
        wk: u64,
        market: f64,
        keep_all: bool,
        out: &mut Vec<(usize, u64, u64)>,
    ) {
        out.clear();
        let mut rng = rng_for(self.seed, &[TAG_WEEK, tier_code(self.tier), st.key, wk]);
        let total = st.log_shares.exp() * market * (0.35 * std_normal(&mut rng)).exp();
        for slot in &st.slots {
            let present: f64 = rng.random();
            let volume_noise = std_normal(&mut rng);
            let size_noise = std_normal(&mut rng);
            if !(slot.primary || keep_all || present < WEEKLY_PRESENCE) {
                continue;
            }
            let shares = (total * slot.weight * (0.25 * volume_noise).exp())
                .round()
                .clamp(1.0, MAX_SHARES) as u64;
            let avg_trade = (st.avg_trade * (0.2 * size_noise).exp()).max(1.0);
            let trades = ((shares as f64 / avg_trade).round() as u64).clamp(1, shares);
            out.push((slot.venue, shares, trades));
        }
    }

    /// All rows of a tier-week, sorted by symbol then MPID.
    fn week_rows_all(&self, statics: &[SymbolStatic], week_ending: NaiveDate) -> Vec<RowVals> {
        let wk = week_key(week_ending);
        let market = self.market_factor(wk);
        let mut rows = Vec::with_capacity(statics.len() * 3);
        let mut buf = Vec::new();
        for (sym, st) in statics.iter().enumerate() {
            self.week_rows(st, wk, market, false, &mut buf);
            rows.extend(buf.iter().map(|&(venue, shares, trades)| RowVals {
                sym,
                venue,
                shares,
                trades,
            }));
        }
        rows
    }
}

// ---------------------------------------------------------------------------------------------
// Files and faults
// ---------------------------------------------------------------------------------------------

/// One data line of a file being assembled: its fields, delimiter and provenance.
struct DataLine {
    fields: Vec<String>,
    delim: char,
    /// The fault that produced or corrupted this line, if any.
    fault: Option<Fault>,
    /// Stable identity while lines are inserted (duplicates point at their source).
    id: usize,
    dup_of: Option<usize>,
    truncated: bool,
}

impl DataLine {
    fn render(&self) -> String {
        let mut text = if self.delim == '|' {
            self.fields.join("|")
        } else {
            self.fields
                .iter()
                .map(|f| {
                    if f.contains([',', '"']) {
                        format!("\"{}\"", f.replace('"', "\"\""))
                    } else {
                        f.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        if self.truncated {
            // Cut inside issueName: the tier and symbol survive, the row is visibly partial.
            let name_start = self.fields[0].len() + self.fields[1].len() + 2;
            let cut = name_start + (self.fields[2].len() / 2).max(1);
            text.truncate(cut.min(text.len()));
        }
        text
    }
}

/// Writes the header and lines; a truncated last line gets no final newline.
fn write_lines(path: &Path, lines: &[DataLine]) -> Result<(), GenError> {
    let io_err = |source| GenError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::create(path).map_err(io_err)?;
    let mut out = BufWriter::new(file);
    let mut write = || -> io::Result<()> {
        out.write_all(HEADER.as_bytes())?;
        out.write_all(b"\n")?;
        for line in lines {
            out.write_all(line.render().as_bytes())?;
            if !line.truncated {
                out.write_all(b"\n")?;
            }
        }
        out.flush()
    };
    write().map_err(io_err)
}

/// One tier-week being written by [`generate`].
struct WeekFile<'a, 'v> {
    universe: &'a Universe<'v>,
    week_ending: NaiveDate,
    last_update: NaiveDate,
}

impl WeekFile<'_, '_> {
    fn fault_rng(&self, fault: Fault) -> ChaCha8Rng {
        rng_for(
            self.universe.seed,
            &[
                TAG_FAULT,
                tier_code(self.universe.tier),
                week_key(self.week_ending),
                fault as u64,
            ],
        )
    }

    fn line(&self, statics: &[SymbolStatic], row: &RowVals, id: usize) -> DataLine {
        let st = &statics[row.sym];
        let venue = &self.universe.venues[row.venue];
        DataLine {
            fields: vec![
                self.universe.tier.finra_description().to_string(),
                st.symbol.clone(),
                st.name.clone(),
                venue.name.clone(),
                venue.mpid.clone(),
                row.shares.to_string(),
                row.trades.to_string(),
                self.last_update.format("%Y-%m-%d").to_string(),
            ],
            delim: '|',
            fault: None,
            id,
            dup_of: None,
            truncated: false,
        }
    }

    /// `low-venue-coverage`: keeps ~40% of the venues present this week (always the tier's
    /// top-ranked one, so most symbols survive), drops every row of the others.
    fn drop_venues(&self, rows: &mut Vec<RowVals>) -> InjectedFault {
        let u = self.universe;
        let mut present: Vec<usize> = rows.iter().map(|r| r.venue).collect();
        present.sort_unstable();
        present.dedup();
        present.sort_by_key(|&v| u.rank_of_venue[v]);
        let total = present.len();
        let keep_n = ((total as f64 * COVERAGE_KEEP).ceil() as usize).max(1);
        // Always keep the top-ranked venue; keep a random selection of the others.
        let mut others = present.split_off(1.min(total));
        others.shuffle(&mut self.fault_rng(Fault::LowVenueCoverage));
        let keep_others = keep_n.saturating_sub(present.len()).min(others.len());
        let dropped = others.split_off(keep_others);
        let symbols_before = distinct_symbols(rows);
        rows.retain(|r| !dropped.contains(&r.venue));
        let mut dropped_mpids: Vec<&str> =
            dropped.iter().map(|&v| u.venues[v].mpid.as_str()).collect();
        dropped_mpids.sort_unstable();
        InjectedFault {
            fault: Fault::LowVenueCoverage,
            lines: Vec::new(),
            detail: format!(
                "kept {} of {total} venues ({} symbols of {symbols_before} remain); dropped {}",
                total - dropped.len(),
                distinct_symbols(rows),
                dropped_mpids.join(", ")
            ),
        }
    }

    /// Applies the row-level faults (replacements, then duplicates, then truncation) and
    /// reports each with its final line numbers.
    fn apply_row_faults(&self, lines: &mut Vec<DataLine>, faults: &[Fault]) -> Vec<InjectedFault> {
        let truncate = faults.contains(&Fault::TruncatedLastLine);
        let eligible = |lines: &[DataLine]| -> Vec<usize> {
            let end = if truncate {
                lines.len().saturating_sub(1)
            } else {
                lines.len()
            };
            (0..end).filter(|&i| lines[i].fault.is_none()).collect()
        };
        let mut details: BTreeMap<Fault, String> = BTreeMap::new();

        for &fault in faults.iter().filter(|f| f.is_row_replacement()) {
            let mut rng = self.fault_rng(fault);
            let mut candidates = eligible(lines);
            let n = FAULT_ROWS.min(candidates.len());
            let chosen = choose_sorted(&mut candidates, n, &mut rng);
            for (nth, &i) in chosen.iter().enumerate() {
                self.corrupt(fault, nth, &mut lines[i]);
            }
            details.insert(fault, fault.description().to_string());
        }

        if faults.contains(&Fault::DuplicatePair) {
            let mut rng = self.fault_rng(Fault::DuplicatePair);
            let mut candidates = eligible(lines);
            let n = FAULT_ROWS.min(candidates.len());
            let sources: Vec<usize> = choose_sorted(&mut candidates, n, &mut rng)
                .into_iter()
                .map(|i| lines[i].id)
                .collect();
            let first_new_id = lines.iter().map(|l| l.id).max().map_or(0, |m| m + 1);
            for (new_id, source_id) in (first_new_id..).zip(sources) {
                let src = lines
                    .iter()
                    .position(|l| l.id == source_id)
                    .expect("source line exists");
                // Insert after a random later line, before a reserved truncated last line.
                let end = if truncate {
                    lines.len().saturating_sub(1)
                } else {
                    lines.len()
                };
                let at = rng.random_range(src + 1..=end.max(src + 1));
                let copy = DataLine {
                    fields: lines[src].fields.clone(),
                    delim: '|',
                    fault: Some(Fault::DuplicatePair),
                    id: new_id,
                    dup_of: Some(source_id),
                    truncated: false,
                };
                lines.insert(at, copy);
            }
            details.insert(Fault::DuplicatePair, String::new());
        }

        if truncate {
            if let Some(last) = lines.last_mut() {
                last.truncated = true;
                last.fault = Some(Fault::TruncatedLastLine);
            }
            details.insert(
                Fault::TruncatedLastLine,
                "the last row is cut inside issueName and has no final newline".into(),
            );
        }

        // Line numbers are final only now: report them.
        let line_of = |id: usize| lines.iter().position(|l| l.id == id).map_or(0, |p| p + 2);
        let mut reported: BTreeMap<Fault, Vec<usize>> = BTreeMap::new();
        let mut dup_notes = Vec::new();
        for (pos, line) in lines.iter().enumerate() {
            if let Some(f) = line.fault {
                reported.entry(f).or_default().push(pos + 2);
                if let Some(src) = line.dup_of {
                    dup_notes.push(format!(
                        "line {} repeats line {} ({}/{})",
                        pos + 2,
                        line_of(src),
                        line.fields[1],
                        line.fields[4]
                    ));
                }
            }
        }
        if let Some(d) = details.get_mut(&Fault::DuplicatePair) {
            *d = if dup_notes.is_empty() {
                "no row to duplicate".into()
            } else {
                dup_notes.join("; ")
            };
        }
        details
            .into_iter()
            .map(|(fault, detail)| {
                let lines = reported.remove(&fault).unwrap_or_default();
                let detail = if lines.is_empty() {
                    format!("{detail} (no eligible row)")
                } else {
                    detail
                };
                InjectedFault {
                    fault,
                    lines,
                    detail,
                }
            })
            .collect()
    }

    /// Corrupts one line for a row-replacement fault; `nth` varies the flavour of corruption.
    fn corrupt(&self, fault: Fault, nth: usize, line: &mut DataLine) {
        line.fault = Some(fault);
        let f = &mut line.fields;
        let lu = self.last_update;
        match fault {
            Fault::WrongFieldCount => {
                if nth.is_multiple_of(2) {
                    f.pop(); // 7 fields: lastUpdateDate lost
                } else {
                    f.push(String::new()); // 9 fields: a trailing pipe
                }
            }
            Fault::CommaDelimited => line.delim = ',',
            Fault::NonNumericQuantity => {
                let shares: u64 = f[5].parse().unwrap_or(1);
                f[5] = match nth % 3 {
                    0 => "N/A".into(),
                    1 => with_thousands(shares.max(1_000)),
                    _ => format!("{:.1}K", shares as f64 / 1_000.0),
                };
            }
            Fault::NegativeQuantity => f[5] = format!("-{}", f[5]),
            Fault::EmptySymbol => f[1].clear(),
            Fault::EmptyMpid => f[4].clear(),
            Fault::UnknownTier => {
                f[0] = match nth % 3 {
                    0 => "NMS Tier 3".into(),
                    1 => "OTCBB".into(),
                    _ => f[0].to_ascii_lowercase(),
                };
            }
            Fault::BadDate => {
                f[7] = match nth % 3 {
                    0 => format!("{}-13-{:02}", lu.year(), lu.day()),
                    1 => lu.format("%m/%d/%Y").to_string(),
                    _ => format!("{}-02-30", lu.year()),
                };
            }
            Fault::ZeroVolume => f[5] = "0".into(),
            _ => unreachable!("{fault} is not a row replacement"),
        }
    }

    /// `revision`: the clean week with a later stamp, a few symbols removed and added and some
    /// volumes changed; writes it and reports the added and changed lines.
    fn revise(
        &self,
        clean: &[RowVals],
        statics: &[SymbolStatic],
        path: PathBuf,
    ) -> Result<GeneratedFile, GenError> {
        let u = self.universe;
        let mut rng = self.fault_rng(Fault::Revision);
        let mut table: Vec<SymbolStatic> = statics.to_vec();
        let mut rows: Vec<RowVals> = clean.to_vec();

        // Remove a few symbols (never all of them).
        let mut present: Vec<usize> = rows.iter().map(|r| r.sym).collect();
        present.dedup();
        let n_remove = 2.min(present.len().saturating_sub(1));
        let removed = choose_sorted(&mut present, n_remove, &mut rng);
        rows.retain(|r| !removed.contains(&r.sym));

        // Change some volumes: ~3% of rows, at least three.
        let n_change = (rows.len() / 30).max(3).min(rows.len());
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        let mut changed = vec![false; rows.len()];
        for i in choose_sorted(&mut idx, n_change, &mut rng) {
            let r = &mut rows[i];
            let factor: f64 = rng.random_range(0.6..1.4);
            let mut shares = ((r.shares as f64 * factor).round() as u64).max(1);
            if shares == r.shares {
                shares += 1;
            }
            let trades = ((r.trades as f64 * shares as f64 / r.shares as f64).round() as u64)
                .clamp(1, shares);
            r.shares = shares;
            r.trades = trades;
            changed[i] = true;
        }
        let mut tagged: Vec<(RowVals, bool)> = rows.into_iter().zip(changed).collect();

        // Add a few symbols that were not in the original week.
        let mut strata: Vec<u64> = (0..u.symbols).collect();
        let n_strata = 8.min(strata.len());
        let strata = choose_sorted(&mut strata, n_strata, &mut rng);
        let mut added = Vec::new();
        let wk = week_key(self.week_ending);
        let market = u.market_factor(wk);
        let mut buf = Vec::new();
        for &i in strata.iter().take(8) {
            if added.len() == 2 {
                break;
            }
            let Some(code) = u.alternate_code(i) else {
                continue;
            };
            let attr = rng_for(u.seed, &[TAG_REV_ATTR, tier_code(u.tier), i]);
            let st = u.build_symbol(REV_INDEX_OFFSET + i, code, attr, |k| k);
            u.week_rows(&st, wk, market, true, &mut buf);
            let sym = table.len();
            added.push(st.symbol.clone());
            table.push(st);
            tagged.extend(buf.iter().map(|&(venue, shares, trades)| {
                (
                    RowVals {
                        sym,
                        venue,
                        shares,
                        trades,
                    },
                    true,
                )
            }));
        }
        tagged.sort_by(|a, b| {
            (&table[a.0.sym].symbol, a.0.venue).cmp(&(&table[b.0.sym].symbol, b.0.venue))
        });

        let stamped = WeekFile {
            universe: u,
            week_ending: self.week_ending,
            last_update: self.last_update + Days::new(REVISION_RESTAMP_DAYS),
        };
        let lines: Vec<DataLine> = tagged
            .iter()
            .enumerate()
            .map(|(id, (row, touched))| {
                let mut line = stamped.line(&table, row, id);
                if *touched {
                    line.fault = Some(Fault::Revision);
                }
                line
            })
            .collect();
        write_lines(&path, &lines)?;
        let touched: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.fault.is_some())
            .map(|(pos, _)| pos + 2)
            .collect();
        let removed_codes: Vec<&str> = removed.iter().map(|&s| table[s].symbol.as_str()).collect();
        Ok(GeneratedFile {
            path,
            tier: u.tier,
            week_ending: self.week_ending,
            last_update: stamped.last_update,
            rows: lines.len(),
            revision: 1,
            faults: vec![InjectedFault {
                fault: Fault::Revision,
                detail: format!(
                    "revised from {}: re-stamped {} (was {}); added {}; removed {}; {n_change} \
                     rows changed volume; lines lists added and changed rows",
                    file_name(u.tier, self.week_ending),
                    stamped.last_update,
                    self.last_update,
                    added.join(", "),
                    removed_codes.join(", ")
                ),
                lines: touched,
            }],
        })
    }
}

/// `n` distinct elements of `items` chosen uniformly at random, sorted so that how they are used
/// does not depend on the order they were drawn in.
fn choose_sorted<T: Copy + Ord>(items: &mut [T], n: usize, rng: &mut ChaCha8Rng) -> Vec<T> {
    let (chosen, _) = items.partial_shuffle(rng, n);
    let mut chosen = chosen.to_vec();
    chosen.sort_unstable();
    chosen
}

fn distinct_symbols(rows: &[RowVals]) -> usize {
    let mut n = 0;
    let mut last = None;
    for r in rows {
        if last != Some(r.sym) {
            n += 1;
            last = Some(r.sym);
        }
    }
    n
}

/// `1234567` → `1,234,567`: how a spreadsheet would have "helpfully" formatted a quantity.
fn with_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scratch directory removed on drop (no extra dependency for one helper).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "spine-generate-{}-{tag}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn friday(y: i32, m: u32, d: u32) -> NaiveDate {
        let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(date.weekday(), Weekday::Fri);
        date
    }

    fn small(faults: &[Fault]) -> GenConfig {
        GenConfig {
            weeks: 3,
            symbols: 300,
            mpids: 20,
            seed: 7,
            first_week_ending: friday(2025, 12, 5),
            tiers: Tier::ALL.to_vec(),
            faults: faults.to_vec(),
        }
    }

    /// A row as a strict parser would read it.
    #[derive(Debug)]
    struct Parsed {
        tier: Tier,
        symbol: String,
        mpid: String,
        shares: u64,
        trades: u64,
        date: NaiveDate,
    }

    /// What the project's parser must enforce, restated independently for these tests.
    fn parse_line(line: &str) -> Result<Parsed, String> {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != 8 {
            return Err(format!("{} fields", f.len()));
        }
        let tier = Tier::from_finra_description(f[0]).map_err(|e| e.to_string())?;
        if f[1].is_empty() || f[4].is_empty() {
            return Err("empty symbol or MPID".into());
        }
        let shares = f[5].parse::<u64>().map_err(|e| format!("shares: {e}"))?;
        let trades = f[6].parse::<u64>().map_err(|e| format!("trades: {e}"))?;
        let date = NaiveDate::parse_from_str(f[7], "%Y-%m-%d").map_err(|e| e.to_string())?;
        if f[7].len() != 10 {
            return Err("date not YYYY-MM-DD".into());
        }
        Ok(Parsed {
            tier,
            symbol: f[1].to_string(),
            mpid: f[4].to_string(),
            shares,
            trades,
            date,
        })
    }

    /// The file's physical lines (header = index 0) and whether it ends with a newline.
    fn read_lines(path: &Path) -> (Vec<String>, bool) {
        let text = fs::read_to_string(path).unwrap();
        let ends_with_newline = text.ends_with('\n');
        (
            text.lines().map(str::to_string).collect(),
            ends_with_newline,
        )
    }

    fn parsed_rows(path: &Path) -> Vec<Parsed> {
        let (lines, _) = read_lines(path);
        assert_eq!(lines[0], HEADER);
        lines[1..]
            .iter()
            .map(|l| parse_line(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    }

    fn last_week_file(files: &[GeneratedFile], tier: Tier) -> &GeneratedFile {
        files
            .iter()
            .filter(|f| f.tier == tier && f.revision == 0)
            .max_by_key(|f| f.week_ending)
            .unwrap()
    }

    fn dir_bytes(files: &[GeneratedFile]) -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|f| {
                (
                    f.path.file_name().unwrap().to_string_lossy().into_owned(),
                    fs::read(&f.path).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn same_seed_same_bytes_different_seed_different_bytes() {
        let (a, b, c) = (TempDir::new("a"), TempDir::new("b"), TempDir::new("c"));
        let cfg = small(&[]);
        let fa = generate(&cfg, &a.0).unwrap();
        let fb = generate(&cfg, &b.0).unwrap();
        assert_eq!(dir_bytes(&fa), dir_bytes(&fb));
        let other = GenConfig { seed: 8, ..cfg };
        let fc = generate(&other, &c.0).unwrap();
        for ((na, ba), (nc, bc)) in dir_bytes(&fa).iter().zip(dir_bytes(&fc).iter()) {
            assert_eq!(na, nc);
            assert_ne!(ba, bc, "{na} should differ with another seed");
        }
    }

    #[test]
    fn files_have_finra_names_format_and_stamps() {
        let dir = TempDir::new("format");
        let cfg = small(&[]);
        let files = generate(&cfg, &dir.0).unwrap();
        assert_eq!(files.len(), 9);
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names[0], "finra_otc_weekly_nms_tier_1_20251205.csv");
        assert_eq!(names[1], "finra_otc_weekly_nms_tier_2_20251205.csv");
        assert_eq!(names[8], "finra_otc_weekly_otc_20251219.csv");
        for file in &files {
            let bytes = fs::read(&file.path).unwrap();
            assert!(bytes.ends_with(b"\n") && !bytes.contains(&b'\r'));
            let rows = parsed_rows(&file.path);
            assert_eq!(rows.len(), file.rows);
            assert!(file.faults.is_empty());
            for r in &rows {
                assert_eq!(r.tier, file.tier);
                assert_eq!(r.date, file.last_update);
                assert!((1..=5).contains(&r.symbol.len()), "{}", r.symbol);
                assert!(r.symbol.bytes().all(|b| b.is_ascii_uppercase()));
                assert!(r.mpid.len() == 4 && r.mpid.bytes().all(|b| b.is_ascii_uppercase()));
                assert!(r.shares >= 1 && r.trades >= 1 && r.trades <= r.shares);
            }
            // Sorted by symbol then MPID, each pair once.
            let keys: Vec<(&str, &str)> = rows
                .iter()
                .map(|r| (r.symbol.as_str(), r.mpid.as_str()))
                .collect();
            assert!(
                keys.windows(2).all(|w| w[0] < w[1]),
                "{}",
                file.path.display()
            );
            // Every symbol of the universe appears every week.
            let symbols: BTreeSet<&str> = keys.iter().map(|k| k.0).collect();
            assert_eq!(symbols.len(), cfg.symbols);
        }
    }

    #[test]
    fn universe_is_stable_across_weeks_and_disjoint_across_tiers() {
        let dir = TempDir::new("stable");
        let files = generate(&small(&[]), &dir.0).unwrap();
        let mut by_tier: HashMap<Tier, Vec<BTreeSet<String>>> = HashMap::new();
        let mut volumes: HashMap<Tier, Vec<u64>> = HashMap::new();
        for f in &files {
            let rows = parsed_rows(&f.path);
            by_tier
                .entry(f.tier)
                .or_default()
                .push(rows.iter().map(|r| r.symbol.clone()).collect());
            volumes
                .entry(f.tier)
                .or_default()
                .push(rows.iter().map(|r| r.shares).sum());
        }
        for (tier, weeks) in &by_tier {
            assert!(
                weeks.windows(2).all(|w| w[0] == w[1]),
                "{tier} universe moved"
            );
            let v = &volumes[tier];
            assert!(v.windows(2).all(|w| w[0] != w[1]), "{tier} volumes frozen");
        }
        let t1 = &by_tier[&Tier::NmsTier1][0];
        let t2 = &by_tier[&Tier::NmsTier2][0];
        let otc = &by_tier[&Tier::Otc][0];
        assert!(t1.is_disjoint(t2) && t1.is_disjoint(otc) && t2.is_disjoint(otc));
        assert!(otc.iter().all(|s| s.len() == 5));
        assert!(t1.iter().chain(t2).all(|s| s.len() <= 4));
    }

    #[test]
    fn a_week_does_not_depend_on_the_first_generated_week() {
        let (a, b) = (TempDir::new("wa"), TempDir::new("wb"));
        let three = small(&[]);
        let one = GenConfig {
            weeks: 1,
            first_week_ending: friday(2025, 12, 19),
            tiers: vec![Tier::Otc],
            ..three.clone()
        };
        let fa = generate(&three, &a.0).unwrap();
        let fb = generate(&one, &b.0).unwrap();
        let last = last_week_file(&fa, Tier::Otc);
        assert_eq!(
            fs::read(&last.path).unwrap(),
            fs::read(&fb[0].path).unwrap()
        );
    }

    #[test]
    fn last_update_maps_back_to_its_week() {
        let mut week = friday(2024, 1, 5);
        for _ in 0..120 {
            for &tier in Tier::ALL {
                let lu = last_update_date(tier, week);
                assert_eq!(lu.weekday(), Weekday::Mon);
                // The latest Friday F with F + lag <= lastUpdateDate.
                let latest = (0..60)
                    .map(|d| lu - Days::new(d))
                    .filter(|f| f.weekday() == Weekday::Fri)
                    .find(|&f| f + Days::new(publication_lag_days(tier)) <= lu)
                    .unwrap();
                assert_eq!(latest, week, "{tier} {week}");
                let revised = lu + Days::new(REVISION_RESTAMP_DAYS);
                let latest_rev = (0..60)
                    .map(|d| revised - Days::new(d))
                    .filter(|f| f.weekday() == Weekday::Fri)
                    .find(|&f| f + Days::new(publication_lag_days(tier)) <= revised)
                    .unwrap();
                assert_eq!(latest_rev, week);
            }
            week = week + Days::new(7);
        }
        assert_eq!(
            last_update_date(Tier::NmsTier1, friday(2025, 12, 19)),
            NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
        );
        assert_eq!(
            last_update_date(Tier::Otc, friday(2025, 11, 14)),
            NaiveDate::from_ymd_opt(2025, 12, 15).unwrap()
        );
    }

    #[test]
    fn faults_parse_from_kebab_case_and_describe_themselves() {
        assert_eq!(Fault::ALL.len(), Fault::NAMES.len());
        for &f in Fault::ALL {
            assert_eq!(f.as_str().parse::<Fault>().unwrap(), f);
            assert_eq!(f.to_string(), f.as_str());
            assert!(!f.description().is_empty());
        }
        assert_eq!("Zero_Volume".parse::<Fault>().unwrap(), Fault::ZeroVolume);
        let err = "zero-volumes".parse::<Fault>().unwrap_err().to_string();
        assert!(
            err.contains("`zero-volumes`") && err.contains("late-arrival"),
            "{err}"
        );
    }

    #[test]
    fn bad_configurations_are_rejected_with_reasons() {
        let dir = TempDir::new("bad");
        let not_friday = GenConfig {
            first_week_ending: NaiveDate::from_ymd_opt(2025, 12, 18).unwrap(),
            ..small(&[])
        };
        let err = generate(&not_friday, &dir.0).unwrap_err().to_string();
        assert!(err.contains("Thu") && err.contains("Friday"), "{err}");
        let missing_alone = GenConfig {
            tiers: vec![Tier::NmsTier2],
            ..small(&[Fault::MissingTier])
        };
        assert!(matches!(
            generate(&missing_alone, &dir.0),
            Err(GenError::InvalidConfig(_))
        ));
        let twice = GenConfig {
            tiers: vec![Tier::Otc, Tier::Otc],
            ..small(&[])
        };
        assert!(generate(&twice, &dir.0).is_err());
        let no_venues = GenConfig {
            mpids: 0,
            ..small(&[])
        };
        assert!(generate(&no_venues, &dir.0).is_err());
    }

    /// Generates with one fault and returns the files plus the clean run's files for contrast.
    fn with_fault(fault: Fault, dir: &TempDir) -> Vec<GeneratedFile> {
        generate(&small(&[fault]), &dir.0).unwrap()
    }

    /// Every line that the strict parser rejects, by physical line number.
    fn rejected_lines(path: &Path) -> BTreeSet<usize> {
        let (lines, _) = read_lines(path);
        lines
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, l)| parse_line(l).is_err())
            .map(|(i, _)| i + 1)
            .collect()
    }

    #[test]
    fn parser_faults_corrupt_exactly_the_reported_lines() {
        let replacement = [
            Fault::WrongFieldCount,
            Fault::CommaDelimited,
            Fault::NonNumericQuantity,
            Fault::NegativeQuantity,
            Fault::EmptySymbol,
            Fault::EmptyMpid,
            Fault::UnknownTier,
            Fault::BadDate,
        ];
        let clean_dir = TempDir::new("clean");
        let clean = generate(&small(&[]), &clean_dir.0).unwrap();
        for fault in replacement {
            let dir = TempDir::new(fault.as_str());
            let files = with_fault(fault, &dir);
            for &tier in Tier::ALL {
                let file = last_week_file(&files, tier);
                assert_eq!(file.faults.len(), 1, "{fault}");
                let injected = &file.faults[0];
                assert_eq!(injected.fault, fault);
                assert_eq!(injected.lines.len(), FAULT_ROWS, "{fault}");
                let expected: BTreeSet<usize> = injected.lines.iter().copied().collect();
                assert_eq!(rejected_lines(&file.path), expected, "{fault} {tier}");
                // Only the reported lines differ from the clean file.
                let (lines, _) = read_lines(&file.path);
                let (clean_lines, _) = read_lines(&last_week_file(&clean, tier).path);
                assert_eq!(lines.len(), clean_lines.len());
                for (i, (a, b)) in lines.iter().zip(&clean_lines).enumerate() {
                    assert_eq!(
                        a != b,
                        expected.contains(&(i + 1)),
                        "{fault} line {}",
                        i + 1
                    );
                }
                for &n in &injected.lines {
                    let line = &lines[n - 1];
                    let fields: Vec<&str> = line.split('|').collect();
                    match fault {
                        Fault::WrongFieldCount => assert!(fields.len() == 7 || fields.len() == 9),
                        Fault::CommaDelimited => {
                            assert!(!line.contains('|') && line.matches(',').count() >= 7)
                        }
                        Fault::NonNumericQuantity => assert!(fields[5].parse::<u64>().is_err()),
                        Fault::NegativeQuantity => {
                            assert!(fields[5].parse::<i64>().unwrap() < 0)
                        }
                        Fault::EmptySymbol => assert!(fields[1].is_empty()),
                        Fault::EmptyMpid => assert!(fields[4].is_empty()),
                        Fault::UnknownTier => {
                            assert!(Tier::from_finra_description(fields[0]).is_err())
                        }
                        Fault::BadDate => {
                            assert!(NaiveDate::parse_from_str(fields[7], "%Y-%m-%d").is_err())
                        }
                        _ => unreachable!(),
                    }
                }
            }
            // Earlier weeks are untouched.
            for (f, c) in files
                .iter()
                .zip(&clean)
                .filter(|(f, _)| f.week_ending < friday(2025, 12, 19))
            {
                assert_eq!(fs::read(&f.path).unwrap(), fs::read(&c.path).unwrap());
            }
        }
    }

    #[test]
    fn truncated_last_line_ends_mid_row_without_newline() {
        let dir = TempDir::new("trunc");
        let files = with_fault(Fault::TruncatedLastLine, &dir);
        for &tier in Tier::ALL {
            let file = last_week_file(&files, tier);
            let (lines, newline) = read_lines(&file.path);
            assert!(!newline);
            assert_eq!(file.faults[0].lines, vec![lines.len()]);
            assert_eq!(file.rows + 1, lines.len());
            let last = lines.last().unwrap();
            assert!(last.split('|').count() < 8, "{last}");
            assert_eq!(rejected_lines(&file.path), BTreeSet::from([lines.len()]));
        }
    }

    #[test]
    fn duplicate_pair_repeats_existing_rows_later() {
        let dir = TempDir::new("dup");
        let files = with_fault(Fault::DuplicatePair, &dir);
        for &tier in Tier::ALL {
            let file = last_week_file(&files, tier);
            let (lines, _) = read_lines(&file.path);
            let injected = &file.faults[0];
            assert_eq!(injected.lines.len(), FAULT_ROWS);
            let mut first_seen: HashMap<(String, String), usize> = HashMap::new();
            let mut repeats = Vec::new();
            for (i, l) in lines.iter().enumerate().skip(1) {
                let p = parse_line(l).unwrap();
                if let Some(&first) = first_seen.get(&(p.symbol.clone(), p.mpid.clone())) {
                    assert_eq!(l, &lines[first - 1], "a duplicate repeats its row exactly");
                    repeats.push(i + 1);
                } else {
                    first_seen.insert((p.symbol, p.mpid), i + 1);
                }
            }
            assert_eq!(repeats, injected.lines);
            assert!(injected.detail.contains("repeats line"));
        }
    }

    #[test]
    fn all_faults_together_stay_line_accurate() {
        let dir = TempDir::new("all");
        let files = generate(&small(Fault::ALL), &dir.0).unwrap();
        let last = friday(2025, 12, 19);
        assert!(
            !files
                .iter()
                .any(|f| f.tier == Tier::NmsTier2 && f.week_ending == last)
        );
        for file in files
            .iter()
            .filter(|f| f.week_ending == last && f.revision == 0)
        {
            let mut expected = BTreeSet::new();
            let mut seen = HashSet::new();
            for inj in file.faults.iter().filter(|i| i.fault.is_parser_fault()) {
                for &l in &inj.lines {
                    assert!(seen.insert(l), "line {l} reported twice");
                }
                if inj.fault != Fault::DuplicatePair {
                    expected.extend(inj.lines.iter().copied());
                }
            }
            assert_eq!(
                rejected_lines(&file.path),
                expected,
                "{}",
                file.path.display()
            );
            let (lines, newline) = read_lines(&file.path);
            assert!(!newline);
            assert_eq!(file.rows + 1, lines.len());
            let zero = file
                .faults
                .iter()
                .find(|i| i.fault == Fault::ZeroVolume)
                .unwrap();
            for &l in &zero.lines {
                let p = parse_line(&lines[l - 1]).unwrap();
                assert!(p.shares == 0 && p.trades > 0);
            }
            assert!(file.faults.iter().any(|i| i.fault == Fault::MissingTier));
            assert!(file.faults.windows(2).all(|w| w[0].fault < w[1].fault));
            // Corrupted rows are drawn from the whole file, not its first lines.
            let row_lines: Vec<usize> = file
                .faults
                .iter()
                .filter(|i| i.fault.is_row_replacement())
                .flat_map(|i| i.lines.iter().copied())
                .collect();
            assert_eq!(row_lines.len(), 9 * FAULT_ROWS);
            assert!(row_lines.iter().any(|&l| l > file.rows / 2));
            assert!(row_lines.iter().filter(|&&l| l < 100).count() < 9 * FAULT_ROWS / 2);
        }
        let t1 = last_week_file(&files, Tier::NmsTier1);
        assert!(t1.faults.iter().any(|i| i.fault == Fault::LowVenueCoverage));
        let otc = last_week_file(&files, Tier::Otc);
        assert!(otc.faults.iter().any(|i| i.fault == Fault::LateArrival));
        assert_eq!(files.iter().filter(|f| f.revision == 1).count(), 2);
    }

    #[test]
    fn tiny_and_lopsided_configurations_still_generate_every_fault() {
        for (symbols, mpids) in [(1, 1), (2, 1), (5, 3), (40, 300)] {
            let dir = TempDir::new("tiny");
            let cfg = GenConfig {
                symbols,
                mpids,
                weeks: 2,
                ..small(Fault::ALL)
            };
            let files = generate(&cfg, &dir.0).unwrap();
            for file in &files {
                let (lines, _) = read_lines(&file.path);
                assert_eq!(lines.len(), file.rows + 1, "{symbols}x{mpids}");
                for inj in &file.faults {
                    assert!(inj.lines.iter().all(|&l| l >= 2 && l <= lines.len()));
                }
            }
        }
    }

    #[test]
    fn zero_volume_rows_have_trades_but_no_shares() {
        let dir = TempDir::new("zero");
        let files = with_fault(Fault::ZeroVolume, &dir);
        for &tier in Tier::ALL {
            let file = last_week_file(&files, tier);
            let lines = &file.faults[0].lines;
            assert_eq!(lines.len(), FAULT_ROWS);
            for (i, row) in parsed_rows(&file.path).iter().enumerate() {
                if lines.contains(&(i + 2)) {
                    assert!(row.shares == 0 && row.trades > 0);
                } else {
                    assert!(row.shares > 0);
                }
            }
        }
    }

    fn distinct_mpids(path: &Path) -> usize {
        parsed_rows(path)
            .iter()
            .map(|r| r.mpid.clone())
            .collect::<BTreeSet<_>>()
            .len()
    }

    #[test]
    fn low_venue_coverage_keeps_about_forty_percent_of_venues() {
        let dir = TempDir::new("coverage");
        let cfg = GenConfig {
            mpids: 50,
            ..small(&[Fault::LowVenueCoverage])
        };
        let files = generate(&cfg, &dir.0).unwrap();
        let t1: Vec<&GeneratedFile> = files.iter().filter(|f| f.tier == Tier::NmsTier1).collect();
        let usual = distinct_mpids(&t1[1].path);
        let last = distinct_mpids(&t1[2].path);
        assert!(usual >= 20, "baseline should use many venues, got {usual}");
        let ratio = last as f64 / usual as f64;
        assert!((0.3..=0.5).contains(&ratio), "{last} of {usual}");
        assert_eq!(t1[2].faults[0].fault, Fault::LowVenueCoverage);
        assert!(t1[2].faults[0].lines.is_empty());
        // Other tiers keep their venues.
        let otc = last_week_file(&files, Tier::Otc);
        assert!(otc.faults.is_empty());
    }

    #[test]
    fn missing_tier_withholds_the_last_tier_2_file() {
        let dir = TempDir::new("missing");
        let files = with_fault(Fault::MissingTier, &dir);
        let last = friday(2025, 12, 19);
        assert_eq!(files.len(), 8);
        assert!(!dir.0.join(file_name(Tier::NmsTier2, last)).exists());
        assert!(
            dir.0
                .join(file_name(Tier::NmsTier2, friday(2025, 12, 12)))
                .exists()
        );
        for f in files.iter().filter(|f| f.week_ending == last) {
            assert_eq!(f.faults[0].fault, Fault::MissingTier);
            assert!(f.faults[0].detail.contains("nms_tier_2_20251219"));
        }
    }

    #[test]
    fn revision_writes_a_restamped_changed_rev1_file() {
        let dir = TempDir::new("revision");
        let files = with_fault(Fault::Revision, &dir);
        assert_eq!(files.len(), 12);
        for &tier in Tier::ALL {
            let original = last_week_file(&files, tier);
            let rev = files
                .iter()
                .find(|f| f.tier == tier && f.revision == 1)
                .unwrap();
            assert!(rev.path.to_string_lossy().ends_with("_20251219_rev1.csv"));
            assert_eq!(rev.week_ending, original.week_ending);
            assert_eq!(
                rev.last_update,
                original.last_update + Days::new(REVISION_RESTAMP_DAYS)
            );
            assert_eq!(original.faults[0].fault, Fault::Revision);
            let before = parsed_rows(&original.path);
            let after = parsed_rows(&rev.path);
            assert!(after.iter().all(|r| r.date == rev.last_update));
            let keys = |rows: &[Parsed]| -> Vec<(String, String)> {
                rows.iter()
                    .map(|r| (r.symbol.clone(), r.mpid.clone()))
                    .collect()
            };
            let after_keys = keys(&after);
            assert!(after_keys.windows(2).all(|w| w[0] < w[1]));
            let sym = |rows: &[Parsed]| -> BTreeSet<String> {
                rows.iter().map(|r| r.symbol.clone()).collect()
            };
            let (sb, sa) = (sym(&before), sym(&after));
            assert_eq!(sb.difference(&sa).count(), 2, "two symbols removed");
            assert_eq!(sa.difference(&sb).count(), 2, "two symbols added");
            // Reported lines are exactly the added rows and the rows whose volume changed.
            let old: HashMap<(String, String), (u64, u64)> = before
                .iter()
                .map(|r| ((r.symbol.clone(), r.mpid.clone()), (r.shares, r.trades)))
                .collect();
            let touched: Vec<usize> = after
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    old.get(&(r.symbol.clone(), r.mpid.clone())) != Some(&(r.shares, r.trades))
                })
                .map(|(i, _)| i + 2)
                .collect();
            assert_eq!(touched, rev.faults[0].lines);
            assert!(touched.len() >= 3 + 2);
            // Changes are scattered through the file, not a block at its start.
            let spread = touched.iter().filter(|&&l| l > rev.rows / 2).count();
            assert!(spread * 4 >= touched.len(), "{touched:?}");
        }
    }

    #[test]
    fn late_arrival_changes_no_bytes_and_names_the_partition() {
        let (a, b) = (TempDir::new("late"), TempDir::new("ontime"));
        let late = with_fault(Fault::LateArrival, &a);
        let clean = generate(&small(&[]), &b.0).unwrap();
        assert_eq!(dir_bytes(&late), dir_bytes(&clean));
        let flagged: Vec<_> = late.iter().filter(|f| !f.faults.is_empty()).collect();
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].tier, Tier::Otc);
        assert_eq!(flagged[0].week_ending, friday(2025, 12, 19));
    }

    #[test]
    fn write_week_streams_exactly_n_rows() {
        for (tier, n, mpids) in [
            (Tier::NmsTier1, 0, 50),
            (Tier::NmsTier1, 1, 50),
            (Tier::NmsTier2, 7, 3),
            (Tier::Otc, 1_000, 50),
            (Tier::NmsTier1, 25_000, 200),
            (Tier::Otc, 5_000, 1),
        ] {
            let spec = WeekSpec {
                rows: n,
                mpids,
                seed: 3,
            };
            let mut out = Vec::new();
            let week = friday(2025, 12, 19);
            let stats = write_week(&mut out, tier, week, &spec).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.ends_with('\n'));
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], HEADER);
            assert_eq!(lines.len() as u64 - 1, n, "{tier} {n}");
            assert_eq!(stats.rows, n);
            assert_eq!(stats.bytes, text.len() as u64);
            let rows: Vec<Parsed> = lines[1..].iter().map(|l| parse_line(l).unwrap()).collect();
            let keys: Vec<(&str, &str)> = rows
                .iter()
                .map(|r| (r.symbol.as_str(), r.mpid.as_str()))
                .collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]));
            let symbols: BTreeSet<&str> = keys.iter().map(|k| k.0).collect();
            assert_eq!(stats.symbols, symbols.len() as u64);
            assert_eq!(
                stats.total_shares,
                rows.iter().map(|r| r.shares).sum::<u64>()
            );
            assert!(
                rows.iter()
                    .all(|r| r.tier == tier && r.date == stats.last_update)
            );
            assert!(stats.venues <= mpids);
        }
        let mut a = Vec::new();
        let mut b = Vec::new();
        let spec = WeekSpec::default();
        write_week(&mut a, Tier::Otc, friday(2025, 12, 19), &spec).unwrap();
        write_week(&mut b, Tier::Otc, friday(2025, 12, 19), &spec).unwrap();
        assert_eq!(a, b);
        let err = write_week(
            Vec::new(),
            Tier::Otc,
            friday(2025, 12, 19) + Days::new(1),
            &spec,
        );
        assert!(matches!(err, Err(GenError::NotAFriday(..))));
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn volumes_and_venues_are_realistically_skewed() {
        let dir = TempDir::new("realism");
        let cfg = GenConfig {
            weeks: 1,
            first_week_ending: friday(2025, 12, 19),
            ..GenConfig::default()
        };
        let files = generate(&cfg, &dir.0).unwrap();
        for file in &files {
            let rows = parsed_rows(&file.path);
            let mut by_mpid: HashMap<&str, u64> = HashMap::new();
            let mut venues_per_symbol: HashMap<&str, usize> = HashMap::new();
            for r in &rows {
                *by_mpid.entry(&r.mpid).or_default() += r.shares;
                *venues_per_symbol.entry(&r.symbol).or_default() += 1;
            }
            let total: u64 = by_mpid.values().sum();
            let mut shares: Vec<u64> = by_mpid.values().copied().collect();
            shares.sort_unstable_by(|a, b| b.cmp(a));
            let top5: u64 = shares.iter().take(5).sum();
            let top5_share = top5 as f64 / total as f64;
            assert!(
                top5_share > 0.5,
                "{}: top 5 carry {top5_share:.2}",
                file.tier
            );
            assert!(
                by_mpid.len() >= 20,
                "{}: only {} venues",
                file.tier,
                by_mpid.len()
            );
            assert_eq!(venues_per_symbol.len(), cfg.symbols);
            let med_venues = median(venues_per_symbol.values().map(|&v| v as f64).collect());
            assert!(
                med_venues <= 5.0,
                "{}: median venues {med_venues}",
                file.tier
            );
            let max_venues = venues_per_symbol.values().max().copied().unwrap();
            assert!(
                max_venues >= 10,
                "{}: liquid symbols should spread",
                file.tier
            );
            let med_size = median(
                rows.iter()
                    .map(|r| r.shares as f64 / r.trades as f64)
                    .collect(),
            );
            assert!(
                (50.0..=2_000.0).contains(&med_size),
                "{}: {med_size}",
                file.tier
            );
            // Heavy tail: the largest row dwarfs the median row.
            let med_row = median(rows.iter().map(|r| r.shares as f64).collect());
            let max_row = rows.iter().map(|r| r.shares).max().unwrap() as f64;
            assert!(max_row > 100.0 * med_row, "{}", file.tier);
        }
    }

    #[test]
    fn symbol_codes_enumerate_in_sorted_order() {
        let codes: Vec<String> = (0..26 * subtree(2)).map(|i| lex_code(i, 3)).collect();
        assert_eq!(codes[0], "A");
        assert_eq!(codes[1], "AA");
        assert_eq!(codes[2], "AAA");
        assert_eq!(codes.last().unwrap(), "ZZZ");
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(fixed_code(0, 5), "AAAAA");
        assert_eq!(fixed_code(26u64.pow(5) - 1, 5), "ZZZZZ");
        assert_eq!(with_thousands(1_234_567), "1,234,567");
        assert_eq!(with_thousands(999), "999");
    }

    /// The benchmark's generation cost, measured on demand:
    /// `cargo test -p spine-cli --release --lib generate -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing only; run with --release --ignored --nocapture"]
    fn time_one_million_rows() {
        let path = std::env::temp_dir().join(format!("spine-gen-1m-{}.csv", std::process::id()));
        let spec = WeekSpec {
            rows: 1_000_000,
            mpids: 200,
            seed: 1,
        };
        let started = std::time::Instant::now();
        let file = fs::File::create(&path).unwrap();
        let stats = write_week(file, Tier::NmsTier1, friday(2025, 12, 19), &spec).unwrap();
        let elapsed = started.elapsed();
        let _ = fs::remove_file(&path);
        println!(
            "1,000,000 rows: {} symbols, {} venues, {:.1} MB in {:.3}s ({:.0} rows/s)",
            stats.symbols,
            stats.venues,
            stats.bytes as f64 / 1e6,
            elapsed.as_secs_f64(),
            stats.rows as f64 / elapsed.as_secs_f64()
        );
        assert_eq!(stats.rows, 1_000_000);
    }
}
