//! The FINRA OTC Transparency domain tables: raw and normalized rows, and the calcs computed
//! from them. Every row carries the capture it came from, so any capture's analytics stay
//! queryable after a revision.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, Query, ValueTuple};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};
use spine_model::Tier;
use spine_model::entities::{
    core_captures, finra_otc_hhi, finra_otc_normalized, finra_otc_raw, finra_otc_symbol_summary,
    finra_otc_tier_split, finra_otc_venue_share, finra_otc_volume_per_day,
};

use crate::StoreResult;

/// Bind parameters per INSERT: under SQLite's 32,766 and PostgreSQL's 65,535 limits.
const MAX_BINDS: usize = 30_000;

/// Rows per multi-row INSERT (fewer when the table is wide enough to hit [`MAX_BINDS`]). Chosen
/// by measurement (docs/PERFORMANCE.md): on the million-row benchmark 64 rows took 14.3 s,
/// 256 12.7 s, 1,024 11.9 s and 2,700 12.4 s; past about a thousand rows the round trip to the
/// database is amortized and bigger statements only cost memory.
const ROWS_PER_STATEMENT: usize = 1_024;

/// The text of a multi-row INSERT of `rows` rows, rendered by the sea-query builder with the
/// backend's placeholders (`?` or `$n`) and cached per (backend, table, rows): every full chunk
/// then sends the very same SQL, so sqlx's prepared-statement cache hits and the statement is
/// parsed once per connection, not once per chunk.
///
/// The columns whose value is the same for every row of a call (`fixed`: the capture id, the
/// week, the tier…) are bound once per statement rather than once per row:
///
/// ```sql
/// INSERT INTO t (fixed…, per_row…) SELECT ?, ?, "column1", "column2"… FROM (VALUES (?, ?…), …) AS "v"
/// ```
///
/// (`columnN` is how both SQLite and PostgreSQL name the columns of a `VALUES` list.) Every bound
/// value costs an allocation or two on its way through `sea_query::Value` and sqlx, so this cuts
/// a third or more of them on the wide tables.
fn insert_sql<E: EntityTrait, const F: usize, const N: usize>(
    backend: DbBackend,
    fixed: [E::Column; F],
    per_row: [E::Column; N],
    rows: usize,
) -> Arc<str> {
    type Key = (u8, &'static str, usize);
    static CACHE: LazyLock<Mutex<HashMap<Key, Arc<str>>>> = LazyLock::new(Default::default);
    let backend_id = match backend {
        DbBackend::MySql => 0,
        DbBackend::Postgres => 1,
        DbBackend::Sqlite => 2,
        _ => 3,
    };
    let key = (backend_id, E::default().table_name(), rows);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(key)
        .or_insert_with(|| {
            let mut select = Query::select();
            for _ in 0..F {
                select.expr(Expr::val(0i64));
            }
            for i in 1..=N {
                select.expr(Expr::col(Alias::new(format!("column{i}"))));
            }
            select.from_values(
                (0..rows).map(|_| ValueTuple::Many(vec![Value::from(0i64); N])),
                Alias::new("v"),
            );
            let mut insert = Query::insert();
            insert
                .into_table(E::default())
                .columns(fixed.into_iter().chain(per_row))
                .select_from(select)
                .expect("the select has one expression per column");
            backend.build(&insert).sql.into()
        })
        .clone()
}

/// Inserts `rows` (values in `per_row` order), each with the same `fixed` values, in multi-row
/// statements of the same shape, moving each value into the statement (no clone of row data on
/// our side).
pub(crate) async fn insert_rows<C, E, I, const F: usize, const N: usize>(
    conn: &C,
    fixed: [(E::Column, Value); F],
    per_row: [E::Column; N],
    rows: I,
) -> StoreResult<u64>
where
    C: ConnectionTrait + 'static,
    E: EntityTrait,
    I: IntoIterator<Item = [Value; N]>,
{
    let backend = conn.get_database_backend();
    let (fixed_columns, fixed_values): (Vec<_>, Vec<_>) = fixed.into_iter().unzip();
    let fixed_columns: [E::Column; F] = fixed_columns
        .try_into()
        .unwrap_or_else(|_| unreachable!("F columns"));
    if backend == DbBackend::Postgres {
        return crate::bulk::insert_columns::<_, E, _, F, N>(
            conn,
            fixed_columns,
            fixed_values,
            per_row,
            rows,
        )
        .await;
    }
    let per_statement = ROWS_PER_STATEMENT.min((MAX_BINDS - F) / N).max(1);
    let mut rows = rows.into_iter();
    // The values of the next statement, moved out of the rows (no clone of row data here).
    let mut take = || {
        let mut values = Vec::with_capacity(F + per_statement * N);
        values.extend(fixed_values.iter().cloned());
        let mut n = 0;
        for row in rows.by_ref().take(per_statement) {
            values.extend(row);
            n += 1;
        }
        (n, values)
    };
    let mut total = 0u64;
    let mut next = take();
    while next.0 > 0 {
        let (n, values) = next;
        let sql = insert_sql::<E, F, N>(backend, fixed_columns, per_row, n);
        let insert = conn.execute_raw(Statement::from_sql_and_values(backend, &*sql, values));
        if n < per_statement {
            insert.await?;
            total += n as u64;
            break;
        }
        // Pipelined: the first poll of `insert` hands the statement to SQLite's worker thread,
        // and the next statement's values are built on this one while SQLite executes it (the
        // two took turns before, each idle half the time: docs/PERFORMANCE.md).
        let (done, following) = tokio::join!(insert, async { take() });
        done?;
        total += n as u64;
        next = following;
    }
    Ok(total)
}

/// One accepted source line, as read (the RAW stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based physical line number (header = 1).
    pub line_number: i64,
    /// The accepted line without its terminator: its eight fields as the parser decoded them
    /// (the line as read, unless a field was unquoted or decoded), joined by `|`.
    pub line: String,
}

/// Stores raw rows of one capture.
pub async fn insert_raw<C: ConnectionTrait + 'static>(
    conn: &C,
    capture_id: &str,
    rows: Vec<RawRow>,
) -> StoreResult<u64> {
    use finra_otc_raw::Column;
    insert_rows::<_, finra_otc_raw::Entity, _, 1, 2>(
        conn,
        [(Column::CaptureId, capture_id.into())],
        [Column::LineNumber, Column::RawLine],
        rows.into_iter()
            .map(|r| [r.line_number.into(), r.line.into()]),
    )
    .await
}

/// A page of a capture's raw rows after line `after_line`, in line order (keyset pagination on
/// the table's `(capture_id, line_number)` key, so a million rows are read in bounded memory).
pub async fn raw_page<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    after_line: i64,
    limit: u64,
) -> StoreResult<Vec<finra_otc_raw::Model>> {
    Ok(finra_otc_raw::Entity::find()
        .filter(finra_otc_raw::Column::CaptureId.eq(capture_id))
        .filter(finra_otc_raw::Column::LineNumber.gt(after_line))
        .order_by_asc(finra_otc_raw::Column::LineNumber)
        .limit(limit)
        .all(conn)
        .await?)
}

/// One typed, validated row (the NORMALIZED stage). The week and tier are the capture's; the
/// issue and participant names stay in the RAW line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedRow {
    /// The source line.
    pub line_number: i64,
    /// The issue symbol.
    pub symbol: String,
    /// The venue (MPID).
    pub mpid: String,
    /// Shares traded in the week.
    pub total_shares: i64,
    /// Trades in the week.
    pub total_trades: i64,
    /// FINRA's `lastUpdateDate`.
    pub last_update_date: NaiveDate,
}

/// Stores normalized rows of one capture, keyed by its `core_captures.id` (`capture_key`).
pub async fn insert_normalized<C: ConnectionTrait + 'static>(
    conn: &C,
    capture_key: i64,
    rows: Vec<NormalizedRow>,
) -> StoreResult<u64> {
    use finra_otc_normalized::Column;
    // SQLite stores a date as its ISO 8601 text, which sqlx formats anew for every value through
    // chrono's pattern parser (a tenth of this thread's time on a million rows). A capture has a
    // handful of distinct dates: each is formatted once and bound as the same text. PostgreSQL
    // keeps the typed value.
    let sqlite = conn.get_database_backend() == DbBackend::Sqlite;
    let mut last: Option<(NaiveDate, String)> = None;
    let mut date = move |d: NaiveDate| -> Value {
        if !sqlite {
            return d.into();
        }
        match &last {
            Some((seen, text)) if *seen == d => text.clone().into(),
            _ => {
                let text = d.format("%Y-%m-%d").to_string();
                last = Some((d, text.clone()));
                text.into()
            }
        }
    };
    insert_rows::<_, finra_otc_normalized::Entity, _, 1, 6>(
        conn,
        [(Column::CaptureKey, capture_key.into())],
        [
            Column::LineNumber,
            Column::Symbol,
            Column::Mpid,
            Column::TotalShares,
            Column::TotalTrades,
            Column::LastUpdateDate,
        ],
        rows.into_iter().map(|r| {
            [
                r.line_number.into(),
                r.symbol.into(),
                r.mpid.into(),
                r.total_shares.into(),
                r.total_trades.into(),
                date(r.last_update_date),
            ]
        }),
    )
    .await
}

/// The integer key (`core_captures.id`) NORMALIZED names the capture `capture_id` by, if the
/// capture exists. Read on its own so that every NORMALIZED statement is a plain range of the
/// primary key `(capture_key = k, …)`: behind an `IN (subquery)` the planners (PostgreSQL
/// without statistics, SQLite) may read and sort every later row of the capture for each page.
async fn capture_key<C: ConnectionTrait>(conn: &C, capture_id: &str) -> StoreResult<Option<i64>> {
    Ok(core_captures::Entity::find()
        .select_only()
        .column(core_captures::Column::Id)
        .filter(core_captures::Column::CaptureId.eq(capture_id))
        .into_tuple()
        .one(conn)
        .await?)
}

/// Deletes every normalized row of one capture, so that re-normalizing it (a standalone
/// `spine run finra_otc.normalize`) replaces the rows instead of adding a second copy.
pub async fn delete_normalized<C: ConnectionTrait>(conn: &C, capture_id: &str) -> StoreResult<u64> {
    let Some(key) = capture_key(conn, capture_id).await? else {
        return Ok(0);
    };
    Ok(finra_otc_normalized::Entity::delete_many()
        .filter(finra_otc_normalized::Column::CaptureKey.eq(key))
        .exec(conn)
        .await?
        .rows_affected)
}

/// A page of a capture's normalized rows after line `after_line`, in line order (keyset
/// pagination on the table's key).
pub async fn normalized_page<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    after_line: i64,
    limit: u64,
) -> StoreResult<Vec<finra_otc_normalized::Model>> {
    let Some(key) = capture_key(conn, capture_id).await? else {
        return Ok(Vec::new());
    };
    Ok(finra_otc_normalized::Entity::find()
        .filter(finra_otc_normalized::Column::CaptureKey.eq(key))
        .filter(finra_otc_normalized::Column::LineNumber.gt(after_line))
        .order_by_asc(finra_otc_normalized::Column::LineNumber)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Per-symbol totals of one week and tier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SymbolSummaryRow {
    /// The symbol.
    pub symbol: String,
    /// Shares across venues.
    pub total_shares: i64,
    /// Trades across venues.
    pub total_trades: i64,
    /// Venues that traded it.
    pub venue_count: i32,
}

/// One venue's share of a tier-week.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VenueShareRow {
    /// The venue.
    pub mpid: String,
    /// Its shares.
    pub shares: i64,
    /// Its fraction of the tier's shares.
    pub share: f64,
}

/// One symbol's venue concentration.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HhiRow {
    /// The symbol.
    pub symbol: String,
    /// Σ (venue shares / symbol shares)², in [0, 1].
    pub hhi: f64,
    /// Venues that traded it.
    pub venue_count: i32,
}

/// One symbol's volume per trading day.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VolumePerDayRow {
    /// The symbol.
    pub symbol: String,
    /// Shares in the week.
    pub total_shares: i64,
    /// Trading days in the week (from the exchange calendar).
    pub trading_days: i32,
    /// Shares per trading day.
    pub shares_per_day: f64,
}

/// One tier's share of all tiers' shares in a week.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TierSplitRow {
    /// The tier.
    pub tier: Tier,
    /// The capture of the tier it used.
    pub capture_id: String,
    /// The tier's shares.
    pub shares: i64,
    /// Its fraction of all tiers' shares.
    pub share: f64,
}

/// The per-capture calcs of one tier-week.
///
/// Each list is any iterator of rows, so a caller can stream rows built on the fly (e.g. from
/// its accumulated results) instead of materializing every row of every table at once.
#[derive(Debug, Clone, Default)]
pub struct CaptureCalcs<S = Vec<SymbolSummaryRow>, V = Vec<VenueShareRow>, H = Vec<HhiRow>> {
    /// Symbol summary rows.
    pub summary: S,
    /// Venue share rows.
    pub venue_share: V,
    /// HHI rows.
    pub hhi: H,
}

/// Replaces the summary, venue-share and HHI rows of one capture (a recompute is idempotent).
pub async fn replace_capture_calcs<C, S, V, H>(
    conn: &C,
    capture_id: &str,
    week_ending: NaiveDate,
    tier: Tier,
    calcs: CaptureCalcs<S, V, H>,
) -> StoreResult<()>
where
    C: ConnectionTrait + 'static,
    S: IntoIterator<Item = SymbolSummaryRow>,
    V: IntoIterator<Item = VenueShareRow>,
    H: IntoIterator<Item = HhiRow>,
{
    finra_otc_symbol_summary::Entity::delete_many()
        .filter(finra_otc_symbol_summary::Column::CaptureId.eq(capture_id))
        .exec(conn)
        .await?;
    finra_otc_venue_share::Entity::delete_many()
        .filter(finra_otc_venue_share::Column::CaptureId.eq(capture_id))
        .exec(conn)
        .await?;
    finra_otc_hhi::Entity::delete_many()
        .filter(finra_otc_hhi::Column::CaptureId.eq(capture_id))
        .exec(conn)
        .await?;
    let tier = tier.as_str();
    {
        use finra_otc_symbol_summary::Column;
        insert_rows::<_, finra_otc_symbol_summary::Entity, _, 3, 4>(
            conn,
            [
                (Column::CaptureId, capture_id.into()),
                (Column::WeekEnding, week_ending.into()),
                (Column::Tier, tier.into()),
            ],
            [
                Column::Symbol,
                Column::TotalShares,
                Column::TotalTrades,
                Column::VenueCount,
            ],
            calcs.summary.into_iter().map(|r| {
                [
                    r.symbol.into(),
                    r.total_shares.into(),
                    r.total_trades.into(),
                    r.venue_count.into(),
                ]
            }),
        )
        .await?;
    }
    {
        use finra_otc_venue_share::Column;
        insert_rows::<_, finra_otc_venue_share::Entity, _, 3, 3>(
            conn,
            [
                (Column::CaptureId, capture_id.into()),
                (Column::WeekEnding, week_ending.into()),
                (Column::Tier, tier.into()),
            ],
            [Column::Mpid, Column::Shares, Column::Share],
            calcs
                .venue_share
                .into_iter()
                .map(|r| [r.mpid.into(), r.shares.into(), r.share.into()]),
        )
        .await?;
    }
    {
        use finra_otc_hhi::Column;
        insert_rows::<_, finra_otc_hhi::Entity, _, 3, 3>(
            conn,
            [
                (Column::CaptureId, capture_id.into()),
                (Column::WeekEnding, week_ending.into()),
                (Column::Tier, tier.into()),
            ],
            [Column::Symbol, Column::Hhi, Column::VenueCount],
            calcs
                .hhi
                .into_iter()
                .map(|r| [r.symbol.into(), r.hhi.into(), r.venue_count.into()]),
        )
        .await?;
    }
    Ok(())
}

/// Replaces the volume-per-trading-day rows of one capture, recording the calendar capture used.
pub async fn replace_volume_per_day<C, I>(
    conn: &C,
    capture_id: &str,
    week_ending: NaiveDate,
    tier: Tier,
    calendar_capture_id: &str,
    rows: I,
) -> StoreResult<()>
where
    C: ConnectionTrait + 'static,
    I: IntoIterator<Item = VolumePerDayRow>,
{
    use finra_otc_volume_per_day::Column;
    finra_otc_volume_per_day::Entity::delete_many()
        .filter(Column::CaptureId.eq(capture_id))
        .exec(conn)
        .await?;
    let tier = tier.as_str();
    insert_rows::<_, finra_otc_volume_per_day::Entity, _, 4, 4>(
        conn,
        [
            (Column::CaptureId, capture_id.into()),
            (Column::WeekEnding, week_ending.into()),
            (Column::Tier, tier.into()),
            (Column::CalendarCaptureId, calendar_capture_id.into()),
        ],
        [
            Column::Symbol,
            Column::TotalShares,
            Column::TradingDays,
            Column::SharesPerDay,
        ],
        rows.into_iter().map(|r| {
            [
                r.symbol.into(),
                r.total_shares.into(),
                r.trading_days.into(),
                r.shares_per_day.into(),
            ]
        }),
    )
    .await?;
    Ok(())
}

/// Replaces the tier split of a week.
pub async fn replace_tier_split<C: ConnectionTrait + 'static>(
    conn: &C,
    week_ending: NaiveDate,
    rows: Vec<TierSplitRow>,
    computed_at: DateTime<Utc>,
) -> StoreResult<()> {
    use finra_otc_tier_split::Column;
    finra_otc_tier_split::Entity::delete_many()
        .filter(Column::WeekEnding.eq(week_ending))
        .exec(conn)
        .await?;
    insert_rows::<_, finra_otc_tier_split::Entity, _, 2, 4>(
        conn,
        [
            (Column::WeekEnding, week_ending.into()),
            (Column::ComputedAt, computed_at.into()),
        ],
        [
            Column::Tier,
            Column::CaptureId,
            Column::Shares,
            Column::Share,
        ],
        rows.into_iter().map(|r| {
            [
                r.tier.as_str().into(),
                r.capture_id.into(),
                r.shares.into(),
                r.share.into(),
            ]
        }),
    )
    .await?;
    Ok(())
}

/// How many symbols and venues a capture's calcs hold (0 and 0 before CALC): two counting
/// queries, for completeness checks that compare captures without reading their rows.
pub async fn calc_counts<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
) -> StoreResult<(u64, u64)> {
    use sea_orm::PaginatorTrait;
    let symbols = finra_otc_symbol_summary::Entity::find()
        .filter(finra_otc_symbol_summary::Column::CaptureId.eq(capture_id))
        .count(conn)
        .await?;
    let venues = finra_otc_venue_share::Entity::find()
        .filter(finra_otc_venue_share::Column::CaptureId.eq(capture_id))
        .count(conn)
        .await?;
    Ok((symbols, venues))
}

/// How many venues each of several captures' calcs hold (captures without calcs are absent):
/// one grouped query per 500 captures, for checks over many weeks.
pub async fn venue_counts<C: ConnectionTrait>(
    conn: &C,
    capture_ids: &[String],
) -> StoreResult<HashMap<String, u64>> {
    use finra_otc_venue_share::Column;
    let mut out = HashMap::new();
    for chunk in capture_ids.chunks(500) {
        let rows: Vec<(String, i64)> = finra_otc_venue_share::Entity::find()
            .select_only()
            .column(Column::CaptureId)
            .column_as(sea_orm::ExprTrait::count(Expr::col(Column::Mpid)), "n")
            .filter(Column::CaptureId.is_in(chunk.iter().map(String::as_str)))
            .group_by(Column::CaptureId)
            .into_tuple()
            .all(conn)
            .await?;
        out.extend(rows.into_iter().map(|(id, n)| (id, n.max(0) as u64)));
    }
    Ok(out)
}

/// The tier splits of several weeks, each by tier (weeks without a split are absent).
pub async fn tier_splits<C: ConnectionTrait>(
    conn: &C,
    weeks: &[NaiveDate],
) -> StoreResult<HashMap<NaiveDate, Vec<TierSplitRow>>> {
    use finra_otc_tier_split::Column;
    let mut out: HashMap<NaiveDate, Vec<TierSplitRow>> = HashMap::new();
    for chunk in weeks.chunks(500) {
        for m in finra_otc_tier_split::Entity::find()
            .filter(Column::WeekEnding.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            out.entry(m.week_ending).or_default().push(TierSplitRow {
                tier: m.tier.parse()?,
                capture_id: m.capture_id,
                shares: m.shares,
                share: m.share,
            });
        }
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|r| r.tier);
    }
    Ok(out)
}

/// The symbol summary of a capture, by symbol (one symbol when given).
pub async fn symbol_summary<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    symbol: Option<&str>,
) -> StoreResult<Vec<SymbolSummaryRow>> {
    use finra_otc_symbol_summary::Column;
    let mut q = finra_otc_symbol_summary::Entity::find().filter(Column::CaptureId.eq(capture_id));
    if let Some(s) = symbol {
        q = q.filter(Column::Symbol.eq(s));
    }
    Ok(q.order_by_asc(Column::Symbol)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| SymbolSummaryRow {
            symbol: m.symbol,
            total_shares: m.total_shares,
            total_trades: m.total_trades,
            venue_count: m.venue_count,
        })
        .collect())
}

/// The venue shares of a capture, by MPID.
pub async fn venue_share<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
) -> StoreResult<Vec<VenueShareRow>> {
    use finra_otc_venue_share::Column;
    Ok(finra_otc_venue_share::Entity::find()
        .filter(Column::CaptureId.eq(capture_id))
        .order_by_asc(Column::Mpid)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| VenueShareRow {
            mpid: m.mpid,
            shares: m.shares,
            share: m.share,
        })
        .collect())
}

/// The HHI rows of a capture, by symbol (one symbol when given).
pub async fn hhi<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    symbol: Option<&str>,
) -> StoreResult<Vec<HhiRow>> {
    use finra_otc_hhi::Column;
    let mut q = finra_otc_hhi::Entity::find().filter(Column::CaptureId.eq(capture_id));
    if let Some(s) = symbol {
        q = q.filter(Column::Symbol.eq(s));
    }
    Ok(q.order_by_asc(Column::Symbol)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| HhiRow {
            symbol: m.symbol,
            hhi: m.hhi,
            venue_count: m.venue_count,
        })
        .collect())
}

/// The volume-per-day rows of a capture, by symbol (one symbol when given), with the calendar
/// capture they used.
pub async fn volume_per_day<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    symbol: Option<&str>,
) -> StoreResult<(Vec<VolumePerDayRow>, Option<String>)> {
    use finra_otc_volume_per_day::Column;
    let mut q = finra_otc_volume_per_day::Entity::find().filter(Column::CaptureId.eq(capture_id));
    if let Some(s) = symbol {
        q = q.filter(Column::Symbol.eq(s));
    }
    let models = q.order_by_asc(Column::Symbol).all(conn).await?;
    let calendar = models.first().map(|m| m.calendar_capture_id.clone());
    Ok((
        models
            .into_iter()
            .map(|m| VolumePerDayRow {
                symbol: m.symbol,
                total_shares: m.total_shares,
                trading_days: m.trading_days,
                shares_per_day: m.shares_per_day,
            })
            .collect(),
        calendar,
    ))
}

/// The tier split of a week, by tier.
pub async fn tier_split<C: ConnectionTrait>(
    conn: &C,
    week_ending: NaiveDate,
) -> StoreResult<Vec<TierSplitRow>> {
    use finra_otc_tier_split::Column;
    let mut rows = Vec::new();
    for m in finra_otc_tier_split::Entity::find()
        .filter(Column::WeekEnding.eq(week_ending))
        .all(conn)
        .await?
    {
        rows.push(TierSplitRow {
            tier: m.tier.parse()?,
            capture_id: m.capture_id,
            shares: m.shares,
            share: m.share,
        });
    }
    rows.sort_by_key(|r| r.tier);
    Ok(rows)
}
