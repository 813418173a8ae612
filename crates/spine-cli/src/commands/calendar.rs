//! `spine calendar ingest`.

use std::process::ExitCode;

use anyhow::Context as _;
use spine_engine::capture::{self, SourceRequest};
use spine_engine::source::FetchOptions;
use spine_model::PartitionKey;

use crate::cli::CalendarCommand;
use crate::commands::Context;
use crate::commands::ingest::print_report;
use crate::output::{Table, emit};

/// Runs a `spine calendar` command.
pub async fn run(ctx: &Context, cmd: CalendarCommand) -> anyhow::Result<ExitCode> {
    let file = match cmd {
        CalendarCommand::Ingest { file } => file,
        CalendarCommand::Coverage => return coverage(ctx).await,
    };
    let engine = ctx.open_engine().await?;
    let report = capture::ingest(
        &engine,
        &spine_calendar::CalendarDomain,
        SourceRequest {
            source: file.display().to_string(),
            hint: PartitionKey::new(),
            fetch: FetchOptions::default(),
            trigger: "cli".to_string(),
            run: ctx.run_context(),
        },
    )
    .await
    .with_context(|| format!("cannot ingest {}", file.display()))?;
    print_report(ctx, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `spine calendar coverage`: one row per (exchange, year) with a calendar, its source and
/// capture, then the covered range; a year missing inside the range is named.
async fn coverage(ctx: &Context) -> anyhow::Result<ExitCode> {
    use spine_engine::calendar as reference;
    let engine = ctx.open_engine().await?;
    let latest = spine_store::captures::latest_covered(
        engine.store().conn(),
        &reference::domain(),
        &PartitionKey::new(),
    )
    .await?;
    let mut rows: Vec<(String, i32, String, String, i64, String)> = latest
        .into_iter()
        .filter_map(|c| {
            let key = PartitionKey::parse(&c.partition_key).ok()?;
            let exchange = key.get("exchange_code")?.to_string();
            let year: i32 = key.get("year")?.parse().ok()?;
            let source = match c.source_locator.strip_prefix("shipped:") {
                Some(_) => "shipped (computed from the exchange's rules)".to_string(),
                None => format!("loaded from {}", c.source_locator),
            };
            Some((
                exchange,
                year,
                source,
                c.capture_id,
                c.rows_accepted,
                c.captured_at.to_rfc3339(),
            ))
        })
        .collect();
    rows.sort();
    let mut table = Table::new([
        "exchange",
        "year",
        "source",
        "capture_id",
        "closures",
        "captured_at",
    ]);
    for (exchange, year, source, capture, closures, at) in &rows {
        table.push([
            exchange.clone(),
            year.to_string(),
            source.clone(),
            capture.clone(),
            closures.to_string(),
            at.clone(),
        ]);
    }
    let years: Vec<i32> = rows
        .iter()
        .filter(|r| r.0 == reference::EXCHANGE)
        .map(|r| r.1)
        .collect();
    let (first, last) = (years.iter().min().copied(), years.iter().max().copied());
    let gaps: Vec<i32> = match (first, last) {
        (Some(f), Some(l)) => (f..=l).filter(|y| !years.contains(y)).collect(),
        _ => Vec::new(),
    };
    let json = serde_json::json!({
        "exchange": reference::EXCHANGE,
        "first_year": first,
        "last_year": last,
        "missing_years": gaps,
        "years": rows.iter().map(|(exchange, year, source, capture, closures, at)| serde_json::json!({
            "exchange_code": exchange,
            "year": year,
            "source": source,
            "capture_id": capture,
            "closures": closures,
            "captured_at": at,
        })).collect::<Vec<_>>(),
    });
    if ctx.format() == crate::output::Format::Table {
        table.write_aligned(&mut std::io::stdout())?;
        match (first, last) {
            (Some(f), Some(l)) => println!(
                "\n{} covers {f}–{l}{}; a week outside them cannot be certified until its calendar is loaded (`spine calendar ingest --file PATH`).",
                reference::EXCHANGE,
                if gaps.is_empty() {
                    String::new()
                } else {
                    format!(
                        " except {}",
                        gaps.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            _ => println!("\nNo exchange calendar is loaded."),
        }
        return Ok(ExitCode::SUCCESS);
    }
    emit(ctx.format(), &table, Some(&json))?;
    Ok(ExitCode::SUCCESS)
}
