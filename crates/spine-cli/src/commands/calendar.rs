//! `spine calendar ingest`.

use std::process::ExitCode;

use anyhow::Context as _;
use spine_engine::capture::{self, SourceRequest};
use spine_engine::source::FetchOptions;
use spine_model::PartitionKey;

use crate::cli::CalendarCommand;
use crate::commands::Context;
use crate::commands::ingest::print_report;

/// Runs a `spine calendar` command.
pub async fn run(ctx: &Context, cmd: CalendarCommand) -> anyhow::Result<ExitCode> {
    let CalendarCommand::Ingest { file } = cmd;
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
