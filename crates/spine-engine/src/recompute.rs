//! Recompute: re-run a domain's calcs from its stored rows, after a correction upstream.

use spine_model::{Domain, PartitionKey};

use crate::domain::RecomputeResult;
use crate::{Engine, PipelineResult, RunContext};

/// Recomputes the calcs of every latest capture `partition` covers in `domain`, through the
/// domain's plugin (an unknown domain is an error naming the registered ones).
pub async fn recompute(
    engine: &Engine,
    domain: &Domain,
    partition: &PartitionKey,
    run: &RunContext,
) -> PipelineResult<Vec<RecomputeResult>> {
    engine
        .domain(domain)?
        .recompute(engine, partition, run)
        .await
}
