//! Streaming parser for FINRA OTC Transparency weekly files (the "parse/validate" stage).
//!
//! A FINRA weekly file is pipe-delimited text with the header [`EXPECTED_HEADER`] and one line per
//! (symbol, venue). This module turns a byte stream into a sequence of [`Line`]s, each either an
//! accepted, fully typed [`FinraRow`] or a [`Reject`] that says which physical line was bad and
//! why. Nothing is dropped silently: every non-blank line after the header is exactly one row read,
//! so `rows_read == accepted + rejected` always holds (see [`ParseStats`]).
//!
//! Why it is built this way:
//! - **Streaming.** Files can be large, so [`FinraReader`] reads from any [`std::io::Read`] through
//!   a fixed buffer and reuses one [`csv::ByteRecord`]; memory grows only with the number of
//!   distinct (symbol, MPID) pairs it must remember to detect duplicates.
//! - **Quotes are literal.** FINRA does not quote fields, and issue names contain `"`; with quoting
//!   off, every record is exactly one physical line and the raw line is recovered byte for byte by
//!   joining the fields with `|` ([`RawFields::line`]). The RAW stage stores that text.
//! - **Pure.** No database, no clock, no filesystem: the pipeline decides where bytes come from
//!   and where rows go.
//!
//! Conventions: line numbers are 1-based physical lines of the input (the header is line 1).
//! A line ending in `\r\n` is read as if it ended in `\n` (the `\r` is part of the terminator, not
//! of the last field). Blank lines — empty or only spaces and tabs — carry no data and are not
//! rows; they are counted in [`ParseStats::blank_lines`] so that an operator can still see them.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};

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
        /// The line that was found (lossily decoded if it is not UTF-8).
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
    /// The line is not valid UTF-8, so no field of it can be trusted.
    InvalidUtf8,
    /// `issueSymbolIdentifier` or `MPID` is longer than any real one (and than the store keeps):
    /// a shifted or garbled line, refused here rather than failing the whole stage later.
    FieldTooLong,
}

/// The longest `issueSymbolIdentifier` accepted (the store's column width).
pub const MAX_SYMBOL_LEN: usize = 32;
/// The longest `MPID` accepted (the store's column width; real MPIDs have four characters).
pub const MAX_MPID_LEN: usize = 16;

impl RejectReason {
    /// Every reason, in declaration order.
    pub const ALL: [RejectReason; 12] = [
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
    /// The machine-readable reason; the first failing check in column order wins.
    pub reason: RejectReason,
    /// A human explanation naming the field and its value.
    pub detail: String,
    /// The line as read, without its terminator (lossily decoded only for
    /// [`RejectReason::InvalidUtf8`]).
    pub raw_line: String,
}

/// The eight fields of an accepted line exactly as they appeared in the file.
///
/// Stored as the raw line plus field boundaries (one allocation per row), because the RAW stage
/// needs the exact text and the typed accessors of [`FinraRow`] can borrow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFields {
    line: String,
    /// Byte offset in `line` where each field ends (exclusive).
    ends: [usize; FIELD_COUNT],
}

impl RawFields {
    /// The physical line without its terminator: the eight fields joined with `|`.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// One field's text, exactly as in the file.
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
    /// quoting is off, so a `|` always separates and the split is exact. `None` when the line
    /// does not have exactly [`FIELD_COUNT`] fields, i.e. it was not an accepted line.
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

/// One accepted line: typed values plus the raw text they were read from.
///
/// Fields are private so that the typed values and the raw text can never disagree; the string
/// accessors borrow from the raw line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinraRow {
    line_number: u64,
    raw: RawFields,
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

    /// The raw fields, for the RAW stage.
    pub fn raw(&self) -> &RawFields {
        &self.raw
    }

    /// Gives up the raw fields without copying.
    pub fn into_raw(self) -> RawFields {
        self.raw
    }

    /// The tier, parsed from FINRA's exact `tierDescription`.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// `issueSymbolIdentifier`; never empty or blank.
    pub fn symbol(&self) -> &str {
        self.raw.get(FinraColumn::IssueSymbolIdentifier)
    }

    /// `issueName`, as in the file (may be empty; may contain quotes).
    pub fn issue_name(&self) -> &str {
        self.raw.get(FinraColumn::IssueName)
    }

    /// `marketParticipantName`, as in the file (may be empty).
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

/// The outcome of one non-blank line after the header.
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
    /// Non-blank lines after the header: always `accepted + rejected`.
    pub rows_read: u64,
    /// Lines returned as [`Line::Accepted`].
    pub accepted: u64,
    /// Lines returned as [`Line::Rejected`].
    pub rejected: u64,
    /// Rejects per reason (only reasons that occurred).
    pub rejects_by_reason: BTreeMap<RejectReason, u64>,
    /// Empty or whitespace-only lines, anywhere in the input: not rows, but worth seeing.
    pub blank_lines: u64,
    /// Accepted rows per tier (a FINRA file normally holds one tier).
    pub accepted_by_tier: BTreeMap<Tier, u64>,
    /// Distinct symbols among accepted rows.
    pub distinct_symbols: u64,
    /// Distinct MPIDs among accepted rows.
    pub distinct_mpids: u64,
    /// The earliest and latest `lastUpdateDate` among accepted rows, if any were accepted.
    pub last_update_range: Option<(NaiveDate, NaiveDate)>,
}

/// Counts bytes and remembers the last one, so the parser can tell whether the input ended in a
/// newline (which the CSV reader does not report) and detect a truncated final line.
struct Tracking<R> {
    inner: R,
    total: u64,
    last_byte: Option<u8>,
    eof: bool,
}

impl<R: Read> Read for Tracking<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.eof = true;
        } else {
            self.total += n as u64;
            self.last_byte = Some(buf[n - 1]);
        }
        Ok(n)
    }
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

/// Remembers which (symbol, MPID) pairs have been accepted and where, using small integer ids so
/// that a million-row file costs tens of megabytes rather than two strings per row.
///
/// Pairs are kept per symbol rather than in one big hash set: FINRA files are sorted by symbol,
/// so the current symbol's venues are always in cache.
#[derive(Default)]
struct SeenPairs {
    symbols: HashMap<Box<str>, u32>,
    mpids: HashMap<Box<str>, u32>,
    /// Indexed by symbol id: each accepted MPID id with its first line number.
    venues_by_symbol: Vec<VenueSet<u64>>,
    /// The previous row's symbol, usually the current one; the buffer is reused so the cache
    /// costs no allocation per row.
    last_symbol: String,
    last_symbol_id: Option<u32>,
}

impl SeenPairs {
    fn intern(map: &mut HashMap<Box<str>, u32>, s: &str) -> u32 {
        if let Some(&id) = map.get(s) {
            return id;
        }
        let id = u32::try_from(map.len()).expect("fewer than 2^32 distinct values");
        map.insert(s.into(), id);
        id
    }

    /// Records the pair and returns `None`, or returns the line where it was first seen.
    fn insert(&mut self, symbol: &str, mpid: &str, line_number: u64) -> Option<u64> {
        let symbol_id = match self.last_symbol_id {
            Some(id) if self.last_symbol == symbol => id,
            _ => {
                let id = Self::intern(&mut self.symbols, symbol);
                if id as usize == self.venues_by_symbol.len() {
                    self.venues_by_symbol.push(VenueSet::default());
                }
                self.last_symbol.clear();
                self.last_symbol.push_str(symbol);
                self.last_symbol_id = Some(id);
                id
            }
        };
        let mpid_id = Self::intern(&mut self.mpids, mpid);
        let venues = &mut self.venues_by_symbol[symbol_id as usize];
        if let Some(first) = venues.get(mpid_id) {
            return Some(first);
        }
        venues.insert(mpid_id, line_number);
        None
    }
}

/// Streams a FINRA OTC weekly file line by line.
///
/// Create it with [`FinraReader::new`] (which validates the header), then call
/// [`FinraReader::next_line`] (or iterate) until `None`; read [`FinraReader::stats`] at the end.
/// After a fatal [`ParseError`] the reader yields nothing more.
pub struct FinraReader<R: Read> {
    csv: csv::Reader<Tracking<R>>,
    record: csv::ByteRecord,
    /// Physical line number of the last record read (header included).
    last_line: u64,
    done: bool,
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

/// Joins byte fields with `|`, the inverse of splitting a line (quoting is off).
fn join_fields<'a>(fields: impl Iterator<Item = &'a [u8]>, capacity: usize) -> Vec<u8> {
    let mut line = Vec::with_capacity(capacity);
    for (i, field) in fields.enumerate() {
        if i > 0 {
            line.push(b'|');
        }
        line.extend_from_slice(field);
    }
    line
}

/// The header the parser expects, as one line.
fn expected_header_line() -> String {
    EXPECTED_HEADER.join("|")
}

impl<R: Read> FinraReader<R> {
    /// Starts reading `reader` and checks the header.
    ///
    /// Fails with [`ParseError::MissingHeader`] on an empty input, [`ParseError::WrongHeader`]
    /// when the first non-blank line is not exactly [`EXPECTED_HEADER`] (a leading UTF-8 byte
    /// order mark is tolerated), and [`ParseError::Io`] when reading fails.
    pub fn new(reader: R) -> Result<FinraReader<R>, ParseError> {
        let csv = csv::ReaderBuilder::new()
            .delimiter(b'|')
            .flexible(true)
            .quoting(false)
            .has_headers(false)
            // Only `\n` ends a record, so that csv's line count is the physical line count; a
            // `\r` before it is stripped from the last field below.
            .terminator(csv::Terminator::Any(b'\n'))
            .buffer_capacity(64 * 1024)
            .from_reader(Tracking {
                inner: reader,
                total: 0,
                last_byte: None,
                eof: false,
            });
        let mut this = FinraReader {
            csv,
            record: csv::ByteRecord::new(),
            last_line: 0,
            done: false,
            seen: SeenPairs::default(),
            stats: ParseStats::default(),
            rejects_by_reason: [0; RejectReason::ALL.len()],
            accepted_by_tier: [0; 3],
            last_date: None,
        };
        loop {
            let Some(line_number) = this.read_record()? else {
                return Err(ParseError::MissingHeader {
                    expected: expected_header_line(),
                });
            };
            if this.record_is_blank() {
                this.stats.blank_lines += 1;
                continue;
            }
            let fields = this.fields();
            let mut header: Vec<&[u8]> = fields.clone();
            if let Some(first) = header.first_mut() {
                *first = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first);
            }
            let matches = header.len() == FIELD_COUNT
                && header
                    .iter()
                    .zip(EXPECTED_HEADER)
                    .all(|(got, want)| *got == want.as_bytes());
            if !matches {
                let actual = join_fields(fields.into_iter(), 256);
                return Err(ParseError::WrongHeader {
                    line_number,
                    expected: expected_header_line(),
                    actual: String::from_utf8_lossy(&actual).into_owned(),
                });
            }
            return Ok(this);
        }
    }

    /// Reads the next line: `Some(Ok(Line))` for every non-blank line, `Some(Err(_))` once on a
    /// fatal I/O error, then `None` for ever.
    pub fn next_line(&mut self) -> Option<Result<Line, ParseError>> {
        if self.done {
            return None;
        }
        loop {
            let line_number = match self.read_record() {
                Ok(Some(n)) => n,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if self.record_is_blank() {
                self.stats.blank_lines += 1;
                continue;
            }
            let line = self.classify(line_number);
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
            return Some(Ok(line));
        }
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

    /// Reads one CSV record into `self.record` and returns its physical line number, counting
    /// the empty lines csv skips as blank lines. `Ok(None)` at the end of the input.
    fn read_record(&mut self) -> Result<Option<u64>, ParseError> {
        let more = self
            .csv
            .read_byte_record(&mut self.record)
            .map_err(|e| ParseError::Io {
                line_number: self.last_line + 1,
                source: match e.into_kind() {
                    csv::ErrorKind::Io(io) => io,
                    other => io::Error::other(format!("{other:?}")),
                },
            })?;
        // csv counts `\n` bytes consumed: after a record ending in `\n` its position is the
        // following line; after an unterminated last record it is the record's own line.
        let after = self.csv.position().line();
        if !more {
            let tracking = self.csv.get_ref();
            let physical_lines = match tracking.last_byte {
                None => 0,
                Some(b'\n') => after - 1,
                Some(_) => after,
            };
            self.stats.blank_lines += physical_lines.saturating_sub(self.last_line);
            self.last_line = physical_lines;
            return Ok(None);
        }
        let line = if self.at_unterminated_end() {
            after
        } else {
            after - 1
        };
        self.stats.blank_lines += line.saturating_sub(self.last_line + 1);
        self.last_line = line;
        Ok(Some(line))
    }

    /// True when the record just read ends the input without a final newline.
    fn at_unterminated_end(&self) -> bool {
        let tracking = self.csv.get_ref();
        tracking.eof
            && self.csv.position().byte() == tracking.total
            && tracking.last_byte != Some(b'\n')
    }

    /// The current record's fields, with the `\r` of a `\r\n` terminator removed.
    fn fields(&self) -> Vec<&[u8]> {
        let mut fields: Vec<&[u8]> = self.record.iter().collect();
        if let Some(last) = fields.last_mut() {
            *last = last.strip_suffix(b"\r").unwrap_or(last);
        }
        fields
    }

    /// True for a line that is empty or only spaces/tabs (csv skips truly empty lines itself).
    fn record_is_blank(&self) -> bool {
        self.record.len() == 1 && {
            let f = &self.record[0];
            f.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
        }
    }

    fn reject(line_number: u64, reason: RejectReason, detail: String, raw_line: String) -> Line {
        Line::Rejected(Reject {
            line_number,
            reason,
            detail,
            raw_line,
        })
    }

    /// Turns the current record into an accepted row or a reject.
    fn classify(&mut self, line_number: u64) -> Line {
        let n = self.record.len();
        if n != FIELD_COUNT {
            return self.classify_wrong_count(line_number);
        }
        // Build the raw line once: it is the row's storage and the reject's text.
        let mut ends = [0usize; FIELD_COUNT];
        let mut bytes = Vec::with_capacity(self.record.as_slice().len() + FIELD_COUNT);
        for (i, field) in self.record.iter().enumerate() {
            if i > 0 {
                bytes.push(b'|');
            }
            let field = if i == FIELD_COUNT - 1 {
                field.strip_suffix(b"\r").unwrap_or(field)
            } else {
                field
            };
            bytes.extend_from_slice(field);
            ends[i] = bytes.len();
        }
        let line = match String::from_utf8(bytes) {
            Ok(line) => line,
            Err(e) => {
                let raw = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let detail = format!(
                    "the line is not valid UTF-8 (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                );
                return Self::reject(line_number, RejectReason::InvalidUtf8, detail, raw);
            }
        };
        let raw = RawFields { line, ends };
        match self.validate(&raw) {
            Ok((tier, shares, trades, last_update)) => {
                let (symbol, mpid) = (
                    raw.get(FinraColumn::IssueSymbolIdentifier),
                    raw.get(FinraColumn::Mpid),
                );
                if let Some(first) = self.seen.insert(symbol, mpid, line_number) {
                    let detail = format!(
                        "{} `{symbol}` with {} `{mpid}` already appeared on line {first}; \
                         the first occurrence stands",
                        FinraColumn::IssueSymbolIdentifier,
                        FinraColumn::Mpid,
                    );
                    return Self::reject(
                        line_number,
                        RejectReason::DuplicateSymbolMpid,
                        detail,
                        raw.line,
                    );
                }
                Line::Accepted(FinraRow {
                    line_number,
                    raw,
                    tier,
                    shares,
                    trades,
                    last_update,
                })
            }
            Err((reason, detail)) => Self::reject(line_number, reason, detail, raw.line),
        }
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
        Ok((tier, shares, trades, last_update))
    }

    /// Classifies a line whose field count is not eight.
    fn classify_wrong_count(&self, line_number: u64) -> Line {
        let fields = self.fields();
        let raw_bytes = join_fields(fields.iter().copied(), self.record.as_slice().len() + 16);
        let raw_line = String::from_utf8_lossy(&raw_bytes).into_owned();
        let n = fields.len();
        if n == 1 && raw_bytes.split(|b| *b == b',').count() == FIELD_COUNT {
            let detail = format!(
                "the line has 1 `|`-separated field but {FIELD_COUNT} comma-separated ones: \
                 the file looks comma-delimited, FINRA's is pipe-delimited"
            );
            return Self::reject(line_number, RejectReason::CommaDelimited, detail, raw_line);
        }
        if n < FIELD_COUNT && self.at_unterminated_end() {
            let detail = format!(
                "the last line has {n} of {FIELD_COUNT} fields and no final newline: \
                 the file appears cut off after field {} ({})",
                n,
                EXPECTED_HEADER[n - 1]
            );
            return Self::reject(line_number, RejectReason::TruncatedLine, detail, raw_line);
        }
        let detail = format!("expected {FIELD_COUNT} `|`-separated fields, found {n}");
        Self::reject(line_number, RejectReason::WrongFieldCount, detail, raw_line)
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

    #[test]
    fn raw_line_round_trips_quotes_and_crlf() {
        let line = r#"NMS Tier 1|BRK"B|Berkshire "Hathaway" Inc|Firm, "X" LLC|ABCD|0|0|2025-01-06"#;
        let (lines, _) = parse(&format!("{line}\r\n{GOOD}"));
        let Line::Accepted(row) = &lines[0] else {
            panic!("{lines:?}")
        };
        assert_eq!(row.raw().line(), line);
        assert_eq!(row.raw().fields().join("|"), line);
        assert_eq!(row.symbol(), "BRK\"B");
        assert_eq!(row.issue_name(), "Berkshire \"Hathaway\" Inc");
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
        let r = only_reject(&format!("{GOOD}\n\nOTC||n|p|M|5|1|2025-12-15\n"));
        assert_eq!(r.reason, RejectReason::EmptySymbol);
        assert_eq!(
            r.line_number, 4,
            "blank line 3 still counts as a physical line"
        );
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

    #[test]
    fn invalid_utf8_is_a_reject_not_an_error() {
        let mut text = format!("{HEADER}\n").into_bytes();
        text.extend_from_slice(b"OTC|AB|Caf\xE9|p|M|5|1|2025-12-15\n");
        let mut reader = FinraReader::new(text.as_slice()).unwrap();
        let Some(Ok(Line::Rejected(r))) = reader.next_line() else {
            panic!()
        };
        assert_eq!(r.reason, RejectReason::InvalidUtf8);
        assert_eq!(r.line_number, 2);
        assert!(r.raw_line.starts_with("OTC|AB|Caf"));
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

    #[test]
    fn blank_lines_are_not_rows_but_are_counted() {
        let (lines, stats) = parse(&format!(
            "\n{GOOD}\n   \nOTC|X|n|p|M|1|1|2025-12-15\n\n\r\n\n"
        ));
        assert_eq!(lines.len(), 2);
        assert!(matches!(&lines[0], Line::Accepted(r) if r.line_number() == 3));
        assert!(matches!(&lines[1], Line::Accepted(r) if r.line_number() == 5));
        assert_eq!(stats.rows_read, 2);
        assert_eq!(stats.blank_lines, 5);
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
        assert_eq!(reader.stats().blank_lines, 0);
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
        assert_eq!(stats.blank_lines, 0);
        assert_eq!(symbols.len(), 3_111);
        assert_eq!(mpids.len(), 9);
        assert_eq!(stats.distinct_symbols, 3_111);
        assert_eq!(stats.distinct_mpids, 9);
        assert_eq!(
            stats.last_update_range,
            Some((date(2025, 12, 15), date(2025, 12, 15)))
        );
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
}
