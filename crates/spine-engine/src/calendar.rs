//! The exchange calendar as reference data, read through the store.
//!
//! Due times (schedules) and trading-day counts (calcs such as volume per trading day) need to
//! know when the exchange was closed, whichever domain asks. The engine reads the latest
//! capture of `reference.exchange_calendar` for each year straight from the store; it never
//! runs the calendar domain's pipeline (which loads and revises those captures).

use chrono::{Datelike, NaiveDate};
use spine_model::{Domain, PartitionKey};
use spine_rules::TradingCalendar;
use spine_store::{ConnectionTrait, captures, exchange_calendar as repo};

use crate::PipelineResult;

/// The exchange whose calendar due times and calcs use (NYSE).
pub const EXCHANGE: &str = "XNYS";
/// The table of trading-day counts calcs read.
pub const TRADING_DAYS_TABLE: &str = "ref_calendar_trading_days";

/// The reference calendar domain.
pub fn domain() -> Domain {
    Domain::parse(Domain::EXCHANGE_CALENDAR).expect("a valid domain constant")
}

/// The partition of one exchange-year: `{"exchange_code":…,"year":…}`.
pub fn partition(exchange: &str, year: i32) -> PartitionKey {
    PartitionKey::new()
        .with("exchange_code", exchange)
        .with("year", year.to_string())
}

/// The closures (date, name) of the latest capture of (exchange, year), if one is loaded.
pub async fn latest_holidays<C: ConnectionTrait>(
    conn: &C,
    exchange: &str,
    year: i32,
) -> PipelineResult<Option<Vec<(NaiveDate, String)>>> {
    let Some(capture) = captures::latest(conn, &domain(), &partition(exchange, year)).await? else {
        return Ok(None);
    };
    Ok(Some(
        repo::holidays(conn, &capture.capture_id)
            .await?
            .into_iter()
            .map(|h| (h.date, h.name))
            .collect(),
    ))
}

/// The trading calendar of the stored exchange holidays for the years around `from..=to`
/// (weekends only where no year is loaded): what due-time arithmetic counts in.
pub async fn trading_calendar<C: ConnectionTrait>(
    conn: &C,
    from: NaiveDate,
    to: NaiveDate,
) -> PipelineResult<TradingCalendar> {
    let mut closures = Vec::new();
    for year in from.year() - 1..=to.year() + 1 {
        if let Some(holidays) = latest_holidays(conn, EXCHANGE, year).await? {
            closures.extend(holidays.into_iter().map(|(date, _)| date));
        }
    }
    Ok(TradingCalendar::new(closures))
}

/// The trading days of a week from the latest calendar capture covering it.
#[derive(Debug, Clone)]
pub struct CalendarInput {
    /// The calendar capture used (recorded as the calc's lineage).
    pub capture_id: String,
    /// Its partition.
    pub partition: PartitionKey,
    /// Trading days in the week.
    pub trading_days: u32,
}

/// Looks up the trading days of the week ending `week` (its Friday's year decides the
/// calendar), or `None` when no calendar covering it is loaded.
pub async fn trading_days_for_week<C: ConnectionTrait>(
    conn: &C,
    week: NaiveDate,
) -> PipelineResult<Option<CalendarInput>> {
    let key = partition(EXCHANGE, week.year());
    let Some(capture) = captures::latest(conn, &domain(), &key).await? else {
        return Ok(None);
    };
    Ok(repo::week_trading_days(conn, &capture.capture_id, week)
        .await?
        .map(|days| CalendarInput {
            capture_id: capture.capture_id,
            partition: key,
            trading_days: days as u32,
        }))
}
