//! `spine deps list|add|impact`: the declared calc dependency graph, and what an upstream change
//! makes stale. The graph algorithms are `spine_rules::lineage`'s and the store reads
//! `spine_engine::lineage`'s; this module parses, renders and prints.

use std::process::ExitCode;

use serde_json::{Value, json};
use spine_engine::lineage::{self, Impact};
use spine_rules::lineage::{StalePartition, parse_target};
use spine_store::lineage::{Dependency, NewDependency};

use crate::cli::{DepsAddArgs, DepsCommand};
use crate::commands::Context;
use crate::output::{Table, emit, emit_sections};

/// Runs a `spine deps` command.
pub async fn run(ctx: &Context, cmd: DepsCommand) -> anyhow::Result<ExitCode> {
    let engine = ctx.open_engine().await?;
    match cmd {
        DepsCommand::List { domain } => {
            let deps =
                spine_store::lineage::list_dependencies(engine.store().conn(), domain.as_ref())
                    .await?;
            let mut table = Table::new(["calc", "pipeline", "depends_on", "type", "description"]);
            for d in &deps {
                let e = lineage::edge(d);
                table.push([
                    e.calc.to_string(),
                    d.calc_pipeline.clone(),
                    e.upstream.to_string(),
                    d.dependency_type.clone(),
                    d.description.clone().unwrap_or_default(),
                ]);
            }
            let json = Value::Array(deps.iter().map(dependency_json).collect());
            if ctx.format() == crate::output::Format::Csv {
                emit(ctx.format(), &flat_table(&deps), None)?;
            } else {
                emit(ctx.format(), &table, Some(&json))?;
            }
        }
        DepsCommand::Add(args) => add(ctx, &engine, args).await?,
        DepsCommand::Impact { target } => {
            let target = parse_target(&target).map_err(|e| crate::errors::usage(e.to_string()))?;
            let report = lineage::impact(&engine, &target).await?;
            report.emit(ctx.format())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn add(
    ctx: &Context,
    engine: &spine_engine::Engine,
    args: DepsAddArgs,
) -> anyhow::Result<()> {
    let (declared, dep) = lineage::declare(
        engine,
        NewDependency {
            calc_domain: args.calc_domain,
            calc_pipeline: args.calc_pipeline,
            calc_table: args.calc_table,
            depends_on_domain: args.depends_on_domain,
            depends_on_table: args.depends_on_table,
            dependency_type: args.dependency_type,
            description: args.description,
        },
        ctx.clock.now(),
    )
    .await?;
    let action = match declared {
        lineage::Declared::Created => "created",
        lineage::Declared::Updated => "updated",
    };
    let e = lineage::edge(&dep);
    let mut table = Table::new(["action", "calc", "pipeline", "depends_on", "type"]);
    table.push([
        action.to_string(),
        e.calc.to_string(),
        dep.calc_pipeline.clone(),
        e.upstream.to_string(),
        dep.dependency_type.clone(),
    ]);
    let json = json!({"action": action, "dependency": dependency_json(&dep)});
    if ctx.format() == crate::output::Format::Csv {
        emit(ctx.format(), &flat_table(std::slice::from_ref(&dep)), None)?;
    } else {
        emit(ctx.format(), &table, Some(&json))?;
    }
    Ok(())
}

/// A declaration as JSON: `calc_table` is null for a whole-pipeline dependency.
fn dependency_json(d: &Dependency) -> Value {
    json!({
        "id": d.id,
        "calc_domain": d.calc_domain,
        "calc_pipeline": d.calc_pipeline,
        "calc_table": (!d.calc_table.is_empty()).then_some(&d.calc_table),
        "depends_on_domain": d.depends_on_domain,
        "depends_on_table": d.depends_on_table,
        "dependency_type": d.dependency_type,
        "description": d.description,
        "created_at": d.created_at,
    })
}

/// Declarations one column per field, for CSV.
fn flat_table(deps: &[Dependency]) -> Table {
    let mut t = Table::new([
        "calc_domain",
        "calc_pipeline",
        "calc_table",
        "depends_on_domain",
        "depends_on_table",
        "dependency_type",
        "description",
        "created_at",
    ]);
    for d in deps {
        t.push([
            d.calc_domain.clone(),
            d.calc_pipeline.clone(),
            d.calc_table.clone(),
            d.depends_on_domain.clone(),
            d.depends_on_table.clone(),
            d.dependency_type.clone(),
            d.description.clone().unwrap_or_default(),
            d.created_at.to_rfc3339(),
        ]);
    }
    t
}

/// The JSON form of an impact: the same content as the tables.
pub fn impact_json(impact: &Impact) -> Value {
    impact.to_json()
}

/// How an impact is printed.
trait ImpactView {
    fn to_json(&self) -> Value;
    fn emit(&self, format: crate::output::Format) -> anyhow::Result<()>;
}

impl ImpactView for Impact {
    fn to_json(&self) -> Value {
        json!({
            "target": {"domain": self.target.domain, "table": self.target.table},
            "dependents": self.dependents.iter().map(|d| json!({
                "calc_domain": d.calc.domain,
                "calc_table": (!d.calc.table.is_empty()).then_some(&d.calc.table),
                "calc_pipeline": d.pipeline,
                "depth": d.depth,
                "dependency_type": d.dependency_type,
                "depends_on": d.via.to_string(),
                "description": d.description,
            })).collect::<Vec<_>>(),
            "stale_partitions": self.stale.iter().map(|s| json!({
                "calc_domain": s.calc.domain,
                "calc_table": s.calc.table,
                "partition_key": s.partition.canonical(),
                "calc_capture_id": s.calc_capture_id,
                "input_domain": s.input_domain,
                "input_table": s.input_table,
                "input_partition_key": s.input_partition,
                "consumed_capture_id": s.consumed_capture_id,
                "latest_capture_id": s.latest_capture_id,
                "reason": s.reason.as_str(),
                "remedy": s.remedy(),
            })).collect::<Vec<_>>(),
            "open_dependency_anomalies":
                self.anomalies.iter().map(crate::output::anomaly_json).collect::<Vec<_>>(),
        })
    }

    /// Prints the impact: three titled tables for people; JSON; or, for CSV, one row per
    /// (dependent, stale partition) with the dependents without stale partitions on a row of
    /// their own.
    fn emit(&self, format: crate::output::Format) -> anyhow::Result<()> {
        let mut deps = Table::new(["depth", "calc", "pipeline", "type", "depends_on"]);
        for d in &self.dependents {
            deps.push([
                d.depth.to_string(),
                d.calc.to_string(),
                d.pipeline.clone(),
                d.dependency_type.clone(),
                d.via.to_string(),
            ]);
        }
        let mut stale = Table::new([
            "calc",
            "partition",
            "consumed",
            "latest",
            "reason",
            "remedy",
        ]);
        for s in &self.stale {
            stale.push([
                s.calc.to_string(),
                s.partition.canonical(),
                s.consumed_capture_id.clone(),
                s.latest_capture_id.clone(),
                s.reason.to_string(),
                s.remedy().unwrap_or_default(),
            ]);
        }
        let mut open = Table::new(["id", "severity", "domain", "partition", "message"]);
        for a in &self.anomalies {
            open.push([
                a.id.to_string(),
                a.severity.clone(),
                a.domain.clone(),
                a.partition_key.clone().unwrap_or_else(|| "-".into()),
                a.message.clone(),
            ]);
        }
        let mut csv = Table::new([
            "calc_domain",
            "calc_table",
            "calc_pipeline",
            "depth",
            "dependency_type",
            "depends_on",
            "stale_partition",
            "consumed_capture_id",
            "latest_capture_id",
            "reason",
        ]);
        for d in &self.dependents {
            let row = |s: Option<&StalePartition>| {
                vec![
                    d.calc.domain.clone(),
                    d.calc.table.clone(),
                    d.pipeline.clone(),
                    d.depth.to_string(),
                    d.dependency_type.clone(),
                    d.via.to_string(),
                    s.map(|s| s.partition.canonical()).unwrap_or_default(),
                    s.map(|s| s.consumed_capture_id.clone()).unwrap_or_default(),
                    s.map(|s| s.latest_capture_id.clone()).unwrap_or_default(),
                    s.map(|s| s.reason.to_string()).unwrap_or_default(),
                ]
            };
            let mine: Vec<&StalePartition> =
                self.stale.iter().filter(|s| s.calc == d.calc).collect();
            if mine.is_empty() {
                csv.push(row(None));
            }
            for s in mine {
                csv.push(row(Some(s)));
            }
        }
        emit_sections(
            format,
            &[
                (
                    format!(
                        "Calcs depending on {} ({})",
                        self.target,
                        self.dependents.len()
                    ),
                    deps,
                ),
                (format!("Stale partitions ({})", self.stale.len()), stale),
                (
                    format!("Open DEPENDENCY anomalies ({})", self.anomalies.len()),
                    open,
                ),
            ],
            &csv,
            &self.to_json(),
        )
    }
}
