//! Streaming parser for FINRA OTC Transparency weekly files (the "parse/validate" stage).
//!
//! A FINRA weekly file is pipe-delimited text with the header [`EXPECTED_HEADER`] and one line per
//! (symbol, venue). This module turns a byte stream into a sequence of [`Line`]s, each either an
//! accepted, fully typed [`FinraRow`] or a [`Reject`] that says which physical line was bad and
//! why. Nothing is dropped silently: every line after the header is exactly one row read, so
//! `rows_read == accepted + rejected` always holds (see [`ParseStats`]).
//!
//! Why it is built this way:
//! - **Streaming.** Files can be large, so [`FinraReader`] reads from any [`std::io::Read`] through
//!   a fixed buffer and reuses one line buffer; memory grows only with the number of distinct
//!   (symbol, MPID) pairs it must remember to detect duplicates, and with one pair of running
//!   totals per distinct symbol and MPID.
//! - **Strict, line by line.** Every bad thing is a [`Reject`] of its own line with a stable
//!   [`RejectReason`], never a failure of the whole file later: a control character PostgreSQL
//!   cannot store, a blank line, bad quoting or non-UTF-8 bytes in a key field, a quantity that
//!   would overflow a running total, a `lastUpdateDate` that is not the file's.
//! - **Splitting is exact.** A `|` always separates fields (FINRA does not quote, and issue names
//!   contain `"`), so every record is exactly one physical line. A field wholly enclosed in double
//!   quotes is unquoted after the split (`"OTCY"` is the venue `OTCY`); a descriptive field that
//!   is not UTF-8 is decoded as Windows-1252. The RAW stage stores [`RawFields::line`], the decoded
//!   fields joined with `|`, which is the physical line itself for an ordinary line.
//! - **Rejects keep their bytes.** [`Reject::raw_line`] is [`escape_raw`] of the physical line, so
//!   the exact bytes are recoverable ([`unescape_raw`]) and the text is printable and storable on
//!   every backend.
//! - **Pure.** No database, no clock, no filesystem: the pipeline decides where bytes come from,
//!   which stamp and week to expect ([`ReaderOptions`], [`dominant_last_update`]) and where rows go.
//!
//! Conventions: line numbers are 1-based physical lines of the input (the header is line 1).
//! A line ending in `\r\n` is read as if it ended in `\n` (the `\r` is part of the terminator, not
//! of the last field). A final newline ends the last line; it does not start another. Blank lines
//! before the header are skipped (there is no row yet); after it, each is a
//! [`RejectReason::BlankLine`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use chrono::{Days, NaiveDate};
use foldhash::HashMap;
use serde::{Deserialize, Serialize, Serializer};
use spine_model::Tier;

use spine_model::WeekEnding;

/// FINRA's header line, field by field, in file order.
///
/// The parser requires exactly these names in this order: a file with another header is not a
/// FINRA OTC weekly file (or FINRA changed the format), and guessing would corrupt every row.
pub const EXPECTED_HEADER: [&str; FIELD_COUNT] = [
    "tierDescription",
    "issueSymbolIdentifier",
    "issueName",
    "marketParticipantName",
    "MPID",
    "totalWeeklyShareQuantity",
    "totalWeeklyTradeCount",
    "lastUpdateDate",
];

/// The number of fields on every FINRA line.
pub const FIELD_COUNT: usize = 8;

/// One column of a FINRA weekly file, so code can name a field by meaning instead of by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FinraColumn {
    /// `tierDescription`: `NMS Tier 1`, `NMS Tier 2` or `OTC`.
    TierDescription,
    /// `issueSymbolIdentifier`: the ticker.
    IssueSymbolIdentifier,
    /// `issueName`: free text, may contain quotes.
    IssueName,
    /// `marketParticipantName`: the venue's name.
    MarketParticipantName,
    /// `MPID`: the venue's market participant identifier.
    Mpid,
    /// `totalWeeklyShareQuantity`: shares executed in the week.
    TotalWeeklyShareQuantity,
    /// `totalWeeklyTradeCount`: trades executed in the week.
    TotalWeeklyTradeCount,
    /// `lastUpdateDate`: FINRA's publication/revision stamp (`YYYY-MM-DD`).
    LastUpdateDate,
}

impl FinraColumn {
    /// Every column, in file order.
    pub const ALL: [FinraColumn; FIELD_COUNT] = [
        FinraColumn::TierDescription,
        FinraColumn::IssueSymbolIdentifier,
        FinraColumn::IssueName,
        FinraColumn::MarketParticipantName,
        FinraColumn::Mpid,
        FinraColumn::TotalWeeklyShareQuantity,
        FinraColumn::TotalWeeklyTradeCount,
        FinraColumn::LastUpdateDate,
    ];

    /// The 0-based position of the column in a line.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The column's name in FINRA's header, used in reject details so they match the file.
    pub const fn header_name(self) -> &'static str {
        EXPECTED_HEADER[self as usize]
    }

    /// True for a key field: one that decides the partition, a row's identity or a calc's value
    /// (everything but `issueName` and `marketParticipantName`). A key field must be exactly
    /// right, so its encoding and quoting problems reject the row; a descriptive field is only
    /// shown to people, so the parser repairs what it can there and keeps the row's volume.
    pub const fn is_key(self) -> bool {
        !matches!(
            self,
            FinraColumn::IssueName | FinraColumn::MarketParticipantName
        )
    }
}

impl fmt::Display for FinraColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_name())
    }
}

/// A fatal problem: the input as a whole cannot be read as a FINRA weekly file.
///
/// Bad *lines* are never fatal (they become [`Reject`]s); only a wrong or missing header and I/O
/// failures stop the parse, because after them no line can be trusted or read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The input has no non-blank line at all, so there is no header.
    #[error("the input is empty: expected the FINRA OTC header `{expected}` on line 1")]
    MissingHeader {
        /// The header that was expected, fields joined with `|`.
        expected: String,
    },
    /// The first non-blank line is not FINRA's header.
    #[error(
        "line {line_number}: not a FINRA OTC weekly header\n  expected: {expected}\n  actual:   {actual}"
    )]
    WrongHeader {
        /// The physical line the header was read from (1 unless blank lines precede it).
        line_number: u64,
        /// The header that was expected, fields joined with `|`.
        expected: String,
        /// The line that was found, escaped by [`escape_raw`] (so a control byte in it cannot
        /// reach a terminal or a database column).
        actual: String,
    },
    /// Reading the underlying input failed.
    #[error("line {line_number}: I/O error while reading the FINRA file: {source}")]
    Io {
        /// The physical line being read when the error happened.
        line_number: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Why a line was rejected. Stable codes (see [`RejectReason::code`]) are what the store and the
/// anomaly rules key on; the human explanation is in [`Reject::detail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The line does not have exactly eight `|`-separated fields.
    WrongFieldCount,
    /// The line has a single field that splits into eight on commas: a CSV export, not FINRA's.
    CommaDelimited,
    /// The last line of an input that does not end in a newline is short of fields: the file was
    /// cut off mid-line (a partial download or write).
    TruncatedLine,
    /// A quantity is not a whole number that fits in 64 bits.
    NonNumericQuantity,
    /// A quantity is below zero.
    NegativeQuantity,
    /// `issueSymbolIdentifier` is empty or blank.
    EmptySymbol,
    /// `MPID` is empty or blank.
    EmptyMpid,
    /// `tierDescription` is not one of FINRA's exact spellings.
    UnknownTier,
    /// `lastUpdateDate` is not a valid `YYYY-MM-DD` date.
    BadDate,
    /// The (symbol, MPID) pair already appeared on an earlier accepted line of the same input.
    DuplicateSymbolMpid,
    /// A key field is not valid UTF-8, so its value cannot be trusted (a descriptive field that
    /// is not UTF-8 is decoded as Windows-1252 instead, and the row kept).
    InvalidUtf8,
    /// `issueSymbolIdentifier` or `MPID` is longer than any real one (and than the store keeps):
    /// a shifted or garbled line, refused here rather than failing the whole stage later.
    FieldTooLong,
    /// A quantity that fits in 64 bits alone would make a running total of the accepted rows
    /// (a symbol's, a venue's or the tier's shares or trades) overflow. Refused here, by its own
    /// line, because the calcs sum exactly these totals later and an overflow there would fail
    /// the whole capture with no line to point at.
    TotalOverflow,
    /// `lastUpdateDate` is a valid date but not the file's stamp (its most frequent one, see
    /// [`dominant_last_update`]): one file is one FINRA publication, so a row stamped otherwise
    /// was spliced in from another file or corrupted, and would blur which revision the capture
    /// holds.
    InconsistentLastUpdate,
    /// `lastUpdateDate` cannot be the stamp of the week the capture is for: before that week
    /// ended (FINRA cannot publish a week before it happens), or more than
    /// [`MAX_LAST_UPDATE_AGE_DAYS`] after it (FINRA revises a week within a year, never later).
    ImplausibleLastUpdate,
    /// The line is empty or only spaces and tabs: it is a row of the file that carries no data.
    /// Rejected rather than skipped so that every physical line is accounted for (a file's final
    /// newline ends its last line and is not a blank line).
    BlankLine,
    /// A key field has a `"` that is not a whole-field quoting (`"OTCY`, `BRK"B`, `"A"B"`): what
    /// the value was meant to be cannot be known, and guessing would create a phantom symbol or
    /// venue.
    BadQuoting,
    /// The line holds a control character (NUL, another C0 control other than TAB, or DEL):
    /// PostgreSQL cannot store NUL in text, and the others are never part of FINRA data, so the
    /// line is refused the same way on every backend rather than failing a whole stage.
    ControlCharacter,
}

/// The longest `issueSymbolIdentifier` accepted (the store's column width).
pub const MAX_SYMBOL_LEN: usize = 32;
/// The longest `MPID` accepted (the store's column width; real MPIDs have four characters).
pub const MAX_MPID_LEN: usize = 16;
/// How many days after a week's Friday its `lastUpdateDate` may be: FINRA revises a week's data
/// within a year of the week, never later, so a stamp further out does not belong to that week.
pub const MAX_LAST_UPDATE_AGE_DAYS: u64 = 400;
/// How many line numbers of repaired rows [`ParseStats::repaired_lines`] keeps: enough to find
/// them, bounded so that a file of a million repaired rows costs nothing.
pub const MAX_REPAIRED_LINES: usize = 10;

impl RejectReason {
    /// Every reason, in declaration order.
    pub const ALL: [RejectReason; 18] = [
        RejectReason::WrongFieldCount,
        RejectReason::CommaDelimited,
        RejectReason::TruncatedLine,
        RejectReason::NonNumericQuantity,
        RejectReason::NegativeQuantity,
        RejectReason::EmptySymbol,
        RejectReason::EmptyMpid,
        RejectReason::UnknownTier,
        RejectReason::BadDate,
        RejectReason::DuplicateSymbolMpid,
        RejectReason::InvalidUtf8,
        RejectReason::FieldTooLong,
        RejectReason::TotalOverflow,
        RejectReason::InconsistentLastUpdate,
        RejectReason::ImplausibleLastUpdate,
        RejectReason::BlankLine,
        RejectReason::BadQuoting,
        RejectReason::ControlCharacter,
    ];

    /// The stable SCREAMING_SNAKE code stored with each reject and used by anomaly rules.
    pub const fn code(self) -> &'static str {
        match self {
            RejectReason::WrongFieldCount => "WRONG_FIELD_COUNT",
            RejectReason::CommaDelimited => "COMMA_DELIMITED",
            RejectReason::TruncatedLine => "TRUNCATED_LINE",
            RejectReason::NonNumericQuantity => "NON_NUMERIC_QUANTITY",
            RejectReason::NegativeQuantity => "NEGATIVE_QUANTITY",
            RejectReason::EmptySymbol => "EMPTY_SYMBOL",
            RejectReason::EmptyMpid => "EMPTY_MPID",
            RejectReason::UnknownTier => "UNKNOWN_TIER",
            RejectReason::BadDate => "BAD_DATE",
            RejectReason::DuplicateSymbolMpid => "DUPLICATE_SYMBOL_MPID",
            RejectReason::InvalidUtf8 => "INVALID_UTF8",
            RejectReason::FieldTooLong => "FIELD_TOO_LONG",
            RejectReason::TotalOverflow => "TOTAL_OVERFLOW",
            RejectReason::InconsistentLastUpdate => "INCONSISTENT_LAST_UPDATE",
            RejectReason::ImplausibleLastUpdate => "IMPLAUSIBLE_LAST_UPDATE",
            RejectReason::BlankLine => "BLANK_LINE",
            RejectReason::BadQuoting => "BAD_QUOTING",
            RejectReason::ControlCharacter => "CONTROL_CHARACTER",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for RejectReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// One line that could not be accepted, with everything an operator needs to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// The 1-based physical line in the input (the header is line 1).
    pub line_number: u64,
    /// The machine-readable reason; the first failing check wins (see [`FinraReader`]).
    pub reason: RejectReason,
    /// A human explanation naming the field and its value.
    pub detail: String,
    /// The line's bytes as read, without its terminator, escaped by [`escape_raw`]: the exact
    /// bytes are recovered with [`unescape_raw`], and the text is printable and storable on
    /// every backend. For an ordinary UTF-8 line without a backslash it is the line itself.
    pub raw_line: String,
}

/// The eight fields of an accepted line as the RAW stage stores them.
///
/// Stored as one line plus field boundaries (one allocation per row), because the RAW stage
/// needs the text and the typed accessors of [`FinraRow`] can borrow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFields {
    line: String,
    /// Byte offset in `line` where each field ends (exclusive).
    ends: [usize; FIELD_COUNT],
}

impl RawFields {
    /// The line RAW stores: the eight fields, decoded (a wholly quoted field unquoted, a
    /// Windows-1252 descriptive field decoded), joined with `|`. For an ordinary line (UTF-8, no
    /// quoting) it is the physical line without its terminator; [`FinraRow::source_line`] has
    /// the physical bytes either way.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// One field's decoded text.
    pub fn get(&self, column: FinraColumn) -> &str {
        let i = column.index();
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.line[start..self.ends[i]]
    }

    /// All eight fields in file order.
    pub fn fields(&self) -> [&str; FIELD_COUNT] {
        FinraColumn::ALL.map(|c| self.get(c))
    }

    /// Gives up the line without copying it (e.g. to move it into a database model).
    pub fn into_line(self) -> String {
        self.line
    }

    /// Splits a line the parser accepted (as the RAW stage stores it) back into its fields:
    /// a decoded field never holds a `|` (the physical line was split on every `|` first), so
    /// the split is exact. `None` when the line does not have exactly [`FIELD_COUNT`] fields,
    /// i.e. it was not an accepted line.
    pub fn from_line(line: String) -> Option<RawFields> {
        let mut ends = [0usize; FIELD_COUNT];
        let mut n = 0;
        for (i, b) in line.bytes().enumerate() {
            if b == b'|' {
                if n == FIELD_COUNT - 1 {
                    return None;
                }
                ends[n] = i;
                n += 1;
            }
        }
        if n != FIELD_COUNT - 1 {
            return None;
        }
        ends[FIELD_COUNT - 1] = line.len();
        Some(RawFields { line, ends })
    }
}

/// One accepted line: typed values plus the text they were read from.
///
/// Fields are private so that the typed values and the text can never disagree; the string
/// accessors borrow from the stored line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinraRow {
    line_number: u64,
    raw: RawFields,
    /// The physical line's bytes, kept only when decoding changed them (so the happy path
    /// allocates nothing more).
    source: Option<Box<[u8]>>,
    tier: Tier,
    shares: i64,
    trades: i64,
    last_update: NaiveDate,
}

impl FinraRow {
    /// The 1-based physical line in the input.
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// The decoded fields, for the RAW stage.
    pub fn raw(&self) -> &RawFields {
        &self.raw
    }

    /// Gives up the decoded fields without copying.
    pub fn into_raw(self) -> RawFields {
        self.raw
    }

    /// The physical line's bytes without the terminator, exactly as in the file: what a reject
    /// of this row made later (by a pipeline) must keep, via [`escape_raw`].
    pub fn source_line(&self) -> &[u8] {
        match &self.source {
            Some(bytes) => bytes,
            None => self.raw.line.as_bytes(),
        }
    }

    /// The tier, parsed from FINRA's exact `tierDescription`.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// `issueSymbolIdentifier`; never empty or blank.
    pub fn symbol(&self) -> &str {
        self.raw.get(FinraColumn::IssueSymbolIdentifier)
    }

    /// `issueName`, decoded (may be empty; may contain quotes).
    pub fn issue_name(&self) -> &str {
        self.raw.get(FinraColumn::IssueName)
    }

    /// `marketParticipantName`, decoded (may be empty).
    pub fn participant_name(&self) -> &str {
        self.raw.get(FinraColumn::MarketParticipantName)
    }

    /// `MPID`, the venue; never empty or blank.
    pub fn mpid(&self) -> &str {
        self.raw.get(FinraColumn::Mpid)
    }

    /// `totalWeeklyShareQuantity`; never negative.
    pub fn shares(&self) -> i64 {
        self.shares
    }

    /// `totalWeeklyTradeCount`; never negative.
    pub fn trades(&self) -> i64 {
        self.trades
    }

    /// `lastUpdateDate`: FINRA's stamp (the `source_last_update` clock), not the business week.
    pub fn last_update(&self) -> NaiveDate {
        self.last_update
    }
}

/// The outcome of one line after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line is valid and its (symbol, MPID) pair is new in this input.
    Accepted(FinraRow),
    /// The line is bad; it is kept, with the reason, rather than dropped.
    Rejected(Reject),
}

/// What a parse has seen so far; complete once [`FinraReader::next_line`] has returned `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ParseStats {
    /// Lines after the header (a final newline starts none): always `accepted + rejected`.
    pub rows_read: u64,
    /// Lines returned as [`Line::Accepted`].
    pub accepted: u64,
    /// Lines returned as [`Line::Rejected`].
    pub rejected: u64,
    /// Rejects per reason (only reasons that occurred).
    pub rejects_by_reason: BTreeMap<RejectReason, u64>,
    /// Accepted rows per tier (a FINRA file normally holds one tier).
    pub accepted_by_tier: BTreeMap<Tier, u64>,
    /// Distinct symbols among accepted rows.
    pub distinct_symbols: u64,
    /// Distinct MPIDs among accepted rows.
    pub distinct_mpids: u64,
    /// The earliest and latest `lastUpdateDate` among accepted rows, if any were accepted.
    pub last_update_range: Option<(NaiveDate, NaiveDate)>,
    /// Fields of accepted rows that were wholly enclosed in double quotes and were unquoted:
    /// FINRA does not quote, so a pipeline reports this as something done to the data.
    pub unquoted_fields: u64,
    /// Accepted rows with a descriptive field that was not UTF-8 and was decoded as
    /// Windows-1252 instead of rejecting the row (and losing its volume).
    pub repaired_rows: u64,
    /// The line numbers of the first [`MAX_REPAIRED_LINES`] repaired rows, ascending.
    pub repaired_lines: Vec<u64>,
}

/// What the parser expects of every row beyond FINRA's format, known before the parse starts.
///
/// Why: a stamp is only inconsistent or implausible relative to something — the file's own
/// dominant stamp (which takes a pre-scan, [`dominant_last_update`]) and the week the capture is
/// for (which the pipeline decides). The parser stays one streaming pass and is told both. Two
/// parses of the same bytes with the same options accept exactly the same lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderOptions {
    /// The file's stamp: a row with another valid `lastUpdateDate` is rejected
    /// [`RejectReason::InconsistentLastUpdate`].
    pub expected_last_update: Option<NaiveDate>,
    /// The week the capture is for: a row stamped before it ended or more than
    /// [`MAX_LAST_UPDATE_AGE_DAYS`] after it is rejected [`RejectReason::ImplausibleLastUpdate`].
    pub week_ending: Option<WeekEnding>,
}

/// Why `stamp` cannot be a `lastUpdateDate` of the week ending `week_ending`, or `None` when it
/// can: before the week ended, or more than [`MAX_LAST_UPDATE_AGE_DAYS`] after its Friday.
///
/// Public so that the pipeline refuses a whole file (at planning) by the same rule the parser
/// applies to each row.
pub fn implausible_last_update(stamp: NaiveDate, week_ending: WeekEnding) -> Option<String> {
    let friday = week_ending.date();
    if stamp < friday {
        return Some(format!(
            "lastUpdateDate {stamp} is before the week ending {friday} ended: FINRA cannot \
             publish a week before it happens"
        ));
    }
    let days = (stamp - friday).num_days();
    if days > MAX_LAST_UPDATE_AGE_DAYS as i64 {
        return Some(format!(
            "lastUpdateDate {stamp} is {days} days after the week ending {friday}: FINRA revises \
             a week within a year, never more than {MAX_LAST_UPDATE_AGE_DAYS} days after it"
        ));
    }
    None
}

/// How often each `lastUpdateDate` occurs in a file, as [`dominant_last_update`] counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StampCounts {
    /// Lines after the header whose last field is a valid date, per date.
    pub by_date: BTreeMap<NaiveDate, u64>,
    /// Non-blank lines after the header whose last field is not a valid `YYYY-MM-DD` date.
    pub invalid: u64,
}

impl StampCounts {
    /// The dominant stamp: the most frequent valid one; on a tie, the latest (a revision
    /// re-stamps rows later, never earlier). `None` when no line has a valid stamp.
    pub fn dominant(&self) -> Option<NaiveDate> {
        self.by_date
            .iter()
            .max_by_key(|(date, n)| (**n, **date))
            .map(|(date, _)| *date)
    }

    /// Lines stamped `date`.
    pub fn lines_with(&self, date: NaiveDate) -> u64 {
        self.by_date.get(&date).copied().unwrap_or(0)
    }

    /// Lines with any valid stamp.
    pub fn valid_lines(&self) -> u64 {
        self.by_date.values().sum()
    }
}

/// True for a byte no FINRA line may hold: NUL and the other C0 controls except TAB, and DEL.
/// PostgreSQL refuses NUL in text; the others are never data and would corrupt a terminal.
const fn is_control_byte(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// What the scans of a line find: where its fields end, its first control byte, whether it has
/// a `"` at all.
struct LineShape {
    /// The positions of the first [`FIELD_COUNT`] - 1 separators, then the line's length.
    ends: [usize; FIELD_COUNT],
    /// How many `|` the line has.
    separators: usize,
    /// The position of the first control byte (see [`is_control_byte`]).
    control: Option<usize>,
    has_quote: bool,
}

impl LineShape {
    /// Scans a line: one branch-free pass for control bytes and quotes (which the compiler
    /// vectorizes), and one pass for separators eight bytes at a time, visiting only the `|`
    /// found. Per line this costs a fraction of a search per field.
    fn of(bytes: &[u8]) -> LineShape {
        let flags = bytes.iter().fold(0u8, |acc, &b| {
            acc | u8::from(is_control_byte(b)) | (u8::from(b == b'"') << 1)
        });
        let mut shape = LineShape {
            ends: [0; FIELD_COUNT],
            separators: 0,
            control: None,
            has_quote: flags & 2 != 0,
        };
        if flags & 1 != 0 {
            shape.control = bytes.iter().position(|&b| is_control_byte(b));
        }
        const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        const PIPES: u64 = 0x7C7C_7C7C_7C7C_7C7C;
        let mut words = bytes.chunks_exact(8);
        let mut base = 0;
        for word in &mut words {
            let x = u64::from_le_bytes(word.try_into().expect("chunks_exact")) ^ PIPES;
            // Bit 7 of a byte is set exactly where `x` has a zero byte, i.e. the line a `|`
            // (no carry crosses a byte, so there are no false positives).
            let mut found = !(((x & LOW7) + LOW7) | x | LOW7);
            while found != 0 {
                shape.separator(base + found.trailing_zeros() as usize / 8);
                found &= found - 1;
            }
            base += 8;
        }
        for (i, &b) in words.remainder().iter().enumerate() {
            if b == b'|' {
                shape.separator(base + i);
            }
        }
        shape.ends[FIELD_COUNT - 1] = bytes.len();
        shape
    }

    fn separator(&mut self, at: usize) {
        if self.separators < FIELD_COUNT - 1 {
            self.ends[self.separators] = at;
        }
        self.separators += 1;
    }
}

/// A name for a control byte, for reject details (never the byte itself).
fn control_name(b: u8) -> String {
    const C0: [&str; 32] = [
        "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT", "FF",
        "CR", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM",
        "SUB", "ESC", "FS", "GS", "RS", "US",
    ];
    let name = C0.get(usize::from(b)).copied().unwrap_or("DEL");
    format!("0x{b:02X} ({name})")
}

/// True for a line that is empty or only spaces and tabs.
fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| matches!(b, b' ' | b'\t'))
}

pub use spine_model::escape::{escape_raw, unescape_raw};

/// Counts the `lastUpdateDate` of each line for [`dominant_last_update`], looking only at the
/// bytes after each line's last `|`.
#[derive(Default)]
struct StampScan {
    header_seen: bool,
    /// The stamp of the current run of lines and its length: a file usually has one stamp, so
    /// the map is touched once per run, not once per line.
    current: Option<[u8; 10]>,
    current_count: u64,
    counts: HashMap<[u8; 10], u64>,
    invalid: u64,
}

impl StampScan {
    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if is_blank(line) {
            return;
        }
        if !self.header_seen {
            self.header_seen = true;
            return;
        }
        let field = match memchr::memrchr(b'|', line) {
            Some(p) => &line[p + 1..],
            None => line,
        };
        // The parser unquotes a wholly quoted field; count it as the parser will read it.
        let field = match field {
            [b'"', inner @ .., b'"'] if inner.len() == 10 => inner,
            other => other,
        };
        let Ok(key) = <[u8; 10]>::try_from(field) else {
            self.invalid += 1;
            return;
        };
        if self.current == Some(key) {
            self.current_count += 1;
        } else {
            self.flush();
            self.current = Some(key);
            self.current_count = 1;
        }
    }

    fn flush(&mut self) {
        if let Some(key) = self.current.take() {
            *self.counts.entry(key).or_default() += self.current_count;
        }
    }

    fn finish(mut self) -> StampCounts {
        self.flush();
        let mut counts = StampCounts {
            by_date: BTreeMap::new(),
            invalid: self.invalid,
        };
        for (key, n) in self.counts {
            match std::str::from_utf8(&key).ok().and_then(parse_date) {
                Some(date) => *counts.by_date.entry(date).or_default() += n,
                None => counts.invalid += n,
            }
        }
        counts
    }
}

/// Finds a file's stamp: the most frequent valid `lastUpdateDate` of its lines after the header
/// (on a tie, the latest), with the count of every stamp seen. `Ok(None)` when no line has a
/// valid stamp.
///
/// Why a pre-scan: the parser streams in one pass, yet whether a row's stamp is *the file's*
/// depends on every line. This pass only finds line ends and reads the bytes after each line's
/// last `|` (no field split, no validation), so it costs a fraction of a parse on a
/// million-row file; give its answer to [`FinraReader::with_options`]. It looks at every line,
/// including lines the parser will reject for other reasons: the dominant stamp of a file is
/// decided by its overwhelming majority of good lines, which those few cannot change.
pub fn dominant_last_update<R: Read>(
    mut reader: R,
) -> Result<Option<(NaiveDate, StampCounts)>, ParseError> {
    let mut buf = vec![0u8; 1 << 20];
    // Bytes at the start of `buf` holding an incomplete line carried from the previous read.
    let mut carried = 0;
    let mut lines = 0u64;
    let mut scan = StampScan::default();
    loop {
        let n = match reader.read(&mut buf[carried..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ParseError::Io {
                    line_number: lines + 1,
                    source,
                });
            }
        };
        let end = carried + n;
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', &buf[carried..end]) {
            let nl = carried + nl;
            scan.line(&buf[start..nl]);
            lines += 1;
            start = nl + 1;
        }
        if start > 0 {
            buf.copy_within(start..end, 0);
        }
        carried = end - start;
        if carried == buf.len() {
            // One line longer than the buffer: make room rather than split it.
            buf.resize(buf.len() * 2, 0);
        }
    }
    if carried > 0 {
        scan.line(&buf[..carried]);
    }
    let counts = scan.finish();
    Ok(counts.dominant().map(|date| (date, counts)))
}

/// The MPIDs seen for one symbol, each with a value (the first line number in the parser).
///
/// A symbol has a handful of venues, so a short vector scanned linearly is fastest and stays in
/// cache; past [`VenueSet::FEW`] venues (only a malformed file gets there) it becomes a hash map
/// so that lookups never turn quadratic.
#[derive(Debug, Clone)]
pub(super) enum VenueSet<V> {
    Few(Vec<(u32, V)>),
    /// Boxed so that the common `Few` case keeps the enum at the size of a `Vec`.
    Many(Box<HashMap<u32, V>>),
}

impl<V> Default for VenueSet<V> {
    fn default() -> Self {
        VenueSet::Few(Vec::new())
    }
}

impl<V: Copy> VenueSet<V> {
    const FEW: usize = 32;

    /// The value recorded for `mpid`, if it was seen.
    pub(super) fn get(&self, mpid: u32) -> Option<V> {
        match self {
            VenueSet::Few(v) => v.iter().find(|(m, _)| *m == mpid).map(|(_, x)| *x),
            VenueSet::Many(map) => map.get(&mpid).copied(),
        }
    }

    /// Records `mpid`, which must not have been seen.
    pub(super) fn insert(&mut self, mpid: u32, value: V) {
        match self {
            // Most symbols of a large file have one or two venues: start with room for exactly
            // one so they do not pay for four.
            VenueSet::Few(v) if v.is_empty() => {
                v.reserve_exact(1);
                v.push((mpid, value));
            }
            VenueSet::Few(v) if v.len() < Self::FEW => v.push((mpid, value)),
            VenueSet::Few(v) => {
                let mut map: HashMap<u32, V> = v.drain(..).collect();
                map.insert(mpid, value);
                *self = VenueSet::Many(Box::new(map));
            }
            VenueSet::Many(map) => {
                map.insert(mpid, value);
            }
        }
    }

    /// The number of distinct MPIDs recorded.
    pub(super) fn len(&self) -> usize {
        match self {
            VenueSet::Few(v) => v.len(),
            VenueSet::Many(map) => map.len(),
        }
    }
}

/// Running shares and trades of the accepted rows of one symbol, venue or tier.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    shares: i64,
    trades: i64,
}

/// The ids of a row's symbol and MPID, `None` for a string no accepted row had yet.
#[derive(Debug, Clone, Copy)]
struct PairIds {
    symbol: Option<u32>,
    mpid: Option<u32>,
}

/// Which running total a row would overflow, for [`RejectReason::TotalOverflow`].
struct Overflow {
    /// `symbol `X``, `venue `M`` or `tier OTC`.
    scope: String,
    column: FinraColumn,
    so_far: i64,
}

/// Remembers which (symbol, MPID) pairs have been accepted and where, and the running totals of
/// the accepted rows per symbol, per MPID and per tier, using small integer ids so that a
/// million-row file costs tens of megabytes rather than two strings per row.
///
/// Pairs are kept per symbol rather than in one big hash set: FINRA files are sorted by symbol,
/// so the current symbol's venues are always in cache. Nothing is recorded for a rejected row:
/// a row is looked up ([`SeenPairs::find`]), checked, and only then recorded
/// ([`SeenPairs::commit`]).
#[derive(Default)]
struct SeenPairs {
    symbols: HashMap<Box<str>, u32>,
    mpids: HashMap<Box<str>, u32>,
    /// Indexed by symbol id: each accepted MPID id with its first line number.
    venues_by_symbol: Vec<VenueSet<u64>>,
    /// Indexed by symbol id.
    symbol_totals: Vec<Totals>,
    /// Indexed by MPID id.
    mpid_totals: Vec<Totals>,
    /// Indexed by [`tier_index`].
    tier_totals: [Totals; 3],
    /// The previous row's symbol, usually the current one; the buffer is reused so the cache
    /// costs no allocation per row.
    last_symbol: String,
    last_symbol_id: Option<u32>,
}

impl SeenPairs {
    /// Looks up the row's symbol and MPID without recording anything.
    fn find(&mut self, symbol: &str, mpid: &str) -> PairIds {
        let symbol_id = match self.last_symbol_id {
            Some(id) if self.last_symbol == symbol => Some(id),
            _ => {
                let id = self.symbols.get(symbol).copied();
                if id.is_some() {
                    self.remember_symbol(symbol, id);
                }
                id
            }
        };
        PairIds {
            symbol: symbol_id,
            mpid: self.mpids.get(mpid).copied(),
        }
    }

    fn remember_symbol(&mut self, symbol: &str, id: Option<u32>) {
        self.last_symbol.clear();
        self.last_symbol.push_str(symbol);
        self.last_symbol_id = id;
    }

    /// The line where the pair was first accepted, if it was.
    fn first_line(&self, ids: PairIds) -> Option<u64> {
        let (Some(s), Some(m)) = (ids.symbol, ids.mpid) else {
            return None;
        };
        self.venues_by_symbol[s as usize].get(m)
    }

    /// The first running total (symbol, then venue, then tier; shares before trades) that the
    /// row would overflow, if any.
    fn overflow(
        &self,
        ids: PairIds,
        symbol: &str,
        mpid: &str,
        tier: Tier,
        shares: i64,
        trades: i64,
    ) -> Option<Overflow> {
        let none = Totals::default();
        let scopes = [
            (
                ids.symbol.map_or(none, |s| self.symbol_totals[s as usize]),
                0u8,
            ),
            (ids.mpid.map_or(none, |m| self.mpid_totals[m as usize]), 1),
            (self.tier_totals[tier_index(tier)], 2),
        ];
        for (totals, scope) in scopes {
            for (column, so_far, value) in [
                (FinraColumn::TotalWeeklyShareQuantity, totals.shares, shares),
                (FinraColumn::TotalWeeklyTradeCount, totals.trades, trades),
            ] {
                if so_far.checked_add(value).is_none() {
                    let scope = match scope {
                        0 => format!("symbol `{symbol}`"),
                        1 => format!("venue `{mpid}`"),
                        _ => format!("tier {}", tier.finra_description()),
                    };
                    return Some(Overflow {
                        scope,
                        column,
                        so_far,
                    });
                }
            }
        }
        None
    }

    /// Records an accepted row: its pair (with its line) and its quantities in the totals,
    /// which [`SeenPairs::overflow`] has checked.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &mut self,
        ids: PairIds,
        symbol: &str,
        mpid: &str,
        tier: Tier,
        shares: i64,
        trades: i64,
        line_number: u64,
    ) {
        let symbol_id = match ids.symbol {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.symbols.len()).expect("fewer than 2^32 symbols");
                self.symbols.insert(symbol.into(), id);
                self.venues_by_symbol.push(VenueSet::default());
                self.symbol_totals.push(Totals::default());
                self.remember_symbol(symbol, Some(id));
                id
            }
        };
        let mpid_id = match ids.mpid {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.mpids.len()).expect("fewer than 2^32 MPIDs");
                self.mpids.insert(mpid.into(), id);
                self.mpid_totals.push(Totals::default());
                id
            }
        };
        self.venues_by_symbol[symbol_id as usize].insert(mpid_id, line_number);
        for totals in [
            &mut self.symbol_totals[symbol_id as usize],
            &mut self.mpid_totals[mpid_id as usize],
            &mut self.tier_totals[tier_index(tier)],
        ] {
            totals.shares += shares;
            totals.trades += trades;
        }
    }
}

/// How a field uses double quotes.
enum Quoting {
    /// No `"` at all.
    None,
    /// Wholly enclosed in `"`, every inner `"` doubled: the unquoted value.
    Enclosed(Vec<u8>),
    /// A `"` that is not a whole-field quoting (kept as is in a descriptive field).
    Malformed,
}

fn quoting(field: &[u8]) -> Quoting {
    if memchr::memchr(b'"', field).is_none() {
        return Quoting::None;
    }
    let [b'"', inner @ .., b'"'] = field else {
        return Quoting::Malformed;
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'"' {
            if inner.get(i + 1) != Some(&b'"') {
                return Quoting::Malformed;
            }
            i += 1;
        }
        out.push(inner[i]);
        i += 1;
    }
    Quoting::Enclosed(out)
}

/// Appends `bytes` decoded as Windows-1252 (the WHATWG mapping: every byte decodes).
fn push_windows_1252(out: &mut String, bytes: &[u8]) {
    let mut decoder = encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling();
    let max = decoder
        .max_utf8_buffer_length(bytes.len())
        .expect("a field's decoded length fits in usize");
    let mut buf = vec![0u8; max];
    let (_, read, written, _) = decoder.decode_to_utf8(bytes, &mut buf, true);
    debug_assert_eq!(read, bytes.len());
    out.push_str(std::str::from_utf8(&buf[..written]).expect("the decoder writes UTF-8"));
}

/// A line's fields after unquoting and decoding, as RAW will store them.
struct Decoded {
    line: String,
    ends: [usize; FIELD_COUNT],
    unquoted: u64,
    repaired: bool,
}

/// Unquotes and decodes the fields of a line split at `ends`. The common line (UTF-8, no `"`)
/// is copied once; anything else is rebuilt field by field, in column order, where the first
/// key field that is not UTF-8 or is badly quoted rejects the line.
fn decode_fields(
    bytes: &[u8],
    ends: &[usize; FIELD_COUNT],
    has_quote: bool,
) -> Result<Decoded, (RejectReason, String)> {
    if !has_quote && let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded {
            line: text.to_owned(),
            ends: *ends,
            unquoted: 0,
            repaired: false,
        });
    }
    let mut line = String::with_capacity(bytes.len() + 8);
    let mut new_ends = [0usize; FIELD_COUNT];
    let mut unquoted = 0;
    let mut repaired = false;
    for column in FinraColumn::ALL {
        let i = column.index();
        let start = if i == 0 { 0 } else { ends[i - 1] + 1 };
        let field = &bytes[start..ends[i]];
        if i > 0 {
            line.push('|');
        }
        if column.is_key() {
            if let Err(e) = std::str::from_utf8(field) {
                let at = e.valid_up_to();
                return Err((
                    RejectReason::InvalidUtf8,
                    format!(
                        "{column} is not valid UTF-8 (byte 0x{:02X} at offset {at} of the field): \
                         a key field must be exact",
                        field[at]
                    ),
                ));
            }
            let text = match quoting(field) {
                Quoting::None => Cow::Borrowed(field),
                Quoting::Enclosed(inner) => {
                    unquoted += 1;
                    Cow::Owned(inner)
                }
                Quoting::Malformed => {
                    return Err((
                        RejectReason::BadQuoting,
                        format!(
                            "{column} `{}` has a `\"` that does not enclose the whole field \
                             (with inner quotes doubled): its value cannot be known",
                            String::from_utf8_lossy(field)
                        ),
                    ));
                }
            };
            line.push_str(
                std::str::from_utf8(&text).expect("checked above; unquoting keeps UTF-8"),
            );
        } else {
            let text = match quoting(field) {
                Quoting::Enclosed(inner) => {
                    unquoted += 1;
                    Cow::Owned(inner)
                }
                Quoting::None | Quoting::Malformed => Cow::Borrowed(field),
            };
            match std::str::from_utf8(&text) {
                Ok(s) => line.push_str(s),
                Err(_) => {
                    push_windows_1252(&mut line, &text);
                    repaired = true;
                }
            }
        }
        new_ends[i] = line.len();
    }
    Ok(Decoded {
        line,
        ends: new_ends,
        unquoted,
        repaired,
    })
}

/// Streams a FINRA OTC weekly file line by line.
///
/// Create it with [`FinraReader::new`] or [`FinraReader::with_options`] (which validate the
/// header), then call [`FinraReader::next_line`] (or iterate) until `None`; read
/// [`FinraReader::stats`] at the end. After a fatal [`ParseError`] the reader yields nothing more.
///
/// Each line after the header is checked in this order, and the first failure is its reject:
/// blank ([`RejectReason::BlankLine`]); a control character anywhere
/// ([`RejectReason::ControlCharacter`]); the field count; the decoding of each field in column
/// order ([`RejectReason::InvalidUtf8`], [`RejectReason::BadQuoting`] in key fields); the values
/// in column order (tier, symbol, MPID, lengths, quantities, date, then the stamp against
/// [`ReaderOptions`]); the (symbol, MPID) pair; the running totals.
pub struct FinraReader<R: Read> {
    input: BufReader<R>,
    /// The current physical line, without its terminator (`\n` or `\r\n`).
    line: Vec<u8>,
    /// Whether the current line ended in `\n` (false only for a last line without one).
    terminated: bool,
    /// Physical line number of the last line read (header included).
    last_line: u64,
    done: bool,
    options: ReaderOptions,
    seen: SeenPairs,
    stats: ParseStats,
    rejects_by_reason: [u64; RejectReason::ALL.len()],
    accepted_by_tier: [u64; 3],
    /// Cache of the last `lastUpdateDate` text and its value: a file usually has one date.
    last_date: Option<([u8; 10], NaiveDate)>,
}

impl<R: Read> fmt::Debug for FinraReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinraReader")
            .field("last_line", &self.last_line)
            .field("done", &self.done)
            .field("options", &self.options)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Why a quantity field is not acceptable.
enum QuantityError {
    NotANumber,
    OutOfRange,
    Negative,
}

/// Parses a quantity strictly: an optional `-` and ASCII digits, nothing else (no `+`, spaces,
/// separators or decimals), so that anything FINRA did not mean as a whole number is rejected.
fn parse_quantity(s: &str) -> Result<i64, QuantityError> {
    let bytes = s.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(QuantityError::NotANumber);
    }
    let mut value: i64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or(QuantityError::OutOfRange)?;
    }
    if negative && value != 0 {
        return Err(QuantityError::Negative);
    }
    Ok(value)
}

/// Parses exactly `YYYY-MM-DD` (ten bytes, ASCII digits) into a real calendar date.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

fn tier_index(tier: Tier) -> usize {
    match tier {
        Tier::NmsTier1 => 0,
        Tier::NmsTier2 => 1,
        Tier::Otc => 2,
    }
}

fn reason_index(reason: RejectReason) -> usize {
    RejectReason::ALL
        .iter()
        .position(|r| *r == reason)
        .expect("every reason is in ALL")
}

/// The header the parser expects, as one line.
fn expected_header_line() -> String {
    EXPECTED_HEADER.join("|")
}

fn reject(line_number: u64, reason: RejectReason, detail: String, bytes: &[u8]) -> Line {
    Line::Rejected(Reject {
        line_number,
        reason,
        detail,
        raw_line: escape_raw(bytes),
    })
}

impl<R: Read> FinraReader<R> {
    /// Starts reading `reader` with no expectations beyond FINRA's format and checks the header.
    ///
    /// Fails with [`ParseError::MissingHeader`] on an empty input, [`ParseError::WrongHeader`]
    /// when the first non-blank line is not exactly [`EXPECTED_HEADER`] (a leading UTF-8 byte
    /// order mark is tolerated), and [`ParseError::Io`] when reading fails.
    pub fn new(reader: R) -> Result<FinraReader<R>, ParseError> {
        FinraReader::with_options(reader, ReaderOptions::default())
    }

    /// Like [`FinraReader::new`], with what every row's stamp must agree with (see
    /// [`ReaderOptions`]). `reader` is buffered here: pass a plain `File`.
    pub fn with_options(reader: R, options: ReaderOptions) -> Result<FinraReader<R>, ParseError> {
        let mut this = FinraReader {
            input: BufReader::with_capacity(256 * 1024, reader),
            line: Vec::with_capacity(256),
            terminated: true,
            last_line: 0,
            done: false,
            options,
            seen: SeenPairs::default(),
            stats: ParseStats::default(),
            rejects_by_reason: [0; RejectReason::ALL.len()],
            accepted_by_tier: [0; 3],
            last_date: None,
        };
        loop {
            if !this.read_line()? {
                return Err(ParseError::MissingHeader {
                    expected: expected_header_line(),
                });
            }
            if is_blank(&this.line) {
                continue;
            }
            let header = this
                .line
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(&this.line);
            if header != expected_header_line().as_bytes() {
                return Err(ParseError::WrongHeader {
                    line_number: this.last_line,
                    expected: expected_header_line(),
                    actual: escape_raw(&this.line),
                });
            }
            return Ok(this);
        }
    }

    /// The expectations this reader applies.
    pub fn options(&self) -> ReaderOptions {
        self.options
    }

    /// Reads the next line: `Some(Ok(Line))` for every line after the header, `Some(Err(_))`
    /// once on a fatal I/O error, then `None` for ever.
    pub fn next_line(&mut self) -> Option<Result<Line, ParseError>> {
        if self.done {
            return None;
        }
        match self.read_line() {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        }
        // Borrow the line buffer out (no copy) so classifying can update the reader's state.
        let bytes = std::mem::take(&mut self.line);
        let line = self.classify(&bytes, self.last_line);
        self.line = bytes;
        self.stats.rows_read += 1;
        match &line {
            Line::Accepted(row) => {
                self.stats.accepted += 1;
                self.accepted_by_tier[tier_index(row.tier)] += 1;
                let d = row.last_update;
                self.stats.last_update_range = Some(match self.stats.last_update_range {
                    None => (d, d),
                    Some((lo, hi)) => (lo.min(d), hi.max(d)),
                });
            }
            Line::Rejected(reject) => {
                self.stats.rejected += 1;
                self.rejects_by_reason[reason_index(reject.reason)] += 1;
            }
        }
        Some(Ok(line))
    }

    /// The counts so far; final once [`FinraReader::next_line`] has returned `None`.
    pub fn stats(&self) -> ParseStats {
        let mut stats = self.stats.clone();
        stats.rejects_by_reason = RejectReason::ALL
            .iter()
            .zip(self.rejects_by_reason)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| (*r, n))
            .collect();
        stats.accepted_by_tier = Tier::ALL
            .iter()
            .map(|t| (*t, self.accepted_by_tier[tier_index(*t)]))
            .filter(|(_, n)| *n > 0)
            .collect();
        stats.distinct_symbols = self.seen.symbols.len() as u64;
        stats.distinct_mpids = self.seen.mpids.len() as u64;
        stats
    }

    /// Reads the next physical line into `self.line` without its terminator (`\n`, and a `\r`
    /// before it or at the very end). `Ok(false)` at the end of the input: a final `\n` ends the
    /// last line and starts none.
    fn read_line(&mut self) -> Result<bool, ParseError> {
        self.line.clear();
        let mut read_any = false;
        self.terminated = loop {
            let buf = match self.input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ParseError::Io {
                        line_number: self.last_line + 1,
                        source,
                    });
                }
            };
            if buf.is_empty() {
                break false;
            }
            read_any = true;
            if let Some(at) = memchr::memchr(b'\n', buf) {
                self.line.extend_from_slice(&buf[..at]);
                self.input.consume(at + 1);
                break true;
            }
            let n = buf.len();
            self.line.extend_from_slice(buf);
            self.input.consume(n);
        };
        if !read_any {
            return Ok(false);
        }
        self.last_line += 1;
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        Ok(true)
    }

    /// Turns one line after the header into an accepted row or a reject.
    fn classify(&mut self, bytes: &[u8], line_number: u64) -> Line {
        if is_blank(bytes) {
            let detail = "the line is empty or only spaces and tabs: a row without data \
                          (only a single final newline may end a file)"
                .to_string();
            return reject(line_number, RejectReason::BlankLine, detail, bytes);
        }
        let shape = LineShape::of(bytes);
        if let Some(at) = shape.control {
            let field = bytes[..at].iter().filter(|b| **b == b'|').count();
            let column = match FinraColumn::ALL.get(field) {
                Some(c) => c.header_name().to_string(),
                None => format!(
                    "field {} (beyond the {FIELD_COUNT} FINRA defines)",
                    field + 1
                ),
            };
            let detail = format!(
                "control character {} in {column} (byte offset {at} of the line): no FINRA \
                 field holds one, and PostgreSQL cannot store NUL",
                control_name(bytes[at])
            );
            return reject(line_number, RejectReason::ControlCharacter, detail, bytes);
        }
        if shape.separators != FIELD_COUNT - 1 {
            return self.classify_wrong_count(bytes, shape.separators + 1, line_number);
        }
        let decoded = match decode_fields(bytes, &shape.ends, shape.has_quote) {
            Ok(d) => d,
            Err((reason, detail)) => return reject(line_number, reason, detail, bytes),
        };
        let raw = RawFields {
            line: decoded.line,
            ends: decoded.ends,
        };
        let (tier, shares, trades, last_update) = match self.validate(&raw) {
            Ok(values) => values,
            Err((reason, detail)) => return reject(line_number, reason, detail, bytes),
        };
        let (symbol, mpid) = (
            raw.get(FinraColumn::IssueSymbolIdentifier),
            raw.get(FinraColumn::Mpid),
        );
        let ids = self.seen.find(symbol, mpid);
        if let Some(first) = self.seen.first_line(ids) {
            let detail = format!(
                "{} `{symbol}` with {} `{mpid}` already appeared on line {first}; \
                 the first occurrence stands",
                FinraColumn::IssueSymbolIdentifier,
                FinraColumn::Mpid,
            );
            return reject(
                line_number,
                RejectReason::DuplicateSymbolMpid,
                detail,
                bytes,
            );
        }
        if let Some(o) = self.seen.overflow(ids, symbol, mpid, tier, shares, trades) {
            let (what, value) = match o.column {
                FinraColumn::TotalWeeklyShareQuantity => ("shares", shares),
                _ => ("trades", trades),
            };
            let detail = format!(
                "{} {value} would overflow the running total of {} {what} ({} so far, the \
                 64-bit maximum is {}): the row is refused so the totals of the accepted rows \
                 stay exact",
                o.column,
                o.scope,
                o.so_far,
                i64::MAX
            );
            return reject(line_number, RejectReason::TotalOverflow, detail, bytes);
        }
        self.seen
            .commit(ids, symbol, mpid, tier, shares, trades, line_number);
        self.stats.unquoted_fields += decoded.unquoted;
        if decoded.repaired {
            self.stats.repaired_rows += 1;
            if self.stats.repaired_lines.len() < MAX_REPAIRED_LINES {
                self.stats.repaired_lines.push(line_number);
            }
        }
        let source = (decoded.unquoted > 0 || decoded.repaired).then(|| Box::from(bytes));
        Line::Accepted(FinraRow {
            line_number,
            raw,
            source,
            tier,
            shares,
            trades,
            last_update,
        })
    }

    /// Checks the typed fields in column order; the first failure is the reject reason.
    fn validate(
        &mut self,
        raw: &RawFields,
    ) -> Result<(Tier, i64, i64, NaiveDate), (RejectReason, String)> {
        let tier_text = raw.get(FinraColumn::TierDescription);
        let tier = Tier::from_finra_description(tier_text).map_err(|_| {
            (
                RejectReason::UnknownTier,
                format!(
                    "{} `{tier_text}` is not one of: {}",
                    FinraColumn::TierDescription,
                    Tier::FINRA_DESCRIPTIONS.join(", ")
                ),
            )
        })?;
        let blank = |s: &str| s.trim().is_empty();
        let symbol = raw.get(FinraColumn::IssueSymbolIdentifier);
        if blank(symbol) {
            return Err((
                RejectReason::EmptySymbol,
                format!(
                    "{} is empty (`{symbol}`)",
                    FinraColumn::IssueSymbolIdentifier
                ),
            ));
        }
        let mpid = raw.get(FinraColumn::Mpid);
        if blank(mpid) {
            return Err((
                RejectReason::EmptyMpid,
                format!("{} is empty (`{mpid}`)", FinraColumn::Mpid),
            ));
        }
        for (column, text, max) in [
            (FinraColumn::IssueSymbolIdentifier, symbol, MAX_SYMBOL_LEN),
            (FinraColumn::Mpid, mpid, MAX_MPID_LEN),
        ] {
            let len = text.chars().count();
            if len > max {
                return Err((
                    RejectReason::FieldTooLong,
                    format!("{column} `{text}` has {len} characters; at most {max} are accepted"),
                ));
            }
        }
        let quantity = |column: FinraColumn| {
            let text = raw.get(column);
            parse_quantity(text).map_err(|e| match e {
                QuantityError::NotANumber => (
                    RejectReason::NonNumericQuantity,
                    format!("{column} `{text}` is not a whole number"),
                ),
                QuantityError::OutOfRange => (
                    RejectReason::NonNumericQuantity,
                    format!("{column} `{text}` does not fit in a 64-bit integer"),
                ),
                QuantityError::Negative => (
                    RejectReason::NegativeQuantity,
                    format!("{column} `{text}` is negative"),
                ),
            })
        };
        let shares = quantity(FinraColumn::TotalWeeklyShareQuantity)?;
        let trades = quantity(FinraColumn::TotalWeeklyTradeCount)?;
        let date_text = raw.get(FinraColumn::LastUpdateDate);
        let last_update = match self.last_date {
            Some((bytes, date)) if bytes == date_text.as_bytes() => date,
            _ => {
                let date = parse_date(date_text).ok_or_else(|| {
                    (
                        RejectReason::BadDate,
                        format!(
                            "{} `{date_text}` is not a valid YYYY-MM-DD date",
                            FinraColumn::LastUpdateDate
                        ),
                    )
                })?;
                let mut bytes = [0u8; 10];
                bytes.copy_from_slice(date_text.as_bytes());
                self.last_date = Some((bytes, date));
                date
            }
        };
        if let Some(expected) = self.options.expected_last_update
            && last_update != expected
        {
            return Err((
                RejectReason::InconsistentLastUpdate,
                format!(
                    "{} {last_update} is not the file's stamp {expected} (its most frequent): \
                     one file is one FINRA publication",
                    FinraColumn::LastUpdateDate
                ),
            ));
        }
        if let Some(week) = self.options.week_ending
            && let Some(why) = implausible_last_update(last_update, week)
        {
            return Err((RejectReason::ImplausibleLastUpdate, why));
        }
        Ok((tier, shares, trades, last_update))
    }

    /// Classifies a line with `fields` fields instead of eight.
    fn classify_wrong_count(&self, bytes: &[u8], fields: usize, line_number: u64) -> Line {
        if fields == 1 && bytes.split(|b| *b == b',').count() == FIELD_COUNT {
            let detail = format!(
                "the line has 1 `|`-separated field but {FIELD_COUNT} comma-separated ones: \
                 the file looks comma-delimited, FINRA's is pipe-delimited"
            );
            return reject(line_number, RejectReason::CommaDelimited, detail, bytes);
        }
        if fields < FIELD_COUNT && !self.terminated {
            let detail = format!(
                "the last line has {fields} of {FIELD_COUNT} fields and no final newline: \
                 the file appears cut off after field {fields} ({})",
                EXPECTED_HEADER[fields - 1]
            );
            return reject(line_number, RejectReason::TruncatedLine, detail, bytes);
        }
        let detail = format!("expected {FIELD_COUNT} `|`-separated fields, found {fields}");
        reject(line_number, RejectReason::WrongFieldCount, detail, bytes)
    }
}

impl<R: Read> Iterator for FinraReader<R> {
    type Item = Result<Line, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_line()
    }
}

/// How many days after a week FINRA publishes each tier, used to derive the week a file covers
/// from its `lastUpdateDate` when nothing better (a file name, an API field) says which week it is.
///
/// Defaults follow FINRA (DESIGN.md): NMS Tier 1 two weeks after the week, NMS Tier 2 and OTC four
/// weeks after. Configurable because FINRA can change its schedule without changing the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationLags {
    /// Days after the week's Friday before NMS Tier 1 data is published.
    pub nms_tier_1_days: u32,
    /// Days after the week's Friday before NMS Tier 2 data is published.
    pub nms_tier_2_days: u32,
    /// Days after the week's Friday before OTC data is published.
    pub otc_days: u32,
}

impl PublicationLags {
    /// FINRA's lag for NMS Tier 1: two weeks after the week.
    pub const NMS_TIER_1_DAYS: u32 = 14;
    /// FINRA's lag for NMS Tier 2 and OTC: four weeks after the week.
    pub const NMS_TIER_2_AND_OTC_DAYS: u32 = 28;

    /// Tier 1's lag, and one lag for Tier 2 and OTC (what the CLI's two flags set).
    pub const fn new(nms_tier_1_days: u32, nms_tier_2_and_otc_days: u32) -> PublicationLags {
        PublicationLags {
            nms_tier_1_days,
            nms_tier_2_days: nms_tier_2_and_otc_days,
            otc_days: nms_tier_2_and_otc_days,
        }
    }
}

impl Default for PublicationLags {
    fn default() -> Self {
        PublicationLags::new(Self::NMS_TIER_1_DAYS, Self::NMS_TIER_2_AND_OTC_DAYS)
    }
}

impl PublicationLags {
    /// The lag for one tier.
    pub const fn for_tier(&self, tier: Tier) -> u32 {
        match tier {
            Tier::NmsTier1 => self.nms_tier_1_days,
            Tier::NmsTier2 => self.nms_tier_2_days,
            Tier::Otc => self.otc_days,
        }
    }
}

/// The week (its ending Friday) that a file stamped `last_update` covers: the latest Friday `F`
/// with `F + lag <= last_update`.
///
/// Why this rule: FINRA publishes on a Monday, 17 days after the week's Friday for Tier 1 and
/// 31 days after for Tier 2/OTC (e.g. the OTC week ending 2019-11-15 was published 2019-12-16), so
/// "at least the lag" identifies the week. Note that a *revision* re-stamps `lastUpdateDate`, so
/// for a revised file this derivation points at a later week; prefer an explicit week when the
/// source provides one.
pub fn derive_week_ending(last_update: NaiveDate, tier: Tier, lags: &PublicationLags) -> NaiveDate {
    let latest = last_update - Days::new(u64::from(lags.for_tier(tier)));
    WeekEnding::on_or_before(latest).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use spine_model::week::is_friday;

    const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Parses `body` (header prepended) and returns every line plus the final stats.
    fn parse(body: &str) -> (Vec<Line>, ParseStats) {
        let text = format!("{HEADER}\n{body}");
        let mut reader = FinraReader::new(text.as_bytes()).unwrap();
        let lines: Vec<Line> = reader.by_ref().map(Result::unwrap).collect();
        (lines, reader.stats())
    }

    /// Parses a body that must produce exactly one reject and returns it.
    fn only_reject(body: &str) -> Reject {
        let (lines, stats) = parse(body);
        let rejects: Vec<Reject> = lines
            .into_iter()
            .filter_map(|l| match l {
                Line::Rejected(r) => Some(r),
                Line::Accepted(_) => None,
            })
            .collect();
        assert_eq!(rejects.len(), 1, "{rejects:?}");
        assert_eq!(stats.rows_read, stats.accepted + stats.rejected);
        rejects.into_iter().next().unwrap()
    }

    const GOOD: &str = "OTC|AABB|Asia Broadband Inc|OTCN OTC LINK|OTCN|6753871|171|2025-12-15";

    #[test]
    fn accepts_a_good_line_with_typed_values() {
        let (lines, stats) = parse(&format!("{GOOD}\n"));
        let Line::Accepted(row) = &lines[0] else {
            panic!("{lines:?}")
        };
        assert_eq!(row.line_number(), 2);
        assert_eq!(row.tier(), Tier::Otc);
        assert_eq!(row.symbol(), "AABB");
        assert_eq!(row.issue_name(), "Asia Broadband Inc");
        assert_eq!(row.participant_name(), "OTCN OTC LINK");
        assert_eq!(row.mpid(), "OTCN");
        assert_eq!(row.shares(), 6_753_871);
        assert_eq!(row.trades(), 171);
        assert_eq!(row.last_update(), date(2025, 12, 15));
        assert_eq!(row.raw().line(), GOOD);
        assert_eq!(stats.rows_read, 1);
        assert_eq!(stats.accepted, 1);
        assert_eq!(stats.distinct_symbols, 1);
        assert_eq!(stats.distinct_mpids, 1);
        assert_eq!(stats.accepted_by_tier, BTreeMap::from([(Tier::Otc, 1)]));
        assert_eq!(
            stats.last_update_range,
            Some((date(2025, 12, 15), date(2025, 12, 15)))
        );
    }

    /// Changed deliberately: the symbol was `BRK"B`, which is now a `BAD_QUOTING` reject (a key
    /// field's stray quote); quotes inside descriptive fields still stay as they are.
    #[test]
    fn raw_line_round_trips_quotes_and_crlf() {
        let line = r#"NMS Tier 1|BRK.B|Berkshire "Hathaway" Inc|Firm, "X" LLC|ABCD|0|0|2025-01-06"#;
        let (lines, stats) = parse(&format!("{line}\r\n{GOOD}"));
        let Line::Accepted(row) = &lines[0] else {
            panic!("{lines:?}")
        };
        assert_eq!(row.raw().line(), line);
        assert_eq!(row.source_line(), line.as_bytes());
        assert_eq!(row.raw().fields().join("|"), line);
        assert_eq!(row.symbol(), "BRK.B");
        assert_eq!(row.issue_name(), "Berkshire \"Hathaway\" Inc");
        assert_eq!(row.participant_name(), "Firm, \"X\" LLC");
        assert_eq!(stats.unquoted_fields, 0);
        assert_eq!(row.raw().get(FinraColumn::LastUpdateDate), "2025-01-06");
        // The last line has no newline but all fields: accepted, not truncated.
        let Line::Accepted(last) = &lines[1] else {
            panic!("{lines:?}")
        };
        assert_eq!(last.line_number(), 3);
        assert_eq!(last.raw().clone().into_line(), GOOD);
    }

    #[test]
    fn wrong_field_count() {
        let r = only_reject(&format!("{GOOD}\nOTC|X|name|p|MPID|1|2\n"));
        assert_eq!(r.reason, RejectReason::WrongFieldCount);
        assert_eq!(r.line_number, 3);
        assert_eq!(r.raw_line, "OTC|X|name|p|MPID|1|2");
        assert!(r.detail.contains("found 7"), "{}", r.detail);
        let r = only_reject("OTC|X|name|p|MPID|1|2|2025-12-15|extra\n");
        assert_eq!(r.reason, RejectReason::WrongFieldCount);
        assert_eq!(r.raw_line, "OTC|X|name|p|MPID|1|2|2025-12-15|extra");
        assert!(r.detail.contains("found 9"), "{}", r.detail);
    }

    #[test]
    fn comma_delimited() {
        let r = only_reject("OTC,X,name,p,MPID,1,2,2025-12-15\n");
        assert_eq!(r.reason, RejectReason::CommaDelimited);
        assert_eq!(r.reason.code(), "COMMA_DELIMITED");
        assert_eq!(r.line_number, 2);
        assert_eq!(r.raw_line, "OTC,X,name,p,MPID,1,2,2025-12-15");
    }

    #[test]
    fn truncated_last_line_only_without_final_newline() {
        let r = only_reject(&format!("{GOOD}\nOTC|ZZZZ|Zed Inc|OTCN OT"));
        assert_eq!(r.reason, RejectReason::TruncatedLine);
        assert_eq!(r.line_number, 3);
        assert_eq!(r.raw_line, "OTC|ZZZZ|Zed Inc|OTCN OT");
        assert!(r.detail.contains("4 of 8"), "{}", r.detail);
        assert!(r.detail.contains("marketParticipantName"), "{}", r.detail);
        // The same short line followed by a newline is an ordinary wrong field count.
        let r = only_reject(&format!("{GOOD}\nOTC|ZZZZ|Zed Inc|OTCN OT\n"));
        assert_eq!(r.reason, RejectReason::WrongFieldCount);
        // A short line in the middle of a file without a final newline is not truncation either.
        let r = only_reject(&format!("OTC|ZZZZ|Zed Inc\n{GOOD}"));
        assert_eq!(r.reason, RejectReason::WrongFieldCount);
        assert_eq!(r.line_number, 2);
    }

    #[test]
    fn non_numeric_quantity() {
        for (shares, trades, needle) in [
            ("12a", "1", "totalWeeklyShareQuantity `12a`"),
            ("1,000", "1", "totalWeeklyShareQuantity `1,000`"),
            ("", "1", "totalWeeklyShareQuantity ``"),
            ("+5", "1", "totalWeeklyShareQuantity `+5`"),
            ("1.5", "1", "totalWeeklyShareQuantity `1.5`"),
            ("99999999999999999999", "1", "does not fit"),
            ("5", "x", "totalWeeklyTradeCount `x`"),
        ] {
            let r = only_reject(&format!(
                "{GOOD}\nOTC|AB|n|p|M|{shares}|{trades}|2025-12-15\n"
            ));
            assert_eq!(
                r.reason,
                RejectReason::NonNumericQuantity,
                "{shares} {trades}"
            );
            assert_eq!(r.line_number, 3);
            assert!(r.detail.contains(needle), "{}", r.detail);
        }
    }

    #[test]
    fn negative_quantity() {
        let r = only_reject("OTC|AB|n|p|M|-5|1|2025-12-15\n");
        assert_eq!(r.reason, RejectReason::NegativeQuantity);
        assert_eq!(r.line_number, 2);
        assert!(
            r.detail.contains("totalWeeklyShareQuantity `-5`"),
            "{}",
            r.detail
        );
        let r = only_reject("OTC|AB|n|p|M|5|-1|2025-12-15\n");
        assert_eq!(r.reason, RejectReason::NegativeQuantity);
        assert!(
            r.detail.contains("totalWeeklyTradeCount `-1`"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn empty_symbol_and_mpid() {
        // Changed deliberately: a blank line 3 stood before this line, and is now a reject of
        // its own (see `blank_lines_after_the_header_are_rejects`).
        let r = only_reject(&format!("{GOOD}\nOTC||n|p|M|5|1|2025-12-15\n"));
        assert_eq!(r.reason, RejectReason::EmptySymbol);
        assert_eq!(r.line_number, 3);
        assert!(r.detail.contains("issueSymbolIdentifier"), "{}", r.detail);
        let r = only_reject("OTC|AB|n|p|  |5|1|2025-12-15\n");
        assert_eq!(r.reason, RejectReason::EmptyMpid);
        assert!(r.detail.contains("MPID"), "{}", r.detail);
    }

    #[test]
    fn unknown_tier_is_never_defaulted() {
        for tier in ["NMS Tier 3", "otc", "", "NMS_TIER_1"] {
            let r = only_reject(&format!("{tier}|AB|n|p|M|5|1|2025-12-15\n"));
            assert_eq!(r.reason, RejectReason::UnknownTier);
            assert_eq!(r.line_number, 2);
            assert!(r.detail.contains(&format!("`{tier}`")), "{}", r.detail);
            assert!(
                r.detail.contains("NMS Tier 1, NMS Tier 2, OTC"),
                "{}",
                r.detail
            );
        }
    }

    #[test]
    fn bad_date() {
        for d in [
            "2025-02-30",
            "2025/12/15",
            "20251215",
            "2025-12-1",
            "",
            "2025-12-15 ",
        ] {
            let r = only_reject(&format!("{GOOD}\nOTC|AB|n|p|M|5|1|{d}\n"));
            assert_eq!(r.reason, RejectReason::BadDate, "{d}");
            assert_eq!(r.line_number, 3);
            assert!(
                r.detail.contains(&format!("lastUpdateDate `{d}`")),
                "{}",
                r.detail
            );
        }
    }

    #[test]
    fn duplicate_symbol_mpid_keeps_the_first() {
        let (lines, stats) = parse(&format!(
            "{GOOD}\nOTC|AABB|Asia|x|OTCX|1|1|2025-12-15\nOTC|AABB|Asia again|y|OTCN|9|9|2025-12-15\nOTC|AABB|Asia|y|OTCN|9|9|2025-12-15\n"
        ));
        assert!(matches!(&lines[0], Line::Accepted(r) if r.shares() == 6_753_871));
        assert!(matches!(&lines[1], Line::Accepted(_)));
        for (i, line) in [(2, 4), (3, 5)] {
            let Line::Rejected(r) = &lines[i] else {
                panic!("{lines:?}")
            };
            assert_eq!(r.reason, RejectReason::DuplicateSymbolMpid);
            assert_eq!(r.line_number, line);
            assert!(r.detail.contains("`AABB`"), "{}", r.detail);
            assert!(r.detail.contains("`OTCN`"), "{}", r.detail);
            assert!(r.detail.contains("line 2"), "{}", r.detail);
        }
        assert_eq!(stats.accepted, 2);
        assert_eq!(stats.rejected, 2);
        assert_eq!(
            stats.rejects_by_reason,
            BTreeMap::from([(RejectReason::DuplicateSymbolMpid, 2)])
        );
    }

    #[test]
    fn duplicates_are_found_among_many_venues() {
        // Past the small-vector threshold the venue set switches to a hash map.
        let mut body = String::new();
        for m in 0..500 {
            body.push_str(&format!("OTC|AB|n|p|M{m}|5|1|2025-12-15\n"));
        }
        body.push_str("OTC|AB|n|p|M3|5|1|2025-12-15\nOTC|AB|n|p|M400|5|1|2025-12-15\n");
        let (lines, stats) = parse(&body);
        assert_eq!(stats.accepted, 500);
        assert_eq!(stats.rejected, 2);
        assert!(matches!(&lines[500], Line::Rejected(r) if r.detail.contains("line 5")));
        assert!(matches!(&lines[501], Line::Rejected(r) if r.detail.contains("line 402")));
    }

    #[test]
    fn a_rejected_line_does_not_claim_its_pair() {
        let (lines, _) = parse("OTC|AB|n|p|M|x|1|2025-12-15\nOTC|AB|n|p|M|5|1|2025-12-15\n");
        assert!(
            matches!(&lines[0], Line::Rejected(r) if r.reason == RejectReason::NonNumericQuantity)
        );
        assert!(matches!(&lines[1], Line::Accepted(r) if r.line_number() == 3));
    }

    /// Changed deliberately: the invalid byte was in `issueName` (`Caf\xE9`), which is now
    /// repaired (see `a_windows_1252_descriptive_field_is_repaired_and_the_row_kept`); in a key
    /// field it stays a reject.
    #[test]
    fn invalid_utf8_in_a_key_field_is_a_reject_not_an_error() {
        let mut text = format!("{HEADER}\n").into_bytes();
        text.extend_from_slice(b"OTC|AB|Cafe|p|M\xE9|5|1|2025-12-15\n");
        let mut reader = FinraReader::new(text.as_slice()).unwrap();
        let Some(Ok(Line::Rejected(r))) = reader.next_line() else {
            panic!()
        };
        assert_eq!(r.reason, RejectReason::InvalidUtf8);
        assert_eq!(r.line_number, 2);
        assert!(r.detail.contains("MPID"), "{}", r.detail);
        assert!(r.detail.contains("0xE9"), "{}", r.detail);
        assert_eq!(r.raw_line, "OTC|AB|Cafe|p|M\\xE9|5|1|2025-12-15");
        assert_eq!(
            unescape_raw(&r.raw_line),
            b"OTC|AB|Cafe|p|M\xE9|5|1|2025-12-15"
        );
        assert!(reader.next_line().is_none());
    }

    #[test]
    fn first_failure_in_column_order_wins() {
        let r = only_reject("NMS Tier 9||n|p||x|-1|bad\n");
        assert_eq!(r.reason, RejectReason::UnknownTier);
        let r = only_reject("OTC|AB|n|p||x|-1|bad\n");
        assert_eq!(r.reason, RejectReason::EmptyMpid);
    }

    #[test]
    fn every_reason_has_a_distinct_screaming_snake_code() {
        let codes: std::collections::BTreeSet<&str> =
            RejectReason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), RejectReason::ALL.len());
        for code in codes {
            assert!(
                code.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{code}"
            );
        }
        assert_eq!(RejectReason::BadDate.to_string(), "BAD_DATE");
        assert_eq!(
            serde_json::to_string(&RejectReason::EmptyMpid).unwrap(),
            "\"EMPTY_MPID\""
        );
    }

    /// Would have failed before: blank lines after the header were skipped (only counted in
    /// `blank_lines`), so they were neither rows read nor rejects.
    #[test]
    fn blank_lines_after_the_header_are_rejects() {
        // Blank lines before the header are not rows; after it, each one is, and a final
        // newline starts no extra line.
        let text = format!("\n{HEADER}\n{GOOD}\n   \nOTC|X|n|p|M|1|1|2025-12-15\n\n\r\n\t\n");
        let mut reader = FinraReader::new(text.as_bytes()).unwrap();
        let lines: Vec<Line> = reader.by_ref().map(Result::unwrap).collect();
        let stats = reader.stats();
        assert_eq!(lines.len(), 6);
        assert!(matches!(&lines[0], Line::Accepted(r) if r.line_number() == 3));
        assert!(matches!(&lines[2], Line::Accepted(r) if r.line_number() == 5));
        for (i, line_number, raw) in [(1, 4, "   "), (3, 6, ""), (4, 7, ""), (5, 8, "\t")] {
            let Line::Rejected(r) = &lines[i] else {
                panic!("{lines:?}")
            };
            assert_eq!(r.reason, RejectReason::BlankLine);
            assert_eq!(r.line_number, line_number);
            assert_eq!(r.raw_line, raw);
        }
        assert_eq!(stats.rows_read, 6);
        assert_eq!(stats.rows_read, stats.accepted + stats.rejected);
        assert_eq!(
            stats.rejects_by_reason,
            BTreeMap::from([(RejectReason::BlankLine, 4)])
        );
        // One final newline is no line; a second one is a blank line.
        let (lines, _) = parse(&format!("{GOOD}\n"));
        assert_eq!(lines.len(), 1);
        let (lines, _) = parse(&format!("{GOOD}\n\n"));
        assert!(
            matches!(&lines[1], Line::Rejected(r) if r.reason == RejectReason::BlankLine && r.line_number == 3)
        );
        // A file without a final newline has no blank line either.
        let (lines, _) = parse(GOOD);
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn missing_and_wrong_headers_are_fatal() {
        let err = FinraReader::new(&b""[..]).unwrap_err();
        assert!(matches!(err, ParseError::MissingHeader { .. }), "{err}");
        assert!(err.to_string().contains(HEADER), "{err}");
        let err = FinraReader::new(&b"\n \n"[..]).unwrap_err();
        assert!(matches!(err, ParseError::MissingHeader { .. }), "{err}");

        let wrong = "tierDescription|symbol|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";
        let err = FinraReader::new(format!("{wrong}\n{GOOD}\n").as_bytes()).unwrap_err();
        let ParseError::WrongHeader {
            line_number,
            expected,
            actual,
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(*line_number, 1);
        assert_eq!(expected, HEADER);
        assert_eq!(actual, wrong);
        let message = err.to_string();
        assert!(
            message.contains(HEADER) && message.contains(wrong),
            "{message}"
        );

        // No header at all: the first data line is reported as the header found.
        let err = FinraReader::new(format!("{GOOD}\n").as_bytes()).unwrap_err();
        assert!(matches!(&err, ParseError::WrongHeader { actual, .. } if actual == GOOD));
        // A comma-delimited header is wrong too.
        let comma = format!("{}\n", HEADER.replace('|', ","));
        let err = FinraReader::new(comma.as_bytes());
        assert!(matches!(err, Err(ParseError::WrongHeader { .. })));
    }

    #[test]
    fn header_tolerates_bom_and_crlf() {
        let text = format!("\u{feff}{HEADER}\r\n{GOOD}\r\n");
        let mut reader = FinraReader::new(text.as_bytes()).unwrap();
        let Some(Ok(Line::Accepted(row))) = reader.next_line() else {
            panic!()
        };
        assert_eq!(row.raw().line(), GOOD);
        assert!(reader.next_line().is_none());
        assert_eq!(reader.stats().rows_read, 1);
    }

    #[test]
    fn io_errors_are_fatal_with_a_line_number() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = self.0.len().min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = format!("{HEADER}\n{GOOD}\n");
        let mut reader = FinraReader::new(Failing(text.as_bytes())).unwrap();
        let mut saw_error = false;
        for item in reader.by_ref() {
            if let Err(err) = item {
                // Line 2 was read whole; the failure happened while reading line 3.
                assert!(
                    matches!(err, ParseError::Io { line_number: 3, .. }),
                    "{err}"
                );
                assert!(err.to_string().contains("disk on fire"), "{err}");
                saw_error = true;
            }
        }
        assert!(saw_error);
        assert!(reader.next_line().is_none());
    }

    #[test]
    fn quantity_and_date_parsers_are_strict() {
        assert!(matches!(parse_quantity("0"), Ok(0)));
        assert!(matches!(parse_quantity("007"), Ok(7)));
        assert!(matches!(
            parse_quantity("9223372036854775807"),
            Ok(i64::MAX)
        ));
        assert!(matches!(
            parse_quantity("9223372036854775808"),
            Err(QuantityError::OutOfRange)
        ));
        assert!(matches!(
            parse_quantity("-"),
            Err(QuantityError::NotANumber)
        ));
        assert!(matches!(
            parse_quantity(" 1"),
            Err(QuantityError::NotANumber)
        ));
        assert_eq!(parse_date("2024-02-29"), Some(date(2024, 2, 29)));
        assert_eq!(parse_date("2025-02-29"), None);
        assert_eq!(parse_date("2025-13-01"), None);
        assert_eq!(parse_date("+025-01-01"), None);
    }

    #[test]
    fn week_derivation_follows_publication_lags() {
        let lags = PublicationLags::default();
        assert_eq!(lags.for_tier(Tier::NmsTier1), 14);
        assert_eq!(lags.for_tier(Tier::NmsTier2), 28);
        assert_eq!(lags.for_tier(Tier::Otc), 28);
        // FINRA's announced schedule (Regulatory Notice 19-29): Tier 1 week of 2019-11-11
        // published 2019-12-02; Tier 2/OTC weeks of 2019-10-28, 2019-11-04 and 2019-11-11
        // published 2019-12-02, 2019-12-09 and 2019-12-16.
        assert_eq!(
            derive_week_ending(date(2019, 12, 2), Tier::NmsTier1, &lags),
            date(2019, 11, 15)
        );
        assert_eq!(
            derive_week_ending(date(2019, 12, 2), Tier::Otc, &lags),
            date(2019, 11, 1)
        );
        assert_eq!(
            derive_week_ending(date(2019, 12, 9), Tier::NmsTier2, &lags),
            date(2019, 11, 8)
        );
        assert_eq!(
            derive_week_ending(date(2019, 12, 16), Tier::Otc, &lags),
            date(2019, 11, 15)
        );
        // The real file in shared/data: OTC stamped Monday 2025-12-15.
        assert_eq!(
            derive_week_ending(date(2025, 12, 15), Tier::Otc, &lags),
            date(2025, 11, 14)
        );
        // Boundary: exactly the lag after a Friday is that Friday; one day less is the week before.
        assert_eq!(
            derive_week_ending(date(2025, 12, 19), Tier::NmsTier1, &lags),
            date(2025, 12, 5)
        );
        assert_eq!(
            derive_week_ending(date(2025, 12, 18), Tier::NmsTier1, &lags),
            date(2025, 11, 28)
        );
        let custom = PublicationLags {
            nms_tier_1_days: 0,
            ..lags
        };
        assert_eq!(
            derive_week_ending(date(2025, 12, 19), Tier::NmsTier1, &custom),
            date(2025, 12, 19)
        );
        for offset in 0..60 {
            let d = date(2025, 1, 1) + Days::new(offset);
            let w = derive_week_ending(d, Tier::Otc, &lags);
            assert!(is_friday(w));
            assert!(w + Days::new(28) <= d && w + Days::new(35) > d);
        }
    }

    /// The real FINRA week in `../shared/data`, when this checkout has it.
    pub(crate) fn real_file() -> Option<std::fs::File> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/finra/finra_otc_weekly_otc_20251215.csv"
        );
        match std::fs::File::open(path) {
            Ok(f) => Some(f),
            Err(_) => {
                // `cargo xtask test` sets this whenever the sample exists: then a missing file
                // is a failure, never a silent pass.
                assert!(
                    std::env::var_os("SPINE_REQUIRE_REAL_SAMPLE").is_none(),
                    "SPINE_REQUIRE_REAL_SAMPLE is set but {path} is missing"
                );
                eprintln!("SKIPPED: real FINRA file not found at {path}; its checks did not run");
                None
            }
        }
    }

    #[test]
    fn parses_the_real_finra_file() {
        let Some(file) = real_file() else { return };
        let mut reader = FinraReader::new(io::BufReader::new(file)).unwrap();
        let mut symbols = std::collections::BTreeSet::new();
        let mut mpids = std::collections::BTreeSet::new();
        let mut last_line = 1;
        for line in reader.by_ref() {
            match line.unwrap() {
                Line::Accepted(row) => {
                    assert_eq!(row.line_number(), last_line + 1);
                    last_line = row.line_number();
                    assert_eq!(row.tier(), Tier::Otc);
                    assert_eq!(row.raw().fields().join("|"), row.raw().line());
                    symbols.insert(row.symbol().to_string());
                    mpids.insert(row.mpid().to_string());
                }
                Line::Rejected(r) => panic!("unexpected reject {r:?}"),
            }
        }
        let stats = reader.stats();
        assert_eq!(stats.rows_read, 5_328);
        assert_eq!(stats.accepted, 5_328);
        assert_eq!(stats.rejected, 0);
        assert_eq!(symbols.len(), 3_111);
        assert_eq!(mpids.len(), 9);
        assert_eq!(stats.distinct_symbols, 3_111);
        assert_eq!(stats.distinct_mpids, 9);
        assert_eq!(
            stats.last_update_range,
            Some((date(2025, 12, 15), date(2025, 12, 15)))
        );
        assert_eq!(stats.unquoted_fields, 0);
        assert_eq!(stats.repaired_rows, 0);
        let (dominant, counts) = dominant_last_update(real_file().unwrap()).unwrap().unwrap();
        assert_eq!(dominant, date(2025, 12, 15));
        assert_eq!(counts.lines_with(dominant), 5_328);
        assert_eq!(counts.by_date.len(), 1);
        assert_eq!(counts.invalid, 0);
    }

    /// A synthetic FINRA file of `rows` lines over `mpids` venues, for the speed measurement.
    pub(crate) fn synthetic_file(rows: usize, mpids: usize) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(rows * 90 + 200);
        writeln!(out, "{HEADER}").unwrap();
        let mut written = 0;
        let mut symbol = 0usize;
        while written < rows {
            for m in 0..mpids.min(rows - written) {
                writeln!(
                    out,
                    "NMS Tier 1|S{symbol:06}|Synthetic Issue {symbol} Common Stock|Venue {m} ATS|M{m:03}|{}|{}|2025-12-15",
                    (symbol * 7919 + m * 104_729) % 5_000_000,
                    (symbol + m) % 10_000
                )
                .unwrap();
                written += 1;
            }
            symbol += 1;
        }
        out
    }

    /// Measures parse speed. Run with
    /// `cargo test -p spine-cli --release --lib parse_speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "speed measurement; run explicitly in release"]
    fn parse_speed() {
        let rows = 2_000_000;
        let data = synthetic_file(rows, 40);
        let start = std::time::Instant::now();
        let mut reader = FinraReader::new(data.as_slice()).unwrap();
        let mut shares = 0i64;
        for line in reader.by_ref() {
            if let Line::Accepted(row) = line.unwrap() {
                shares = shares.wrapping_add(row.shares());
            }
        }
        let elapsed = start.elapsed();
        let stats = reader.stats();
        assert_eq!(stats.accepted, rows as u64);
        println!(
            "parsed {rows} rows ({:.1} MB) in {elapsed:?}: {:.2} M rows/s, {:.0} MB/s (checksum {shares})",
            data.len() as f64 / 1e6,
            rows as f64 / elapsed.as_secs_f64() / 1e6,
            data.len() as f64 / elapsed.as_secs_f64() / 1e6,
        );
    }

    #[test]
    fn overlong_symbol_or_mpid_is_rejected_not_stored() {
        let long_symbol = "S".repeat(MAX_SYMBOL_LEN + 1);
        let input = format!(
            "{}\nOTC|{long_symbol}|Name|Venue|OTCN|10|1|2025-12-15\nOTC|AABB|Name|Venue|{}|10|1|2025-12-15\nOTC|AABB|Name|Venue|OTCN|10|1|2025-12-15\n",
            EXPECTED_HEADER.join("|"),
            "M".repeat(MAX_MPID_LEN + 1)
        );
        let mut reader = FinraReader::new(input.as_bytes()).unwrap();
        let lines: Vec<Line> = reader.by_ref().map(|l| l.unwrap()).collect();
        for (i, line) in lines.iter().take(2).enumerate() {
            match line {
                Line::Rejected(r) => {
                    assert_eq!(r.reason, RejectReason::FieldTooLong);
                    assert_eq!(r.line_number, i as u64 + 2);
                    assert!(r.detail.contains("characters"), "{}", r.detail);
                }
                other => panic!("expected a reject, got {other:?}"),
            }
        }
        assert!(matches!(lines[2], Line::Accepted(_)));
        assert_eq!(reader.stats().rejected, 2);
    }

    /// Collects the rejects of a parse.
    fn rejects_of(lines: &[Line]) -> Vec<&Reject> {
        lines
            .iter()
            .filter_map(|l| match l {
                Line::Rejected(r) => Some(r),
                Line::Accepted(_) => None,
            })
            .collect()
    }

    const MAX: i64 = i64::MAX;

    /// Would have failed before: every line here was accepted, and the calcs' totals then
    /// overflowed at NORMALIZED, failing the whole file without a line number.
    #[test]
    fn a_quantity_that_overflows_a_running_total_is_rejected_by_its_own_line() {
        let (lines, stats) = parse(&format!(
            "OTC|AB|n|p|M1|5|1|2025-12-15\n\
             OTC|AB|n|p|M2|{MAX}|1|2025-12-15\n\
             OTC|CD|n|p|M1|{MAX}|1|2025-12-15\n\
             OTC|EF|n|p|M9|{MAX}|0|2025-12-15\n\
             OTC|GH|n|p|M8|0|{MAX}|2025-12-15\n\
             OTC|AB|n|p|M2|7|1|2025-12-15\n"
        ));
        let rejects = rejects_of(&lines);
        let expected = [
            (
                3,
                "totalWeeklyShareQuantity",
                "symbol `AB` shares (5 so far",
            ),
            (4, "totalWeeklyShareQuantity", "venue `M1` shares (5 so far"),
            (5, "totalWeeklyShareQuantity", "tier OTC shares (5 so far"),
            (6, "totalWeeklyTradeCount", "tier OTC trades (1 so far"),
        ];
        assert_eq!(rejects.len(), expected.len(), "{rejects:?}");
        for (r, (line, column, total)) in rejects.iter().zip(expected) {
            assert_eq!(r.reason, RejectReason::TotalOverflow);
            assert_eq!(r.reason.code(), "TOTAL_OVERFLOW");
            assert_eq!(r.line_number, line);
            assert!(r.detail.contains(column), "{}", r.detail);
            assert!(r.detail.contains(total), "{}", r.detail);
        }
        // A refused row claims neither its pair nor anything of the totals.
        assert!(matches!(&lines[5], Line::Accepted(r) if r.line_number() == 7 && r.shares() == 7));
        assert_eq!(stats.accepted, 2);
        assert_eq!(stats.distinct_symbols, 1, "EF and GH were never accepted");
        assert_eq!(stats.distinct_mpids, 2);
        // The largest quantity alone is fine, and so is reaching the maximum exactly.
        let (_, stats) = parse(&format!(
            "OTC|AB|n|p|M1|{}|0|2025-12-15\nOTC|CD|n|p|M2|1|{MAX}|2025-12-15\n",
            MAX - 1
        ));
        assert_eq!(stats.accepted, 2);
    }

    /// The totals the calcs compute from accepted rows never overflow, however large the
    /// quantities: random files with huge quantities go through the parser, and every accepted
    /// row goes into the calcs' accumulator of its tier without an error.
    #[test]
    fn calcs_over_the_accepted_rows_never_overflow() {
        use crate::calcs::WeekAccumulator;
        let friday = date(2025, 12, 19);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let mut body = String::new();
            let rows = 1 + rng.below(40);
            for _ in 0..rows {
                let tier = Tier::FINRA_DESCRIPTIONS[rng.below(3) as usize];
                let big = |rng: &mut XorShift| match rng.below(4) {
                    0 => rng.below(1000) as i64,
                    1 => MAX - rng.below(3) as i64,
                    2 => MAX / 2 + rng.below(3) as i64,
                    _ => MAX / 3,
                };
                body.push_str(&format!(
                    "{tier}|S{}|n|p|M{}|{}|{}|2025-12-15\n",
                    rng.below(5),
                    rng.below(5),
                    big(&mut rng),
                    big(&mut rng)
                ));
            }
            let (lines, stats) = parse(&body);
            assert_eq!(stats.rows_read, stats.accepted + stats.rejected);
            let mut accs: Vec<WeekAccumulator> = Tier::ALL
                .iter()
                .map(|t| WeekAccumulator::new(friday, *t).unwrap())
                .collect();
            for line in &lines {
                if let Line::Accepted(row) = line {
                    let acc = accs.iter_mut().find(|a| a.tier() == row.tier()).unwrap();
                    acc.push(row).unwrap_or_else(|e| panic!("{e}\n{body}"));
                }
            }
            for acc in accs {
                acc.finish();
            }
        }
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

    fn stamps(text: &[u8]) -> Option<(NaiveDate, StampCounts)> {
        dominant_last_update(text).unwrap()
    }

    #[test]
    fn the_dominant_stamp_is_the_most_frequent_valid_one_ties_to_the_latest() {
        let body = format!(
            "{HEADER}\r\nOTC|A|n|p|M|1|1|2025-12-15\r\n\nOTC|B|n|p|M|1|1|1900-01-01\n\
             OTC|C|n|p|M|1|1|2025-12-15\nOTC|D|n|p|M|1|1|2025-02-30\nOTC|E|n|p|M|1|1|\"2025-12-15\"\n\
             garbage\nOTC|F|n|p|M|1|1|1900-01-01"
        );
        let (dominant, counts) = stamps(body.as_bytes()).unwrap();
        assert_eq!(dominant, date(2025, 12, 15));
        assert_eq!(counts.lines_with(date(2025, 12, 15)), 3);
        assert_eq!(counts.lines_with(date(1900, 1, 1)), 2);
        assert_eq!(counts.valid_lines(), 5);
        assert_eq!(counts.invalid, 2, "2025-02-30 and `garbage`");
        // A tie goes to the latest stamp, whatever the order of the lines.
        let tie = format!(
            "{HEADER}\nOTC|A|n|p|M|1|1|2025-12-22\nOTC|B|n|p|M|1|1|2025-12-15\n\
             OTC|C|n|p|M|1|1|2025-12-15\nOTC|D|n|p|M|1|1|2025-12-22\n"
        );
        assert_eq!(stamps(tie.as_bytes()).unwrap().0, date(2025, 12, 22));
        // No valid stamp at all, or no line after the header: no stamp.
        assert!(stamps(format!("{HEADER}\nOTC|A|n|p|M|1|1|x\n").as_bytes()).is_none());
        assert!(stamps(b"").is_none());
        assert!(stamps(HEADER.as_bytes()).is_none());
        // Lines split across reads and a line longer than the scan's buffer are read whole.
        struct Dribble<'a>(&'a [u8]);
        impl Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let long = format!(
            "{HEADER}\nOTC|A|{}|p|M|1|1|2025-12-15\n{body}",
            "x".repeat(3 << 20),
            body = "OTC|B|n|p|M|1|1|2025-12-22\n".repeat(2)
        );
        let (dominant, counts) = dominant_last_update(Dribble(long.as_bytes()))
            .unwrap()
            .unwrap();
        assert_eq!(dominant, date(2025, 12, 22));
        assert_eq!(counts.valid_lines(), 3);
    }

    fn parse_with(body: &str, options: ReaderOptions) -> (Vec<Line>, ParseStats) {
        let text = format!("{HEADER}\n{body}");
        let mut reader = FinraReader::with_options(text.as_bytes(), options).unwrap();
        let lines: Vec<Line> = reader.by_ref().map(Result::unwrap).collect();
        (lines, reader.stats())
    }

    /// Would have failed before: a row stamped 1900-01-01 beside rows stamped 2025-12-15 was
    /// accepted silently.
    #[test]
    fn a_row_stamped_otherwise_than_the_file_is_rejected() {
        let body = format!(
            "{GOOD}\nOTC|B|n|p|M|1|1|1900-01-01\nOTC|C|n|p|M|1|1|2025-12-15\nOTC|D|n|p|M|1|1|2025-12-22\n"
        );
        let (dominant, _) = stamps(format!("{HEADER}\n{body}").as_bytes()).unwrap();
        let options = ReaderOptions {
            expected_last_update: Some(dominant),
            week_ending: None,
        };
        let (lines, stats) = parse_with(&body, options);
        let rejects = rejects_of(&lines);
        assert_eq!(rejects.len(), 2, "{rejects:?}");
        for (r, line, stamp) in [(rejects[0], 3, "1900-01-01"), (rejects[1], 5, "2025-12-22")] {
            assert_eq!(r.reason, RejectReason::InconsistentLastUpdate);
            assert_eq!(r.line_number, line);
            assert!(r.detail.contains(stamp), "{}", r.detail);
            assert!(r.detail.contains("2025-12-15"), "{}", r.detail);
        }
        assert_eq!(
            stats.last_update_range,
            Some((date(2025, 12, 15), date(2025, 12, 15)))
        );
        // Without the expectation the reader accepts them all, as before.
        let (_, stats) = parse(&body);
        assert_eq!(stats.accepted, 4);
    }

    /// Would have failed before: nothing checked a stamp against the week of the capture.
    #[test]
    fn a_stamp_before_the_week_or_over_400_days_after_it_is_implausible() {
        let week = WeekEnding::new(date(2025, 11, 14)).unwrap();
        let options = ReaderOptions {
            expected_last_update: None,
            week_ending: Some(week),
        };
        let body = "OTC|A|n|p|M|1|1|2025-11-13\nOTC|B|n|p|M|1|1|2025-11-14\n\
                    OTC|C|n|p|M|1|1|2026-12-19\nOTC|D|n|p|M|1|1|2026-12-20\n\
                    OTC|E|n|p|M|1|1|1900-01-01\n";
        let (lines, _) = parse_with(body, options);
        let rejects = rejects_of(&lines);
        assert_eq!(
            rejects
                .iter()
                .map(|r| (r.line_number, r.reason))
                .collect::<Vec<_>>(),
            [
                (2, RejectReason::ImplausibleLastUpdate),
                (5, RejectReason::ImplausibleLastUpdate),
                (6, RejectReason::ImplausibleLastUpdate),
            ]
        );
        assert!(
            rejects[0]
                .detail
                .contains("before the week ending 2025-11-14")
        );
        assert!(
            rejects[1].detail.contains("401 days after"),
            "{}",
            rejects[1].detail
        );
        // 2026-12-19 is 400 days after: the last plausible stamp.
        assert!(implausible_last_update(date(2026, 12, 19), week).is_none());
        // With both expectations, a row that is not the file's stamp is inconsistent first.
        let both = ReaderOptions {
            expected_last_update: Some(date(2025, 12, 15)),
            week_ending: Some(week),
        };
        let (lines, _) = parse_with(body, both);
        assert!(
            rejects_of(&lines)
                .iter()
                .all(|r| r.reason == RejectReason::InconsistentLastUpdate)
        );
    }

    /// Would have failed before: `"OTCY"` was a venue of its own, and a key field's stray quote
    /// went through.
    #[test]
    fn wholly_quoted_fields_are_unquoted_and_stray_quotes_in_key_fields_are_rejects() {
        let (lines, stats) = parse(concat!(
            "OTC|AB|n|p|OTCY|1|1|2025-12-15\n",
            "OTC|AB|n|p|\"OTCY\"|1|1|2025-12-15\n",
            "\"OTC\"|CD|\"ACME \"\"A\"\" SHARES\"|p|\"OTCY\"|\"5\"|1|2025-12-15\n",
            "OTC|EF|ACME \"A\" SHARES|\"The \"X\" ATS\"|OTCY|1|1|2025-12-15\n",
            "OTC|GH|n|p|\"OTCY|1|1|2025-12-15\n",
            "OTC|GH|n|p|OTCY\"|1|1|2025-12-15\n",
            "OTC|BRK\"B|n|p|OTCY|1|1|2025-12-15\n",
            "OTC|\"A\"B\"|n|p|OTCY|1|1|2025-12-15\n",
            "OTC|IJ|n|p|OTCY|1|1|\"2025-12-15\n",
        ));
        // Line 3 is the venue OTCY, so it repeats line 2's pair.
        assert!(
            matches!(&lines[1], Line::Rejected(r) if r.reason == RejectReason::DuplicateSymbolMpid && r.line_number == 3 && r.raw_line == "OTC|AB|n|p|\"OTCY\"|1|1|2025-12-15")
        );
        let Line::Accepted(row) = &lines[2] else {
            panic!("{lines:?}")
        };
        assert_eq!(row.line_number(), 4);
        assert_eq!(row.tier(), Tier::Otc);
        assert_eq!(row.mpid(), "OTCY");
        assert_eq!(row.issue_name(), "ACME \"A\" SHARES");
        assert_eq!(row.shares(), 5);
        assert_eq!(
            row.raw().line(),
            "OTC|CD|ACME \"A\" SHARES|p|OTCY|5|1|2025-12-15"
        );
        assert_eq!(
            row.source_line(),
            b"\"OTC\"|CD|\"ACME \"\"A\"\" SHARES\"|p|\"OTCY\"|\"5\"|1|2025-12-15"
        );
        // RAW's stored line splits back into the same fields.
        let again = RawFields::from_line(row.raw().line().to_string()).unwrap();
        assert_eq!(again.fields(), row.raw().fields());
        // Quotes in descriptive fields that are not a whole-field quoting stay as they are.
        let Line::Accepted(row) = &lines[3] else {
            panic!("{lines:?}")
        };
        assert_eq!(row.issue_name(), "ACME \"A\" SHARES");
        assert_eq!(row.participant_name(), "\"The \"X\" ATS\"");
        assert_eq!(row.source_line(), row.raw().line().as_bytes());
        let bad: Vec<(u64, &str)> = rejects_of(&lines)
            .iter()
            .filter(|r| r.reason == RejectReason::BadQuoting)
            .map(|r| (r.line_number, r.detail.as_str()))
            .collect();
        assert_eq!(
            bad.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [6, 7, 8, 9, 10]
        );
        assert!(bad[0].1.contains("MPID `\"OTCY`"), "{}", bad[0].1);
        assert!(bad[2].1.contains("issueSymbolIdentifier"), "{}", bad[2].1);
        assert!(bad[4].1.contains("lastUpdateDate"), "{}", bad[4].1);
        assert_eq!(
            stats.unquoted_fields, 4,
            "line 4's tier, name, MPID, shares"
        );
        assert_eq!(stats.distinct_mpids, 1);
    }

    /// Would have failed before: a Latin-1 byte in a company name rejected the whole row as
    /// INVALID_UTF8, losing its volume.
    #[test]
    fn a_windows_1252_descriptive_field_is_repaired_and_the_row_kept() {
        let mut text = format!("{HEADER}\n{GOOD}\n").into_bytes();
        text.extend_from_slice(b"OTC|AB|Caf\xE9 \x93Best\x94 Inc|M\xFCller ATS|M|5|1|2025-12-15\n");
        text.extend_from_slice(b"OTC|CD|Caf\xC3\xA9|p|M|6|1|2025-12-15\n");
        text.extend_from_slice(b"OTC|EF|n|p|M\xE9|7|1|2025-12-15\n");
        for i in 0..12 {
            text.extend_from_slice(format!("OTC|R{i}|n").as_bytes());
            text.extend_from_slice(b"\xE9|p|M|1|1|2025-12-15\n");
        }
        let mut reader = FinraReader::new(text.as_slice()).unwrap();
        let lines: Vec<Line> = reader.by_ref().map(Result::unwrap).collect();
        let stats = reader.stats();
        let Line::Accepted(row) = &lines[1] else {
            panic!("{lines:?}")
        };
        assert_eq!(row.line_number(), 3);
        assert_eq!(row.issue_name(), "Café “Best” Inc");
        assert_eq!(row.participant_name(), "Müller ATS");
        assert_eq!(row.shares(), 5);
        assert_eq!(
            row.source_line(),
            b"OTC|AB|Caf\xE9 \x93Best\x94 Inc|M\xFCller ATS|M|5|1|2025-12-15"
        );
        // Valid UTF-8 is never re-decoded.
        assert!(matches!(&lines[2], Line::Accepted(r) if r.issue_name() == "Café"));
        // A key field is never guessed at.
        assert!(
            matches!(&lines[3], Line::Rejected(r) if r.reason == RejectReason::InvalidUtf8 && r.line_number == 5)
        );
        assert_eq!(stats.repaired_rows, 13);
        assert_eq!(
            stats.repaired_lines,
            [3, 6, 7, 8, 9, 10, 11, 12, 13, 14],
            "the first {MAX_REPAIRED_LINES}"
        );
        assert_eq!(stats.rejected, 1);
    }

    /// Would have failed before: a NUL in a line was accepted (or, in a rejected line, kept in
    /// its raw text), and PostgreSQL then refused the whole stage.
    #[test]
    fn control_characters_reject_their_line_naming_the_column() {
        let mut text = format!("{HEADER}\n").into_bytes();
        for line in [
            &b"OTC|AB|Na\x00me|p|M|5|1|2025-12-15"[..],
            b"OTC|AB|n|p|M\x7F|5|1|2025-12-15",
            b"OTC|AB|n|p|M|5|1|2025-12-15\x1b[31m",
            b"OTC|AB|n\rx|p|M|5|1|2025-12-15",
            b"OTC|AB|n|p|M|5|1|2025-12-15|extra\x00",
            b"\x00",
            b"OTC|AB|Tab\tName|p|M|5|1|2025-12-15\r",
        ] {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        let mut reader = FinraReader::new(text.as_slice()).unwrap();
        let lines: Vec<Line> = reader.by_ref().map(Result::unwrap).collect();
        let expected = [
            (
                2,
                "0x00 (NUL) in issueName",
                "OTC|AB|Na\\x00me|p|M|5|1|2025-12-15",
            ),
            (3, "0x7F (DEL) in MPID", "OTC|AB|n|p|M\\x7F|5|1|2025-12-15"),
            (
                4,
                "0x1B (ESC) in lastUpdateDate",
                "OTC|AB|n|p|M|5|1|2025-12-15\\x1B[31m",
            ),
            (
                5,
                "0x0D (CR) in issueName",
                "OTC|AB|n\\x0Dx|p|M|5|1|2025-12-15",
            ),
            (
                6,
                "in field 9 (beyond the 8 FINRA defines)",
                "OTC|AB|n|p|M|5|1|2025-12-15|extra\\x00",
            ),
            (7, "in tierDescription", "\\x00"),
        ];
        for (line, (number, detail, raw)) in lines.iter().zip(expected) {
            let Line::Rejected(r) = line else {
                panic!("{lines:?}")
            };
            assert_eq!(r.reason, RejectReason::ControlCharacter);
            assert_eq!(r.line_number, number);
            assert!(r.detail.contains(detail), "{}", r.detail);
            assert_eq!(r.raw_line, raw);
            assert!(!r.raw_line.contains('\0') && !r.detail.contains('\0'));
        }
        // A TAB is text, and a final `\r` is part of the terminator.
        assert!(
            matches!(&lines[6], Line::Accepted(r) if r.issue_name() == "Tab\tName" && r.last_update() == date(2025, 12, 15))
        );
    }

    /// Would have failed before: a reject's raw line was lossily decoded, so its bytes could not
    /// be recovered, and a NUL or control byte went into it as is.
    #[test]
    fn escape_raw_round_trips_every_byte_string() {
        assert_eq!(escape_raw(b"OTC|AB|Caf\xC3\xA9|p"), "OTC|AB|Café|p");
        assert_eq!(escape_raw(b"a\\b"), "a\\\\b");
        assert_eq!(escape_raw(b"\x00\t\x1b\x7f\xff"), "\\x00\t\\x1B\\x7F\\xFF");
        assert_eq!(
            escape_raw("\u{9b}".as_bytes()),
            "\\xC2\\x9B",
            "C1 controls too"
        );
        assert_eq!(escape_raw(b"\\x41"), "\\\\x41");
        assert_eq!(unescape_raw("\\\\x41"), b"\\x41");
        // Text escape_raw never writes still has an answer: kept literally.
        assert_eq!(unescape_raw("a\\qb\\x4\\"), b"a\\qb\\x4\\");
        let alphabet: &[&[u8]] = &[
            b"\\",
            b"x",
            b"4",
            b"F",
            b"a",
            b"|",
            b"\t",
            b"\x00",
            b"\x1b",
            b"\x7f",
            b"\x80",
            b"\xff",
            b"\xc3",
            b"\xa9",
            "é".as_bytes(),
            "€".as_bytes(),
            "\u{85}".as_bytes(),
            "😀".as_bytes(),
            b"\xf0\x9f",
            b"\r",
            b"\n",
            b" ",
        ];
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.below(4) == 0 {
                    bytes.push(rng.next() as u8);
                } else {
                    bytes.extend_from_slice(alphabet[rng.below(alphabet.len() as u64) as usize]);
                }
            }
            let escaped = escape_raw(&bytes);
            assert_eq!(unescape_raw(&escaped), bytes, "{escaped}");
            assert!(
                escaped.chars().all(|c| c == '\t' || !c.is_control()),
                "{escaped:?}"
            );
            if let Ok(text) = std::str::from_utf8(&bytes)
                && !text.contains('\\')
                && text.chars().all(|c| c == '\t' || !c.is_control())
            {
                assert_eq!(escaped, text);
            }
        }
    }

    #[test]
    fn a_wrong_header_is_reported_escaped() {
        let err = FinraReader::new(&b"tier\x00|x\n"[..]).unwrap_err();
        assert!(
            matches!(&err, ParseError::WrongHeader { actual, .. } if actual == "tier\\x00|x"),
            "{err}"
        );
    }
}
