//! `spine query summary|venue-share|hhi|tier-split|volume-per-day`.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;
use spine_store::finra_otc as repo;

use crate::cli::{QueryArgs, QueryKind};
use crate::commands::Context;
use crate::output::{Table, emit};
use spine_finra::pipeline::resolve_capture;

/// Runs `spine query`.
pub async fn run(ctx: &Context, args: QueryArgs) -> anyhow::Result<ExitCode> {
    // The split is across tiers; every other query is of one tier. Checked before the
    // database is opened: a usage error needs none.
    if args.kind != QueryKind::TierSplit && args.tier.is_none() {
        return Err(crate::errors::usage(
            "--tier is required for this query (NMS_TIER_1, NMS_TIER_2 or OTC)",
        ));
    }
    let store = ctx.open_store().await?;
    let symbol = args.symbol.as_deref();
    if args.kind == QueryKind::TierSplit {
        let rows = repo::tier_split(store.conn(), args.week_ending).await?;
        // The split is over the tiers it names: say so when that is not all of them, or when a
        // tier's newer capture could not be used (stderr, so stdout stays machine-readable).
        let domain = spine_model::Domain::parse(spine_model::Domain::FINRA_OTC)?;
        for tier in spine_model::Tier::ALL {
            let key = spine_model::PartitionKey::week_tier(args.week_ending, *tier);
            let latest = spine_store::captures::latest(store.conn(), &domain, &key).await?;
            match (rows.iter().find(|r| r.tier == *tier), latest) {
                (None, _) if !rows.is_empty() => eprintln!(
                    "note: the tier split for {} leaves out {tier}: it has no capture with calcs",
                    args.week_ending
                ),
                (Some(r), Some(l)) if r.capture_id != l.capture_id => eprintln!(
                    "note: the tier split uses {tier} capture {}; the newer {} has no calcs",
                    r.capture_id, l.capture_id
                ),
                _ => {}
            }
        }
        let mut table = Table::new(["tier", "shares", "share", "capture_id"]);
        for r in &rows {
            table.push([
                r.tier.to_string(),
                r.shares.to_string(),
                format!("{:.6}", r.share),
                r.capture_id.clone(),
            ]);
        }
        emit(ctx.format(), &table, Some(&serde_json::to_value(&rows)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(tier) = args.tier else {
        unreachable!("checked above: every query but the tier split has --tier");
    };
    let capture = resolve_capture(&store, args.week_ending, tier, args.capture.as_deref()).await?;
    let id = capture.capture_id.as_str();
    let stages = spine_store::manifest::stages(
        store.conn(),
        &spine_model::Domain::parse(spine_model::Domain::FINRA_OTC)?,
        &spine_model::PartitionKey::week_tier(args.week_ending, tier),
    )
    .await?;
    if spine_store::manifest::furthest_stage(&stages, id) < Some(spine_model::Stage::Calc)
        && spine_store::finra_otc::venue_share(store.conn(), id)
            .await?
            .is_empty()
    {
        bail!(
            "capture {id} of {tier} for the week ending {} has no analytics: it stopped at {}; see `spine doctor {}`",
            args.week_ending,
            spine_store::manifest::furthest_stage(&stages, id)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "no stage".into()),
            spine_model::Domain::FINRA_OTC
        );
    }
    let (table, json) = match args.kind {
        QueryKind::Summary => {
            let rows = repo::symbol_summary(store.conn(), id, symbol).await?;
            let mut t = Table::new(["symbol", "total_shares", "total_trades", "venue_count"]);
            for r in &rows {
                t.push([
                    r.symbol.clone(),
                    r.total_shares.to_string(),
                    r.total_trades.to_string(),
                    r.venue_count.to_string(),
                ]);
            }
            (t, serde_json::to_value(&rows)?)
        }
        QueryKind::VenueShare => {
            let rows = repo::venue_share(store.conn(), id).await?;
            let mut t = Table::new(["mpid", "shares", "share"]);
            for r in &rows {
                t.push([
                    r.mpid.clone(),
                    r.shares.to_string(),
                    format!("{:.6}", r.share),
                ]);
            }
            (t, serde_json::to_value(&rows)?)
        }
        QueryKind::Hhi => {
            let rows = repo::hhi(store.conn(), id, symbol).await?;
            let mut t = Table::new(["symbol", "hhi", "venue_count"]);
            for r in &rows {
                t.push([
                    r.symbol.clone(),
                    format!("{:.6}", r.hhi),
                    r.venue_count.to_string(),
                ]);
            }
            (t, serde_json::to_value(&rows)?)
        }
        QueryKind::VolumePerDay => {
            let (rows, calendar) = repo::volume_per_day(store.conn(), id, symbol).await?;
            let mut t = Table::new(["symbol", "trading_days", "shares_per_day"]);
            for r in &rows {
                t.push([
                    r.symbol.clone(),
                    r.trading_days.to_string(),
                    format!("{:.2}", r.shares_per_day),
                ]);
            }
            let json = json!(rows
                .iter()
                .map(|r| json!({"symbol": r.symbol, "total_shares": r.total_shares, "trading_days": r.trading_days, "shares_per_day": r.shares_per_day, "calendar_capture_id": calendar}))
                .collect::<Vec<_>>());
            (t, json)
        }
        QueryKind::TierSplit => unreachable!("handled above"),
    };
    emit(ctx.format(), &table, Some(&json))?;
    Ok(ExitCode::SUCCESS)
}
