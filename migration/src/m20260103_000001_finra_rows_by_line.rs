//! `m20260103_000001_finra_rows_by_line`: FINRA OTC raw and normalized rows keyed by the line
//! they came from, and normalized rows without the text RAW already holds.
//!
//! Both tables hold a million rows per tier-week and are written by every ingest, so every byte
//! and every index entry per row counts (docs/PERFORMANCE.md):
//!
//! - **Key `(capture_id, line_number)`** instead of a surrogate `id` plus a `(capture_id, id)`
//!   index. A line of a capture is unique, so the natural key is the primary key, and the only
//!   query (a capture's rows in line order, page by page) range-scans it. On SQLite the tables
//!   are `WITHOUT ROWID`: the rows live in the primary key's B-tree, so there is one B-tree per
//!   table instead of two and no second copy of `capture_id` per row. On PostgreSQL the key is a
//!   plain primary-key index, the same shape as the index it replaces.
//! - **`finra_otc_normalized` keeps what the calcs and the business rules read**: symbol, MPID,
//!   the two quantities, FINRA's `lastUpdateDate`. The week and tier are the capture's partition
//!   (`core_captures.partition_key`), the same for every row of a capture; the issue and
//!   participant names are descriptive text that the RAW line holds verbatim. Storing them again
//!   per row doubled the table for nothing any query read.
//!
//! `up` rebuilds both tables and copies every row (a row that an old `spine run
//! finra_otc.normalize` had stored twice is copied once). `down` restores the old shapes and the
//! RAW rows; the old NORMALIZED table comes back empty, because the names it held are not kept
//! here: `spine run finra_otc.normalize` rebuilds it from RAW.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::drop_table;
use crate::m20260101_000002_finra_otc as old;

/// The migration itself; what it changes is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // RAW: same columns, keyed by line.
        create_raw(manager, FinraOtcRaw::Staging).await?;
        copy(
            manager,
            FinraOtcRaw::Table,
            FinraOtcRaw::Staging,
            &[
                FinraOtcRaw::CaptureId,
                FinraOtcRaw::LineNumber,
                FinraOtcRaw::RawLine,
            ],
            false,
        )
        .await?;
        replace(manager, FinraOtcRaw::Table, FinraOtcRaw::Staging).await?;

        // NORMALIZED: keyed by line, without the per-capture and descriptive columns.
        create_normalized(manager, FinraOtcNormalized::Staging).await?;
        copy(
            manager,
            FinraOtcNormalized::Table,
            FinraOtcNormalized::Staging,
            &[
                FinraOtcNormalized::CaptureId,
                FinraOtcNormalized::LineNumber,
                FinraOtcNormalized::Symbol,
                FinraOtcNormalized::Mpid,
                FinraOtcNormalized::TotalShares,
                FinraOtcNormalized::TotalTrades,
                FinraOtcNormalized::LastUpdateDate,
            ],
            true,
        )
        .await?;
        replace(
            manager,
            FinraOtcNormalized::Table,
            FinraOtcNormalized::Staging,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // RAW: the old shape (and its index), exactly as the original migration creates it,
        // with every row copied back.
        manager
            .rename_table(
                Table::rename()
                    .table(FinraOtcRaw::Table, FinraOtcRaw::Staging)
                    .to_owned(),
            )
            .await?;
        old::create_finra_otc_raw(manager).await?;
        copy(
            manager,
            FinraOtcRaw::Staging,
            FinraOtcRaw::Table,
            &[
                FinraOtcRaw::CaptureId,
                FinraOtcRaw::LineNumber,
                FinraOtcRaw::RawLine,
            ],
            false,
        )
        .await?;
        drop_table(manager, FinraOtcRaw::Staging).await?;

        // NORMALIZED: the old shape, empty (see the module docs).
        drop_table(manager, FinraOtcNormalized::Table).await?;
        old::create_finra_otc_normalized(manager).await
    }

    /// Always in a transaction, on SQLite as well as PostgreSQL: a rebuild that fails half-way
    /// leaves the old tables and their rows as they were.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Identifiers of `finra_otc_raw`. `Staging` holds the table being rebuilt (`up`: the new
/// shape, renamed into place; `down`: the rows, while the old shape is recreated).
#[derive(DeriveIden, Clone, Copy)]
enum FinraOtcRaw {
    #[sea_orm(iden = "finra_otc_raw")]
    Table,
    #[sea_orm(iden = "finra_otc_raw_staging")]
    Staging,
    CaptureId,
    LineNumber,
    RawLine,
}

/// Identifiers of `finra_otc_normalized`. `Staging` is the new shape being built, renamed into
/// place.
#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum FinraOtcNormalized {
    #[sea_orm(iden = "finra_otc_normalized")]
    Table,
    #[sea_orm(iden = "finra_otc_normalized_staging")]
    Staging,
    CaptureId,
    Symbol,
    Mpid,
    TotalShares,
    TotalTrades,
    LastUpdateDate,
    LineNumber,
}

/// A table keyed by `(capture_id, line_number)`, with the primary key named `pk_<final name>`
/// (the same on both backends, and still right once the table is renamed into place), and
/// `WITHOUT ROWID` on SQLite (the rows are stored in the key's B-tree; see the module docs).
fn keyed_by_line(
    manager: &SchemaManager<'_>,
    final_name: &str,
    mut table: TableCreateStatement,
    capture_id: impl IntoIden,
    line_number: impl IntoIden,
) -> TableCreateStatement {
    table.primary_key(
        Index::create()
            .name(format!("pk_{final_name}"))
            .col(capture_id)
            .col(line_number),
    );
    if manager.get_database_backend() == DbBackend::Sqlite {
        table.extra("WITHOUT ROWID");
    }
    table
}

/// Creates the new `finra_otc_raw` shape under `name`.
///
/// FINRA OTC Transparency lines exactly as read (the accepted line, verbatim, without its
/// terminator), tagged with the capture and line they came from, so normalization can always be
/// replayed.
async fn create_raw(manager: &SchemaManager<'_>, name: FinraOtcRaw) -> Result<(), DbErr> {
    let table = Table::create()
        .table(name)
        .col(string_len(FinraOtcRaw::CaptureId, 64))
        .col(big_integer(FinraOtcRaw::LineNumber))
        .col(text(FinraOtcRaw::RawLine))
        .to_owned();
    manager
        .create_table(keyed_by_line(
            manager,
            "finra_otc_raw",
            table,
            FinraOtcRaw::CaptureId,
            FinraOtcRaw::LineNumber,
        ))
        .await
}

/// Creates the new `finra_otc_normalized` shape under `name`.
///
/// Validated, typed FINRA OTC rows: one per (symbol, venue) of a capture, which names the week
/// and tier. Every calculation is reproducible from these.
pub(crate) async fn create_normalized(
    manager: &SchemaManager<'_>,
    name: FinraOtcNormalized,
) -> Result<(), DbErr> {
    let table = Table::create()
        .table(name)
        .col(string_len(FinraOtcNormalized::CaptureId, 64))
        .col(big_integer(FinraOtcNormalized::LineNumber))
        .col(string_len(FinraOtcNormalized::Symbol, 32))
        .col(string_len(FinraOtcNormalized::Mpid, 16))
        .col(big_integer(FinraOtcNormalized::TotalShares))
        .col(big_integer(FinraOtcNormalized::TotalTrades))
        .col(date(FinraOtcNormalized::LastUpdateDate))
        .to_owned();
    manager
        .create_table(keyed_by_line(
            manager,
            "finra_otc_normalized",
            table,
            FinraOtcNormalized::CaptureId,
            FinraOtcNormalized::LineNumber,
        ))
        .await
}

/// `INSERT INTO to (columns) SELECT [DISTINCT] columns FROM from`, in `(capture_id, line)` order.
async fn copy<T: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    from: T,
    to: T,
    columns: &[T],
    distinct: bool,
) -> Result<(), DbErr> {
    let mut select = Query::select();
    select.columns(columns.iter().copied()).from(from);
    if distinct {
        select.distinct();
    }
    let mut insert = Query::insert();
    insert
        .into_table(to)
        .columns(columns.iter().copied())
        .select_from(select)
        .map_err(|e| DbErr::Migration(format!("copy {}: {e}", from.to_string())))?;
    manager.exec_stmt(insert).await
}

/// Drops `old` and renames `next` to its name.
async fn replace<T: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    old: T,
    next: T,
) -> Result<(), DbErr> {
    drop_table(manager, old).await?;
    manager
        .rename_table(Table::rename().table(next, old).to_owned())
        .await
}
