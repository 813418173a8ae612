//! `spine pipelines` and `spine run <pipeline>`: every registered domain's pipelines by name.

use std::process::ExitCode;

use spine_engine::domain::{PipelineRun, PipelineTarget};
use spine_engine::stage::run_pipeline;
use spine_model::PartitionKey;

use crate::cli::RunArgs;
use crate::commands::Context;
use crate::commands::ingest::print_report;
use crate::output::{Table, emit};

/// Runs `spine pipelines`.
pub fn list(ctx: &Context) -> anyhow::Result<ExitCode> {
    let registry = crate::registry::registry();
    let mut table = Table::new(["pipeline", "domain", "arguments", "description"]);
    for (domain, spec) in registry.pipelines() {
        table.push([spec.name, domain.as_str(), spec.arguments, spec.description]);
    }
    emit(ctx.format(), &table, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `spine run <pipeline>`.
pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let registry = crate::registry::registry();
    if registry.pipeline(&args.pipeline).is_none() {
        let known: Vec<&str> = registry.pipelines().iter().map(|(_, s)| s.name).collect();
        return Err(crate::errors::usage(format!(
            "unknown pipeline `{}`; registered: {} (see `spine pipelines`)",
            args.pipeline,
            known.join(", ")
        )));
    }
    let engine = ctx.open_engine().await?;
    let mut partition = PartitionKey::new();
    if let Some(week) = args.week_ending {
        partition = partition.with(
            PartitionKey::WEEK_ENDING,
            week.format("%Y-%m-%d").to_string(),
        );
    }
    if let Some(tier) = args.tier {
        partition = partition.with(PartitionKey::TIER, tier.as_str());
    }
    let target = PipelineTarget {
        partition: (partition != PartitionKey::new()).then_some(partition),
        source: args.file.clone(),
    };
    match run_pipeline(&engine, &args.pipeline, &target, "cli", &ctx.run_context()).await? {
        PipelineRun::Capture(report) => print_report(ctx, &report)?,
        PipelineRun::Stage {
            pipeline,
            capture_id,
            notes,
        } => print_stage(ctx, &pipeline, &capture_id, &notes)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stage(
    ctx: &Context,
    pipeline: &str,
    capture_id: &str,
    notes: &[String],
) -> anyhow::Result<()> {
    let mut table = Table::new(["pipeline", "capture_id", "result"]);
    let result = if notes.is_empty() {
        "complete".to_string()
    } else {
        notes.join("; ")
    };
    table.push([pipeline, capture_id, result.as_str()]);
    let json = serde_json::json!({"pipeline": pipeline, "capture_id": capture_id, "complete": notes.is_empty(), "notes": notes});
    emit(ctx.format(), &table, Some(&json))
}
