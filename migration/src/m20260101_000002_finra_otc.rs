//! `m20260101_000002_finra_otc`: the FINRA OTC Transparency domain tables.
//!
//! Raw rows as read, normalized rows, and the per-capture calculations (symbol summary, venue
//! share, HHI, tier split, volume per trading day). Every row carries the `capture_id` it came
//! from or was computed from, which is what makes "as of capture" questions answerable. See
//! `docs/SCHEMA.md`, "FINRA OTC Transparency tables".

use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::{drop_table, index, unique_index};

/// The migration itself; what it creates is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_finra_otc_raw(manager).await?;
        create_finra_otc_normalized(manager).await?;
        create_finra_otc_symbol_summary(manager).await?;
        create_finra_otc_venue_share(manager).await?;
        create_finra_otc_hhi(manager).await?;
        create_finra_otc_tier_split(manager).await?;
        create_finra_otc_volume_per_day(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, FinraOtcVolumePerDay::Table).await?;
        drop_table(manager, FinraOtcTierSplit::Table).await?;
        drop_table(manager, FinraOtcHhi::Table).await?;
        drop_table(manager, FinraOtcVenueShare::Table).await?;
        drop_table(manager, FinraOtcSymbolSummary::Table).await?;
        drop_table(manager, FinraOtcNormalized::Table).await?;
        drop_table(manager, FinraOtcRaw::Table).await?;
        Ok(())
    }

    /// Always in a transaction, on SQLite as well as PostgreSQL, so a migration that fails
    /// half-way leaves no half-built schema behind on either backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Identifiers of `finra_otc_raw`; see [`create_finra_otc_raw`].
#[derive(DeriveIden)]
enum FinraOtcRaw {
    Table,
    Id,
    CaptureId,
    LineNumber,
    RawLine,
}

/// Creates `finra_otc_raw` and its indexes.
///
/// FINRA OTC Transparency lines exactly as read from the pipe-delimited file (the accepted line,
/// verbatim, without its terminator), tagged with the capture and line they came from, so
/// normalization can always be replayed. One text column rather than eight: the line is what was
/// received, the parser splits it exactly (quoting is off), and a bulk load binds three values
/// per row instead of ten. The `(capture_id, id)` index is what the keyset page read by a
/// standalone NORMALIZED run range-scans.
pub(crate) async fn create_finra_otc_raw(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(FinraOtcRaw::Table)
                .col(big_pk_auto(FinraOtcRaw::Id))
                .col(string_len(FinraOtcRaw::CaptureId, 64))
                .col(big_integer(FinraOtcRaw::LineNumber))
                .col(text(FinraOtcRaw::RawLine))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_finra_otc_raw_capture_id_id",
            FinraOtcRaw::Table,
            [FinraOtcRaw::CaptureId, FinraOtcRaw::Id],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `finra_otc_normalized`; see [`create_finra_otc_normalized`].
#[derive(DeriveIden)]
enum FinraOtcNormalized {
    Table,
    Id,
    CaptureId,
    WeekEnding,
    Tier,
    Symbol,
    IssueName,
    Mpid,
    MarketParticipantName,
    TotalShares,
    TotalTrades,
    LastUpdateDate,
    LineNumber,
}

/// Creates `finra_otc_normalized` and its indexes.
///
/// Validated, typed FINRA OTC rows: one per (week, tier, symbol, venue) of a capture. Every
/// calculation is reproducible from these. One index, `(capture_id, id)`: the only query reads a
/// capture's rows in id order, page by page (every index costs on each of a million inserts).
pub(crate) async fn create_finra_otc_normalized(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(FinraOtcNormalized::Table)
                .col(big_pk_auto(FinraOtcNormalized::Id))
                .col(string_len(FinraOtcNormalized::CaptureId, 64))
                .col(date(FinraOtcNormalized::WeekEnding))
                .col(string_len(FinraOtcNormalized::Tier, 16))
                .col(string_len(FinraOtcNormalized::Symbol, 32))
                .col(text(FinraOtcNormalized::IssueName))
                .col(string_len(FinraOtcNormalized::Mpid, 16))
                .col(text(FinraOtcNormalized::MarketParticipantName))
                .col(big_integer(FinraOtcNormalized::TotalShares))
                .col(big_integer(FinraOtcNormalized::TotalTrades))
                .col(date(FinraOtcNormalized::LastUpdateDate))
                .col(big_integer(FinraOtcNormalized::LineNumber))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_finra_otc_normalized_capture_id_id",
            FinraOtcNormalized::Table,
            [FinraOtcNormalized::CaptureId, FinraOtcNormalized::Id],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `finra_otc_symbol_summary`; see [`create_finra_otc_symbol_summary`].
#[derive(DeriveIden)]
enum FinraOtcSymbolSummary {
    Table,
    Id,
    CaptureId,
    WeekEnding,
    Tier,
    Symbol,
    TotalShares,
    TotalTrades,
    VenueCount,
}

/// Creates `finra_otc_symbol_summary` and its indexes.
///
/// Per-capture symbol summary: total shares, total trades and venue count per (week, tier, symbol).
/// Every query selects by capture (and symbol), which the unique index serves.
pub(crate) async fn create_finra_otc_symbol_summary(
    manager: &SchemaManager<'_>,
) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(FinraOtcSymbolSummary::Table)
                .col(big_pk_auto(FinraOtcSymbolSummary::Id))
                .col(string_len(FinraOtcSymbolSummary::CaptureId, 64))
                .col(date(FinraOtcSymbolSummary::WeekEnding))
                .col(string_len(FinraOtcSymbolSummary::Tier, 16))
                .col(string_len(FinraOtcSymbolSummary::Symbol, 32))
                .col(big_integer(FinraOtcSymbolSummary::TotalShares))
                .col(big_integer(FinraOtcSymbolSummary::TotalTrades))
                .col(integer(FinraOtcSymbolSummary::VenueCount))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_finra_otc_symbol_summary_capture_symbol",
            FinraOtcSymbolSummary::Table,
            [
                FinraOtcSymbolSummary::CaptureId,
                FinraOtcSymbolSummary::Symbol,
            ],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `finra_otc_venue_share`; see [`create_finra_otc_venue_share`].
#[derive(DeriveIden)]
enum FinraOtcVenueShare {
    Table,
    Id,
    CaptureId,
    WeekEnding,
    Tier,
    Mpid,
    Shares,
    Share,
}

/// Creates `finra_otc_venue_share` and its indexes.
///
/// Per-capture venue market share: each MPID's shares over the tier's shares for the week (shares
/// sum to 1 per tier-week).
pub(crate) async fn create_finra_otc_venue_share(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(FinraOtcVenueShare::Table)
                .col(big_pk_auto(FinraOtcVenueShare::Id))
                .col(string_len(FinraOtcVenueShare::CaptureId, 64))
                .col(date(FinraOtcVenueShare::WeekEnding))
                .col(string_len(FinraOtcVenueShare::Tier, 16))
                .col(string_len(FinraOtcVenueShare::Mpid, 16))
                .col(big_integer(FinraOtcVenueShare::Shares))
                .col(double(FinraOtcVenueShare::Share))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_finra_otc_venue_share_capture_mpid",
            FinraOtcVenueShare::Table,
            [FinraOtcVenueShare::CaptureId, FinraOtcVenueShare::Mpid],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `finra_otc_hhi`; see [`create_finra_otc_hhi`].
#[derive(DeriveIden)]
enum FinraOtcHhi {
    Table,
    Id,
    CaptureId,
    WeekEnding,
    Tier,
    Symbol,
    Hhi,
    VenueCount,
}

/// Creates `finra_otc_hhi` and its indexes.
///
/// Per-capture Herfindahl-Hirschman concentration of each symbol's volume across venues, in [0, 1].
pub(crate) async fn create_finra_otc_hhi(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(FinraOtcHhi::Table)
                .col(big_pk_auto(FinraOtcHhi::Id))
                .col(string_len(FinraOtcHhi::CaptureId, 64))
                .col(date(FinraOtcHhi::WeekEnding))
                .col(string_len(FinraOtcHhi::Tier, 16))
                .col(string_len(FinraOtcHhi::Symbol, 32))
                .col(double(FinraOtcHhi::Hhi))
                .col(integer(FinraOtcHhi::VenueCount))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_finra_otc_hhi_capture_symbol",
            FinraOtcHhi::Table,
            [FinraOtcHhi::CaptureId, FinraOtcHhi::Symbol],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `finra_otc_tier_split`; see [`create_finra_otc_tier_split`].
#[derive(DeriveIden)]
enum FinraOtcTierSplit {
    Table,
    Id,
    WeekEnding,
    Tier,
    CaptureId,
    Shares,
    Share,
    ComputedAt,
}

/// Creates `finra_otc_tier_split` and its indexes.
///
/// Each tier's share of all-tier volume per week, with the tier capture it was computed from.
async fn create_finra_otc_tier_split(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(FinraOtcTierSplit::Table)
                .col(big_pk_auto(FinraOtcTierSplit::Id))
                .col(date(FinraOtcTierSplit::WeekEnding))
                .col(string_len(FinraOtcTierSplit::Tier, 16))
                .col(string_len(FinraOtcTierSplit::CaptureId, 64))
                .col(big_integer(FinraOtcTierSplit::Shares))
                .col(double(FinraOtcTierSplit::Share))
                .col(timestamp_with_time_zone(FinraOtcTierSplit::ComputedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_finra_otc_tier_split_week_tier",
            FinraOtcTierSplit::Table,
            [FinraOtcTierSplit::WeekEnding, FinraOtcTierSplit::Tier],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_finra_otc_tier_split_capture_id",
            FinraOtcTierSplit::Table,
            [FinraOtcTierSplit::CaptureId],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `finra_otc_volume_per_day`; see [`create_finra_otc_volume_per_day`].
#[derive(DeriveIden)]
enum FinraOtcVolumePerDay {
    Table,
    Id,
    CaptureId,
    WeekEnding,
    Tier,
    Symbol,
    TotalShares,
    TradingDays,
    SharesPerDay,
    CalendarCaptureId,
}

/// Creates `finra_otc_volume_per_day` and its indexes.
///
/// Per-capture average volume per trading day of each symbol, using the exchange calendar's trading
/// days for the week; `calendar_capture_id` records which calendar capture was used (a REQUIRED
/// dependency).
pub(crate) async fn create_finra_otc_volume_per_day(
    manager: &SchemaManager<'_>,
) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(FinraOtcVolumePerDay::Table)
                .col(big_pk_auto(FinraOtcVolumePerDay::Id))
                .col(string_len(FinraOtcVolumePerDay::CaptureId, 64))
                .col(date(FinraOtcVolumePerDay::WeekEnding))
                .col(string_len(FinraOtcVolumePerDay::Tier, 16))
                .col(string_len(FinraOtcVolumePerDay::Symbol, 32))
                .col(big_integer(FinraOtcVolumePerDay::TotalShares))
                .col(integer(FinraOtcVolumePerDay::TradingDays))
                .col(double(FinraOtcVolumePerDay::SharesPerDay))
                .col(string_len(FinraOtcVolumePerDay::CalendarCaptureId, 64))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_finra_otc_volume_per_day_capture_symbol",
            FinraOtcVolumePerDay::Table,
            [
                FinraOtcVolumePerDay::CaptureId,
                FinraOtcVolumePerDay::Symbol,
            ],
        ))
        .await?;
    Ok(())
}
