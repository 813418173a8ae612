//! The FINRA OTC Transparency domain tables: raw and normalized rows, and the calcs computed
//! from them. Every row carries the capture it came from, so any capture's analytics stay
//! queryable after a revision.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spine_model::Tier;
use spine_model::entities::{
    finra_otc_hhi, finra_otc_normalized, finra_otc_raw, finra_otc_symbol_summary,
    finra_otc_tier_split, finra_otc_venue_share, finra_otc_volume_per_day,
};

use crate::StoreResult;

/// Bind parameters per INSERT: under SQLite's 32,766 and PostgreSQL's 65,535 limits.
const MAX_BINDS: usize = 30_000;

/// Inserts `models` in statements of at most `MAX_BINDS / columns` rows.
async fn insert_chunked<C, A>(conn: &C, models: Vec<A>, columns: usize) -> StoreResult<u64>
where
    C: ConnectionTrait,
    A: sea_orm::ActiveModelTrait + Send,
{
    let per_statement = (MAX_BINDS / columns).max(1);
    let total = models.len() as u64;
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<A> = models.by_ref().take(per_statement).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(total)
}

/// One accepted source line, as read (the RAW stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based physical line number (header = 1).
    pub line_number: i64,
    /// The eight fields in FINRA's column order.
    pub fields: [String; 8],
}

/// Stores raw rows of one capture.
pub async fn insert_raw<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    rows: Vec<RawRow>,
) -> StoreResult<u64> {
    let models = rows
        .into_iter()
        .map(|r| {
            let [
                tier,
                symbol,
                name,
                participant,
                mpid,
                shares,
                trades,
                last_update,
            ] = r.fields;
            finra_otc_raw::ActiveModel {
                capture_id: Set(capture_id.to_string()),
                line_number: Set(r.line_number),
                tier_description: Set(tier),
                issue_symbol_identifier: Set(symbol),
                issue_name: Set(name),
                market_participant_name: Set(participant),
                mpid: Set(mpid),
                total_weekly_share_quantity: Set(shares),
                total_weekly_trade_count: Set(trades),
                last_update_date: Set(last_update),
                ..Default::default()
            }
        })
        .collect();
    insert_chunked(conn, models, 10).await
}

/// A page of a capture's raw rows after row id `after_id`, in id order (keyset pagination, so
/// a million rows are read in bounded memory).
pub async fn raw_page<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    after_id: i64,
    limit: u64,
) -> StoreResult<Vec<finra_otc_raw::Model>> {
    Ok(finra_otc_raw::Entity::find()
        .filter(finra_otc_raw::Column::CaptureId.eq(capture_id))
        .filter(finra_otc_raw::Column::Id.gt(after_id))
        .order_by_asc(finra_otc_raw::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// One typed, validated row (the NORMALIZED stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedRow {
    /// The Friday ending the covered week.
    pub week_ending: NaiveDate,
    /// The tier.
    pub tier: Tier,
    /// The issue symbol.
    pub symbol: String,
    /// The issue name.
    pub issue_name: String,
    /// The venue (MPID).
    pub mpid: String,
    /// The venue's name.
    pub market_participant_name: String,
    /// Shares traded in the week.
    pub total_shares: i64,
    /// Trades in the week.
    pub total_trades: i64,
    /// FINRA's `lastUpdateDate`.
    pub last_update_date: NaiveDate,
    /// The source line.
    pub line_number: i64,
}

/// Stores normalized rows of one capture.
pub async fn insert_normalized<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    rows: Vec<NormalizedRow>,
) -> StoreResult<u64> {
    let models = rows
        .into_iter()
        .map(|r| finra_otc_normalized::ActiveModel {
            capture_id: Set(capture_id.to_string()),
            week_ending: Set(r.week_ending),
            tier: Set(r.tier.to_string()),
            symbol: Set(r.symbol),
            issue_name: Set(r.issue_name),
            mpid: Set(r.mpid),
            market_participant_name: Set(r.market_participant_name),
            total_shares: Set(r.total_shares),
            total_trades: Set(r.total_trades),
            last_update_date: Set(r.last_update_date),
            line_number: Set(r.line_number),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, models, 11).await
}

/// A page of a capture's normalized rows after row id `after_id`, in id order.
pub async fn normalized_page<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    after_id: i64,
    limit: u64,
) -> StoreResult<Vec<finra_otc_normalized::Model>> {
    Ok(finra_otc_normalized::Entity::find()
        .filter(finra_otc_normalized::Column::CaptureId.eq(capture_id))
        .filter(finra_otc_normalized::Column::Id.gt(after_id))
        .order_by_asc(finra_otc_normalized::Column::Id)
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
#[derive(Debug, Clone, Default)]
pub struct CaptureCalcs {
    /// Symbol summary rows.
    pub summary: Vec<SymbolSummaryRow>,
    /// Venue share rows.
    pub venue_share: Vec<VenueShareRow>,
    /// HHI rows.
    pub hhi: Vec<HhiRow>,
}

/// Replaces the summary, venue-share and HHI rows of one capture (a recompute is idempotent).
pub async fn replace_capture_calcs<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    week_ending: NaiveDate,
    tier: Tier,
    calcs: CaptureCalcs,
) -> StoreResult<()> {
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
    let tier_s = tier.to_string();
    let summary = calcs
        .summary
        .into_iter()
        .map(|r| finra_otc_symbol_summary::ActiveModel {
            capture_id: Set(capture_id.to_string()),
            week_ending: Set(week_ending),
            tier: Set(tier_s.clone()),
            symbol: Set(r.symbol),
            total_shares: Set(r.total_shares),
            total_trades: Set(r.total_trades),
            venue_count: Set(r.venue_count),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, summary, 7).await?;
    let venue = calcs
        .venue_share
        .into_iter()
        .map(|r| finra_otc_venue_share::ActiveModel {
            capture_id: Set(capture_id.to_string()),
            week_ending: Set(week_ending),
            tier: Set(tier_s.clone()),
            mpid: Set(r.mpid),
            shares: Set(r.shares),
            share: Set(r.share),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, venue, 6).await?;
    let hhi = calcs
        .hhi
        .into_iter()
        .map(|r| finra_otc_hhi::ActiveModel {
            capture_id: Set(capture_id.to_string()),
            week_ending: Set(week_ending),
            tier: Set(tier_s.clone()),
            symbol: Set(r.symbol),
            hhi: Set(r.hhi),
            venue_count: Set(r.venue_count),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, hhi, 6).await?;
    Ok(())
}

/// Replaces the volume-per-trading-day rows of one capture, recording the calendar capture used.
pub async fn replace_volume_per_day<C: ConnectionTrait>(
    conn: &C,
    capture_id: &str,
    week_ending: NaiveDate,
    tier: Tier,
    calendar_capture_id: &str,
    rows: Vec<VolumePerDayRow>,
) -> StoreResult<()> {
    finra_otc_volume_per_day::Entity::delete_many()
        .filter(finra_otc_volume_per_day::Column::CaptureId.eq(capture_id))
        .exec(conn)
        .await?;
    let models = rows
        .into_iter()
        .map(|r| finra_otc_volume_per_day::ActiveModel {
            capture_id: Set(capture_id.to_string()),
            week_ending: Set(week_ending),
            tier: Set(tier.to_string()),
            symbol: Set(r.symbol),
            total_shares: Set(r.total_shares),
            trading_days: Set(r.trading_days),
            shares_per_day: Set(r.shares_per_day),
            calendar_capture_id: Set(calendar_capture_id.to_string()),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, models, 8).await?;
    Ok(())
}

/// Replaces the tier split of a week.
pub async fn replace_tier_split<C: ConnectionTrait>(
    conn: &C,
    week_ending: NaiveDate,
    rows: Vec<TierSplitRow>,
    computed_at: DateTime<Utc>,
) -> StoreResult<()> {
    finra_otc_tier_split::Entity::delete_many()
        .filter(finra_otc_tier_split::Column::WeekEnding.eq(week_ending))
        .exec(conn)
        .await?;
    let models = rows
        .into_iter()
        .map(|r| finra_otc_tier_split::ActiveModel {
            week_ending: Set(week_ending),
            tier: Set(r.tier.to_string()),
            capture_id: Set(r.capture_id),
            shares: Set(r.shares),
            share: Set(r.share),
            computed_at: Set(computed_at),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, models, 6).await?;
    Ok(())
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
