//! `m20260101_000003_exchange_calendar`: the exchange calendar reference data.
//!
//! Holidays and the trading-day counts derived from them; FINRA's volume-per-day calculation
//! depends on the trading days (a REQUIRED dependency). See `docs/SCHEMA.md`, "Exchange calendar
//! tables".

use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::{drop_table, index, unique_index};

/// The migration itself; what it creates is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_ref_calendar_holidays(manager).await?;
        create_ref_calendar_trading_days(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, RefCalendarTradingDays::Table).await?;
        drop_table(manager, RefCalendarHolidays::Table).await?;
        Ok(())
    }

    /// Always in a transaction, on SQLite as well as PostgreSQL, so a migration that fails
    /// half-way leaves no half-built schema behind on either backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Identifiers of `ref_calendar_holidays`; see [`create_ref_calendar_holidays`].
#[derive(DeriveIden)]
enum RefCalendarHolidays {
    Table,
    Id,
    CaptureId,
    ExchangeCode,
    Year,
    HolidayDate,
    Name,
    Closure,
}

/// Creates `ref_calendar_holidays` and its indexes.
///
/// Exchange holidays per capture of the exchange calendar reference data.
async fn create_ref_calendar_holidays(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(RefCalendarHolidays::Table)
                .col(big_pk_auto(RefCalendarHolidays::Id))
                .col(string_len(RefCalendarHolidays::CaptureId, 64))
                .col(string_len(RefCalendarHolidays::ExchangeCode, 16))
                .col(integer(RefCalendarHolidays::Year))
                .col(date(RefCalendarHolidays::HolidayDate))
                .col(text(RefCalendarHolidays::Name))
                .col(string_len(RefCalendarHolidays::Closure, 16))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_ref_calendar_holidays_capture_holiday_date",
            RefCalendarHolidays::Table,
            [
                RefCalendarHolidays::CaptureId,
                RefCalendarHolidays::HolidayDate,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_ref_calendar_holidays_exchange_year",
            RefCalendarHolidays::Table,
            [RefCalendarHolidays::ExchangeCode, RefCalendarHolidays::Year],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `ref_calendar_trading_days`; see [`create_ref_calendar_trading_days`].
#[derive(DeriveIden)]
enum RefCalendarTradingDays {
    Table,
    Id,
    CaptureId,
    ExchangeCode,
    PeriodType,
    PeriodStart,
    PeriodEnd,
    TradingDays,
}

/// Creates `ref_calendar_trading_days` and its indexes.
///
/// Trading-day counts per week or month, derived from a calendar capture; FINRA volume-per-day
/// calculations divide by these.
async fn create_ref_calendar_trading_days(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(RefCalendarTradingDays::Table)
                .col(big_pk_auto(RefCalendarTradingDays::Id))
                .col(string_len(RefCalendarTradingDays::CaptureId, 64))
                .col(string_len(RefCalendarTradingDays::ExchangeCode, 16))
                .col(string_len(RefCalendarTradingDays::PeriodType, 8))
                .col(date(RefCalendarTradingDays::PeriodStart))
                .col(date(RefCalendarTradingDays::PeriodEnd))
                .col(integer(RefCalendarTradingDays::TradingDays))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_ref_calendar_trading_days_capture_period",
            RefCalendarTradingDays::Table,
            [
                RefCalendarTradingDays::CaptureId,
                RefCalendarTradingDays::PeriodType,
                RefCalendarTradingDays::PeriodStart,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_ref_calendar_trading_days_exchange_period",
            RefCalendarTradingDays::Table,
            [
                RefCalendarTradingDays::ExchangeCode,
                RefCalendarTradingDays::PeriodType,
                RefCalendarTradingDays::PeriodStart,
            ],
        ))
        .await?;
    Ok(())
}
