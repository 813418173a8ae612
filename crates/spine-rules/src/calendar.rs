//! The one trading calendar: which days an exchange trades, trading-day counts per week and
//! month, and the due-time arithmetic of schedules all read this type.
//!
//! A trading day is a Monday–Friday that is not a full-day closure. Counts are what calcs such
//! as FINRA's "volume per trading day" divide by, so they must never guess: a calendar built from
//! yearly holiday lists ([`TradingCalendar::from_years`]) knows which years it covers, and
//! counting a weekday outside them is an error ([`TradingDaysError::NotCovered`]) rather than a
//! day silently counted as open. This matters for the first week of a year, whose Monday may fall
//! in the previous year (the week ending Friday 2025-01-03 starts Monday 2024-12-30): counting it
//! needs both years' calendars. Schedules, which only need "is this an exchange day" to push due
//! times past holidays, use [`TradingCalendar::new`], which treats every year as known.
//!
//! Weeks are named by their Friday (`week_ending`, DESIGN.md "Three clocks") and run Monday to
//! Friday; the Friday arithmetic itself is [`spine_model::WeekEnding`]'s.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Serialize;
use spine_model::WeekEnding;
use spine_model::week::is_friday;

/// Why a trading-day question could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TradingDaysError {
    /// A `week_ending` must be a Friday.
    #[error("week_ending {date} is a {weekday}, not a Friday")]
    NotAFriday {
        /// The date given.
        date: NaiveDate,
        /// Its weekday.
        weekday: Weekday,
    },
    /// A weekday falls in a year for which no calendar is loaded, so whether it is a trading day
    /// is unknown.
    #[error(
        "{date} is outside the loaded {exchange_code} calendars (years: {years:?}); \
         load the {exchange_code} calendar for {}",
        date.year()
    )]
    NotCovered {
        /// The weekday in question.
        date: NaiveDate,
        /// The exchange of the calendar asked.
        exchange_code: String,
        /// The years that are loaded.
        years: Vec<i32>,
    },
    /// A month number outside 1..=12 (or a year chrono cannot represent).
    #[error("{year}-{month} is not a valid month")]
    InvalidMonth {
        /// The year given.
        year: i32,
        /// The month given.
        month: u32,
    },
    /// A trading calendar needs at least one holiday file.
    #[error("no holiday calendars given")]
    NoCalendars,
    /// Holiday files of different exchanges cannot be merged into one calendar.
    #[error("cannot combine {first} and {other} holiday files into one trading calendar")]
    MixedExchanges {
        /// The exchange of the first file.
        first: String,
        /// The other exchange found.
        other: String,
    },
    /// Two holiday files for the same exchange and year: which one is current is the store's
    /// decision (latest capture), not this module's.
    #[error("two {exchange_code} holiday files for {year}")]
    DuplicateYear {
        /// The exchange.
        exchange_code: String,
        /// The repeated year.
        year: i32,
    },
}

/// One year's full-day closures of an exchange, as a holiday list announces them: the unit
/// [`TradingCalendar::from_years`] merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearClosures {
    /// The exchange's ISO 10383 MIC, e.g. `XNYS`.
    pub exchange_code: String,
    /// The calendar year.
    pub year: i32,
    /// Each closure's date and name.
    pub closures: Vec<(NaiveDate, String)>,
}

/// Which days an exchange trades: weekdays minus its full-day closures.
///
/// Built two ways. [`TradingCalendar::from_years`] merges yearly holiday lists and knows which
/// years it covers, so a count over an uncovered weekday is an error (calcs). [`TradingCalendar::new`]
/// takes bare closure dates and treats every year as known (schedules, which only push due times
/// past the holidays they are told about).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradingCalendar {
    exchange_code: String,
    /// `None`: every year counts as covered.
    years: Option<BTreeSet<i32>>,
    closures: BTreeMap<NaiveDate, String>,
}

impl TradingCalendar {
    /// A calendar closed on weekends and on each of `closures`, covering every year.
    pub fn new(closures: impl IntoIterator<Item = NaiveDate>) -> TradingCalendar {
        TradingCalendar {
            exchange_code: String::new(),
            years: None,
            closures: closures.into_iter().map(|d| (d, String::new())).collect(),
        }
    }

    /// A calendar closed on weekends only: what due times mean when no holidays are known.
    pub fn weekends_only() -> TradingCalendar {
        TradingCalendar::default()
    }

    /// Merges yearly closure lists of one exchange (years need not be contiguous); only those
    /// years are covered.
    pub fn from_years(
        years: impl IntoIterator<Item = YearClosures>,
    ) -> Result<TradingCalendar, TradingDaysError> {
        let mut merged: Option<(String, BTreeSet<i32>, BTreeMap<NaiveDate, String>)> = None;
        for year in years {
            let (exchange, covered, closures) = merged.get_or_insert_with(|| {
                (year.exchange_code.clone(), BTreeSet::new(), BTreeMap::new())
            });
            if year.exchange_code != *exchange {
                return Err(TradingDaysError::MixedExchanges {
                    first: exchange.clone(),
                    other: year.exchange_code,
                });
            }
            if !covered.insert(year.year) {
                return Err(TradingDaysError::DuplicateYear {
                    exchange_code: exchange.clone(),
                    year: year.year,
                });
            }
            closures.extend(year.closures);
        }
        let (exchange_code, years, closures) = merged.ok_or(TradingDaysError::NoCalendars)?;
        Ok(TradingCalendar {
            exchange_code,
            years: Some(years),
            closures,
        })
    }

    /// The exchange's ISO 10383 MIC (empty for a calendar built from bare dates).
    pub fn exchange_code(&self) -> &str {
        &self.exchange_code
    }

    /// The years covered, ascending (empty when every year counts as covered).
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().flatten().copied()
    }

    /// True when `date`'s year is covered.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.years
            .as_ref()
            .is_none_or(|years| years.contains(&date.year()))
    }

    /// The full-day closures this calendar knows (weekends are implied, not listed).
    pub fn closures(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.closures.keys().copied()
    }

    /// The name of the full-day closure on `date`, if any (for explanations in reports).
    pub fn closure_name(&self, date: NaiveDate) -> Option<&str> {
        self.closures.get(&date).map(String::as_str)
    }

    /// True when `date` is a weekday and not a closure (uncovered years count as open).
    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.closures.contains_key(&date)
    }

    /// Whether the exchange trades on `date`, refusing to guess: weekends are never trading days
    /// (and need no coverage); a weekday outside the covered years is
    /// [`TradingDaysError::NotCovered`].
    pub fn trading_day(&self, date: NaiveDate) -> Result<bool, TradingDaysError> {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return Ok(false);
        }
        if !self.covers(date) {
            return Err(TradingDaysError::NotCovered {
                date,
                exchange_code: self.exchange_code.clone(),
                years: self.years().collect(),
            });
        }
        Ok(!self.closures.contains_key(&date))
    }

    /// The first trading day strictly after `date`, or `None` past chrono's range.
    ///
    /// Always terminates: the closures are finite, so some later weekday is open.
    pub fn next_trading_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut d = date.succ_opt()?;
        while !self.is_trading_day(d) {
            d = d.succ_opt()?;
        }
        Some(d)
    }

    /// `date` itself when it trades, else the next trading day.
    pub fn trading_day_on_or_after(&self, date: NaiveDate) -> Option<NaiveDate> {
        if self.is_trading_day(date) {
            Some(date)
        } else {
            self.next_trading_day(date)
        }
    }

    /// Trading days from `start` to `end`, both inclusive (0 when `end < start`).
    pub fn trading_days_between(
        &self,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<u32, TradingDaysError> {
        let mut count = 0;
        for day in start.iter_days().take_while(|d| *d <= end) {
            if self.trading_day(day)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

/// Which kind of period a [`PeriodCount`] is (the `period_type` column of
/// `ref_calendar_trading_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PeriodType {
    /// A Monday–Friday week, named by its Friday.
    Week,
    /// A calendar month.
    Month,
}

impl PeriodType {
    /// The stored spelling: `WEEK` or `MONTH`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PeriodType::Week => "WEEK",
            PeriodType::Month => "MONTH",
        }
    }
}

impl std::fmt::Display for PeriodType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trading days of one period (a week or a month), as stored by the calendar calcs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PeriodCount {
    /// Week or month.
    pub period_type: PeriodType,
    /// First day of the period: the Monday of a week, the 1st of a month.
    pub period_start: NaiveDate,
    /// Last day of the period: the Friday (`week_ending`) of a week, the last day of a month.
    pub period_end: NaiveDate,
    /// Weekdays in the period that are not full-day closures.
    pub trading_days: u32,
}

/// Trading days in the Monday–Friday week ending `week_ending` (which must be a Friday).
pub fn trading_days_in_week(
    week_ending: NaiveDate,
    calendar: &TradingCalendar,
) -> Result<u32, TradingDaysError> {
    Ok(week_count(week_ending, calendar)?.trading_days)
}

/// Trading days in calendar month `month` (1–12) of `year`.
pub fn trading_days_in_month(
    year: i32,
    month: u32,
    calendar: &TradingCalendar,
) -> Result<u32, TradingDaysError> {
    Ok(month_count(year, month, calendar)?.trading_days)
}

fn week_count(
    week_ending: NaiveDate,
    calendar: &TradingCalendar,
) -> Result<PeriodCount, TradingDaysError> {
    if !is_friday(week_ending) {
        return Err(TradingDaysError::NotAFriday {
            date: week_ending,
            weekday: week_ending.weekday(),
        });
    }
    let monday = week_ending - Days::new(4);
    Ok(PeriodCount {
        period_type: PeriodType::Week,
        period_start: monday,
        period_end: week_ending,
        trading_days: calendar.trading_days_between(monday, week_ending)?,
    })
}

fn month_count(
    year: i32,
    month: u32,
    calendar: &TradingCalendar,
) -> Result<PeriodCount, TradingDaysError> {
    let invalid = TradingDaysError::InvalidMonth { year, month };
    let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or(invalid.clone())?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or(invalid)?;
    let last = next - Days::new(1);
    Ok(PeriodCount {
        period_type: PeriodType::Month,
        period_start: first,
        period_end: last,
        trading_days: calendar.trading_days_between(first, last)?,
    })
}

/// Every week whose Friday falls in `year`, in order, with its trading days.
///
/// The first week may start in the previous year, so `calendar` must cover that year too when it
/// does (2025 and 2026 need 2024 and 2025 loaded; 2024's first Friday week starts 2024-01-01).
pub fn week_counts(
    calendar: &TradingCalendar,
    year: i32,
) -> Result<Vec<PeriodCount>, TradingDaysError> {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or(TradingDaysError::InvalidMonth { year, month: 1 })?;
    // The first Friday on or after January 1st.
    let mut friday = WeekEnding::on_or_before(jan1 + Days::new(6)).date();
    let mut weeks = Vec::with_capacity(53);
    while friday.year() == year {
        weeks.push(week_count(friday, calendar)?);
        friday = friday + Days::new(7);
    }
    Ok(weeks)
}

/// The twelve months of `year`, in order, with their trading days.
pub fn month_counts(
    calendar: &TradingCalendar,
    year: i32,
) -> Result<Vec<PeriodCount>, TradingDaysError> {
    (1..=12).map(|m| month_count(year, m, calendar)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xnys;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn year(exchange: &str, year: i32, closures: &[(NaiveDate, &str)]) -> YearClosures {
        YearClosures {
            exchange_code: exchange.into(),
            year,
            closures: closures.iter().map(|(d, n)| (*d, n.to_string())).collect(),
        }
    }

    /// XNYS 2024–2026 from the exchange's rules (the same lists Market Spine shipped as files).
    fn xnys() -> TradingCalendar {
        TradingCalendar::from_years((2024..=2026).map(xnys::year_closures)).unwrap()
    }

    #[test]
    fn weeks_with_and_without_closures() {
        let cal = xnys();
        // National Day of Mourning for President Carter, Thursday 2025-01-09.
        assert_eq!(trading_days_in_week(date(2025, 1, 10), &cal), Ok(4));
        assert_eq!(
            cal.closure_name(date(2025, 1, 9)),
            Some("National Day of Mourning for President Jimmy Carter")
        );
        // Christmas, Thursday 2025-12-25.
        assert_eq!(trading_days_in_week(date(2025, 12, 26), &cal), Ok(4));
        // A normal week.
        assert_eq!(trading_days_in_week(date(2025, 12, 19), &cal), Ok(5));
        // Thanksgiving 2025 (the Friday after is an early close, still a trading day).
        assert_eq!(trading_days_in_week(date(2025, 11, 28), &cal), Ok(4));
        // 2026-07-03, Independence Day observed.
        assert_eq!(trading_days_in_week(date(2026, 7, 3), &cal), Ok(4));
        // The first week of 2025 spans 2024-12-30..2025-01-03 with New Year's Day.
        assert_eq!(trading_days_in_week(date(2025, 1, 3), &cal), Ok(4));
    }

    #[test]
    fn yearly_totals_match_the_published_lists() {
        let cal = xnys();
        for (year, expected) in [(2024, 252), (2025, 250), (2026, 251)] {
            let months = month_counts(&cal, year).unwrap();
            assert_eq!(months.len(), 12);
            let total: u32 = months.iter().map(|m| m.trading_days).sum();
            assert_eq!(total, expected, "{year}");
            assert_eq!(
                cal.trading_days_between(date(year, 1, 1), date(year, 12, 31)),
                Ok(expected)
            );
        }
    }

    #[test]
    fn month_counts_have_exact_bounds() {
        let cal = xnys();
        let months = month_counts(&cal, 2024).unwrap();
        assert_eq!(
            months[1],
            PeriodCount {
                period_type: PeriodType::Month,
                period_start: date(2024, 2, 1),
                period_end: date(2024, 2, 29),
                trading_days: 20, // 21 weekdays minus Washington's Birthday
            }
        );
        assert_eq!(trading_days_in_month(2025, 1, &cal), Ok(20)); // 23 weekdays − Jan 1, 9, 20
        assert_eq!(trading_days_in_month(2025, 12, &cal), Ok(22));
        assert_eq!(
            trading_days_in_month(2025, 13, &cal),
            Err(TradingDaysError::InvalidMonth {
                year: 2025,
                month: 13
            })
        );
    }

    #[test]
    fn week_counts_cover_every_friday_of_the_year() {
        let cal = xnys();
        let weeks = week_counts(&cal, 2025).unwrap();
        assert_eq!(weeks.len(), 52);
        assert_eq!(weeks[0].period_start, date(2024, 12, 30));
        assert_eq!(weeks[0].period_end, date(2025, 1, 3));
        assert_eq!(weeks[0].trading_days, 4);
        assert_eq!(weeks[1].trading_days, 4); // Jan 9
        assert_eq!(weeks.last().unwrap().period_end, date(2025, 12, 26));
        for w in &weeks {
            assert_eq!(w.period_type, PeriodType::Week);
            assert!(is_friday(w.period_end));
            assert_eq!(w.period_end - w.period_start, chrono::TimeDelta::days(4));
        }
        // The weeks run 2024-12-30..2025-12-26: the year's 250 days, plus Dec 30–31 2024, minus
        // Dec 29–31 2025.
        assert_eq!(
            weeks.iter().map(|w| w.trading_days).sum::<u32>(),
            250 + 2 - 3
        );
        assert_eq!(
            week_counts(&cal, 2024).unwrap()[0].period_start,
            date(2024, 1, 1)
        );
        // 2026 starts on a Thursday: 52 Fridays, from Jan 2 to Dec 25.
        let fridays_2026 = date(2026, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == 2026)
            .filter(|d| is_friday(*d))
            .count();
        assert_eq!(fridays_2026, 52);
        let weeks_2026 = week_counts(&cal, 2026).unwrap();
        assert_eq!(weeks_2026.len(), 52);
        assert_eq!(weeks_2026[0].period_start, date(2025, 12, 29));
    }

    #[test]
    fn uncovered_days_are_errors_not_guesses() {
        let only_2025 = TradingCalendar::from_years([xnys::year_closures(2025)]).unwrap();
        let err = trading_days_in_week(date(2025, 1, 3), &only_2025).unwrap_err();
        assert_eq!(
            err,
            TradingDaysError::NotCovered {
                date: date(2024, 12, 30),
                exchange_code: "XNYS".into(),
                years: vec![2025],
            }
        );
        assert!(
            err.to_string().contains("load the XNYS calendar for 2024"),
            "{err}"
        );
        assert!(week_counts(&only_2025, 2025).is_err());
        assert_eq!(trading_days_in_week(date(2025, 1, 10), &only_2025), Ok(4));
        assert_eq!(month_counts(&only_2025, 2025).unwrap().len(), 12);
    }

    #[test]
    fn week_ending_must_be_a_friday() {
        let err = trading_days_in_week(date(2025, 12, 18), &xnys()).unwrap_err();
        assert_eq!(
            err,
            TradingDaysError::NotAFriday {
                date: date(2025, 12, 18),
                weekday: Weekday::Thu
            }
        );
    }

    #[test]
    fn merging_checks_exchange_and_year() {
        let a = year("XNYS", 2025, &[]);
        let b = year("XNAS", 2026, &[]);
        assert!(matches!(
            TradingCalendar::from_years([a.clone(), b]),
            Err(TradingDaysError::MixedExchanges { .. })
        ));
        assert!(matches!(
            TradingCalendar::from_years([a.clone(), a.clone()]),
            Err(TradingDaysError::DuplicateYear { year: 2025, .. })
        ));
        assert_eq!(
            TradingCalendar::from_years(Vec::<YearClosures>::new()),
            Err(TradingDaysError::NoCalendars)
        );
        let c = year("XNYS", 2026, &[(date(2026, 1, 1), "New Year's Day")]);
        let merged = TradingCalendar::from_years([c, a]).unwrap();
        assert_eq!(merged.years().collect::<Vec<_>>(), [2025, 2026]);
        assert_eq!(merged.trading_day(date(2026, 1, 1)), Ok(false));
        assert_eq!(merged.trading_day(date(2026, 1, 3)), Ok(false)); // Saturday
        assert_eq!(merged.trading_day(date(2023, 1, 7)), Ok(false)); // weekend, uncovered
        assert!(merged.trading_day(date(2023, 1, 6)).is_err());
        // Built from bare dates, every year is known: schedules' due-time arithmetic.
        let bare = TradingCalendar::new([date(2023, 1, 6)]);
        assert!(!bare.is_trading_day(date(2023, 1, 6)));
        assert!(bare.is_trading_day(date(2023, 1, 5)));
        assert_eq!(bare.trading_day(date(2030, 1, 7)), Ok(true));
    }
}
