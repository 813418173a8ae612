//! Exchange holiday calendars and trading-day counts (`reference.exchange_calendar`).
//!
//! `holidays` reads and validates one holiday file per (exchange, year); `trading_days` merges
//! files into a [`trading_days::TradingCalendar`] and counts trading days per week and month.

pub mod holidays;
pub mod trading_days;
