//! `spine schedules list|add|check`.

use std::process::ExitCode;

use spine_store::schedules::{self, NewSchedule};

use spine_engine::schedules as checks;

use crate::cli::SchedulesCommand;
use crate::commands::Context;
use crate::errors::usage;
use crate::output::{Table, emit};

/// Runs a `spine schedules` command.
pub async fn run(ctx: &Context, cmd: SchedulesCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    match cmd {
        SchedulesCommand::List { domain } => {
            let rows = schedules::list(store.conn(), domain.as_ref(), false).await?;
            let mut table = Table::new([
                "domain", "pipeline", "type", "template", "values", "delay_h", "prelim_h", "active",
            ]);
            for s in &rows {
                table.push([
                    s.domain.clone(),
                    s.pipeline.clone(),
                    s.schedule_type.clone(),
                    s.partition_template.clone(),
                    s.partition_values
                        .as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    s.expected_delay_hours
                        .map(|h| h.to_string())
                        .unwrap_or_default(),
                    s.preliminary_hours
                        .map(|h| h.to_string())
                        .unwrap_or_default(),
                    s.is_active.to_string(),
                ]);
            }
            emit(ctx.format(), &table, Some(&serde_json::to_value(&rows)?))?;
        }
        SchedulesCommand::Add(a) => {
            let partition_values = a
                .partition_values
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| {
                    usage(format!(
                        "--partition-values is not JSON (e.g. {{\"TIER\":[\"OTC\"]}}): {e}"
                    ))
                })?;
            // Validate the template and values against the expansion rules before storing:
            // a schedule that cannot expand is a usage error, not a runtime one.
            if let Some(delay) = a.expected_delay_hours
                && !(0..=spine_rules::schedule::MAX_DELAY_HOURS).contains(&i64::from(delay))
            {
                return Err(usage(format!(
                    "--expected-delay-hours {delay} is out of range: expected 0 to {} (trading-time hours after the business date)",
                    spine_rules::schedule::MAX_DELAY_HOURS
                )));
            }
            let values = spine_rules::schedule::parse_partition_values(partition_values.as_ref())
                .map_err(|e| usage(format!("--partition-values: {e}")))?;
            spine_rules::schedule::PartitionTemplate::parse(&a.partition_template)
                .and_then(|t| t.validate(&values))
                .map_err(|e| usage(format!("--partition-template: {e}")))?;
            let s = schedules::upsert(
                store.conn(),
                NewSchedule {
                    domain: a.domain,
                    pipeline: a.pipeline,
                    schedule_type: a.schedule_type,
                    cron_expression: a.cron_expression,
                    partition_template: a.partition_template,
                    partition_values,
                    expected_delay_hours: a.expected_delay_hours,
                    preliminary_hours: a.preliminary_hours,
                    description: a.description,
                    is_active: !a.inactive,
                },
                ctx.clock.now(),
            )
            .await?;
            let mut table = Table::new(["id", "domain", "pipeline", "active"]);
            table.push([
                s.id.to_string(),
                s.domain.clone(),
                s.pipeline.clone(),
                s.is_active.to_string(),
            ]);
            emit(ctx.format(), &table, Some(&serde_json::to_value(&s)?))?;
        }
        SchedulesCommand::Check { domain, from, to } => {
            let to = to.unwrap_or_else(|| ctx.clock.now().date_naive());
            let from = match from {
                Some(f) => f,
                None => match checks::earliest_week(&store, &domain).await? {
                    Some(f) => f,
                    None => {
                        let note =
                            format!("{domain} has no capture yet; pass --from to check a window");
                        let mut table = Table::new(["note"]);
                        table.push([note.clone()]);
                        emit(
                            ctx.format(),
                            &table,
                            Some(
                                &serde_json::json!({"expected": [], "anomalies": [], "note": note}),
                            ),
                        )?;
                        return Ok(ExitCode::SUCCESS);
                    }
                },
            };
            let report = checks::check(&store, &domain, from, to, &ctx.run_context()).await?;
            let mut table = Table::new([
                "partition_key",
                "business_date",
                "due",
                "first_captured_at",
                "status",
            ]);
            for e in &report.expected {
                table.push([
                    e.partition_key.clone(),
                    e.business_date.to_string(),
                    e.due.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into()),
                    e.first_captured_at
                        .map(|d| d.to_rfc3339())
                        .unwrap_or_else(|| "-".into()),
                    e.status.to_string(),
                ]);
            }
            emit(ctx.format(), &table, Some(&serde_json::to_value(&report)?))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
