//! `spine calendar ingest`.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::CalendarCommand;
use crate::commands::Context;
use crate::output::{Table, emit};
use crate::pipelines::exchange_calendar;

/// Runs a `spine calendar` command.
pub async fn run(ctx: &Context, cmd: CalendarCommand) -> anyhow::Result<ExitCode> {
    let CalendarCommand::Ingest { file } = cmd;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let store = ctx.open_store().await?;
    let report =
        exchange_calendar::ingest(&store, &text, &file.display().to_string(), ctx.clock.now())
            .await
            .with_context(|| format!("cannot ingest {}", file.display()))?;
    let mut table = Table::new(["field", "value"]);
    table.push(["status", report.status]);
    table.push(["capture_id", report.capture_id.as_str()]);
    table.push(["partition_key", report.partition_key.as_str()]);
    table.push(["holidays", &report.holidays.to_string()]);
    table.push([
        "trading_days_in_year",
        &report.trading_days_in_year.to_string(),
    ]);
    if let Some(previous) = &report.supersedes {
        table.push(["supersedes", previous.as_str()]);
    }
    for w in &report.changed_weeks {
        table.push([
            "changed_week".to_string(),
            format!(
                "{}: {} → {} trading days",
                w["week_ending"].as_str().unwrap_or_default(),
                w["previous_trading_days"],
                w["trading_days"]
            ),
        ]);
    }
    for d in &report.dependents {
        table.push([
            format!("dependent ({})", d["status"].as_str().unwrap_or_default()),
            format!(
                "{} {}",
                d["calc_table"].as_str().unwrap_or_default(),
                d["calc_partition"].as_str().unwrap_or_default()
            ),
        ]);
    }
    emit(ctx.format(), &table, Some(&serde_json::to_value(&report)?))?;
    Ok(ExitCode::SUCCESS)
}
