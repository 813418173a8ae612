//! Bulk inserts on PostgreSQL: a column of values per bound array, unpacked by the server.
//!
//! A million-row capture sent as multi-row `INSERT … VALUES` costs PostgreSQL a bound parameter
//! per value (six million for NORMALIZED), each parsed and type-checked on its own. Here every
//! column of a batch of rows travels as one array, in sqlx's binary encoding, and the server
//! unpacks them in one set-returning call:
//!
//! ```sql
//! INSERT INTO t (fixed…, per_row…)
//! SELECT $1, …, "u"."c1", CASE WHEN "u"."n2" THEN NULL ELSE "u"."c2" END, …
//! FROM unnest($3::int8[], $4::text[], $5::bool[]) AS "u" ("c1", "c2", "n2")
//! ```
//!
//! so a batch of 20,000 rows is one statement with one parameter per column, and the server does
//! what `COPY … FROM STDIN` does (form tuples from a binary stream, insert them) inside the same
//! statement machinery as any other write: it runs on the caller's connection or transaction
//! like every other repository call, so a stage stays all or nothing.
//!
//! Why not `COPY` itself: SeaORM 2.0 keeps the sqlx connection of a `DatabaseTransaction`
//! private (its `InnerConnection` is `pub(crate)` and nothing hands out the `PgConnection`), so a
//! `COPY FROM STDIN` could only run on another connection, outside the stage's transaction.
//! docs/PERFORMANCE.md measures this path against `psql \copy`.
//!
//! A nullable column travels with a second, boolean array saying which rows are NULL (sqlx's
//! arrays of SeaORM values carry no NULL elements); the text arrays carry the values exactly as
//! bound one at a time today, so what PostgreSQL accepts or refuses (a NUL byte in text, say) is
//! unchanged.

use sea_orm::sea_query::ArrayType;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, Statement, Value};

use crate::StoreResult;
use crate::stage_txn::{PgTxn, StageTxn};

/// Rows per statement: the parser's batch, so RAW and NORMALIZED send one statement a batch.
/// Bound by memory only (one parameter per column, whatever the rows).
const ROWS_PER_STATEMENT: usize = 20_000;

/// The PostgreSQL element type of an array of `ty`, for the casts of the statement.
fn element_type(ty: &ArrayType) -> Option<&'static str> {
    Some(match ty {
        ArrayType::Bool => "bool",
        ArrayType::SmallInt => "int2",
        ArrayType::Int => "int4",
        ArrayType::BigInt => "int8",
        ArrayType::Float => "float4",
        ArrayType::Double => "float8",
        ArrayType::String => "text",
        ArrayType::ChronoDate => "date",
        ArrayType::ChronoDateTimeUtc => "timestamptz",
        _ => return None,
    })
}

/// Inserts `rows` (values in `per_row` order), each with the same `fixed` values, on
/// PostgreSQL, a batch of rows per statement with one bound array per column.
pub(crate) async fn insert_columns<C, E, I, const F: usize, const N: usize>(
    conn: &C,
    fixed_columns: [E::Column; F],
    fixed_values: Vec<Value>,
    per_row: [E::Column; N],
    rows: I,
) -> StoreResult<u64>
where
    C: ConnectionTrait + 'static,
    E: EntityTrait,
    I: IntoIterator<Item = [Value; N]>,
{
    if let Some(pg) = StageTxn::pg_of(conn) {
        return copy_rows::<E, I, F, N>(pg, fixed_columns, &fixed_values, per_row, rows).await;
    }
    let table = E::default().table_name();
    let mut rows = rows.into_iter();
    let mut total = 0u64;
    loop {
        let mut columns: [Vec<Value>; N] =
            std::array::from_fn(|_| Vec::with_capacity(ROWS_PER_STATEMENT.min(1_024)));
        let mut n = 0usize;
        for row in rows.by_ref().take(ROWS_PER_STATEMENT) {
            for (column, value) in columns.iter_mut().zip(row) {
                column.push(value);
            }
            n += 1;
        }
        if n == 0 {
            break;
        }
        let mut values = fixed_values.clone();
        let mut select = Vec::with_capacity(F + N);
        let mut unnest = Vec::with_capacity(N);
        let mut aliases = Vec::with_capacity(N);
        for i in 1..=F {
            select.push(format!("${i}"));
        }
        for (i, column) in columns.into_iter().enumerate() {
            let ty = column[0].array_type();
            let element = element_type(&ty).ok_or_else(|| {
                DbErr::Custom(format!(
                    "bulk insert into {table}: no PostgreSQL array for column {} ({ty:?})",
                    per_row[i].as_str()
                ))
            })?;
            let has_null = column.iter().any(|v| !v.is_some());
            let (column, nulls) = if has_null {
                let mut nulls = Vec::with_capacity(column.len());
                let column: Vec<Value> = column
                    .into_iter()
                    .map(|v| {
                        let null = !v.is_some();
                        nulls.push(Value::Bool(Some(null)));
                        if null { v.dummy_value() } else { v }
                    })
                    .collect();
                (column, Some(nulls))
            } else {
                (column, None)
            };
            values.push(Value::Array(ty, Some(Box::new(column))));
            unnest.push(format!("${}::{element}[]", values.len()));
            aliases.push(format!("\"c{i}\""));
            match nulls {
                Some(nulls) => {
                    values.push(Value::Array(ArrayType::Bool, Some(Box::new(nulls))));
                    unnest.push(format!("${}::bool[]", values.len()));
                    aliases.push(format!("\"n{i}\""));
                    select.push(format!(
                        "CASE WHEN \"u\".\"n{i}\" THEN NULL ELSE \"u\".\"c{i}\" END"
                    ));
                }
                None => select.push(format!("\"u\".\"c{i}\"")),
            }
        }
        let target: Vec<String> = fixed_columns
            .iter()
            .chain(per_row.iter())
            .map(|c| format!("\"{}\"", c.as_str()))
            .collect();
        let sql = format!(
            "INSERT INTO \"{table}\" ({}) SELECT {} FROM unnest({}) AS \"u\" ({})",
            target.join(", "),
            select.join(", "),
            unnest.join(", "),
            aliases.join(", "),
        );
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
        total += n as u64;
        if n < ROWS_PER_STATEMENT {
            break;
        }
    }
    Ok(total)
}

/// Rows per `COPY` on a stage's transaction: the parser's batch.
const ROWS_PER_COPY: usize = 20_000;

/// Inserts `rows` (values in `per_row` order), each with the same `fixed` values, through one
/// text-format `COPY … FROM STDIN` per [`ROWS_PER_COPY`] rows on the stage's PostgreSQL
/// transaction. Text, not binary: the server parses each value for its column's type, as it
/// does for `psql \copy`, so an `i64` bound for an `integer` column needs no conversion here.
async fn copy_rows<E, I, const F: usize, const N: usize>(
    pg: &PgTxn,
    fixed_columns: [E::Column; F],
    fixed_values: &[Value],
    per_row: [E::Column; N],
    rows: I,
) -> StoreResult<u64>
where
    E: EntityTrait,
    I: IntoIterator<Item = [Value; N]>,
{
    let table = E::default().table_name();
    let columns: Vec<String> = fixed_columns
        .iter()
        .chain(per_row.iter())
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect();
    let statement = format!("COPY \"{table}\" ({}) FROM STDIN", columns.join(", "));
    let mut fixed = String::new();
    for v in fixed_values {
        push_text(&mut fixed, v, table)?;
        fixed.push('\t');
    }
    let mut rows = rows.into_iter();
    // The next batch's text, moved out of the rows into `buf`.
    let mut fill = |buf: &mut String| -> StoreResult<usize> {
        buf.clear();
        let mut n = 0usize;
        for row in rows.by_ref().take(ROWS_PER_COPY) {
            buf.push_str(&fixed);
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    buf.push('\t');
                }
                push_text(buf, v, table)?;
            }
            buf.push('\n');
            n += 1;
        }
        Ok(n)
    };
    let mut sending = String::with_capacity(1 << 20);
    let mut building = String::with_capacity(1 << 20);
    let mut total = 0u64;
    let mut n = fill(&mut sending)?;
    while n > 0 {
        if n < ROWS_PER_COPY {
            total += pg.copy_in(&statement, sending.as_bytes()).await?;
            break;
        }
        // Pipelined: the next batch is written out here while the server copies this one.
        let (copied, following) = tokio::join!(pg.copy_in(&statement, sending.as_bytes()), async {
            fill(&mut building)
        });
        total += copied?;
        n = following?;
        std::mem::swap(&mut sending, &mut building);
    }
    Ok(total)
}

/// Appends `v` in `COPY`'s text format: `\N` for NULL; a backslash, tab, newline and carriage
/// return escaped; numbers in their shortest exact form (Rust's `Display` of a float round-trips,
/// and PostgreSQL reads it back to the same bits); dates and times in ISO 8601.
fn push_text(out: &mut String, v: &Value, table: &str) -> StoreResult<()> {
    use std::fmt::Write;
    fn float(out: &mut String, x: f64) {
        if x.is_nan() {
            out.push_str("NaN");
        } else if x.is_infinite() {
            out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            let _ = write!(out, "{x}");
        }
    }
    fn escaped(out: &mut String, s: &str) {
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
    if !v.is_some() {
        out.push_str("\\N");
        return Ok(());
    }
    match v {
        Value::Bool(Some(b)) => out.push(if *b { 't' } else { 'f' }),
        Value::SmallInt(Some(x)) => {
            let _ = write!(out, "{x}");
        }
        Value::Int(Some(x)) => {
            let _ = write!(out, "{x}");
        }
        Value::BigInt(Some(x)) => {
            let _ = write!(out, "{x}");
        }
        Value::Float(Some(x)) => float(out, f64::from(*x)),
        Value::Double(Some(x)) => float(out, *x),
        Value::String(Some(s)) => escaped(out, s),
        Value::ChronoDate(Some(d)) => {
            // ISO 8601 by hand: chrono's `format` parses its pattern again for every value
            // (kept for the years four digits cannot hold).
            use chrono::Datelike;
            if (0..=9999).contains(&d.year()) {
                let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
            } else {
                let _ = write!(out, "{}", d.format("%Y-%m-%d"));
            }
        }
        Value::ChronoDateTimeUtc(Some(t)) => {
            out.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        }
        Value::Json(Some(j)) => escaped(out, &j.to_string()),
        other => {
            return Err(DbErr::Custom(format!(
                "COPY into {table}: no text form for the value {other:?}"
            ))
            .into());
        }
    }
    Ok(())
}
