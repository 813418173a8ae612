//! Running one registered pipeline by name (`spine run NAME`): a domain's ingest goes through
//! the engine's capture lifecycle; any other stage is the domain's own.

use crate::capture::{self, SourceRequest};
use crate::domain::{PipelineRun, PipelineTarget};
use crate::source::FetchOptions;
use crate::{Engine, PipelineError, PipelineResult, RunContext};

/// Runs the registered pipeline `name` for `target`.
pub async fn run_pipeline(
    engine: &Engine,
    name: &str,
    target: &PipelineTarget,
    trigger: &str,
    run: &RunContext,
) -> PipelineResult<PipelineRun> {
    let Some((plugin, spec)) = engine.registry().pipeline(name) else {
        let known: Vec<&str> = engine
            .registry()
            .pipelines()
            .into_iter()
            .map(|(_, s)| s.name)
            .collect();
        return Err(PipelineError::Input(format!(
            "unknown pipeline `{name}`; registered: {} (see `spine pipelines`)",
            known.join(", ")
        )));
    };
    if spec.name == plugin.ingest_pipeline() {
        let Some(source) = &target.source else {
            return Err(PipelineError::Input(format!("{name} needs --file")));
        };
        let report = capture::ingest(
            engine,
            plugin.as_ref(),
            SourceRequest {
                source: source.clone(),
                hint: target.partition.clone().unwrap_or_default(),
                fetch: FetchOptions::default(),
                trigger: trigger.to_string(),
                run: run.clone(),
            },
        )
        .await?;
        return Ok(PipelineRun::Capture(Box::new(report)));
    }
    plugin.run_stage(engine, name, target, run).await
}
