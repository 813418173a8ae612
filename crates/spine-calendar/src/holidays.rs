//! Exchange holiday files: one JSON document per (exchange, year) listing full-day closures.
//!
//! ```json
//! {"exchange_code":"XNYS","year":2025,"holidays":[{"date":"2025-01-01","name":"New Year's Day"}]}
//! ```
//!
//! Why a file per exchange-year: it is the unit an exchange announces, so it is the unit the
//! `reference.exchange_calendar` domain captures (partition key `{"exchange_code":…,"year":…}`),
//! revises and depends on. A file is validated as a whole when parsed — a typo'd date, a date in
//! the wrong year, a weekend or a repeated date is an error naming the field and value, never a
//! calendar that silently counts a closed day as open. Early closes (half days) are trading days
//! and are not listed.
//!
//! Market Spine ships the NYSE (`XNYS`) closures for 2010–2035 ([`shipped_calendars`]), computed
//! from the exchange's rules and its special closures.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use spine_model::PartitionKey;

/// The partition-key entry naming the exchange (an ISO 10383 MIC such as `XNYS`).
pub const EXCHANGE_CODE_KEY: &str = "exchange_code";
/// The partition-key entry naming the calendar year.
pub const YEAR_KEY: &str = "year";

/// The kind of closure every holiday in these files is (the `closure` column of
/// `ref_calendar_holidays`): only full-day closures are listed; early closes are trading days.
pub const FULL_DAY_CLOSURE: &str = "FULL_DAY";

/// The earliest year a holiday file may describe; guards date arithmetic against nonsense years.
pub const MIN_YEAR: i32 = 1900;
/// The latest year a holiday file may describe.
pub const MAX_YEAR: i32 = 2200;

/// Why a holiday file was refused. Each variant names the JSON field (`year`,
/// `holidays[3].date`, …) and the offending value, so the file can be fixed without a debugger.
#[derive(Debug, thiserror::Error)]
pub enum HolidayFileError {
    /// The text is not JSON of the expected shape (missing or unknown field, wrong type).
    #[error("not a valid holiday calendar document: {0}")]
    Json(#[from] serde_json::Error),
    /// `exchange_code` is not an ISO 10383 MIC.
    #[error(
        "exchange_code `{value}` is not an ISO 10383 market identifier code \
         (four upper-case letters or digits, such as XNYS)"
    )]
    BadExchangeCode {
        /// The value found.
        value: String,
    },
    /// `year` is outside the supported range.
    #[error("year `{value}` is outside the supported range {MIN_YEAR}..={MAX_YEAR}")]
    BadYear {
        /// The value found.
        value: i32,
    },
    /// A `date` is not a valid `YYYY-MM-DD` date.
    #[error("holidays[{index}].date `{value}` is not a valid YYYY-MM-DD date")]
    BadDate {
        /// Position in the `holidays` array.
        index: usize,
        /// The value found.
        value: String,
    },
    /// A `date` is in another year than the file's `year`.
    #[error("holidays[{index}].date `{date}` is not in the file's year {year}")]
    YearMismatch {
        /// Position in the `holidays` array.
        index: usize,
        /// The date found.
        date: NaiveDate,
        /// The file's `year`.
        year: i32,
    },
    /// A `date` is a Saturday or Sunday: exchanges list the weekday a holiday is observed on, so a
    /// weekend date is a mistake (it would change no count and hide the real closure).
    #[error(
        "holidays[{index}].date `{date}` is a {weekday}; list the weekday the closure is observed on"
    )]
    WeekendDate {
        /// Position in the `holidays` array.
        index: usize,
        /// The date found.
        date: NaiveDate,
        /// Its weekday.
        weekday: Weekday,
    },
    /// A `date` appears twice.
    #[error("holidays[{index}].date `{date}` repeats holidays[{first_index}].date")]
    DuplicateDate {
        /// Position of the repeat in the `holidays` array.
        index: usize,
        /// Position of the first occurrence.
        first_index: usize,
        /// The repeated date.
        date: NaiveDate,
    },
    /// A `name` is empty or blank: every closure must say why the exchange is closed.
    #[error("holidays[{index}].name is empty (date {date})")]
    EmptyName {
        /// Position in the `holidays` array.
        index: usize,
        /// The date of the unnamed closure.
        date: NaiveDate,
    },
}

/// One full-day closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    /// The weekday the exchange is closed.
    pub date: NaiveDate,
    /// Why it is closed, e.g. `Independence Day (observed)`.
    pub name: String,
}

/// A validated holiday file: one exchange, one year, its full-day closures sorted by date.
///
/// Fields are private so a calendar can only exist validated; serializing it gives back the file
/// format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolidayCalendar {
    exchange_code: String,
    year: i32,
    holidays: Vec<Holiday>,
}

/// The file format as written, before validation (dates still text so errors can quote them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    exchange_code: String,
    year: i32,
    holidays: Vec<HolidayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    date: String,
    name: String,
}

impl HolidayCalendar {
    /// Parses and validates a holiday file's JSON text.
    pub fn from_json(text: &str) -> Result<HolidayCalendar, HolidayFileError> {
        let file: HolidayFile = serde_json::from_str(text)?;
        let mut holidays = Vec::with_capacity(file.holidays.len());
        for (index, entry) in file.holidays.into_iter().enumerate() {
            let date = NaiveDate::parse_from_str(&entry.date, "%Y-%m-%d")
                .ok()
                .filter(|d| d.format("%Y-%m-%d").to_string() == entry.date)
                .ok_or(HolidayFileError::BadDate {
                    index,
                    value: entry.date,
                })?;
            holidays.push(Holiday {
                date,
                name: entry.name,
            });
        }
        HolidayCalendar::new(file.exchange_code, file.year, holidays)
    }

    /// Builds a calendar from typed values, with the same validation as [`Self::from_json`]
    /// (errors index `holidays` in the order given). Holidays may come in any order.
    pub fn new(
        exchange_code: impl Into<String>,
        year: i32,
        mut holidays: Vec<Holiday>,
    ) -> Result<HolidayCalendar, HolidayFileError> {
        let exchange_code = exchange_code.into();
        let is_mic = exchange_code.len() == 4
            && exchange_code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !is_mic {
            return Err(HolidayFileError::BadExchangeCode {
                value: exchange_code,
            });
        }
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(HolidayFileError::BadYear { value: year });
        }
        let mut first_seen: HashMap<NaiveDate, usize> = HashMap::new();
        for (index, holiday) in holidays.iter().enumerate() {
            let date = holiday.date;
            if date.year() != year {
                return Err(HolidayFileError::YearMismatch { index, date, year });
            }
            if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(HolidayFileError::WeekendDate {
                    index,
                    date,
                    weekday: date.weekday(),
                });
            }
            if let Some(&first_index) = first_seen.get(&date) {
                return Err(HolidayFileError::DuplicateDate {
                    index,
                    first_index,
                    date,
                });
            }
            first_seen.insert(date, index);
            if holiday.name.trim().is_empty() {
                return Err(HolidayFileError::EmptyName { index, date });
            }
        }
        holidays.sort_by_key(|h| h.date);
        Ok(HolidayCalendar {
            exchange_code,
            year,
            holidays,
        })
    }

    /// The exchange's ISO 10383 MIC, e.g. `XNYS`.
    pub fn exchange_code(&self) -> &str {
        &self.exchange_code
    }

    /// The calendar year the file covers.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The full-day closures, sorted by date.
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// The closure on `date`, if the exchange is closed that weekday.
    pub fn closure(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays
            .binary_search_by_key(&date, |h| h.date)
            .ok()
            .map(|i| &self.holidays[i])
    }

    /// The partition of `reference.exchange_calendar` this file is captured under:
    /// `{"exchange_code":"XNYS","year":"2025"}`.
    pub fn partition_key(&self) -> PartitionKey {
        PartitionKey::new()
            .with(EXCHANGE_CODE_KEY, self.exchange_code.clone())
            .with(YEAR_KEY, self.year.to_string())
    }

    /// The canonical JSON text of this calendar (the file format, holidays sorted).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a calendar always serializes")
    }
}

/// The years Market Spine ships a calendar for: every year FINRA has data, and a decade ahead.
pub const SHIPPED_YEARS: std::ops::RangeInclusive<i32> =
    spine_rules::xnys::RULES_FIRST_YEAR..=spine_rules::xnys::RULES_LAST_YEAR;

/// The holiday files Market Spine ships: `(file name, JSON text)` for XNYS, one per year of
/// [`SHIPPED_YEARS`], oldest first, computed from the exchange's rules and its special closures
/// (`spine_rules::xnys`).
///
/// Shipped so a fresh installation can compute trading days for any week FINRA has data for,
/// without a download; they are ingested like any other file, and a file an operator loads later
/// (a correction, an unscheduled closure) supersedes them.
pub fn shipped_calendars() -> Vec<(String, String)> {
    SHIPPED_YEARS
        .map(|year| (format!("xnys_{year}.json"), computed_xnys(year)))
        .collect()
}

/// The XNYS holiday file of `year`, computed, in the one text format Market Spine writes: the
/// same bytes for the same closures (the content hash, and so the capture id, is stable).
pub fn computed_xnys(year: i32) -> String {
    let closures = spine_rules::xnys::closures(year);
    let mut text = format!(
        "{{\n  \"exchange_code\": \"{}\",\n  \"year\": {year},\n  \"holidays\": [\n",
        spine_rules::xnys::MIC
    );
    for (i, c) in closures.iter().enumerate() {
        let name = serde_json::to_string(c.name).expect("a string serializes");
        let comma = if i + 1 < closures.len() { "," } else { "" };
        text.push_str(&format!(
            "    {{ \"date\": \"{}\", \"name\": {name} }}{comma}\n",
            c.date.format("%Y-%m-%d")
        ));
    }
    text.push_str("  ]\n}\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn doc(year: i32, dates: &[&str]) -> String {
        let holidays: Vec<String> = dates
            .iter()
            .map(|d| format!(r#"{{"date":"{d}","name":"Closure"}}"#))
            .collect();
        format!(
            r#"{{"exchange_code":"XNYS","year":{year},"holidays":[{}]}}"#,
            holidays.join(",")
        )
    }

    #[test]
    fn parses_and_sorts_a_valid_file() {
        let cal = HolidayCalendar::from_json(&doc(2025, &["2025-12-25", "2025-01-01"])).unwrap();
        assert_eq!(cal.exchange_code(), "XNYS");
        assert_eq!(cal.year(), 2025);
        let dates: Vec<NaiveDate> = cal.holidays().iter().map(|h| h.date).collect();
        assert_eq!(dates, [date(2025, 1, 1), date(2025, 12, 25)]);
        assert_eq!(cal.closure(date(2025, 12, 25)).unwrap().name, "Closure");
        assert!(cal.closure(date(2025, 12, 24)).is_none());
        assert_eq!(
            cal.partition_key().canonical(),
            r#"{"exchange_code":"XNYS","year":"2025"}"#
        );
        // The canonical JSON is the file format again.
        assert_eq!(HolidayCalendar::from_json(&cal.to_json()).unwrap(), cal);
    }

    #[test]
    fn year_mismatch_names_field_and_value() {
        let err =
            HolidayCalendar::from_json(&doc(2025, &["2025-01-01", "2024-12-25"])).unwrap_err();
        assert!(matches!(
            err,
            HolidayFileError::YearMismatch {
                index: 1,
                year: 2025,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "holidays[1].date `2024-12-25` is not in the file's year 2025"
        );
    }

    #[test]
    fn weekend_date_is_refused() {
        let err = HolidayCalendar::from_json(&doc(2026, &["2026-07-04"])).unwrap_err();
        assert!(matches!(
            err,
            HolidayFileError::WeekendDate {
                index: 0,
                weekday: Weekday::Sat,
                ..
            }
        ));
        assert!(err.to_string().contains("`2026-07-04` is a Sat"), "{err}");
    }

    #[test]
    fn duplicate_date_is_refused() {
        let err =
            HolidayCalendar::from_json(&doc(2025, &["2025-01-01", "2025-07-04", "2025-01-01"]))
                .unwrap_err();
        assert!(matches!(
            err,
            HolidayFileError::DuplicateDate {
                index: 2,
                first_index: 0,
                ..
            }
        ));
        assert!(
            err.to_string().contains("holidays[2].date `2025-01-01`"),
            "{err}"
        );
    }

    #[test]
    fn bad_date_is_refused() {
        for bad in [
            "2025-02-30",
            "2025-1-01",
            "01/01/2025",
            "",
            "2025-01-01T00:00",
        ] {
            let err = HolidayCalendar::from_json(&doc(2025, &[bad])).unwrap_err();
            assert!(matches!(&err, HolidayFileError::BadDate { index: 0, value } if value == bad));
            assert!(
                err.to_string()
                    .contains(&format!("holidays[0].date `{bad}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn other_file_level_errors() {
        let err =
            HolidayCalendar::from_json(r#"{"exchange_code":"nyse","year":2025,"holidays":[]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("exchange_code `nyse`"), "{err}");
        let err =
            HolidayCalendar::from_json(r#"{"exchange_code":"XNYS","year":99999,"holidays":[]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("year `99999`"), "{err}");
        let err =
            HolidayCalendar::from_json(r#"{"exchange_code":"XNYS","year":"2025","holidays":[]}"#)
                .unwrap_err();
        assert!(matches!(err, HolidayFileError::Json(_)), "{err}");
        let err = HolidayCalendar::from_json(
            r#"{"exchange_code":"XNYS","year":2025,"holidays":[],"early_closes":[]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("early_closes"), "{err}");
        let err = HolidayCalendar::from_json(
            r#"{"exchange_code":"XNYS","year":2025,"holidays":[{"date":"2025-01-01","name":" "}]}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, HolidayFileError::EmptyName { index: 0, .. }),
            "{err}"
        );
    }

    /// The computed calendars are byte for byte the files Market Spine shipped by hand for
    /// 2024–2026 (checked against the exchange's published lists): same bytes, same capture ids,
    /// so databases that loaded the old files see the computed ones as unchanged.
    #[test]
    fn computed_calendars_are_the_hand_written_files_byte_for_byte() {
        for (year, file) in [
            (2024, include_str!("../data/calendar/xnys_2024.json")),
            (2025, include_str!("../data/calendar/xnys_2025.json")),
            (2026, include_str!("../data/calendar/xnys_2026.json")),
        ] {
            assert_eq!(computed_xnys(year), file, "{year}");
        }
        // Every shipped year parses and validates.
        for (name, json) in shipped_calendars() {
            HolidayCalendar::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn shipped_calendars_are_the_real_nyse_closures() {
        let shipped: Vec<(String, String)> = shipped_calendars()
            .into_iter()
            .filter(|(name, _)| {
                ["xnys_2024.json", "xnys_2025.json", "xnys_2026.json"].contains(&name.as_str())
            })
            .collect();
        assert_eq!(shipped_calendars().len(), 26, "2010 to 2035");
        let expected: [(i32, &[(u32, u32)]); 3] = [
            (
                2024,
                &[
                    (1, 1),
                    (1, 15),
                    (2, 19),
                    (3, 29),
                    (5, 27),
                    (6, 19),
                    (7, 4),
                    (9, 2),
                    (11, 28),
                    (12, 25),
                ],
            ),
            (
                2025,
                &[
                    (1, 1),
                    (1, 9),
                    (1, 20),
                    (2, 17),
                    (4, 18),
                    (5, 26),
                    (6, 19),
                    (7, 4),
                    (9, 1),
                    (11, 27),
                    (12, 25),
                ],
            ),
            (
                2026,
                &[
                    (1, 1),
                    (1, 19),
                    (2, 16),
                    (4, 3),
                    (5, 25),
                    (6, 19),
                    (7, 3),
                    (9, 7),
                    (11, 26),
                    (12, 25),
                ],
            ),
        ];
        for ((name, json), (year, days)) in shipped.iter().zip(expected) {
            let cal = HolidayCalendar::from_json(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(cal.exchange_code(), "XNYS");
            assert_eq!(cal.year(), year);
            assert_eq!(*name, format!("xnys_{year}.json"));
            let dates: Vec<NaiveDate> = cal.holidays().iter().map(|h| h.date).collect();
            let want: Vec<NaiveDate> = days.iter().map(|(m, d)| date(year, *m, *d)).collect();
            assert_eq!(dates, want, "{name}");
        }
    }
}
