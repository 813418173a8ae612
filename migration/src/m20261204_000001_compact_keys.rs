//! `m20261204_000001_compact_keys`: the FINRA OTC tables every ingest writes by the hundred
//! thousand, keyed by what identifies a row and nothing more.
//!
//! A million-row week writes a million NORMALIZED rows and about 200,000 rows into each
//! per-symbol calc table, so every byte and every index entry per row is paid for on every ingest
//! (docs/PERFORMANCE.md, "Less to write"):
//!
//! - **`finra_otc_normalized` is keyed by `(capture_key, line_number)`**, where `capture_key` is
//!   the capture's `core_captures.id`. The 28-character `capture_id` it replaces was repeated in
//!   every row and every key entry: 26 bytes more per row than an integer, a third of the table.
//!   The table is only ever read one capture at a time by the store, which knows the capture.
//! - **The per-symbol and per-venue calc tables lose their surrogate `id`** and are keyed by
//!   their `UNIQUE` key: `(capture_id, symbol)` for `finra_otc_symbol_summary`, `finra_otc_hhi`
//!   and `finra_otc_volume_per_day`, `(capture_id, mpid)` for `finra_otc_venue_share`. On SQLite
//!   they are `WITHOUT ROWID`, so each table is one B-tree instead of two (the rows by `id` plus
//!   the unique index); on PostgreSQL the primary key index replaces the unique index. Nothing
//!   read or referred to the `id`.
//!
//! `up` rebuilds each table and copies every row (a NORMALIZED row whose capture no longer exists
//! has no key to take, and no capture to be read for; there are none unless the table was edited
//! by hand). `down` restores the old shapes with every row (the calc rows get new ids).

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::drop_table;
use crate::m20260101_000002_finra_otc as calcs_v1;
use crate::m20260103_000001_finra_rows_by_line as by_line;

/// The migration itself; what it changes is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The NORMALIZED table.
const NORMALIZED: &str = "finra_otc_normalized";
/// Where a table's rows wait while it is rebuilt.
const STAGING: &str = "_staging";

/// Columns of NORMALIZED after the capture, in both shapes.
const NORMALIZED_ROW: [&str; 6] = [
    "line_number",
    "symbol",
    "mpid",
    "total_shares",
    "total_trades",
    "last_update_date",
];

/// The type of a calc column, as the original migration declares it.
#[derive(Clone, Copy)]
enum Kind {
    BigInt,
    Int,
    Double,
    Id64,
}

/// A calc table rebuilt here: its name, the column that identifies a row within a capture (and
/// its length), and
/// its value columns after the capture's `week_ending` and `tier` (both shapes have the same
/// columns but `id`).
struct CalcTable {
    name: &'static str,
    key: &'static str,
    key_len: u32,
    values: &'static [(&'static str, Kind)],
}

/// The four calc tables keyed by capture and symbol or venue.
const CALC_TABLES: [CalcTable; 4] = [
    CalcTable {
        name: "finra_otc_symbol_summary",
        key: "symbol",
        key_len: 32,
        values: &[
            ("total_shares", Kind::BigInt),
            ("total_trades", Kind::BigInt),
            ("venue_count", Kind::Int),
        ],
    },
    CalcTable {
        name: "finra_otc_venue_share",
        key: "mpid",
        key_len: 16,
        values: &[("shares", Kind::BigInt), ("share", Kind::Double)],
    },
    CalcTable {
        name: "finra_otc_hhi",
        key: "symbol",
        key_len: 32,
        values: &[("hhi", Kind::Double), ("venue_count", Kind::Int)],
    },
    CalcTable {
        name: "finra_otc_volume_per_day",
        key: "symbol",
        key_len: 32,
        values: &[
            ("total_shares", Kind::BigInt),
            ("trading_days", Kind::Int),
            ("shares_per_day", Kind::Double),
            ("calendar_capture_id", Kind::Id64),
        ],
    },
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // NORMALIZED: the old table (and its key's name, on PostgreSQL) steps aside, the new
        // shape takes the name, and the rows move across with their capture's integer key.
        let old = format!("{NORMALIZED}{STAGING}");
        step_aside(manager, NORMALIZED, &old, true).await?;
        create_normalized(manager).await?;
        let row = quoted(&NORMALIZED_ROW, "n");
        exec(
            manager,
            format!(
                "INSERT INTO \"{NORMALIZED}\" (\"capture_key\", {}) SELECT \"c\".\"id\", {row} \
                 FROM \"{old}\" AS \"n\" JOIN \"core_captures\" AS \"c\" \
                 ON \"c\".\"capture_id\" = \"n\".\"capture_id\"",
                quoted(&NORMALIZED_ROW, ""),
            ),
        )
        .await?;
        drop_table(manager, Alias::new(old)).await?;

        // The calc tables: the same columns but `id`, keyed by their unique key.
        for t in &CALC_TABLES {
            let old = format!("{}{STAGING}", t.name);
            step_aside(manager, t.name, &old, false).await?;
            create_calc(manager, t).await?;
            copy_calc(manager, t, &old).await?;
            drop_table(manager, Alias::new(old)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in &CALC_TABLES {
            let new = format!("{}{STAGING}", t.name);
            step_aside(manager, t.name, &new, true).await?;
            match t.name {
                "finra_otc_symbol_summary" => {
                    calcs_v1::create_finra_otc_symbol_summary(manager).await?
                }
                "finra_otc_venue_share" => calcs_v1::create_finra_otc_venue_share(manager).await?,
                "finra_otc_hhi" => calcs_v1::create_finra_otc_hhi(manager).await?,
                _ => calcs_v1::create_finra_otc_volume_per_day(manager).await?,
            }
            copy_calc(manager, t, &new).await?;
            drop_table(manager, Alias::new(new)).await?;
        }

        let new = format!("{NORMALIZED}{STAGING}");
        step_aside(manager, NORMALIZED, &new, true).await?;
        by_line::create_normalized(manager, by_line::FinraOtcNormalized::Table).await?;
        let row = quoted(&NORMALIZED_ROW, "n");
        exec(
            manager,
            format!(
                "INSERT INTO \"{NORMALIZED}\" (\"capture_id\", {}) SELECT \"c\".\"capture_id\", \
                 {row} FROM \"{new}\" AS \"n\" JOIN \"core_captures\" AS \"c\" \
                 ON \"c\".\"id\" = \"n\".\"capture_key\"",
                quoted(&NORMALIZED_ROW, ""),
            ),
        )
        .await?;
        drop_table(manager, Alias::new(new)).await
    }

    /// Always in a transaction, on SQLite as well as PostgreSQL: a rebuild that fails half-way
    /// leaves the old tables and their rows as they were.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Renames `table` to `aside`. With `named_key`, the table's primary key is named
/// `pk_<table>` and, on PostgreSQL, is renamed too, so the shape that takes the table's name can
/// name its own key the same (SQLite keeps no name for a table's key).
async fn step_aside(
    manager: &SchemaManager<'_>,
    table: &str,
    aside: &str,
    named_key: bool,
) -> Result<(), DbErr> {
    manager
        .rename_table(
            Table::rename()
                .table(Alias::new(table), Alias::new(aside))
                .to_owned(),
        )
        .await?;
    if named_key && manager.get_database_backend() == DbBackend::Postgres {
        exec(
            manager,
            format!("ALTER INDEX \"pk_{table}\" RENAME TO \"pk_{aside}\""),
        )
        .await?;
    }
    Ok(())
}

/// `"prefix"."a", "prefix"."b", …` (or `"a", "b", …` with no prefix).
fn quoted(columns: &[&str], prefix: &str) -> String {
    columns
        .iter()
        .map(|c| match prefix {
            "" => format!("\"{c}\""),
            p => format!("\"{p}\".\"{c}\""),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one statement, written for both backends (double-quoted identifiers, standard SQL).
async fn exec(manager: &SchemaManager<'_>, sql: String) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

/// The primary key `pk_<table>` on `columns`, and `WITHOUT ROWID` on SQLite: the rows live in
/// the key's B-tree, one B-tree per table.
fn keyed(
    manager: &SchemaManager<'_>,
    mut table: TableCreateStatement,
    name: &str,
    columns: [&str; 2],
) -> TableCreateStatement {
    let mut key = Index::create();
    key.name(format!("pk_{name}"));
    for c in columns {
        key.col(Alias::new(c));
    }
    table.primary_key(&mut key);
    if manager.get_database_backend() == DbBackend::Sqlite {
        table.extra("WITHOUT ROWID");
    }
    table
}

/// Creates `finra_otc_normalized` keyed by `(capture_key, line_number)`.
///
/// Validated, typed FINRA OTC rows: one per (symbol, venue) of a capture, which names the week
/// and tier. Every calculation is reproducible from these.
async fn create_normalized(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let table = Table::create()
        .table(Alias::new(NORMALIZED))
        .col(big_integer(Alias::new("capture_key")))
        .col(big_integer(Alias::new("line_number")))
        .col(string_len(Alias::new("symbol"), 32))
        .col(string_len(Alias::new("mpid"), 16))
        .col(big_integer(Alias::new("total_shares")))
        .col(big_integer(Alias::new("total_trades")))
        .col(date(Alias::new("last_update_date")))
        .to_owned();
    manager
        .create_table(keyed(
            manager,
            table,
            NORMALIZED,
            ["capture_key", "line_number"],
        ))
        .await
}

/// Creates the calc table `t` keyed by `(capture_id, key)`, its columns as the original
/// migration declares them but `id`.
async fn create_calc(manager: &SchemaManager<'_>, t: &CalcTable) -> Result<(), DbErr> {
    let mut table = Table::create();
    table
        .table(Alias::new(t.name))
        .col(string_len(Alias::new("capture_id"), 64))
        .col(date(Alias::new("week_ending")))
        .col(string_len(Alias::new("tier"), 16))
        .col(string_len(Alias::new(t.key), t.key_len));
    for &(c, kind) in t.values {
        let c = Alias::new(c);
        table.col(match kind {
            Kind::BigInt => big_integer(c),
            Kind::Int => integer(c),
            Kind::Double => double(c),
            Kind::Id64 => string_len(c, 64),
        });
    }
    manager
        .create_table(keyed(manager, table, t.name, ["capture_id", t.key]))
        .await
}

/// Copies every row of `from` into the calc table `t` (the columns both shapes share).
async fn copy_calc(manager: &SchemaManager<'_>, t: &CalcTable, from: &str) -> Result<(), DbErr> {
    let mut columns = vec!["capture_id", t.key, "week_ending", "tier"];
    columns.extend(t.values.iter().map(|(c, _)| *c));
    let columns = quoted(&columns, "");
    exec(
        manager,
        format!(
            "INSERT INTO \"{}\" ({columns}) SELECT {columns} FROM \"{from}\"",
            t.name
        ),
    )
    .await
}
