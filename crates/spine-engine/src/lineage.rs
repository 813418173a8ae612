//! Lineage at work: the declared dependency graph read from the store, declarations checked
//! for cycles before they are stored, and the impact of an upstream change — every dependent
//! calc and every calc partition now stale. The graph algorithms are `spine_rules::lineage`'s;
//! this module only reads the facts they need.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use spine_model::{Category, Domain, PartitionKey};
use spine_rules::lineage::{
    self as rules, Dependent, Edge, Node, RecordedInput, StalePartition, check_table_name,
};
use spine_store::anomalies::{self, Anomaly, AnomalyFilter};
use spine_store::lineage::{self as repo, Dependency, NewDependency};
use spine_store::{captures, reports};

use crate::{Engine, PipelineError, PipelineResult};

/// A stored declaration as a graph edge.
pub fn edge(d: &Dependency) -> Edge {
    Edge {
        calc: Node {
            domain: d.calc_domain.clone(),
            table: d.calc_table.clone(),
        },
        upstream: Node {
            domain: d.depends_on_domain.clone(),
            table: d.depends_on_table.clone(),
        },
        pipeline: d.calc_pipeline.clone(),
        dependency_type: d.dependency_type.clone(),
        description: d.description.clone(),
    }
}

/// Whether declaring a dependency created a new edge or updated an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Declared {
    /// A new edge.
    Created,
    /// The same edge, with its type or description changed.
    Updated,
}

/// Declares a dependency after checking it: table names are plain identifiers, the pipeline is
/// named, and the graph stays acyclic. The check and the insert share one transaction, so two
/// concurrent declarations cannot each pass the check against a graph without the other.
pub async fn declare(
    engine: &Engine,
    mut dep: NewDependency,
    now: chrono::DateTime<chrono::Utc>,
) -> PipelineResult<(Declared, Dependency)> {
    let input = |e: rules::LineageError| PipelineError::Input(e.to_string());
    dep.calc_table = dep.calc_table.filter(|t| !t.is_empty());
    if let Some(t) = &dep.calc_table {
        check_table_name("--calc-table", t).map_err(input)?;
    }
    check_table_name("--depends-on-table", &dep.depends_on_table).map_err(input)?;
    if dep.calc_pipeline.trim().is_empty() {
        return Err(PipelineError::Input(
            "--calc-pipeline is empty: name the pipeline that computes the calc".into(),
        ));
    }
    let calc = Node {
        domain: dep.calc_domain.to_string(),
        table: dep.calc_table.clone().unwrap_or_default(),
    };
    let upstream = Node {
        domain: dep.depends_on_domain.to_string(),
        table: dep.depends_on_table.clone(),
    };
    let txn = engine.store().begin().await?;
    let existing = repo::list_dependencies(&txn, None).await?;
    let edges: Vec<Edge> = existing.iter().map(edge).collect();
    if let Some(cycle) = rules::cycle_if_added(&edges, &calc, &upstream) {
        let path: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        return Err(PipelineError::Input(format!(
            "refusing {calc} → {upstream}: it would make {calc} depend on itself ({}); \
             a calc cannot be an input of its own inputs — check the direction, or remove the \
             declaration that closes the loop",
            path.join(" → ")
        )));
    }
    let previous = existing
        .iter()
        .map(edge)
        .find(|e| e.calc == calc && e.upstream == upstream && e.pipeline == dep.calc_pipeline);
    let declared = if previous.is_some() {
        Declared::Updated
    } else {
        Declared::Created
    };
    // Re-declaring to change the type must not wipe a description nobody asked to change.
    dep.description = dep
        .description
        .or_else(|| previous.and_then(|e| e.description));
    let stored = repo::register_dependency(&txn, dep, now).await?;
    txn.commit().await?;
    Ok((declared, stored))
}

/// What an upstream change affects.
#[derive(Debug, Clone)]
pub struct Impact {
    /// The upstream table asked about.
    pub target: Node,
    /// Every calc depending on it, transitively.
    pub dependents: Vec<Dependent>,
    /// The calc partitions now stale.
    pub stale: Vec<StalePartition>,
    /// Unresolved DEPENDENCY anomalies of the dependent calcs.
    pub anomalies: Vec<Anomaly>,
}

/// Computes the impact of a change to `target`: dependents from the declared graph, stale
/// partitions from the recorded lineage, open DEPENDENCY anomalies from detection.
pub async fn impact(engine: &Engine, target: &Node) -> PipelineResult<Impact> {
    let conn = engine.store().conn();
    let deps = repo::list_dependencies(conn, None).await?;
    let edges: Vec<Edge> = deps.iter().map(edge).collect();
    let known = edges
        .iter()
        .any(|e| e.upstream == *target || e.calc == *target);
    if !known {
        let upstreams: BTreeSet<String> = edges.iter().map(|e| e.upstream.to_string()).collect();
        return Err(PipelineError::Input(format!(
            "no dependency mentions {target}; tables calcs depend on: {} (see `spine deps list`)",
            if upstreams.is_empty() {
                "none declared yet".to_string()
            } else {
                upstreams.into_iter().collect::<Vec<_>>().join(", ")
            }
        )));
    }
    let dependents = rules::dependents(&edges, target);

    // The inputs recorded by the latest capture of each dependent calc partition, and the
    // latest capture of every upstream partition they name.
    let mut latest: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut looked_up: BTreeSet<(String, String)> = BTreeSet::new();
    let mut inputs = Vec::new();
    for dependent in dependents.iter().filter(|d| !d.calc.table.is_empty()) {
        let calc_domain = Domain::parse(&dependent.calc.domain)?;
        for input in
            reports::calc_inputs_of_table(conn, &calc_domain, &dependent.calc.table).await?
        {
            for (domain, partition) in [
                (&input.calc_domain, &input.calc_partition_key),
                (&input.input_domain, &input.input_partition_key),
            ] {
                let key = (domain.clone(), partition.clone());
                // Each partition is looked up once, found or not: many calc partitions consume
                // the same upstream partition (every week of a year reads that year's calendar).
                if looked_up.insert(key.clone()) {
                    let capture = captures::latest(
                        conn,
                        &Domain::parse(domain)?,
                        &PartitionKey::parse(partition)?,
                    )
                    .await?;
                    if let Some(c) = capture {
                        latest.insert(key, c.capture_id);
                    }
                }
            }
            let is_latest = latest
                .get(&(input.calc_domain.clone(), input.calc_partition_key.clone()))
                .is_some_and(|c| *c == input.calc_capture_id);
            if is_latest {
                inputs.push(RecordedInput {
                    calc: dependent.calc.clone(),
                    calc_partition: input.calc_partition_key,
                    calc_capture_id: input.calc_capture_id,
                    input_domain: input.input_domain,
                    input_table: input.input_table,
                    input_partition: input.input_partition_key,
                    input_capture_id: input.input_capture_id,
                });
            }
        }
    }
    let stale = rules::stale_partitions(&edges, target, &dependents, &inputs, &latest);

    let mut tables_by_domain: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for d in &dependents {
        tables_by_domain
            .entry(d.calc.domain.as_str())
            .or_default()
            .insert(d.calc.table.as_str());
    }
    let mut open = Vec::new();
    for (domain, tables) in &tables_by_domain {
        let rows = anomalies::list(
            conn,
            &AnomalyFilter {
                domain: Some(Domain::parse(domain)?),
                category: Some(Category::Dependency),
                unresolved_only: true,
                ..Default::default()
            },
        )
        .await?;
        // An anomaly naming a calc table outside the impact is about another dependency.
        open.extend(rows.into_iter().filter(|a| {
            match a
                .details_json
                .as_ref()
                .and_then(|d| d.get("calc_table"))
                .and_then(Value::as_str)
            {
                Some(t) => tables.contains(t) || tables.contains(""),
                None => true,
            }
        }));
    }
    Ok(Impact {
        target: target.clone(),
        dependents,
        stale,
        anomalies: open,
    })
}
