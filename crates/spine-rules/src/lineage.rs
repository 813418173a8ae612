//! The calc dependency graph, as pure functions: which calcs depend on a table (transitively),
//! whether a new declaration would close a cycle, and which calc partitions are stale.
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
//! itself a stale calc partition. The engine reads those facts from the store and hands them to
//! [`stale_partitions`]; nothing here touches a database.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

use spine_model::{Domain, PartitionKey};

/// Why a lineage request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineageError {
    /// A `<domain>.<table>` target that does not split into a valid domain and a table.
    #[error(
        "`{0}` is not <domain>.<table>: give a dotted domain then the table, e.g. \
         reference.exchange_calendar.ref_calendar_trading_days (see `spine deps list`)"
    )]
    BadTarget(String),
    /// A table name that is not a plain identifier.
    #[error("{flag} `{name}` is not a table name: use lower-case letters, digits and `_`")]
    BadTableName {
        /// Which argument named it.
        flag: &'static str,
        /// The name given.
        name: String,
    },
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

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.table.is_empty() {
            write!(f, "{}.*", self.domain)
        } else {
            write!(f, "{}.{}", self.domain, self.table)
        }
    }
}

/// One declared dependency: `calc` (computed by `pipeline`) depends on `upstream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The calc table (table empty: the whole pipeline).
    pub calc: Node,
    /// The upstream table it reads.
    pub upstream: Node,
    /// The pipeline that computes the calc.
    pub pipeline: String,
    /// REQUIRED, OPTIONAL or REFERENCE.
    pub dependency_type: String,
    /// Why the dependency exists.
    pub description: Option<String>,
}

/// Splits `<domain>.<table>` at the last dot that leaves a valid domain: domains are dotted
/// (`reference.exchange_calendar`), table names are not, so the table is the last segment.
pub fn parse_target(s: &str) -> Result<Node, LineageError> {
    for (i, _) in s.rmatch_indices('.') {
        let (domain, table) = (&s[..i], &s[i + 1..]);
        if !table.is_empty() && Domain::parse(domain).is_ok() {
            return Ok(Node {
                domain: domain.to_string(),
                table: table.to_string(),
            });
        }
    }
    Err(LineageError::BadTarget(s.to_string()))
}

/// Table names must be plain identifiers: `deps impact` finds the table after the last dot, so a
/// dotted table name could never be named there.
pub fn check_table_name(flag: &'static str, name: &str) -> Result<(), LineageError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(LineageError::BadTableName {
            flag,
            name: name.to_string(),
        })
    }
}

/// The cycle that declaring `calc` → `upstream` would close, as the path
/// `calc → upstream → … → calc`, or None when the graph stays acyclic. A calc depending on
/// itself, directly or through other calcs, could never be computed (and would make impact
/// analysis loop), so such a declaration is refused.
pub fn cycle_if_added(edges: &[Edge], calc: &Node, upstream: &Node) -> Option<Vec<Node>> {
    if calc == upstream {
        return Some(vec![calc.clone(), upstream.clone()]);
    }
    // Follow "depends on" edges from the upstream; reaching the calc closes a cycle.
    let mut out: HashMap<&Node, Vec<&Node>> = HashMap::new();
    for e in edges {
        out.entry(&e.calc).or_default().push(&e.upstream);
    }
    let mut parent: HashMap<Node, Node> = HashMap::new();
    let mut queue = VecDeque::from([upstream.clone()]);
    let mut seen = BTreeSet::from([upstream.clone()]);
    while let Some(node) = queue.pop_front() {
        for next in out.get(&node).into_iter().flatten() {
            if !seen.insert((*next).clone()) {
                continue;
            }
            parent.insert((*next).clone(), node.clone());
            if *next == calc {
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
            queue.push_back((*next).clone());
        }
    }
    None
}

/// A calc reached from the impact target.
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// once. The visited set makes the walk finite even if a cycle was declared before cycles were
/// refused.
pub fn dependents(edges: &[Edge], target: &Node) -> Vec<Dependent> {
    let mut by_upstream: HashMap<&Node, Vec<&Edge>> = HashMap::new();
    for e in edges {
        by_upstream.entry(&e.upstream).or_default().push(e);
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::from([target.clone()]);
    let mut queue = VecDeque::from([(target.clone(), 0usize)]);
    while let Some((node, depth)) = queue.pop_front() {
        for e in by_upstream.get(&node).into_iter().flatten() {
            if !seen.insert(e.calc.clone()) {
                continue;
            }
            out.push(Dependent {
                calc: e.calc.clone(),
                pipeline: e.pipeline.clone(),
                depth: depth + 1,
                via: node.clone(),
                dependency_type: e.dependency_type.clone(),
                description: e.description.clone(),
            });
            queue.push_back((e.calc.clone(), depth + 1));
        }
    }
    out
}

/// One input recorded by the latest capture of a calc partition (`core_calc_inputs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedInput {
    /// The calc table that consumed it.
    pub calc: Node,
    /// The calc partition, canonical JSON.
    pub calc_partition: String,
    /// The calc capture that consumed it.
    pub calc_capture_id: String,
    /// The upstream domain.
    pub input_domain: String,
    /// The upstream table, when recorded.
    pub input_table: Option<String>,
    /// The upstream partition, canonical JSON.
    pub input_partition: String,
    /// The upstream capture consumed.
    pub input_capture_id: String,
}

/// Why a calc partition is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StaleReason {
    /// A newer capture of the upstream partition exists.
    Superseded,
    /// The upstream partition is itself a stale calc partition.
    UpstreamStale,
}

impl StaleReason {
    /// The printed and JSON spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            StaleReason::Superseded => "superseded",
            StaleReason::UpstreamStale => "upstream_stale",
        }
    }
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calc partition computed from an upstream capture that is no longer current.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Why it is stale.
    pub reason: StaleReason,
}

impl StalePartition {
    /// The command that brings the partition up to date, when the partition names a week.
    pub fn remedy(&self) -> Option<String> {
        self.partition
            .week_ending()
            .map(|w| format!("spine recompute {} --week-ending {w}", self.calc.domain))
    }
}

/// The calc partitions made stale by a change to `target`.
///
/// `inputs` are the inputs recorded by the latest capture of each partition of the dependent
/// calc tables; `latest` answers "the latest capture id of (domain, partition)". Superseded inputs
/// first; then staleness propagates through calcs consuming stale calc partitions until nothing
/// changes (a chain of n calcs settles in at most n passes).
pub fn stale_partitions(
    edges: &[Edge],
    target: &Node,
    dependents: &[Dependent],
    inputs: &[RecordedInput],
    latest: &BTreeMap<(String, String), String>,
) -> Vec<StalePartition> {
    let impacted: BTreeSet<&Node> = dependents
        .iter()
        .map(|d| &d.calc)
        .chain(std::iter::once(target))
        .collect();
    // Per dependent calc table: the inputs that come from upstreams inside the impact.
    let mut work: Vec<(&Node, Vec<&RecordedInput>)> = Vec::new();
    for dependent in dependents.iter().filter(|d| !d.calc.table.is_empty()) {
        let upstreams: Vec<&Node> = edges
            .iter()
            .filter(|e| e.calc == dependent.calc)
            .map(|e| &e.upstream)
            .filter(|u| impacted.contains(u))
            .collect();
        let relevant = inputs
            .iter()
            .filter(|i| i.calc == dependent.calc)
            .filter(|i| {
                upstreams.iter().any(|u| {
                    u.domain == i.input_domain
                        && i.input_table.as_ref().is_none_or(|t| *t == u.table)
                })
            })
            .collect();
        work.push((&dependent.calc, relevant));
    }
    let mut stale: BTreeMap<(Node, String), StalePartition> = BTreeMap::new();
    loop {
        let before = stale.len();
        for (calc, inputs) in &work {
            for input in inputs {
                let key = ((*calc).clone(), input.calc_partition.clone());
                if stale.contains_key(&key) {
                    continue;
                }
                let Some(current) =
                    latest.get(&(input.input_domain.clone(), input.input_partition.clone()))
                else {
                    continue;
                };
                let upstream = Node {
                    domain: input.input_domain.clone(),
                    table: input.input_table.clone().unwrap_or_default(),
                };
                let reason = if *current != input.input_capture_id {
                    StaleReason::Superseded
                } else if stale.keys().any(|(n, p)| {
                    n.domain == upstream.domain
                        && (upstream.table.is_empty() || n.table == upstream.table)
                        && *p == input.input_partition
                }) {
                    StaleReason::UpstreamStale
                } else {
                    continue;
                };
                let Ok(partition) = PartitionKey::parse(&input.calc_partition) else {
                    continue;
                };
                stale.insert(
                    key,
                    StalePartition {
                        calc: (*calc).clone(),
                        partition,
                        calc_capture_id: input.calc_capture_id.clone(),
                        input_domain: input.input_domain.clone(),
                        input_table: input.input_table.clone(),
                        input_partition: input.input_partition.clone(),
                        consumed_capture_id: input.input_capture_id.clone(),
                        latest_capture_id: current.clone(),
                        reason,
                    },
                );
            }
        }
        if stale.len() == before {
            break;
        }
    }
    stale.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(calc: &str, upstream: &str) -> Edge {
        Edge {
            calc: parse_target(calc).unwrap(),
            upstream: parse_target(upstream).unwrap(),
            pipeline: "p".into(),
            dependency_type: "REQUIRED".into(),
            description: None,
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
        assert!(check_table_name("--calc-table", "ok_1").is_ok());
        assert!(check_table_name("--calc-table", "a.b").is_err());
    }

    #[test]
    fn dependents_are_transitive_with_depth_and_finite_on_cycles() {
        let edges = [
            edge("a.x.t1", "up.s.raw"),
            edge("a.x.t2", "a.x.t1"),
            edge("b.y.t3", "a.x.t2"),
            edge("b.y.t3", "up.s.raw"),
            edge("c.z.other", "up.s.unrelated"),
            // A pre-existing cycle must not loop.
            edge("a.x.t1", "b.y.t3"),
        ];
        let found = dependents(&edges, &parse_target("up.s.raw").unwrap());
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
        let edges = [edge("a.x.t1", "up.s.raw"), edge("a.x.t2", "a.x.t1")];
        let n = |s| parse_target(s).unwrap();
        let cycle = cycle_if_added(&edges, &n("up.s.raw"), &n("a.x.t2")).unwrap();
        let path: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        assert_eq!(path, ["up.s.raw", "a.x.t2", "a.x.t1", "up.s.raw"]);
        assert!(cycle_if_added(&edges, &n("a.x.t1"), &n("a.x.t1")).is_some());
        assert!(cycle_if_added(&edges, &n("b.y.t3"), &n("a.x.t2")).is_none());
        // Re-declaring an existing edge is not a cycle.
        assert!(cycle_if_added(&edges, &n("a.x.t2"), &n("a.x.t1")).is_none());
    }

    #[test]
    fn staleness_propagates_through_calcs_of_calcs() {
        let edges = [edge("a.x.t1", "up.s.raw"), edge("b.y.t2", "a.x.t1")];
        let target = parse_target("up.s.raw").unwrap();
        let deps = dependents(&edges, &target);
        let week = r#"{"week_ending":"2025-12-19"}"#;
        let inputs = [
            RecordedInput {
                calc: parse_target("a.x.t1").unwrap(),
                calc_partition: week.into(),
                calc_capture_id: "cap_a".into(),
                input_domain: "up.s".into(),
                input_table: Some("raw".into()),
                input_partition: "{}".into(),
                input_capture_id: "cap_old".into(),
            },
            RecordedInput {
                calc: parse_target("b.y.t2").unwrap(),
                calc_partition: week.into(),
                calc_capture_id: "cap_b".into(),
                input_domain: "a.x".into(),
                input_table: Some("t1".into()),
                input_partition: week.into(),
                input_capture_id: "cap_a".into(),
            },
        ];
        let latest = BTreeMap::from([
            (
                ("up.s".to_string(), "{}".to_string()),
                "cap_new".to_string(),
            ),
            (("a.x".to_string(), week.to_string()), "cap_a".to_string()),
        ]);
        let stale = stale_partitions(&edges, &target, &deps, &inputs, &latest);
        let reasons: Vec<(String, StaleReason)> = stale
            .iter()
            .map(|s| (s.calc.to_string(), s.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("a.x.t1".to_string(), StaleReason::Superseded),
                ("b.y.t2".to_string(), StaleReason::UpstreamStale)
            ]
        );
        assert_eq!(
            stale[0].remedy().as_deref(),
            Some("spine recompute a.x --week-ending 2025-12-19")
        );
        // Nothing superseded: nothing stale.
        let current = BTreeMap::from([
            (
                ("up.s".to_string(), "{}".to_string()),
                "cap_old".to_string(),
            ),
            (("a.x".to_string(), week.to_string()), "cap_a".to_string()),
        ]);
        assert!(stale_partitions(&edges, &target, &deps, &inputs, &current).is_empty());
    }
}
