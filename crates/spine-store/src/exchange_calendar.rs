//! The exchange calendar domain tables: holidays per capture and the trading-day counts derived
//! from them. Counts are stored per capture so a calc can say which calendar it used, and a
//! calendar revision can be compared with the capture it supersedes.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use spine_model::entities::{ref_calendar_holidays, ref_calendar_trading_days};

use crate::StoreResult;

/// One full-day closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayRow {
    /// The closed date.
    pub date: NaiveDate,
    /// Why it is closed.
    pub name: String,
}

/// The kind of period a trading-day count covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodType {
    /// Monday to Friday, identified by its Friday.
    Week,
    /// A calendar month.
    Month,
}

impl PeriodType {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodType::Week => "WEEK",
            PeriodType::Month => "MONTH",
        }
    }
}

/// Trading days in one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodRow {
    /// Week or month.
    pub period_type: PeriodType,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period (the Friday, for weeks).
    pub period_end: NaiveDate,
    /// Trading days in it.
    pub trading_days: i32,
}

/// Stores one calendar capture: its holidays and period counts.
pub async fn insert_calendar<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    exchange_code: &str,
    year: i32,
    holidays: Vec<HolidayRow>,
    periods: Vec<PeriodRow>,
) -> StoreResult<()> {
    let hs: Vec<_> = holidays
        .into_iter()
        .map(|h| ref_calendar_holidays::ActiveModel {
            capture_id: Set(capture_id.to_string()),
            exchange_code: Set(exchange_code.to_string()),
            year: Set(year),
            holiday_date: Set(h.date),
            name: Set(h.name),
            closure: Set("FULL_DAY".to_string()),
            ..Default::default()
        })
        .collect();
    if !hs.is_empty() {
        ref_calendar_holidays::Entity::insert_many(hs)
            .exec_without_returning(conn)
            .await?;
    }
    let ps: Vec<_> = periods
        .into_iter()
        .map(|p| ref_calendar_trading_days::ActiveModel {
            capture_id: Set(capture_id.to_string()),
            exchange_code: Set(exchange_code.to_string()),
            period_type: Set(p.period_type.as_str().to_string()),
            period_start: Set(p.period_start),
            period_end: Set(p.period_end),
            trading_days: Set(p.trading_days),
            ..Default::default()
        })
        .collect();
    if !ps.is_empty() {
        ref_calendar_trading_days::Entity::insert_many(ps)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The trading days of the week ending `week_ending` in one calendar capture.
pub async fn week_trading_days<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    week_ending: NaiveDate,
) -> StoreResult<Option<i32>> {
    use ref_calendar_trading_days::Column;
    Ok(ref_calendar_trading_days::Entity::find()
        .filter(Column::CaptureId.eq(capture_id))
        .filter(Column::PeriodType.eq(PeriodType::Week.as_str()))
        .filter(Column::PeriodEnd.eq(week_ending))
        .one(conn)
        .await?
        .map(|m| m.trading_days))
}

/// Every period count of one calendar capture, by period type then start.
pub async fn periods<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
) -> StoreResult<Vec<ref_calendar_trading_days::Model>> {
    use ref_calendar_trading_days::Column;
    Ok(ref_calendar_trading_days::Entity::find()
        .filter(Column::CaptureId.eq(capture_id))
        .order_by_asc(Column::PeriodType)
        .order_by_asc(Column::PeriodStart)
        .all(conn)
        .await?)
}

/// The holidays of one calendar capture, by date.
pub async fn holidays<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
) -> StoreResult<Vec<HolidayRow>> {
    use ref_calendar_holidays::Column;
    Ok(ref_calendar_holidays::Entity::find()
        .filter(Column::CaptureId.eq(capture_id))
        .order_by_asc(Column::HolidayDate)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| HolidayRow {
            date: m.holiday_date,
            name: m.name,
        })
        .collect())
}
