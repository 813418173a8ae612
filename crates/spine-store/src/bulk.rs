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
    C: ConnectionTrait,
    E: EntityTrait,
    I: IntoIterator<Item = [Value; N]>,
{
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
