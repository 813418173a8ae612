//! Business time: the Friday that ends a trading week.
//!
//! FINRA names every weekly file by the week it covers, and Market Spine keys every weekly
//! partition by that week's Friday (`week_ending`). A date that is not a Friday is never a
//! valid week: this type is the one place that says so, and the one place that turns any date
//! into the week it belongs to, so the CLI, the HTTP API, the parser, the generator and the
//! schedule arithmetic cannot disagree about which Friday a day belongs to.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::VocabError;

/// A Friday ending a trading week (FINRA's `week_ending`, business time).
///
/// Constructed only through [`WeekEnding::new`] (which refuses any other weekday) or the
/// constructors that compute a Friday, so holding one proves it is a Friday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WeekEnding(NaiveDate);

impl WeekEnding {
    /// `date` as a week ending; an error naming the weekday when it is not a Friday.
    pub fn new(date: NaiveDate) -> Result<WeekEnding, VocabError> {
        if is_friday(date) {
            return Ok(WeekEnding(date));
        }
        let before = WeekEnding::on_or_before(date).date();
        Err(VocabError::NotAFriday {
            date,
            weekday: weekday_name(date.weekday()),
            before,
            after: before + Days::new(7),
        })
    }

    /// The latest Friday on or before `date`: the last week that has ended by then.
    pub fn on_or_before(date: NaiveDate) -> WeekEnding {
        // Days since the last Friday: Fri 0, Sat 1, Sun 2, Mon 3, Tue 4, Wed 5, Thu 6.
        let back = (date.weekday().num_days_from_monday() + 3) % 7;
        WeekEnding(date - Days::new(u64::from(back)))
    }

    /// The week of the Monday-to-Sunday week containing `date`: a Saturday or Sunday belongs to
    /// the week that has just ended, a Monday to the week that ends that Friday.
    pub fn containing(date: NaiveDate) -> WeekEnding {
        WeekEnding(monday_of(date) + Days::new(4))
    }

    /// The Friday itself.
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The Monday that starts this week (FINRA's API names weeks by it: `weekStartDate`).
    pub fn monday(self) -> NaiveDate {
        self.0 - Days::new(4)
    }

    /// The week `weeks` weeks earlier, or `None` before chrono's range.
    pub fn weeks_before(self, weeks: u64) -> Option<WeekEnding> {
        self.0
            .checked_sub_days(Days::new(7 * weeks))
            .map(WeekEnding)
    }

    /// The week `weeks` weeks later, or `None` past chrono's range.
    pub fn weeks_after(self, weeks: u64) -> Option<WeekEnding> {
        self.0
            .checked_add_days(Days::new(7 * weeks))
            .map(WeekEnding)
    }
}

/// True when `date` is a Friday, the only day a week can end on.
pub fn is_friday(date: NaiveDate) -> bool {
    date.weekday() == Weekday::Fri
}

/// The Monday of the Monday-to-Sunday week containing `date`.
///
/// # Panics
/// Only for dates within six days of chrono's minimum date (far outside any business calendar).
pub fn monday_of(date: NaiveDate) -> NaiveDate {
    let back = u64::from(date.weekday().num_days_from_monday());
    date.checked_sub_days(Days::new(back))
        .expect("a date with a representable Monday")
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

impl From<WeekEnding> for NaiveDate {
    fn from(w: WeekEnding) -> NaiveDate {
        w.0
    }
}

impl fmt::Display for WeekEnding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for WeekEnding {
    type Err = VocabError;

    /// Parses `YYYY-MM-DD` and requires a Friday.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| VocabError::NotADate(s.to_string()))?;
        WeekEnding::new(date)
    }
}

impl Serialize for WeekEnding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for WeekEnding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let date = NaiveDate::deserialize(deserializer)?;
        WeekEnding::new(date).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn only_fridays_are_weeks() {
        assert_eq!(
            WeekEnding::new(date(2025, 12, 19)).unwrap().date(),
            date(2025, 12, 19)
        );
        let err = WeekEnding::new(date(2025, 12, 18)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2025-12-18 is a Thursday, not a Friday: a week_ending is the Friday that ends the \
             week (the nearest are 2025-12-12 and 2025-12-19)"
        );
        assert!("2025-12-19".parse::<WeekEnding>().is_ok());
        assert!("2025-12-20".parse::<WeekEnding>().is_err());
        assert!("next friday".parse::<WeekEnding>().is_err());
    }

    #[test]
    fn every_day_maps_to_its_week() {
        // Mon 2025-12-15 .. Sun 2025-12-21 all belong to the week ending Fri 2025-12-19.
        for d in 15..=21 {
            assert_eq!(
                WeekEnding::containing(date(2025, 12, d)).date(),
                date(2025, 12, 19)
            );
        }
        // The last Friday on or before: Thursday goes back a week, Saturday stays.
        assert_eq!(
            WeekEnding::on_or_before(date(2025, 12, 18)).date(),
            date(2025, 12, 12)
        );
        assert_eq!(
            WeekEnding::on_or_before(date(2025, 12, 20)).date(),
            date(2025, 12, 19)
        );
        let w = WeekEnding::new(date(2025, 12, 19)).unwrap();
        assert_eq!(w.monday(), date(2025, 12, 15));
        assert_eq!(w.weeks_before(2).unwrap().date(), date(2025, 12, 5));
        assert_eq!(w.weeks_after(2).unwrap().date(), date(2026, 1, 2));
        assert_eq!(serde_json::to_string(&w).unwrap(), "\"2025-12-19\"");
    }
}
