//! Full-day closures of the New York Stock Exchange (MIC `XNYS`).
//!
//! Market Spine needs to know which weekdays the exchange did not trade so
//! that "missing data" on a closed day is not reported as a gap, and so that
//! weekly data (such as FINRA's) can be matched to the right trading days.
//! Hand-written calendar files only cover a few years; FINRA publishes data
//! for many more. This module therefore *computes* the regular holidays of
//! any year from the exchange's rules (NYSE Rule 7.2 and its history) and
//! adds a small shipped table of unscheduled closures (national days of
//! mourning, weather) that no rule can predict.
//!
//! The rules are:
//!
//! | holiday | date | Saturday | Sunday |
//! | --- | --- | --- | --- |
//! | New Year's Day | Jan 1 | not observed | Monday Jan 2 |
//! | Martin Luther King, Jr. Day (since 1998) | 3rd Monday of January | – | – |
//! | Washington's Birthday | 3rd Monday of February | – | – |
//! | Good Friday | Friday before (Gregorian) Easter Sunday | – | – |
//! | Memorial Day | last Monday of May | – | – |
//! | Juneteenth National Independence Day (since 2022) | Jun 19 | Friday Jun 18 | Monday Jun 20 |
//! | Independence Day | Jul 4 | Friday Jul 3 | Monday Jul 5 |
//! | Labor Day | 1st Monday of September | – | – |
//! | Thanksgiving Day | 4th Thursday of November | – | – |
//! | Christmas Day | Dec 25 | Friday Dec 24 | Monday Dec 26 |
//!
//! New Year's Day falling on a Saturday is not moved to Friday December 31,
//! because that day belongs to the previous year's accounting period: the
//! exchange simply stays open (e.g. 2010-12-31, 2021-12-31, 2027-12-31).
//!
//! Early (half-day) closes are not full-day closures and are out of scope.
//!
//! Only the years [`RULES_FIRST_YEAR`]`..=`[`RULES_LAST_YEAR`] are checked
//! against published exchange calendars and kept up to date with special
//! closures; [`closures`] still applies the rules to any other year, as a
//! best effort.

use chrono::{Datelike, Days, NaiveDate, Weekday};

use crate::calendar::YearClosures;

/// The ISO 10383 market identifier of the exchange this calendar describes,
/// so callers can key calendars by MIC rather than by a free-form name.
pub const MIC: &str = "XNYS";

/// First year the rules are documented and checked for (what
/// `spine calendar coverage` reports): FINRA's data does not go further back,
/// and earlier years had rule changes this module does not model.
pub const RULES_FIRST_YEAR: i32 = 2010;

/// Last year the rules are documented and checked for (what
/// `spine calendar coverage` reports): later years may gain rule changes or
/// special closures that nobody can know yet.
pub const RULES_LAST_YEAR: i32 = 2035;

/// First year NYSE closed for Martin Luther King, Jr. Day.
const MLK_FIRST_YEAR: i32 = 1998;

/// First year NYSE closed for Juneteenth National Independence Day.
const JUNETEENTH_FIRST_YEAR: i32 = 2022;

const NEW_YEARS_DAY: &str = "New Year's Day";
const MLK_DAY: &str = "Martin Luther King, Jr. Day";
const WASHINGTONS_BIRTHDAY: &str = "Washington's Birthday";
const GOOD_FRIDAY: &str = "Good Friday";
const MEMORIAL_DAY: &str = "Memorial Day";
const JUNETEENTH: &str = "Juneteenth National Independence Day";
const INDEPENDENCE_DAY: &str = "Independence Day";
const LABOR_DAY: &str = "Labor Day";
const THANKSGIVING_DAY: &str = "Thanksgiving Day";
const CHRISTMAS_DAY: &str = "Christmas Day";
const NEW_YEARS_DAY_OBSERVED: &str = "New Year's Day (observed)";
const JUNETEENTH_OBSERVED: &str = "Juneteenth National Independence Day (observed)";
const INDEPENDENCE_DAY_OBSERVED: &str = "Independence Day (observed)";
const CHRISTMAS_DAY_OBSERVED: &str = "Christmas Day (observed)";

/// Unscheduled full-day closures, as `(year, month, day, reason)`, sorted.
const SPECIAL_CLOSURES: &[(i32, u32, u32, &str)] = &[
    (2012, 10, 29, "Hurricane Sandy"),
    (2012, 10, 30, "Hurricane Sandy"),
    (
        2018,
        12,
        5,
        "National Day of Mourning for President George H. W. Bush",
    ),
    (
        2025,
        1,
        9,
        "National Day of Mourning for President Jimmy Carter",
    ),
];

/// Where a closure comes from, so reports can tell a computed holiday from
/// an entry of the shipped table (which must be maintained by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClosureSource {
    /// Derived from the exchange's regular holiday rules.
    Rule,
    /// Taken from the shipped table of unscheduled closures.
    Special,
}

/// One full-day closure of the exchange, with its reason, so a calendar
/// can be shown and compared with published holiday lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// The weekday the exchange was (or will be) closed, i.e. the observed
    /// date, which may differ from the holiday's nominal date.
    pub date: NaiveDate,
    /// The holiday's official name, or the reason for a special closure.
    pub name: &'static str,
    /// Whether the closure was computed from a rule or comes from the table.
    pub source: ClosureSource,
}

/// Every full-day closure of `year`, sorted by date, each on a weekday, each
/// inside `year`, each date listed once: the input for deciding whether a
/// weekday is a trading day.
///
/// A special closure on the same date as a rule closure is listed once, as
/// the rule closure. Years that `chrono` cannot represent give an empty list.
pub fn closures(year: i32) -> Vec<Closure> {
    closures_with(year, SPECIAL_CLOSURES)
}

/// Whether `year` is within [`RULES_FIRST_YEAR`]`..=`[`RULES_LAST_YEAR`],
/// i.e. whether its calendar is one this module vouches for rather than a
/// best-effort extrapolation of the rules.
pub fn covers(year: i32) -> bool {
    (RULES_FIRST_YEAR..=RULES_LAST_YEAR).contains(&year)
}

/// The full-day closures of `year` as one [`YearClosures`] list, the unit a
/// [`crate::calendar::TradingCalendar`] merges: how the computed calendar
/// stands in for a holiday file.
pub fn year_closures(year: i32) -> YearClosures {
    YearClosures {
        exchange_code: MIC.to_string(),
        year,
        closures: closures(year)
            .into_iter()
            .map(|c| (c.date, c.name.to_string()))
            .collect(),
    }
}

/// The shipped unscheduled closures (national days of mourning, weather) as
/// `(year, month, day, reason)`, sorted by date, so they can be listed and
/// audited on their own: no rule predicts them.
pub fn special_closures() -> &'static [(i32, u32, u32, &'static str)] {
    SPECIAL_CLOSURES
}

/// [`closures`] with an explicit special-closure table (lets tests check the
/// merging with a table that clashes with the rules).
fn closures_with(year: i32, specials: &[(i32, u32, u32, &'static str)]) -> Vec<Closure> {
    let mut out = rule_closures(year);
    for &(y, month, day, name) in specials {
        if y != year {
            continue;
        }
        let Some(date) = NaiveDate::from_ymd_opt(y, month, day) else {
            continue;
        };
        if out.iter().any(|c| c.date == date) {
            continue;
        }
        out.push(Closure {
            date,
            name,
            source: ClosureSource::Special,
        });
    }
    out.sort_by_key(|c| c.date);
    out
}

/// The closures that follow from the holiday rules alone, sorted.
fn rule_closures(year: i32) -> Vec<Closure> {
    // If the first and last day of the year exist, every date computed below
    // (all of which fall inside the year) exists too.
    if NaiveDate::from_ymd_opt(year, 1, 1).is_none()
        || NaiveDate::from_ymd_opt(year, 12, 31).is_none()
    {
        return Vec::new();
    }

    let mut dates: Vec<(NaiveDate, &'static str)> = Vec::with_capacity(10);
    // A fixed-date holiday moved off a weekend is listed as "(observed)", as the exchange lists
    // it (e.g. "Independence Day (observed)" on Friday 2026-07-03).
    let fixed = |month: u32, day: u32, saturday_to_friday: bool, names: [&'static str; 2]| {
        fixed_holiday(year, month, day, saturday_to_friday).map(|date| {
            let moved = date != ymd(year, month, day);
            (date, names[usize::from(moved)])
        })
    };
    // Saturday: not observed (the Friday is in the previous year).
    dates.extend(fixed(1, 1, false, [NEW_YEARS_DAY, NEW_YEARS_DAY_OBSERVED]));
    if year >= MLK_FIRST_YEAR {
        dates.push((nth_weekday(year, 1, Weekday::Mon, 3), MLK_DAY));
    }
    dates.push((nth_weekday(year, 2, Weekday::Mon, 3), WASHINGTONS_BIRTHDAY));
    if let Some(date) = easter_sunday(year).and_then(|d| d.checked_sub_days(Days::new(2))) {
        dates.push((date, GOOD_FRIDAY));
    }
    dates.push((last_weekday(year, 5, 31, Weekday::Mon), MEMORIAL_DAY));
    if year >= JUNETEENTH_FIRST_YEAR {
        dates.extend(fixed(6, 19, true, [JUNETEENTH, JUNETEENTH_OBSERVED]));
    }
    dates.extend(fixed(
        7,
        4,
        true,
        [INDEPENDENCE_DAY, INDEPENDENCE_DAY_OBSERVED],
    ));
    dates.push((nth_weekday(year, 9, Weekday::Mon, 1), LABOR_DAY));
    dates.push((nth_weekday(year, 11, Weekday::Thu, 4), THANKSGIVING_DAY));
    dates.extend(fixed(12, 25, true, [CHRISTMAS_DAY, CHRISTMAS_DAY_OBSERVED]));

    dates.sort_by_key(|&(date, _)| date);
    dates
        .into_iter()
        .map(|(date, name)| Closure {
            date,
            name,
            source: ClosureSource::Rule,
        })
        .collect()
}

/// The observed date of a fixed-date holiday: Sunday moves to Monday;
/// Saturday moves to Friday if `saturday_to_friday`, else is not observed.
/// `day` must be neither the first nor the last day of its month when it can
/// be moved in that direction (true for every holiday used here).
fn fixed_holiday(year: i32, month: u32, day: u32, saturday_to_friday: bool) -> Option<NaiveDate> {
    let nominal = ymd(year, month, day);
    match nominal.weekday() {
        Weekday::Sat if saturday_to_friday => Some(ymd(year, month, day - 1)),
        Weekday::Sat => None,
        Weekday::Sun => Some(ymd(year, month, day + 1)),
        _ => Some(nominal),
    }
}

/// The `n`-th (1-based) `weekday` of `month` in `year`; `n` is at most 4,
/// so the date always exists.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
    let first = ymd(year, month, 1).weekday();
    let offset = (7 + weekday.num_days_from_monday() - first.num_days_from_monday()) % 7;
    ymd(year, month, 1 + offset + 7 * (n - 1))
}

/// The last `weekday` of `month` in `year`, whose last day is `last_day`.
fn last_weekday(year: i32, month: u32, last_day: u32, weekday: Weekday) -> NaiveDate {
    let last = ymd(year, month, last_day).weekday();
    let offset = (7 + last.num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    ymd(year, month, last_day - offset)
}

/// Western (Gregorian) Easter Sunday of `year`, by the anonymous Gregorian
/// algorithm (Meeus/Jones/Butcher). Floor division keeps it well defined for
/// proleptic years before 1 as well; `None` only outside `chrono`'s range.
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n / 31).ok()?;
    let day = u32::try_from(n % 31 + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A date known to exist (callers check the year is representable first).
fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("date inside a representable year")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClosureSource::{Rule as R, Special as S};

    // Names written out again (not the module's constants) so a typo in
    // either place shows up.
    const NY: &str = "New Year's Day";
    const MLK: &str = "Martin Luther King, Jr. Day";
    const WB: &str = "Washington's Birthday";
    const GF: &str = "Good Friday";
    const MEM: &str = "Memorial Day";
    const JUN: &str = "Juneteenth National Independence Day";
    const IND: &str = "Independence Day";
    const LAB: &str = "Labor Day";
    const THX: &str = "Thanksgiving Day";
    const XMAS: &str = "Christmas Day";
    const SANDY: &str = "Hurricane Sandy";
    const BUSH: &str = "National Day of Mourning for President George H. W. Bush";
    const CARTER: &str = "National Day of Mourning for President Jimmy Carter";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Compares `closures(year)` with a published list of `(month, day,
    /// name, source)`.
    fn assert_year(year: i32, expected: &[(u32, u32, &'static str, ClosureSource)]) {
        let expected: Vec<Closure> = expected
            .iter()
            .map(|&(m, d, name, source)| Closure {
                date: date(year, m, d),
                name,
                source,
            })
            .collect();
        // Names are compared without the "(observed)" marker; `observed_names` pins it.
        let actual: Vec<Closure> = closures(year)
            .into_iter()
            .map(|c| Closure {
                name: c.name.strip_suffix(" (observed)").unwrap_or(c.name),
                ..c
            })
            .collect();
        assert_eq!(actual, expected, "closures of {year}");
    }

    #[test]
    fn observed_names() {
        let name = |y, m, d| {
            closures(y)
                .into_iter()
                .find(|c| c.date == date(y, m, d))
                .map(|c| c.name)
        };
        assert_eq!(name(2026, 7, 3), Some("Independence Day (observed)"));
        assert_eq!(name(2010, 12, 24), Some("Christmas Day (observed)"));
        assert_eq!(
            name(2022, 6, 20),
            Some("Juneteenth National Independence Day (observed)")
        );
        assert_eq!(name(2017, 1, 2), Some("New Year's Day (observed)"));
        assert_eq!(name(2025, 7, 4), Some("Independence Day"));
    }

    /// Trading days (weekdays that are not closures) in the Monday–Friday
    /// week ending on `friday`.
    fn trading_days_in_week_ending(friday: NaiveDate) -> usize {
        assert_eq!(friday.weekday(), Weekday::Fri, "{friday} is not a Friday");
        let monday = friday - Days::new(4);
        let mut closed: Vec<NaiveDate> = closures(friday.year()).iter().map(|c| c.date).collect();
        if monday.year() != friday.year() {
            closed.extend(closures(monday.year()).iter().map(|c| c.date));
        }
        monday
            .iter_days()
            .take(5)
            .filter(|d| !closed.contains(d))
            .count()
    }

    #[test]
    fn constants() {
        assert_eq!(MIC, "XNYS");
        const { assert!(RULES_FIRST_YEAR <= 2010 && RULES_LAST_YEAR >= 2035) };
    }

    #[test]
    fn covers_is_the_rules_range() {
        assert!(!covers(RULES_FIRST_YEAR - 1));
        assert!(covers(RULES_FIRST_YEAR));
        assert!(covers(2024));
        assert!(covers(RULES_LAST_YEAR));
        assert!(!covers(RULES_LAST_YEAR + 1));
        assert!(!covers(i32::MIN) && !covers(i32::MAX));
    }

    #[test]
    fn easter_known_years() {
        for (y, m, d) in [
            (1818, 3, 22),
            (1943, 4, 25),
            (2000, 4, 23),
            (2008, 3, 23),
            (2010, 4, 4),
            (2011, 4, 24),
            (2012, 4, 8),
            (2015, 4, 5),
            (2016, 3, 27),
            (2018, 4, 1),
            (2019, 4, 21),
            (2020, 4, 12),
            (2021, 4, 4),
            (2022, 4, 17),
            (2023, 4, 9),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2028, 4, 16),
            (2030, 4, 21),
            (2035, 3, 25),
            (2038, 4, 25),
            (2285, 3, 22),
        ] {
            assert_eq!(easter_sunday(y), Some(date(y, m, d)), "Easter {y}");
        }
    }

    /// Gauss's Easter algorithm, an independent formulation of the same
    /// Gregorian computus, to cross-check the anonymous algorithm.
    fn gauss_easter(y: i32) -> NaiveDate {
        let a = y % 19;
        let b = y % 4;
        let c = y % 7;
        let k = y / 100;
        let p = (13 + 8 * k) / 25;
        let q = k / 4;
        let m = (15 - p + k - q).rem_euclid(30);
        let n = (4 + k - q).rem_euclid(7);
        let d = (19 * a + m) % 30;
        let e = (2 * b + 4 * c + 6 * d + n) % 7;
        if d == 29 && e == 6 {
            date(y, 4, 19)
        } else if d == 28 && e == 6 && (11 * m + 11) % 30 < 19 {
            date(y, 4, 18)
        } else if 22 + d + e <= 31 {
            date(y, 3, (22 + d + e) as u32)
        } else {
            date(y, 4, (d + e - 9) as u32)
        }
    }

    #[test]
    fn easter_matches_gauss_and_is_a_sunday_in_range() {
        for y in 1583..=4099 {
            let easter = easter_sunday(y).unwrap();
            assert_eq!(easter, gauss_easter(y), "Easter {y}");
            assert_eq!(easter.weekday(), Weekday::Sun, "Easter {y}");
            assert!(
                easter >= date(y, 3, 22) && easter <= date(y, 4, 25),
                "{easter}"
            );
        }
    }

    #[test]
    fn year_2010() {
        assert_year(
            2010,
            &[
                (1, 1, NY, R),
                (1, 18, MLK, R),
                (2, 15, WB, R),
                (4, 2, GF, R),
                (5, 31, MEM, R),
                (7, 5, IND, R),
                (9, 6, LAB, R),
                (11, 25, THX, R),
                (12, 24, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2011_new_years_day_on_saturday_is_not_observed() {
        assert_year(
            2011,
            &[
                (1, 17, MLK, R),
                (2, 21, WB, R),
                (4, 22, GF, R),
                (5, 30, MEM, R),
                (7, 4, IND, R),
                (9, 5, LAB, R),
                (11, 24, THX, R),
                (12, 26, XMAS, R),
            ],
        );
        assert!(!closures(2010).iter().any(|c| c.date == date(2010, 12, 31)));
    }

    #[test]
    fn year_2012_hurricane_sandy() {
        assert_year(
            2012,
            &[
                (1, 2, NY, R),
                (1, 16, MLK, R),
                (2, 20, WB, R),
                (4, 6, GF, R),
                (5, 28, MEM, R),
                (7, 4, IND, R),
                (9, 3, LAB, R),
                (10, 29, SANDY, S),
                (10, 30, SANDY, S),
                (11, 22, THX, R),
                (12, 25, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2015() {
        assert_year(
            2015,
            &[
                (1, 1, NY, R),
                (1, 19, MLK, R),
                (2, 16, WB, R),
                (4, 3, GF, R),
                (5, 25, MEM, R),
                (7, 3, IND, R),
                (9, 7, LAB, R),
                (11, 26, THX, R),
                (12, 25, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2016() {
        assert_year(
            2016,
            &[
                (1, 1, NY, R),
                (1, 18, MLK, R),
                (2, 15, WB, R),
                (3, 25, GF, R),
                (5, 30, MEM, R),
                (7, 4, IND, R),
                (9, 5, LAB, R),
                (11, 24, THX, R),
                (12, 26, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2018_bush_day_of_mourning() {
        assert_year(
            2018,
            &[
                (1, 1, NY, R),
                (1, 15, MLK, R),
                (2, 19, WB, R),
                (3, 30, GF, R),
                (5, 28, MEM, R),
                (7, 4, IND, R),
                (9, 3, LAB, R),
                (11, 22, THX, R),
                (12, 5, BUSH, S),
                (12, 25, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2020() {
        assert_year(
            2020,
            &[
                (1, 1, NY, R),
                (1, 20, MLK, R),
                (2, 17, WB, R),
                (4, 10, GF, R),
                (5, 25, MEM, R),
                (7, 3, IND, R),
                (9, 7, LAB, R),
                (11, 26, THX, R),
                (12, 25, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2021_no_juneteenth_yet() {
        assert_year(
            2021,
            &[
                (1, 1, NY, R),
                (1, 18, MLK, R),
                (2, 15, WB, R),
                (4, 2, GF, R),
                (5, 31, MEM, R),
                (7, 5, IND, R),
                (9, 6, LAB, R),
                (11, 25, THX, R),
                (12, 24, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2022_first_juneteenth_and_saturday_new_year() {
        assert_year(
            2022,
            &[
                (1, 17, MLK, R),
                (2, 21, WB, R),
                (4, 15, GF, R),
                (5, 30, MEM, R),
                (6, 20, JUN, R),
                (7, 4, IND, R),
                (9, 5, LAB, R),
                (11, 24, THX, R),
                (12, 26, XMAS, R),
            ],
        );
        assert!(!closures(2021).iter().any(|c| c.date == date(2021, 12, 31)));
    }

    #[test]
    fn year_2023() {
        assert_year(
            2023,
            &[
                (1, 2, NY, R),
                (1, 16, MLK, R),
                (2, 20, WB, R),
                (4, 7, GF, R),
                (5, 29, MEM, R),
                (6, 19, JUN, R),
                (7, 4, IND, R),
                (9, 4, LAB, R),
                (11, 23, THX, R),
                (12, 25, XMAS, R),
            ],
        );
    }

    /// Matches the project's shipped calendar file for 2024 exactly.
    #[test]
    fn year_2024() {
        assert_year(
            2024,
            &[
                (1, 1, NY, R),
                (1, 15, MLK, R),
                (2, 19, WB, R),
                (3, 29, GF, R),
                (5, 27, MEM, R),
                (6, 19, JUN, R),
                (7, 4, IND, R),
                (9, 2, LAB, R),
                (11, 28, THX, R),
                (12, 25, XMAS, R),
            ],
        );
    }

    /// Matches the project's shipped calendar file for 2025 exactly.
    #[test]
    fn year_2025_carter_day_of_mourning() {
        assert_year(
            2025,
            &[
                (1, 1, NY, R),
                (1, 9, CARTER, S),
                (1, 20, MLK, R),
                (2, 17, WB, R),
                (4, 18, GF, R),
                (5, 26, MEM, R),
                (6, 19, JUN, R),
                (7, 4, IND, R),
                (9, 1, LAB, R),
                (11, 27, THX, R),
                (12, 25, XMAS, R),
            ],
        );
    }

    /// Matches the project's shipped calendar file for 2026 exactly.
    #[test]
    fn year_2026() {
        assert_year(
            2026,
            &[
                (1, 1, NY, R),
                (1, 19, MLK, R),
                (2, 16, WB, R),
                (4, 3, GF, R),
                (5, 25, MEM, R),
                (6, 19, JUN, R),
                (7, 3, IND, R),
                (9, 7, LAB, R),
                (11, 26, THX, R),
                (12, 25, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2027_saturday_holidays_move_to_friday() {
        assert_year(
            2027,
            &[
                (1, 1, NY, R),
                (1, 18, MLK, R),
                (2, 15, WB, R),
                (3, 26, GF, R),
                (5, 31, MEM, R),
                (6, 18, JUN, R),
                (7, 5, IND, R),
                (9, 6, LAB, R),
                (11, 25, THX, R),
                (12, 24, XMAS, R),
            ],
        );
    }

    #[test]
    fn year_2028_saturday_new_year_and_monday_christmas() {
        assert_year(
            2028,
            &[
                (1, 17, MLK, R),
                (2, 21, WB, R),
                (4, 14, GF, R),
                (5, 29, MEM, R),
                (6, 19, JUN, R),
                (7, 4, IND, R),
                (9, 4, LAB, R),
                (11, 23, THX, R),
                (12, 25, XMAS, R),
            ],
        );
        assert!(!closures(2027).iter().any(|c| c.date == date(2027, 12, 31)));
    }

    #[test]
    fn mlk_day_only_from_1998() {
        assert!(!closures(1997).iter().any(|c| c.name == MLK));
        let mlk_1998: Vec<_> = closures(1998)
            .into_iter()
            .filter(|c| c.name == MLK)
            .collect();
        assert_eq!(mlk_1998.len(), 1);
        assert_eq!(mlk_1998[0].date, date(1998, 1, 19));
    }

    #[test]
    fn juneteenth_only_from_2022() {
        for year in 1990..=2021 {
            assert!(!closures(year).iter().any(|c| c.name == JUN), "{year}");
        }
        for year in 2022..=2100 {
            let n = closures(year)
                .iter()
                .filter(|c| c.name.starts_with(JUN))
                .count();
            assert_eq!(n, 1, "{year}");
        }
    }

    #[test]
    fn closures_are_weekdays_inside_the_year_sorted_and_unique() {
        for year in 1990..=2100 {
            let list = closures(year);
            for c in &list {
                assert_eq!(c.date.year(), year, "{c:?}");
                assert!(
                    !matches!(c.date.weekday(), Weekday::Sat | Weekday::Sun),
                    "{c:?} is on a weekend"
                );
                // Nothing is ever moved onto Dec 31 (the previous year's
                // New Year's Day on a Saturday is not observed).
                assert_ne!((c.date.month(), c.date.day()), (12, 31), "{c:?}");
            }
            assert!(
                list.windows(2).all(|w| w[0].date < w[1].date),
                "{year}: not sorted or not unique: {list:?}"
            );
        }
    }

    #[test]
    fn rule_closure_counts_in_rules_range() {
        for year in RULES_FIRST_YEAR..=RULES_LAST_YEAR {
            let list = closures(year);
            let rules = list.iter().filter(|c| c.source == R).count();
            let specials = list.iter().filter(|c| c.source == S).count();
            let mut expected = if year >= 2022 { 10 } else { 9 };
            if date(year, 1, 1).weekday() == Weekday::Sat {
                expected -= 1;
            }
            assert_eq!(rules, expected, "{year}: {list:?}");
            let table = special_closures().iter().filter(|s| s.0 == year).count();
            assert_eq!(specials, table, "{year}");
        }
        // Years in range whose New Year's Day is a Saturday.
        for year in [2011, 2022, 2028, 2033] {
            assert!(!closures(year).iter().any(|c| c.name == NY), "{year}");
        }
    }

    #[test]
    fn special_table_is_sorted_valid_weekdays_in_range() {
        let table = special_closures();
        assert!(table.len() >= 4);
        let dates: Vec<NaiveDate> = table
            .iter()
            .map(|&(y, m, d, _)| NaiveDate::from_ymd_opt(y, m, d).expect("valid date"))
            .collect();
        assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");
        for (&(y, _, _, name), d) in table.iter().zip(&dates) {
            assert!(covers(y), "{d} outside the rules range");
            assert!(!matches!(d.weekday(), Weekday::Sat | Weekday::Sun), "{d}");
            assert!(!name.is_empty());
            // Each one really is listed by `closures`, as a special.
            assert!(
                closures(y)
                    .iter()
                    .any(|c| c.date == *d && c.name == name && c.source == S),
                "{d}"
            );
        }
        for (y, m, d, name) in [
            (2012, 10, 29, SANDY),
            (2012, 10, 30, SANDY),
            (2018, 12, 5, BUSH),
            (2025, 1, 9, CARTER),
        ] {
            assert!(table.contains(&(y, m, d, name)), "{y}-{m}-{d}");
        }
    }

    #[test]
    fn special_on_a_rule_date_is_listed_once() {
        let table = [
            (2024, 12, 25, "Something on Christmas"),
            (2024, 12, 26, "Extra day"),
            (2023, 1, 3, "Other year"),
        ];
        let list = closures_with(2024, &table);
        let christmas: Vec<_> = list
            .iter()
            .filter(|c| c.date == date(2024, 12, 25))
            .collect();
        assert_eq!(christmas.len(), 1);
        assert_eq!(christmas[0].name, XMAS);
        assert_eq!(christmas[0].source, R);
        assert!(
            list.iter()
                .any(|c| c.date == date(2024, 12, 26) && c.source == S)
        );
        assert!(!list.iter().any(|c| c.name == "Other year"));
        assert_eq!(list.len(), 11);
        assert!(list.windows(2).all(|w| w[0].date < w[1].date));
    }

    #[test]
    fn holiday_shortened_weeks() {
        for ((y, m, d), n) in [
            ((2010, 12, 31), 5), // no closure for 2011-01-01 (Saturday)
            ((2011, 1, 7), 5),   // ... nor on Monday 2011-01-03
            ((2012, 1, 6), 4),   // New Year's Day observed Monday Jan 2
            ((2012, 11, 2), 3),  // Hurricane Sandy, Oct 29-30
            ((2018, 12, 7), 4),  // Bush day of mourning, Dec 5
            ((2021, 12, 31), 5), // no closure for 2022-01-01 (Saturday)
            ((2022, 6, 24), 4),  // first Juneteenth, observed Monday Jun 20
            ((2024, 3, 29), 4),  // Good Friday
            ((2024, 11, 29), 4), // Thanksgiving
            ((2025, 1, 10), 4),  // Carter day of mourning, Jan 9
            ((2026, 7, 3), 4),   // Independence Day observed Friday Jul 3
            ((2027, 6, 18), 4),  // Juneteenth observed Friday Jun 18
            ((2027, 12, 24), 4), // Christmas observed Friday Dec 24
            ((2027, 12, 31), 5), // no closure for 2028-01-01 (Saturday)
            ((2024, 6, 14), 5),  // ordinary week
        ] {
            assert_eq!(
                trading_days_in_week_ending(date(y, m, d)),
                n,
                "week ending {y}-{m:02}-{d:02}"
            );
        }
    }

    #[test]
    fn unrepresentable_and_extreme_years_do_not_panic() {
        assert!(closures(i32::MIN).is_empty());
        assert!(closures(i32::MAX).is_empty());
        for year in [NaiveDate::MIN.year(), NaiveDate::MAX.year(), -1, 0, 1] {
            let list = closures(year);
            assert!(list.iter().all(|c| c.date.year() == year));
            assert!(list.windows(2).all(|w| w[0].date < w[1].date));
        }
    }
}
