//! `spine deps list|add|impact`: the declared calc dependency graph, and what an upstream change
//! makes stale.
//!
//! The graph's nodes are tables, `<domain>.<table>`; an edge goes from a calc table to the
//! upstream table it depends on (`core_calc_dependencies`). A calc table can itself be upstream
//! of another calc, so impact is transitive. A declaration without a calc table (the whole
//! pipeline depends on the upstream) is a node nothing can depend on — upstreams are always named
//! tables — so it is reported as impacted but ends the walk.
//!
//! "Stale" is decided from recorded lineage (`core_calc_inputs`), not from the declarations: a
//! calc partition is stale when the upstream capture its latest capture consumed is no longer the
//! latest capture of that upstream partition, or when the upstream partition it consumed is
//! itself a stale calc partition.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use spine_model::{Category, Domain, PartitionKey};
use spine_store::anomalies::{self, Anomaly, AnomalyFilter};
use spine_store::captures::{self, Capture};
use spine_store::lineage::{self, Dependency, NewDependency};
use spine_store::{ConnectionTrait, Store, reports};

use crate::cli::{DepsAddArgs, DepsCommand};
use crate::commands::Context;
use crate::output::{Table, emit, emit_sections};

/// Runs a `spine deps` command.
pub async fn run(ctx: &Context, cmd: DepsCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    match cmd {
        DepsCommand::List { domain } => {
            let deps = lineage::list_dependencies(store.conn(), domain.as_ref()).await?;
            let mut table = Table::new(["calc", "pipeline", "depends_on", "type", "description"]);
            for d in &deps {
                table.push([
                    Node::calc_of(d).to_string(),
                    d.calc_pipeline.clone(),
                    Node::upstream_of(d).to_string(),
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
        DepsCommand::Add(args) => add(ctx, &store, args).await?,
        DepsCommand::Impact { target } => {
            let target = parse_target(&target)?;
            let report = impact(&store, &target).await?;
            report.emit(ctx.format())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A table of the dependency graph: `<domain>.<table>`, or a whole pipeline's calcs when the
/// declaration names no table (`table` empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    /// The domain.
    pub domain: String,
    /// The table; empty for "every calc of the pipeline".
    pub table: String,
}

impl Node {
    /// The calc side of a declaration.
    pub fn calc_of(d: &Dependency) -> Node {
        Node {
            domain: d.calc_domain.clone(),
            table: d.calc_table.clone(),
        }
    }

    /// The upstream side of a declaration.
    pub fn upstream_of(d: &Dependency) -> Node {
        Node {
            domain: d.depends_on_domain.clone(),
            table: d.depends_on_table.clone(),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.table.is_empty() {
            write!(f, "{}.*", self.domain)
        } else {
            write!(f, "{}.{}", self.domain, self.table)
        }
    }
}

/// Splits `<domain>.<table>` at the last dot that leaves a valid domain: domains are dotted
/// (`reference.exchange_calendar`), table names are not, so the table is the last segment.
pub fn parse_target(s: &str) -> anyhow::Result<Node> {
    for (i, _) in s.rmatch_indices('.') {
        let (domain, table) = (&s[..i], &s[i + 1..]);
        if !table.is_empty() && Domain::parse(domain).is_ok() {
            return Ok(Node {
                domain: domain.to_string(),
                table: table.to_string(),
            });
        }
    }
    bail!(
        "`{s}` is not <domain>.<table>: give a dotted domain then the table, e.g. \
         reference.exchange_calendar.ref_calendar_trading_days (see `spine deps list`)"
    )
}

/// Table names must be plain identifiers: `deps impact` finds the table after the last dot, so a
/// dotted table name could never be named there.
fn check_table_name(flag: &str, name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        bail!("{flag} `{name}` is not a table name: use lower-case letters, digits and `_`");
    }
    Ok(())
}

/// The cycle that declaring `calc` → `upstream` would close, as the path
/// `calc → upstream → … → calc`, or None when the graph stays acyclic. A calc depending on
/// itself, directly or through other calcs, could never be computed (and would make impact
/// analysis loop), so such a declaration is refused.
pub fn cycle_if_added(deps: &[Dependency], calc: &Node, upstream: &Node) -> Option<Vec<Node>> {
    if calc == upstream {
        return Some(vec![calc.clone(), upstream.clone()]);
    }
    // Follow "depends on" edges from the upstream; reaching the calc closes a cycle.
    let mut edges: HashMap<Node, Vec<Node>> = HashMap::new();
    for d in deps {
        edges
            .entry(Node::calc_of(d))
            .or_default()
            .push(Node::upstream_of(d));
    }
    let mut parent: HashMap<Node, Node> = HashMap::new();
    let mut queue = VecDeque::from([upstream.clone()]);
    let mut seen = BTreeSet::from([upstream.clone()]);
    while let Some(node) = queue.pop_front() {
        for next in edges.get(&node).into_iter().flatten() {
            if !seen.insert(next.clone()) {
                continue;
            }
            parent.insert(next.clone(), node.clone());
            if next == calc {
                let mut path = vec![calc.clone()];
                let mut at = calc.clone();
                while let Some(p) = parent.get(&at) {
                    path.push(p.clone());
                    at = p.clone();
                }
                // Walked back from the calc to the upstream: close the loop and turn it round
                // to read calc → upstream → … → calc.
                path.push(calc.clone());
                path.reverse();
                return Some(path);
            }
            queue.push_back(next.clone());
        }
    }
    None
}

async fn add(ctx: &Context, store: &Store, args: DepsAddArgs) -> anyhow::Result<()> {
    let calc_table = args.calc_table.filter(|t| !t.is_empty());
    if let Some(t) = &calc_table {
        check_table_name("--calc-table", t)?;
    }
    check_table_name("--depends-on-table", &args.depends_on_table)?;
    if args.calc_pipeline.trim().is_empty() {
        bail!("--calc-pipeline is empty: name the pipeline that computes the calc");
    }
    let calc = Node {
        domain: args.calc_domain.to_string(),
        table: calc_table.clone().unwrap_or_default(),
    };
    let upstream = Node {
        domain: args.depends_on_domain.to_string(),
        table: args.depends_on_table.clone(),
    };
    // Check and insert in one transaction, so two concurrent declarations cannot each pass the
    // check against a graph without the other.
    let txn = store.begin().await?;
    let existing = lineage::list_dependencies(&txn, None).await?;
    if let Some(cycle) = cycle_if_added(&existing, &calc, &upstream) {
        let path: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        bail!(
            "refusing {calc} → {upstream}: it would make {calc} depend on itself ({}); \
             a calc cannot be an input of its own inputs — check the direction, or remove the \
             declaration that closes the loop",
            path.join(" → ")
        );
    }
    let previous = existing.iter().find(|d| {
        Node::calc_of(d) == calc
            && Node::upstream_of(d) == upstream
            && d.calc_pipeline == args.calc_pipeline
    });
    let existed = previous.is_some();
    // Re-declaring to change the type must not wipe a description nobody asked to change.
    let description = args
        .description
        .or_else(|| previous.and_then(|d| d.description.clone()));
    let dep = lineage::register_dependency(
        &txn,
        NewDependency {
            calc_domain: args.calc_domain,
            calc_pipeline: args.calc_pipeline,
            calc_table,
            depends_on_domain: args.depends_on_domain,
            depends_on_table: args.depends_on_table,
            dependency_type: args.dependency_type,
            description,
        },
        ctx.clock.now(),
    )
    .await?;
    txn.commit().await?;
    let action = if existed { "updated" } else { "created" };
    let mut table = Table::new(["action", "calc", "pipeline", "depends_on", "type"]);
    table.push([
        action.to_string(),
        Node::calc_of(&dep).to_string(),
        dep.calc_pipeline.clone(),
        Node::upstream_of(&dep).to_string(),
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

/// A calc reached from the impact target.
#[derive(Debug, Clone)]
pub struct Dependent {
    /// The calc table.
    pub calc: Node,
    /// The pipeline that computes it.
    pub pipeline: String,
    /// 1 for a direct dependent, 2 for a dependent of a direct dependent, …
    pub depth: usize,
    /// The upstream it depends on along the shortest path (the target at depth 1).
    pub via: Node,
    /// The type of that dependency.
    pub dependency_type: String,
    /// Why the dependency exists.
    pub description: Option<String>,
}

/// Every calc that depends on `target`, transitively, shortest path first (breadth-first), each
/// once. The visited set makes the walk finite even if a cycle was declared before `deps add`
/// refused them.
pub fn dependents(deps: &[Dependency], target: &Node) -> Vec<Dependent> {
    let mut by_upstream: HashMap<Node, Vec<&Dependency>> = HashMap::new();
    for d in deps {
        by_upstream.entry(Node::upstream_of(d)).or_default().push(d);
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::from([target.clone()]);
    let mut queue = VecDeque::from([(target.clone(), 0usize)]);
    while let Some((node, depth)) = queue.pop_front() {
        for d in by_upstream.get(&node).into_iter().flatten() {
            let calc = Node::calc_of(d);
            if !seen.insert(calc.clone()) {
                continue;
            }
            out.push(Dependent {
                calc: calc.clone(),
                pipeline: d.calc_pipeline.clone(),
                depth: depth + 1,
                via: node.clone(),
                dependency_type: d.dependency_type.clone(),
                description: d.description.clone(),
            });
            queue.push_back((calc, depth + 1));
        }
    }
    out
}

/// A calc partition computed from an upstream capture that is no longer current.
#[derive(Debug, Clone)]
pub struct StalePartition {
    /// The calc table.
    pub calc: Node,
    /// The calc partition.
    pub partition: PartitionKey,
    /// The calc capture that consumed the old input.
    pub calc_capture_id: String,
    /// The upstream domain.
    pub input_domain: String,
    /// The upstream table, when recorded.
    pub input_table: Option<String>,
    /// The upstream partition.
    pub input_partition: String,
    /// The upstream capture consumed.
    pub consumed_capture_id: String,
    /// The upstream partition's latest capture.
    pub latest_capture_id: String,
    /// `superseded` (a newer upstream capture exists) or `upstream_stale` (the upstream
    /// partition is itself a stale calc partition).
    pub reason: &'static str,
}

impl StalePartition {
    /// The command that brings the partition up to date, when the partition names a week.
    fn remedy(&self) -> Option<String> {
        self.partition
            .week_ending()
            .map(|w| format!("spine recompute {} --week-ending {w}", self.calc.domain))
    }
}

/// What `spine deps impact` found.
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
pub async fn impact(store: &Store, target: &Node) -> anyhow::Result<Impact> {
    let conn = store.conn();
    let deps = lineage::list_dependencies(conn, None).await?;
    let known = deps
        .iter()
        .any(|d| Node::upstream_of(d) == *target || Node::calc_of(d) == *target);
    if !known {
        let upstreams: BTreeSet<String> = deps
            .iter()
            .map(|d| Node::upstream_of(d).to_string())
            .collect();
        bail!(
            "no dependency mentions {target}; tables calcs depend on: {} (see `spine deps list`)",
            if upstreams.is_empty() {
                "none declared yet".to_string()
            } else {
                upstreams.into_iter().collect::<Vec<_>>().join(", ")
            }
        );
    }
    let dependents = dependents(&deps, target);
    let stale = stale_partitions(conn, &deps, target, &dependents).await?;

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

/// Caches "latest capture of (domain, partition)": many calc partitions consume the same
/// upstream partition (every week of a year reads that year's calendar).
#[derive(Default)]
struct LatestCache(HashMap<(String, String), Option<Capture>>);

impl LatestCache {
    async fn get<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        domain: &str,
        partition: &str,
    ) -> anyhow::Result<Option<&Capture>> {
        let key = (domain.to_string(), partition.to_string());
        if !self.0.contains_key(&key) {
            let latest = captures::latest(
                conn,
                &Domain::parse(domain)?,
                &PartitionKey::parse(partition)?,
            )
            .await?;
            self.0.insert(key.clone(), latest);
        }
        Ok(self.0[&key].as_ref())
    }
}

async fn stale_partitions<C: ConnectionTrait>(
    conn: &C,
    deps: &[Dependency],
    target: &Node,
    dependents: &[Dependent],
) -> anyhow::Result<Vec<StalePartition>> {
    let impacted: BTreeSet<&Node> = dependents
        .iter()
        .map(|d| &d.calc)
        .chain(std::iter::once(target))
        .collect();
    let mut latest = LatestCache::default();
    // Per dependent calc table: its upstreams inside the impact, and the inputs recorded by the
    // latest capture of each of its partitions.
    let mut work = Vec::new();
    for dependent in dependents.iter().filter(|d| !d.calc.table.is_empty()) {
        let upstreams: Vec<Node> = deps
            .iter()
            .filter(|d| Node::calc_of(d) == dependent.calc)
            .map(Node::upstream_of)
            .filter(|u| impacted.contains(u))
            .collect();
        let calc_domain = Domain::parse(&dependent.calc.domain)?;
        let mut inputs = Vec::new();
        for input in reports::calc_inputs_of_table(conn, &calc_domain, &dependent.calc.table)
            .await
            .with_context(|| format!("reading the recorded inputs of {}", dependent.calc))?
        {
            let is_latest = latest
                .get(conn, &input.calc_domain, &input.calc_partition_key)
                .await?
                .is_some_and(|c| c.capture_id == input.calc_capture_id);
            let relevant = upstreams.iter().any(|u| {
                u.domain == input.input_domain
                    && input.input_table.as_ref().is_none_or(|t| *t == u.table)
            });
            if is_latest && relevant {
                inputs.push(input);
            }
        }
        work.push((dependent.calc.clone(), inputs));
    }
    // Superseded inputs first; then propagate through calcs consuming stale calc partitions
    // until nothing changes (a chain of n calcs settles in at most n passes).
    let mut stale: BTreeMap<(Node, String), StalePartition> = BTreeMap::new();
    loop {
        let before = stale.len();
        for (calc, inputs) in &work {
            for input in inputs {
                let key = (calc.clone(), input.calc_partition_key.clone());
                if stale.contains_key(&key) {
                    continue;
                }
                let Some(current) = latest
                    .get(conn, &input.input_domain, &input.input_partition_key)
                    .await?
                else {
                    continue;
                };
                let upstream_node = Node {
                    domain: input.input_domain.clone(),
                    table: input.input_table.clone().unwrap_or_default(),
                };
                let reason = if current.capture_id != input.input_capture_id {
                    "superseded"
                } else if stale.keys().any(|(n, p)| {
                    n.domain == upstream_node.domain
                        && (upstream_node.table.is_empty() || n.table == upstream_node.table)
                        && *p == input.input_partition_key
                }) {
                    "upstream_stale"
                } else {
                    continue;
                };
                stale.insert(
                    key,
                    StalePartition {
                        calc: calc.clone(),
                        partition: PartitionKey::parse(&input.calc_partition_key)?,
                        calc_capture_id: input.calc_capture_id.clone(),
                        input_domain: input.input_domain.clone(),
                        input_table: input.input_table.clone(),
                        input_partition: input.input_partition_key.clone(),
                        consumed_capture_id: input.input_capture_id.clone(),
                        latest_capture_id: current.capture_id.clone(),
                        reason,
                    },
                );
            }
        }
        if stale.len() == before {
            break;
        }
    }
    Ok(stale.into_values().collect())
}

impl Impact {
    /// The JSON form: the same content as the tables.
    pub fn to_json(&self) -> Value {
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
                "reason": s.reason,
                "remedy": s.remedy(),
            })).collect::<Vec<_>>(),
            "open_dependency_anomalies":
                self.anomalies.iter().map(super::anomalies::to_json).collect::<Vec<_>>(),
        })
    }

    /// Prints the impact: three titled tables for people; JSON; or, for CSV, one row per
    /// (dependent, stale partition) with the dependents without stale partitions on a row of
    /// their own.
    pub fn emit(&self, format: crate::output::Format) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn dep(calc: &str, upstream: &str) -> Dependency {
        let c = parse_target(calc).unwrap();
        let u = parse_target(upstream).unwrap();
        Dependency {
            id: 0,
            calc_domain: c.domain,
            calc_pipeline: "p".into(),
            calc_table: c.table,
            depends_on_domain: u.domain,
            depends_on_table: u.table,
            dependency_type: "REQUIRED".into(),
            description: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn targets_split_at_the_last_dot() {
        let n = parse_target("reference.exchange_calendar.ref_calendar_trading_days").unwrap();
        assert_eq!(n.domain, "reference.exchange_calendar");
        assert_eq!(n.table, "ref_calendar_trading_days");
        assert!(parse_target("reference.exchange_calendar.").is_err());
        assert!(parse_target("finra.").is_err());
        assert!(parse_target("finra").is_err());
        // "a.b" has no valid domain before its only dot.
        assert!(parse_target("a.b").is_err());
        let err = parse_target("Bad.Domain.t").unwrap_err().to_string();
        assert!(err.contains("<domain>.<table>"), "{err}");
    }

    #[test]
    fn dependents_are_transitive_with_depth_and_finite_on_cycles() {
        let deps = [
            dep("a.x.t1", "up.s.raw"),
            dep("a.x.t2", "a.x.t1"),
            dep("b.y.t3", "a.x.t2"),
            dep("b.y.t3", "up.s.raw"),
            dep("c.z.other", "up.s.unrelated"),
            // A pre-existing cycle must not loop.
            dep("a.x.t1", "b.y.t3"),
        ];
        let found = dependents(&deps, &parse_target("up.s.raw").unwrap());
        let got: Vec<(String, usize)> = found
            .iter()
            .map(|d| (d.calc.to_string(), d.depth))
            .collect();
        assert_eq!(
            got,
            [
                ("a.x.t1".to_string(), 1),
                ("b.y.t3".to_string(), 1),
                ("a.x.t2".to_string(), 2)
            ]
        );
    }

    #[test]
    fn a_declaration_closing_a_loop_is_a_cycle() {
        let deps = [dep("a.x.t1", "up.s.raw"), dep("a.x.t2", "a.x.t1")];
        let n = |s| parse_target(s).unwrap();
        let cycle = cycle_if_added(&deps, &n("up.s.raw"), &n("a.x.t2")).unwrap();
        let path: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        assert_eq!(path, ["up.s.raw", "a.x.t2", "a.x.t1", "up.s.raw"]);
        assert!(cycle_if_added(&deps, &n("a.x.t1"), &n("a.x.t1")).is_some());
        assert!(cycle_if_added(&deps, &n("b.y.t3"), &n("a.x.t2")).is_none());
        // Re-declaring an existing edge is not a cycle.
        assert!(cycle_if_added(&deps, &n("a.x.t2"), &n("a.x.t1")).is_none());
    }
}
