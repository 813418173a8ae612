//! Small builders shared by the migrations, so every index is declared the same way.
//!
//! SCHEMA.md's `UNIQUE(...)` keys are created as named unique indexes rather than inline table
//! constraints: SQLite ignores the name of an inline constraint (it becomes
//! `sqlite_autoindex_*`), and a named index lets tests and operators find the same object under
//! the same name on both backends. `ON CONFLICT (cols)` upserts work against either form.

use sea_orm_migration::prelude::*;

/// A plain (non-unique) index named `name` on `table (cols...)`, in column order.
pub(crate) fn index<T, C>(
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
) -> IndexCreateStatement
where
    T: IntoTableRef,
    C: IntoIndexColumn,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    stmt
}

/// A unique index named `name` on `table (cols...)`: how SCHEMA.md's `UNIQUE(...)` keys are made.
///
/// NULLs are distinct on both backends (the SQL default; SQLite has no `NULLS NOT DISTINCT`), so
/// a key with a nullable column does not stop two rows that differ only by a NULL.
pub(crate) fn unique_index<T, C>(
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
) -> IndexCreateStatement
where
    T: IntoTableRef,
    C: IntoIndexColumn,
{
    let mut stmt = index(name, table, cols);
    stmt.unique();
    stmt
}

/// Drops `table` (its indexes and triggers go with it), for the migrations' `down`.
pub(crate) async fn drop_table<T>(manager: &SchemaManager<'_>, table: T) -> Result<(), DbErr>
where
    T: IntoTableRef,
{
    manager
        .drop_table(Table::drop().table(table).to_owned())
        .await
}
