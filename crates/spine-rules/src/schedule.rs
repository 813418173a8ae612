//! Expected schedules as arithmetic: which partitions a schedule expects for a business date,
//! which business dates a range holds, and when each partition is due.
//!
//! `core_expected_schedules` declares *when* data should exist; this module turns a row of it
//! into facts the rest of the system can check without a database: the partition keys to look
//! for (so readiness criterion 1 and missed-run detection compare against real expectations),
//! and the due time after which a missing partition is *missed* and a capture is *late*.
//!
//! # Templates
//!
//! A partition template is a JSON object of strings whose values may contain `${NAME}`
//! placeholders, e.g. `{"tier":"${TIER}","week_ending":"${FRIDAY}"}`.
//!
//! * Built-in placeholders come from the business date (see [`BUILTIN_PLACEHOLDERS`]):
//!   `${DATE}` the date itself, `${MONDAY}` and `${FRIDAY}` the Monday and Friday of the week
//!   containing it, `${MONTH}` as `YYYY-MM`, `${YEAR}` as `YYYY`. Weeks run Monday to Sunday,
//!   so for a Saturday or a Sunday `${MONDAY}`/`${FRIDAY}` name **the week just ended**
//!   (Saturday 2025-12-20 → Friday 2025-12-19), never the week to come.
//! * Every other placeholder comes from the schedule's `partition_values`, a map of name → list
//!   of values (e.g. `{"TIER":["NMS_TIER_1","NMS_TIER_2","OTC"]}`). A template with several
//!   such placeholders expands to their cartesian product.
//! * Anything that would make the expansion ambiguous or silently wrong is an error that names
//!   the culprit: an unknown placeholder, a values list that the template never uses (usually a
//!   typo), a values list named like a built-in, an empty values list, a malformed `${`.
//!
//! # Due time: the rule
//!
//! `due = business date + expected_delay_hours`, counted in **trading time**: weekends and the
//! exchange closures in the [`TradingCalendar`] do not count. Precisely:
//!
//! 1. the clock starts at 00:00 UTC of the business date if it is a trading day, else of the
//!    next trading day (a Saturday business date starts counting on Monday);
//! 2. the delay is split into whole days `d = hours / 24` and remaining hours `r = hours % 24`;
//! 3. the date moves forward `d` times, each move landing on the **next trading day**, so only
//!    trading days are counted;
//! 4. the due time is 00:00 UTC of the date reached, plus `r` hours.
//!
//! The due time therefore always falls on a trading day — a deadline that would land on a
//! holiday or a weekend moves to the next trading day — and it never decreases as the delay
//! grows. Examples (XNYS: 2025-12-25 and 2026-01-01 closed):
//!
//! | business date        | delay  | due                                                   |
//! |----------------------|--------|-------------------------------------------------------|
//! | Fri 2025-12-19       | 24 h   | Mon 2025-12-22 00:00Z (the weekend does not count)    |
//! | Fri 2025-12-19       | 30 h   | Mon 2025-12-22 06:00Z                                 |
//! | Tue 2025-12-23       | 48 h   | Fri 2025-12-26 00:00Z (Wed 24, then Thu 25 is closed) |
//! | Sat 2025-12-20       | 5 h    | Mon 2025-12-22 05:00Z (a weekend date starts Monday)  |
//! | Sat 2025-12-20       | 24 h   | Tue 2025-12-23 00:00Z (starts Monday, one day later)  |
//! | Fri 2025-12-19       | 240 h  | Tue 2026-01-06 00:00Z (ten trading days)              |
//!
//! Because the delay is counted in trading days, a publication lag of "two weeks" is 240 h (ten
//! trading days), not 336 h.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};
use spine_model::{PartitionKey, ScheduleType};

pub use crate::calendar::TradingCalendar;

/// The placeholders every template may use without declaring them; their values come from the
/// business date. `partition_values` may not redefine them, so `${FRIDAY}` means one thing.
pub const BUILTIN_PLACEHOLDERS: &[&str] = &["DATE", "MONDAY", "FRIDAY", "MONTH", "YEAR"];

/// The largest `expected_delay_hours` accepted (about ten years): anything larger is a
/// configuration mistake, and refusing it keeps the day-by-day count bounded.
pub const MAX_DELAY_HOURS: i64 = 24 * 366 * 10;

/// The values lists of a schedule: placeholder name → the values it takes, in order.
///
/// A `BTreeMap`, so the expansion order (and so every list derived from it) is deterministic.
pub type PartitionValues = BTreeMap<String, Vec<String>>;

/// Why a schedule could not be expanded or its due time computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The template is not a JSON object of strings, or a placeholder in it is malformed.
    #[error("invalid partition template `{template}`: {reason}")]
    InvalidTemplate {
        /// The template text.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The template names placeholders that are neither built in nor in `partition_values`.
    #[error(
        "partition template `{template}` uses unknown placeholder(s) {}; \
         define them in partition_values or use a built-in ({})",
        fmt_placeholders(names),
        fmt_placeholders(&BUILTIN_PLACEHOLDERS.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    )]
    UnknownPlaceholders {
        /// The template text.
        template: String,
        /// The unknown names, sorted.
        names: Vec<String>,
    },
    /// `partition_values` defines lists the template never uses (usually a misspelt name).
    #[error(
        "partition_values defines {} but partition template `{template}` never uses them",
        fmt_placeholders(names)
    )]
    UnusedValues {
        /// The template text.
        template: String,
        /// The unused names, sorted.
        names: Vec<String>,
    },
    /// `partition_values` tries to redefine a built-in placeholder.
    #[error(
        "partition_values defines `{name}`, which is a built-in placeholder computed from the \
         business date; rename the list"
    )]
    ReservedName {
        /// The built-in name.
        name: String,
    },
    /// A values list is empty, so the schedule would silently expect nothing.
    #[error("partition_values `{name}` is an empty list: the schedule would expect no partition")]
    EmptyValues {
        /// The list's name.
        name: String,
    },
    /// `partition_values` (as stored JSON) is not an object of string lists.
    #[error("invalid partition_values `{value}`: {reason}")]
    InvalidValues {
        /// The JSON text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `expected_delay_hours` is negative or absurdly large.
    #[error("expected_delay_hours {hours} is out of range: expected 0 to {max}")]
    DelayOutOfRange {
        /// The delay given.
        hours: i64,
        /// [`MAX_DELAY_HOURS`].
        max: i64,
    },
    /// A date computation left chrono's representable range.
    #[error("date arithmetic from {date} leaves the representable range")]
    DateOutOfRange {
        /// The date the computation started from.
        date: NaiveDate,
    },
}

fn fmt_placeholders(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("${{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One piece of a template value: literal text or a `${NAME}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(String),
}

/// A parsed partition template: the JSON object, with each value split into literal text and
/// placeholders, validated once so expanding it for many dates cannot fail on syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTemplate {
    text: String,
    entries: Vec<(String, Vec<Segment>)>,
}

impl PartitionTemplate {
    /// Parses a template such as `{"tier":"${TIER}","week_ending":"${FRIDAY}"}`.
    ///
    /// Fails when the text is not a JSON object of strings, when a key contains a placeholder
    /// (keys name dimensions and are fixed), or when a `${` is unclosed, empty or contains
    /// anything but ASCII letters, digits and `_`.
    pub fn parse(text: &str) -> Result<PartitionTemplate, ScheduleError> {
        let invalid = |reason: String| ScheduleError::InvalidTemplate {
            template: text.to_string(),
            reason,
        };
        let key = PartitionKey::parse(text).map_err(|e| invalid(e.to_string()))?;
        let mut entries = Vec::new();
        for (k, v) in key.entries() {
            if k.contains("${") {
                return Err(invalid(format!(
                    "key `{k}` contains a placeholder; only values may"
                )));
            }
            let segments = split_segments(v).map_err(&invalid)?;
            entries.push((k.to_string(), segments));
        }
        Ok(PartitionTemplate {
            text: text.to_string(),
            entries,
        })
    }

    /// The template text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Every placeholder name the template uses (built-in or not), sorted.
    pub fn placeholders(&self) -> BTreeSet<String> {
        self.entries
            .iter()
            .flat_map(|(_, segs)| segs.iter())
            .filter_map(|s| match s {
                Segment::Placeholder(name) => Some(name.clone()),
                Segment::Literal(_) => None,
            })
            .collect()
    }

    /// Checks the template against a schedule's values lists without a date: unknown
    /// placeholders, unused, reserved or empty lists. [`PartitionTemplate::expand`] runs the
    /// same checks; call this to reject a schedule when it is declared rather than when run.
    pub fn validate(&self, values: &PartitionValues) -> Result<(), ScheduleError> {
        for name in values.keys() {
            if BUILTIN_PLACEHOLDERS.contains(&name.as_str()) {
                return Err(ScheduleError::ReservedName { name: name.clone() });
            }
        }
        let used = self.placeholders();
        let unknown: Vec<String> = used
            .iter()
            .filter(|n| !BUILTIN_PLACEHOLDERS.contains(&n.as_str()) && !values.contains_key(*n))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ScheduleError::UnknownPlaceholders {
                template: self.text.clone(),
                names: unknown,
            });
        }
        let unused: Vec<String> = values
            .keys()
            .filter(|n| !used.contains(*n))
            .cloned()
            .collect();
        if !unused.is_empty() {
            return Err(ScheduleError::UnusedValues {
                template: self.text.clone(),
                names: unused,
            });
        }
        if let Some((name, _)) = values.iter().find(|(_, list)| list.is_empty()) {
            return Err(ScheduleError::EmptyValues { name: name.clone() });
        }
        Ok(())
    }

    /// The canonical partition keys this template expects for `business_date`.
    ///
    /// Order is deterministic: the values-list placeholders are taken in name order, each list in
    /// its given order, the last name varying fastest (an odometer). Duplicates (from repeated
    /// values) are dropped, keeping the first.
    pub fn expand(
        &self,
        values: &PartitionValues,
        business_date: NaiveDate,
    ) -> Result<Vec<PartitionKey>, ScheduleError> {
        self.validate(values)?;
        let monday = spine_model::week::monday_of(business_date);
        let friday = spine_model::WeekEnding::containing(business_date).date();
        let mut bindings: BTreeMap<&str, String> = BTreeMap::from([
            ("DATE", business_date.format("%Y-%m-%d").to_string()),
            ("MONDAY", monday.format("%Y-%m-%d").to_string()),
            ("FRIDAY", friday.format("%Y-%m-%d").to_string()),
            ("MONTH", business_date.format("%Y-%m").to_string()),
            ("YEAR", business_date.year().to_string()),
        ]);
        // `validate` guarantees every list is used and non-empty.
        let lists: Vec<(&str, &Vec<String>)> =
            values.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut index = vec![0usize; lists.len()];
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        loop {
            for ((name, list), i) in lists.iter().zip(&index) {
                bindings.insert(name, list[*i].clone());
            }
            let key = self.render(&bindings);
            if seen.insert(key.clone()) {
                out.push(key);
            }
            // Advance the odometer; stop when the first wheel rolls over.
            let mut pos = lists.len();
            loop {
                if pos == 0 {
                    return Ok(out);
                }
                pos -= 1;
                index[pos] += 1;
                if index[pos] < lists[pos].1.len() {
                    break;
                }
                index[pos] = 0;
            }
        }
    }

    fn render(&self, bindings: &BTreeMap<&str, String>) -> PartitionKey {
        let mut key = PartitionKey::new();
        for (k, segments) in &self.entries {
            let mut value = String::new();
            for s in segments {
                match s {
                    Segment::Literal(text) => value.push_str(text),
                    Segment::Placeholder(name) => value.push_str(&bindings[name.as_str()]),
                }
            }
            key = key.with(k.clone(), value);
        }
        key
    }
}

fn split_segments(value: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            segments.push(Segment::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in value `{value}`"))?;
        let name = &after[..end];
        if name.is_empty() {
            return Err(format!("empty placeholder `${{}}` in value `{value}`"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!(
                "placeholder `${{{name}}}` in value `{value}` may contain only ASCII letters, \
                 digits and `_`"
            ));
        }
        segments.push(Segment::Placeholder(name.to_string()));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Literal(rest.to_string()));
    }
    Ok(segments)
}

/// Expands `template` with `values` for `business_date` (see the module docs for the rules).
///
/// A convenience over [`PartitionTemplate::parse`] + [`PartitionTemplate::expand`] for one-off
/// use; parse once when expanding many dates.
///
/// ```
/// use chrono::NaiveDate;
/// use spine_rules::{PartitionValues, expand_partitions};
///
/// let values = PartitionValues::from([(
///     "TIER".to_string(),
///     vec!["NMS_TIER_1".to_string(), "NMS_TIER_2".to_string(), "OTC".to_string()],
/// )]);
/// let saturday = NaiveDate::from_ymd_opt(2025, 12, 20).unwrap();
/// let keys = expand_partitions(
///     r#"{"tier":"${TIER}","week_ending":"${FRIDAY}"}"#,
///     &values,
///     saturday,
/// )
/// .unwrap();
/// assert_eq!(keys[2].canonical(), r#"{"tier":"OTC","week_ending":"2025-12-19"}"#);
/// ```
pub fn expand_partitions(
    template: &str,
    values: &PartitionValues,
    business_date: NaiveDate,
) -> Result<Vec<PartitionKey>, ScheduleError> {
    PartitionTemplate::parse(template)?.expand(values, business_date)
}

/// Reads `partition_values` as stored (a JSON object of string lists, or `null` for none).
///
/// The store keeps the column as JSON; this is the one place its shape is checked.
pub fn parse_partition_values(
    value: Option<&serde_json::Value>,
) -> Result<PartitionValues, ScheduleError> {
    let Some(value) = value else {
        return Ok(PartitionValues::new());
    };
    if value.is_null() {
        return Ok(PartitionValues::new());
    }
    let invalid = |reason: String| ScheduleError::InvalidValues {
        value: value.to_string(),
        reason,
    };
    let object = value
        .as_object()
        .ok_or_else(|| invalid("expected a JSON object of string lists".to_string()))?;
    let mut out = PartitionValues::new();
    for (name, list) in object {
        let items = list
            .as_array()
            .ok_or_else(|| invalid(format!("`{name}` is not a list")))?;
        let mut strings = Vec::with_capacity(items.len());
        for item in items {
            let s = item
                .as_str()
                .ok_or_else(|| invalid(format!("`{name}` contains a non-string value {item}")))?;
            strings.push(s.to_string());
        }
        out.insert(name.clone(), strings);
    }
    Ok(out)
}

/// The business dates a schedule has in `[from, to]` (both inclusive), ascending.
///
/// * `WEEKLY`: every Friday (the `week_ending`), whether or not the Friday trades — FINRA names
///   a week by its Friday even when that Friday is a holiday;
/// * `DAILY`: every trading day of `calendar` (weekdays that are not closures), because an
///   exchange-driven daily dataset has nothing to publish on a closed day;
/// * `MONTHLY`: the last calendar day of each month;
/// * `ANNUAL`: every 31 December;
/// * `TRIGGERED`: none — on-demand data is never expected, so never missed.
///
/// An empty range (`from > to`) has no dates.
pub fn business_dates(
    schedule_type: ScheduleType,
    from: NaiveDate,
    to: NaiveDate,
    calendar: &TradingCalendar,
) -> Vec<NaiveDate> {
    if from > to || schedule_type == ScheduleType::Triggered {
        return Vec::new();
    }
    let keep = |d: &NaiveDate| match schedule_type {
        ScheduleType::Weekly => d.weekday() == Weekday::Fri,
        ScheduleType::Daily => calendar.is_trading_day(*d),
        ScheduleType::Monthly => d.succ_opt().is_none_or(|next| next.month() != d.month()),
        ScheduleType::Annual => d.month() == 12 && d.day() == 31,
        ScheduleType::Triggered => false,
    };
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(keep)
        .collect()
}

/// When a partition of `business_date` is due, `expected_delay_hours` later in trading time.
///
/// The exact rule and worked examples are in the module docs: whole 24 h days are counted only
/// on trading days of `calendar`, the remaining hours are added to 00:00 UTC of the day reached,
/// and the result always falls on a trading day. Fails for a negative delay or one above
/// [`MAX_DELAY_HOURS`].
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use spine_rules::{TradingCalendar, due_time};
///
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// let xnys = TradingCalendar::new([d(2025, 12, 25), d(2026, 1, 1)]);
/// // Tuesday + 48 h: Wednesday the 24th counts, Christmas does not, so Friday the 26th.
/// assert_eq!(
///     due_time(d(2025, 12, 23), 48, &xnys).unwrap(),
///     Utc.with_ymd_and_hms(2025, 12, 26, 0, 0, 0).unwrap()
/// );
/// ```
pub fn due_time(
    business_date: NaiveDate,
    expected_delay_hours: i64,
    calendar: &TradingCalendar,
) -> Result<DateTime<Utc>, ScheduleError> {
    if !(0..=MAX_DELAY_HOURS).contains(&expected_delay_hours) {
        return Err(ScheduleError::DelayOutOfRange {
            hours: expected_delay_hours,
            max: MAX_DELAY_HOURS,
        });
    }
    let out_of_range = || ScheduleError::DateOutOfRange {
        date: business_date,
    };
    let whole_days = expected_delay_hours / 24;
    let remaining = expected_delay_hours % 24;
    let mut day = calendar
        .trading_day_on_or_after(business_date)
        .ok_or_else(out_of_range)?;
    for _ in 0..whole_days {
        day = calendar.next_trading_day(day).ok_or_else(out_of_range)?;
    }
    let start = day.and_time(NaiveTime::MIN).and_utc();
    Ok(start + TimeDelta::hours(remaining))
}

/// True when a partition due at `due` has no capture and `now` is past the due time.
///
/// Exactly at the due time the partition is not yet missed: the deadline is inclusive.
pub fn is_missed(due: DateTime<Utc>, now: DateTime<Utc>, has_capture: bool) -> bool {
    !has_capture && now > due
}

/// True when a capture arrived after its due time (at the due time exactly is on time).
pub fn is_late(due: DateTime<Utc>, captured_at: DateTime<Utc>) -> bool {
    captured_at > due
}

/// A schedule row's policy-relevant fields, typed: what [`ExpectedSchedule::expected`] needs to
/// list every partition it expects in a date range with its due time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedSchedule {
    /// The cadence, which decides the business dates.
    pub schedule_type: ScheduleType,
    /// The partition template, e.g. `{"tier":"${TIER}","week_ending":"${FRIDAY}"}`.
    pub partition_template: String,
    /// The values lists for the template's non-built-in placeholders.
    pub partition_values: PartitionValues,
    /// The publication delay after the business date, in trading-time hours; `None` means the
    /// schedule has no deadline (its partitions are expected but never *missed*).
    pub expected_delay_hours: Option<i64>,
    /// The preliminary (stabilization) window after capture, in hours (readiness criterion 5).
    pub preliminary_hours: Option<i64>,
}

/// One partition a schedule expects: for which business date, under which key, due when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedPartition {
    /// The business date the partition belongs to (e.g. the week's Friday).
    pub business_date: NaiveDate,
    /// The canonical key to look for.
    pub partition: PartitionKey,
    /// When it is due; `None` when the schedule declares no delay.
    pub due: Option<DateTime<Utc>>,
}

impl ExpectedSchedule {
    /// Every partition expected for business dates in `[from, to]`, by date then template order.
    ///
    /// Fails when the template or values are invalid or the delay is out of range, so a broken
    /// schedule is reported rather than silently expecting nothing.
    pub fn expected(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        calendar: &TradingCalendar,
    ) -> Result<Vec<ExpectedPartition>, ScheduleError> {
        let template = PartitionTemplate::parse(&self.partition_template)?;
        template.validate(&self.partition_values)?;
        let mut out = Vec::new();
        for date in business_dates(self.schedule_type, from, to, calendar) {
            let due = self
                .expected_delay_hours
                .map(|h| due_time(date, h, calendar))
                .transpose()?;
            for partition in template.expand(&self.partition_values, date)? {
                out.push(ExpectedPartition {
                    business_date: date,
                    partition,
                    due,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(y: i32, m: u32, day: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, 0, 0).unwrap()
    }

    fn tiers() -> PartitionValues {
        PartitionValues::from([(
            "TIER".to_string(),
            vec![
                "NMS_TIER_1".to_string(),
                "NMS_TIER_2".to_string(),
                "OTC".to_string(),
            ],
        )])
    }

    const FINRA_TEMPLATE: &str = r#"{"tier":"${TIER}","week_ending":"${FRIDAY}"}"#;

    fn xnys_christmas() -> TradingCalendar {
        TradingCalendar::new([d(2025, 12, 25), d(2026, 1, 1)])
    }

    #[test]
    fn finra_template_expands_to_three_canonical_tier_keys() {
        let keys = expand_partitions(FINRA_TEMPLATE, &tiers(), d(2025, 12, 17)).unwrap();
        let texts: Vec<String> = keys.iter().map(PartitionKey::canonical).collect();
        assert_eq!(
            texts,
            [
                r#"{"tier":"NMS_TIER_1","week_ending":"2025-12-19"}"#,
                r#"{"tier":"NMS_TIER_2","week_ending":"2025-12-19"}"#,
                r#"{"tier":"OTC","week_ending":"2025-12-19"}"#,
            ]
        );
    }

    #[test]
    fn weekend_dates_name_the_week_just_ended() {
        for date in [d(2025, 12, 20), d(2025, 12, 21)] {
            assert_eq!(spine_model::week::monday_of(date), d(2025, 12, 15));
            assert_eq!(
                spine_model::WeekEnding::containing(date).date(),
                d(2025, 12, 19)
            );
        }
        assert_eq!(
            spine_model::week::monday_of(d(2025, 12, 22)),
            d(2025, 12, 22)
        );
        assert_eq!(
            spine_model::WeekEnding::containing(d(2025, 12, 22)).date(),
            d(2025, 12, 26)
        );
        let keys = expand_partitions(FINRA_TEMPLATE, &tiers(), d(2025, 12, 21)).unwrap();
        assert!(
            keys.iter()
                .all(|k| k.week_ending() == Some(d(2025, 12, 19)))
        );
    }

    #[test]
    fn all_builtins_expand_from_the_business_date() {
        let t = r#"{"d":"${DATE}","m":"${MONDAY}","f":"${FRIDAY}","mo":"${MONTH}","y":"${YEAR}","x":"w${FRIDAY}-${YEAR}$"}"#;
        let keys = expand_partitions(t, &PartitionValues::new(), d(2026, 1, 1)).unwrap();
        assert_eq!(
            keys[0].canonical(),
            r#"{"d":"2026-01-01","f":"2026-01-02","m":"2025-12-29","mo":"2026-01","x":"w2026-01-02-2026$","y":"2026"}"#
        );
    }

    #[test]
    fn cartesian_product_is_deterministic_with_the_last_name_fastest() {
        let values = PartitionValues::from([
            ("A".to_string(), vec!["1".to_string(), "2".to_string()]),
            (
                "B".to_string(),
                vec!["x".to_string(), "y".to_string(), "z".to_string()],
            ),
        ]);
        let keys = expand_partitions(r#"{"a":"${A}","b":"${B}"}"#, &values, d(2025, 1, 6)).unwrap();
        let pairs: Vec<(String, String)> = keys
            .iter()
            .map(|k| (k.get("a").unwrap().into(), k.get("b").unwrap().into()))
            .collect();
        let expected: Vec<(String, String)> = [
            ("1", "x"),
            ("1", "y"),
            ("1", "z"),
            ("2", "x"),
            ("2", "y"),
            ("2", "z"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn duplicate_values_do_not_duplicate_partitions() {
        let values = PartitionValues::from([(
            "TIER".to_string(),
            vec!["OTC".to_string(), "OTC".to_string()],
        )]);
        let keys = expand_partitions(FINRA_TEMPLATE, &values, d(2025, 12, 19)).unwrap();
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn a_template_without_placeholders_expands_to_itself() {
        let keys = expand_partitions(
            r#"{ "exchange_code": "XNYS" }"#,
            &PartitionValues::new(),
            d(2025, 12, 19),
        )
        .unwrap();
        assert_eq!(
            keys,
            vec![PartitionKey::new().with("exchange_code", "XNYS")]
        );
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let err = expand_partitions(
            r#"{"tier":"${TEIR}","week_ending":"${FRIDAY}","v":"${VENUE}"}"#,
            &PartitionValues::new(),
            d(2025, 12, 19),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ScheduleError::UnknownPlaceholders {
                template: r#"{"tier":"${TEIR}","week_ending":"${FRIDAY}","v":"${VENUE}"}"#.into(),
                names: vec!["TEIR".into(), "VENUE".into()],
            }
        );
        let text = err.to_string();
        assert!(text.contains("${TEIR}, ${VENUE}"), "{text}");
        assert!(text.contains("${FRIDAY}"), "{text}");
    }

    #[test]
    fn unused_reserved_and_empty_lists_are_errors() {
        let mut values = tiers();
        values.insert("VENUE".into(), vec!["X".into()]);
        let err = expand_partitions(FINRA_TEMPLATE, &values, d(2025, 12, 19)).unwrap_err();
        assert!(matches!(&err, ScheduleError::UnusedValues { names, .. } if names == &["VENUE"]));
        assert!(err.to_string().contains("${VENUE}"));

        let mut values = tiers();
        values.insert("FRIDAY".into(), vec!["2025-12-19".into()]);
        let err = expand_partitions(FINRA_TEMPLATE, &values, d(2025, 12, 19)).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::ReservedName {
                name: "FRIDAY".into()
            }
        );

        let values = PartitionValues::from([("TIER".to_string(), vec![])]);
        let err = expand_partitions(FINRA_TEMPLATE, &values, d(2025, 12, 19)).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::EmptyValues {
                name: "TIER".into()
            }
        );
    }

    #[test]
    fn malformed_templates_are_rejected_with_a_reason() {
        for (t, needle) in [
            ("[1]", "JSON object"),
            (r#"{"tier":"${TIER"}"#, "unclosed"),
            (r#"{"tier":"${}"}"#, "empty placeholder"),
            (r#"{"tier":"${TI ER}"}"#, "only ASCII"),
            (r#"{"${TIER}":"x"}"#, "only values"),
            (r#"{"tier":3}"#, "not a string"),
        ] {
            let err = PartitionTemplate::parse(t).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(needle), "{t}: {text}");
        }
    }

    #[test]
    fn partition_values_are_read_from_stored_json() {
        let v = serde_json::json!({"TIER": ["NMS_TIER_1", "NMS_TIER_2", "OTC"]});
        assert_eq!(parse_partition_values(Some(&v)).unwrap(), tiers());
        assert!(parse_partition_values(None).unwrap().is_empty());
        assert!(
            parse_partition_values(Some(&serde_json::Value::Null))
                .unwrap()
                .is_empty()
        );
        for bad in [
            serde_json::json!(["OTC"]),
            serde_json::json!({"TIER": "OTC"}),
            serde_json::json!({"TIER": ["OTC", 1]}),
        ] {
            let err = parse_partition_values(Some(&bad)).unwrap_err();
            assert!(matches!(err, ScheduleError::InvalidValues { .. }), "{bad}");
        }
    }

    #[test]
    fn business_dates_per_schedule_type() {
        let cal = xnys_christmas();
        let (from, to) = (d(2025, 12, 15), d(2026, 1, 9));
        assert_eq!(
            business_dates(ScheduleType::Weekly, from, to, &cal),
            [
                d(2025, 12, 19),
                d(2025, 12, 26),
                d(2026, 1, 2),
                d(2026, 1, 9)
            ]
        );
        let daily = business_dates(ScheduleType::Daily, d(2025, 12, 22), d(2026, 1, 2), &cal);
        assert_eq!(
            daily,
            [
                d(2025, 12, 22),
                d(2025, 12, 23),
                d(2025, 12, 24),
                d(2025, 12, 26),
                d(2025, 12, 29),
                d(2025, 12, 30),
                d(2025, 12, 31),
                d(2026, 1, 2),
            ]
        );
        assert_eq!(
            business_dates(ScheduleType::Monthly, d(2024, 1, 31), d(2024, 4, 29), &cal),
            [d(2024, 1, 31), d(2024, 2, 29), d(2024, 3, 31)]
        );
        assert_eq!(
            business_dates(ScheduleType::Annual, d(2023, 6, 1), d(2025, 12, 31), &cal),
            [d(2023, 12, 31), d(2024, 12, 31), d(2025, 12, 31)]
        );
        assert!(business_dates(ScheduleType::Triggered, from, to, &cal).is_empty());
        assert!(business_dates(ScheduleType::Weekly, to, from, &cal).is_empty());
        // A Friday holiday is still a week ending.
        let good_friday = TradingCalendar::new([d(2025, 4, 18)]);
        assert_eq!(
            business_dates(
                ScheduleType::Weekly,
                d(2025, 4, 14),
                d(2025, 4, 18),
                &good_friday
            ),
            [d(2025, 4, 18)]
        );
    }

    #[test]
    fn due_time_examples_from_the_module_docs() {
        let cal = xnys_christmas();
        assert_eq!(
            due_time(d(2025, 12, 19), 24, &cal).unwrap(),
            at(2025, 12, 22, 0)
        );
        assert_eq!(
            due_time(d(2025, 12, 19), 30, &cal).unwrap(),
            at(2025, 12, 22, 6)
        );
        assert_eq!(
            due_time(d(2025, 12, 23), 48, &cal).unwrap(),
            at(2025, 12, 26, 0)
        );
        assert_eq!(
            due_time(d(2025, 12, 20), 5, &cal).unwrap(),
            at(2025, 12, 22, 5)
        );
        assert_eq!(
            due_time(d(2025, 12, 20), 24, &cal).unwrap(),
            at(2025, 12, 23, 0)
        );
        assert_eq!(
            due_time(d(2025, 12, 19), 240, &cal).unwrap(),
            at(2026, 1, 6, 0)
        );
        // Without the New Year closure, ten trading days end on Monday the 5th.
        assert_eq!(
            due_time(
                d(2025, 12, 19),
                240,
                &TradingCalendar::new([d(2025, 12, 25)])
            )
            .unwrap(),
            at(2026, 1, 5, 0)
        );
        // Zero delay on a trading day: the start of that day.
        assert_eq!(
            due_time(d(2025, 12, 19), 0, &cal).unwrap(),
            at(2025, 12, 19, 0)
        );
        // A due date landing on a holiday moves on: Wed 24 + 1 day would be Thu 25 (closed).
        assert_eq!(
            due_time(d(2025, 12, 24), 24, &cal).unwrap(),
            at(2025, 12, 26, 0)
        );
        assert_eq!(
            due_time(d(2025, 12, 25), 3, &cal).unwrap(),
            at(2025, 12, 26, 3)
        );
        // Without the holiday, the same delay lands on the 25th.
        assert_eq!(
            due_time(d(2025, 12, 24), 24, &TradingCalendar::weekends_only()).unwrap(),
            at(2025, 12, 25, 0)
        );
    }

    #[test]
    fn due_time_rejects_out_of_range_delays() {
        let cal = TradingCalendar::weekends_only();
        assert_eq!(
            due_time(d(2025, 12, 19), -1, &cal).unwrap_err(),
            ScheduleError::DelayOutOfRange {
                hours: -1,
                max: MAX_DELAY_HOURS
            }
        );
        assert!(due_time(d(2025, 12, 19), MAX_DELAY_HOURS + 1, &cal).is_err());
        assert!(due_time(d(2025, 12, 19), MAX_DELAY_HOURS, &cal).is_ok());
        assert!(
            due_time(NaiveDate::MAX, 24, &cal)
                .unwrap_err()
                .to_string()
                .contains("representable")
        );
    }

    #[test]
    fn missed_and_late_are_strictly_after_the_due_time() {
        let due = at(2026, 1, 5, 0);
        assert!(!is_missed(due, due, false));
        assert!(is_missed(due, at(2026, 1, 5, 1), false));
        assert!(!is_missed(due, at(2026, 1, 5, 1), true));
        assert!(!is_missed(due, at(2026, 1, 4, 23), false));
        assert!(!is_late(due, due));
        assert!(is_late(due, at(2026, 1, 5, 1)));
        assert!(!is_late(due, at(2026, 1, 2, 12)));
    }

    #[test]
    fn expected_schedule_lists_partitions_with_due_times() {
        let schedule = ExpectedSchedule {
            schedule_type: ScheduleType::Weekly,
            partition_template: FINRA_TEMPLATE.into(),
            partition_values: tiers(),
            expected_delay_hours: Some(240),
            preliminary_hours: Some(48),
        };
        let cal = xnys_christmas();
        let expected = schedule
            .expected(d(2025, 12, 15), d(2025, 12, 26), &cal)
            .unwrap();
        assert_eq!(expected.len(), 6);
        assert_eq!(expected[0].business_date, d(2025, 12, 19));
        assert_eq!(expected[0].due, Some(at(2026, 1, 6, 0)));
        assert_eq!(expected[3].business_date, d(2025, 12, 26));
        assert_eq!(
            expected[3].partition.tier(),
            Some(spine_model::Tier::NmsTier1)
        );

        let no_deadline = ExpectedSchedule {
            expected_delay_hours: None,
            ..schedule.clone()
        };
        let expected = no_deadline
            .expected(d(2025, 12, 15), d(2025, 12, 19), &cal)
            .unwrap();
        assert!(expected.iter().all(|e| e.due.is_none()));

        let broken = ExpectedSchedule {
            partition_values: PartitionValues::new(),
            ..schedule
        };
        // Broken even over an empty range: the schedule is checked, not just its dates.
        assert!(
            broken
                .expected(d(2025, 12, 20), d(2025, 12, 21), &cal)
                .is_err()
        );
    }

    fn arb_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..(365 * 30)).prop_map(|n| d(2000, 1, 1) + TimeDelta::days(n))
    }

    fn arb_calendar() -> impl Strategy<Value = TradingCalendar> {
        prop::collection::vec(arb_date(), 0..40).prop_map(TradingCalendar::new)
    }

    proptest! {
        #[test]
        fn week_bounds_are_a_monday_and_its_friday(date in arb_date()) {
            let monday = spine_model::week::monday_of(date);
            let friday = spine_model::WeekEnding::containing(date).date();
            prop_assert_eq!(monday.weekday(), Weekday::Mon);
            prop_assert_eq!(friday.weekday(), Weekday::Fri);
            prop_assert!(monday <= date);
            prop_assert!((date - monday).num_days() < 7);
            prop_assert_eq!((friday - monday).num_days(), 4);
        }

        #[test]
        fn due_time_falls_on_a_trading_day_after_the_business_date(
            date in arb_date(),
            hours in 0i64..(24 * 40),
            cal in arb_calendar(),
        ) {
            let due = due_time(date, hours, &cal).unwrap();
            let start = date.and_time(NaiveTime::MIN).and_utc();
            prop_assert!(cal.is_trading_day(due.date_naive()));
            prop_assert!(due >= start + TimeDelta::hours(hours));
            prop_assert_eq!(due.hour(), (hours % 24) as u32);
            // Exactly hours/24 trading days lie in (start, due date], where the count starts
            // on the first trading day on or after the business date.
            {
                let first = cal.trading_day_on_or_after(date).unwrap();
                let counted = first
                    .iter_days()
                    .skip(1)
                    .take_while(|d| *d <= due.date_naive())
                    .filter(|d| cal.is_trading_day(*d))
                    .count() as i64;
                prop_assert_eq!(counted, hours / 24);
            }
        }

        #[test]
        fn due_time_is_monotone_in_the_delay(
            date in arb_date(),
            a in 0i64..(24 * 30),
            b in 0i64..(24 * 30),
            cal in arb_calendar(),
        ) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(due_time(date, lo, &cal).unwrap() <= due_time(date, hi, &cal).unwrap());
        }

        #[test]
        fn holidays_only_ever_push_the_due_time_later(
            date in arb_date(),
            hours in 0i64..(24 * 30),
            cal in arb_calendar(),
        ) {
            let plain = due_time(date, hours, &TradingCalendar::weekends_only()).unwrap();
            prop_assert!(due_time(date, hours, &cal).unwrap() >= plain);
        }

        #[test]
        fn expansion_yields_the_product_of_distinct_values(
            a in prop::collection::btree_set("[a-z]{1,3}", 1..5),
            b in prop::collection::btree_set("[A-Z]{1,3}", 1..5),
            date in arb_date(),
        ) {
            let values = PartitionValues::from([
                ("A".to_string(), a.iter().cloned().collect::<Vec<_>>()),
                ("B".to_string(), b.iter().cloned().collect::<Vec<_>>()),
            ]);
            let keys = expand_partitions(
                r#"{"a":"${A}","b":"${B}","week_ending":"${FRIDAY}"}"#,
                &values,
                date,
            ).unwrap();
            prop_assert_eq!(keys.len(), a.len() * b.len());
            let distinct: BTreeSet<_> = keys.iter().collect();
            prop_assert_eq!(distinct.len(), keys.len());
            for k in &keys {
                prop_assert_eq!(k.week_ending(), Some(spine_model::WeekEnding::containing(date).date()));
                prop_assert_eq!(PartitionKey::parse(&k.canonical()).unwrap(), k.clone());
            }
        }

        #[test]
        fn weekly_dates_are_exactly_the_fridays(from in arb_date(), len in 0i64..120) {
            let to = from + TimeDelta::days(len);
            let dates = business_dates(ScheduleType::Weekly, from, to, &TradingCalendar::default());
            prop_assert!(dates.iter().all(|d| d.weekday() == Weekday::Fri && *d >= from && *d <= to));
            prop_assert!(dates.windows(2).all(|w| (w[1] - w[0]).num_days() == 7));
            let fridays = from.iter_days().take_while(|d| *d <= to)
                .filter(|d| d.weekday() == Weekday::Fri).count();
            prop_assert_eq!(dates.len(), fridays);
        }
    }
}
