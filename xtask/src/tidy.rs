//! `cargo xtask tidy`: the workspace's layering rules, checked (docs/ARCHITECTURE.md):
//!
//! 1. `spine-rules` is pure: no database, async-runtime, HTTP or filesystem crate anywhere in
//!    its normal dependency tree, so an analytics team can depend on it alone.
//! 2. `spine-engine` never depends on a domain crate (or the binary), in any kind of dependency:
//!    a domain plugs in through the registry, so adding one touches no engine file.
//! 3. Only `spine-store` and `migration` depend on SeaORM's or sqlx's query machinery
//!    (`spine-model` may, optionally, for its entity definitions, and uses no query API), and no
//!    other crate's source names them.
//! 4. Every Rust source file starts with a `//!` comment that says what it is for.
//! 5. `spine-notify` (notifications) and `spine-engine` never depend on each other: the engine
//!    records events through the store's outbox, and notify reads them from there.
//!
//! Each rule is a function over plain data (a dependency tree's crate names, a manifest's
//! dependencies, a file's text) so its failing cases are unit-tested; [`run`] gathers the real
//! data with `cargo tree`, `cargo metadata` and the file system.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Crates `spine-rules` must not reach: databases, async runtimes, HTTP, temp files.
const IMPURE: &[&str] = &[
    "sea-orm",
    "sea-orm-migration",
    "sea-query",
    "sqlx",
    "sqlx-core",
    "sqlx-sqlite",
    "sqlx-postgres",
    "libsqlite3-sys",
    "tokio",
    "async-std",
    "mio",
    "reqwest",
    "hyper",
    "axum",
    "tempfile",
];

/// The domain crates and the binary, which the engine must not depend on.
const DOMAIN_CRATES: &[&str] = &["spine-finra", "spine-calendar", "spine-gen", "spine-cli"];

/// Crates that carry SQL query machinery.
const QUERY_CRATES: &[&str] = &[
    "sea-orm",
    "sea-orm-migration",
    "sea-query",
    "sqlx",
    "sea-schema",
];

/// Workspace crates allowed to depend on [`QUERY_CRATES`] (the model only for its entities).
const SQL_OWNERS: &[&str] = &["spine-store", "migration", "spine-model"];

/// Paths in source that reach the query machinery directly.
const QUERY_PATHS: &[&str] = &["sea_orm::", "sea_query::", "sqlx::", "sea_orm_migration::"];

/// A broken rule: which one and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule's number and name.
    pub rule: &'static str,
    /// What breaks it, and where.
    pub detail: String,
}

/// Rule 1: the impure crates found in `spine-rules`' tree.
pub fn rules_purity(tree: &BTreeSet<String>) -> Vec<Violation> {
    IMPURE
        .iter()
        .filter(|c| tree.contains(**c))
        .map(|c| Violation {
            rule: "1. spine-rules is pure",
            detail: format!(
                "spine-rules depends on `{c}` (see `cargo tree -p spine-rules -e normal -i {c}`)"
            ),
        })
        .collect()
}

/// Rule 2: the domain crates found in `spine-engine`'s tree.
pub fn engine_names_no_domain(tree: &BTreeSet<String>) -> Vec<Violation> {
    DOMAIN_CRATES
        .iter()
        .filter(|c| tree.contains(**c))
        .map(|c| Violation {
            rule: "2. the engine never depends on a domain",
            detail: format!(
                "spine-engine depends on `{c}` (see `cargo tree -p spine-engine -i {c}`)"
            ),
        })
        .collect()
}

/// Rule 5: `spine-notify` and `spine-engine` found in each other's tree (`engine_tree` is
/// `spine-engine`'s, `notify_tree` is `spine-notify`'s).
pub fn notify_apart_from_engine(
    engine_tree: &BTreeSet<String>,
    notify_tree: &BTreeSet<String>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (krate, tree, other) in [
        ("spine-engine", engine_tree, "spine-notify"),
        ("spine-notify", notify_tree, "spine-engine"),
    ] {
        if tree.contains(other) {
            out.push(Violation {
                rule: "5. notifications and the engine meet only in the store",
                detail: format!(
                    "{krate} depends on `{other}` (see `cargo tree -p {krate} -i {other}`)"
                ),
            });
        }
    }
    out
}

/// Rule 3, manifests: `(crate, dependency)` pairs where a crate outside [`SQL_OWNERS`] depends
/// on query machinery.
pub fn sql_only_in_the_store(deps: &[(String, String)]) -> Vec<Violation> {
    deps.iter()
        .filter(|(krate, dep)| {
            QUERY_CRATES.contains(&dep.as_str()) && !SQL_OWNERS.contains(&krate.as_str())
        })
        .map(|(krate, dep)| Violation {
            rule: "3. only spine-store and migration speak SQL",
            detail: format!("{krate} depends on `{dep}`: call spine-store instead"),
        })
        .collect()
}

/// Rule 3, sources: a file outside the SQL owners that names query machinery.
pub fn source_speaks_no_sql(path: &Path, text: &str) -> Option<Violation> {
    // Code, not comments or string literals: an occurrence preceded by an even number of
    // quotes on its line.
    let in_code = |line: &str, pattern: &str| {
        line.match_indices(pattern).any(|(i, _)| {
            line[..i]
                .replace("\\\"", "")
                .matches('"')
                .count()
                .is_multiple_of(2)
        })
    };
    let hit = QUERY_PATHS.iter().find(|p| {
        text.lines()
            .any(|l| !l.trim_start().starts_with("//") && in_code(l, p))
    })?;
    Some(Violation {
        rule: "3. only spine-store and migration speak SQL",
        detail: format!("{} uses `{hit}`: call spine-store instead", path.display()),
    })
}

/// Rule 4: a source file that does not start with a `//!` comment.
pub fn starts_with_module_doc(path: &Path, text: &str) -> Option<Violation> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    (!first.starts_with("//!")).then(|| Violation {
        rule: "4. every source file says what it is for",
        detail: format!("{} does not start with a `//!` comment", path.display()),
    })
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    crate::test::scrub_cargo_run_env(&mut cmd);
    cmd
}

/// The crate names in `cargo tree -p PACKAGE` with the given edge kinds.
fn tree(package: &str, edges: &str) -> Result<BTreeSet<String>> {
    let out = cargo()
        .args([
            "tree",
            "-p",
            package,
            "-e",
            edges,
            "--prefix",
            "none",
            "--offline",
        ])
        .output()
        .or_else(|_| {
            cargo()
                .args(["tree", "-p", package, "-e", edges, "--prefix", "none"])
                .output()
        })
        .context("cannot run cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree -p {package} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// The workspace as `cargo metadata` describes it.
struct Workspace {
    /// Every `(package, declared dependency)` pair.
    deps: Vec<(String, String)>,
    /// Every package with its directory.
    dirs: Vec<(String, PathBuf)>,
}

/// Every workspace package's declared dependencies and its source directory.
fn workspace() -> Result<Workspace> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let mut deps = Vec::new();
    let mut dirs = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        for d in p["dependencies"].as_array().into_iter().flatten() {
            deps.push((
                name.clone(),
                d["name"].as_str().unwrap_or_default().to_string(),
            ));
        }
        if let Some(manifest) = p["manifest_path"].as_str() {
            let dir = Path::new(manifest)
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf();
            dirs.push((name, dir));
        }
    }
    Ok(Workspace { deps, dirs })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') && name != "snapshots" {
                rust_files(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every violation in the workspace.
pub fn check() -> Result<Vec<Violation>> {
    let mut found = rules_purity(&tree("spine-rules", "normal")?);
    let engine_tree = tree("spine-engine", "all")?;
    found.extend(engine_names_no_domain(&engine_tree));
    found.extend(notify_apart_from_engine(
        &engine_tree,
        &tree("spine-notify", "all")?,
    ));
    let Workspace { deps, dirs } = workspace()?;
    found.extend(sql_only_in_the_store(&deps));
    for (package, dir) in &dirs {
        let mut files = Vec::new();
        rust_files(dir, &mut files)?;
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let shown = file.strip_prefix(std::env::current_dir()?).unwrap_or(&file);
            found.extend(starts_with_module_doc(shown, &text));
            if !SQL_OWNERS.contains(&package.as_str()) {
                found.extend(source_speaks_no_sql(shown, &text));
            }
        }
    }
    Ok(found)
}

/// Runs `cargo xtask tidy`: prints each violation and fails when there is one.
pub fn run() -> Result<()> {
    let found = check()?;
    if found.is_empty() {
        println!("xtask tidy: every layering rule holds");
        return Ok(());
    }
    for v in &found {
        eprintln!("tidy: rule {}: {}", v.rule, v.detail);
    }
    bail!("{} layering rule violation(s)", found.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_database_crate_in_the_rules_tree_is_a_violation() {
        assert!(rules_purity(&set(&["spine-rules", "chrono", "serde"])).is_empty());
        let found = rules_purity(&set(&["spine-rules", "tokio", "sqlx-core"]));
        let details: Vec<&str> = found.iter().map(|v| v.detail.as_str()).collect();
        assert_eq!(found.len(), 2, "{details:?}");
        assert!(details[0].contains("`sqlx-core`") || details[1].contains("`sqlx-core`"));
    }

    #[test]
    fn a_domain_crate_under_the_engine_is_a_violation() {
        assert!(engine_names_no_domain(&set(&["spine-engine", "spine-store"])).is_empty());
        let found = engine_names_no_domain(&set(&["spine-engine", "spine-finra"]));
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains("spine-finra"));
    }

    #[test]
    fn notify_and_engine_depending_on_each_other_is_a_violation() {
        let engine = set(&["spine-engine", "spine-store"]);
        let notify = set(&["spine-notify", "spine-store"]);
        assert!(notify_apart_from_engine(&engine, &notify).is_empty());
        let found = notify_apart_from_engine(&set(&["spine-notify"]), &notify);
        assert_eq!(found.len(), 1);
        let found = notify_apart_from_engine(&engine, &set(&["spine-engine"]));
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn sql_outside_the_store_is_a_violation() {
        let deps = vec![
            ("spine-store".to_string(), "sea-orm".to_string()),
            ("migration".to_string(), "sea-orm-migration".to_string()),
            ("spine-engine".to_string(), "sqlx".to_string()),
        ];
        let found = sql_only_in_the_store(&deps);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .detail
                .starts_with("spine-engine depends on `sqlx`")
        );
        let path = Path::new("crates/spine-engine/src/x.rs");
        assert!(source_speaks_no_sql(path, "//! ok\nuse spine_store::Store;\n").is_none());
        assert!(source_speaks_no_sql(path, "//! docs mention sea_orm:: only\n").is_none());
        assert!(source_speaks_no_sql(path, "//! x\nuse sea_orm::EntityTrait;\n").is_some());
        assert!(source_speaks_no_sql(path, "//! x\nlet s = \"sea_orm::\";\n").is_none());
    }

    #[test]
    fn a_file_without_a_module_comment_is_a_violation() {
        let path = Path::new("a.rs");
        assert!(starts_with_module_doc(path, "\n//! What this is for.\nfn f() {}\n").is_none());
        assert!(starts_with_module_doc(path, "// a plain comment\nfn f() {}\n").is_some());
        assert!(starts_with_module_doc(path, "use std::fs;\n").is_some());
    }

    /// The workspace as it is: every rule holds (this is what `.ci/run` relies on).
    #[test]
    fn the_workspace_is_tidy() {
        let found = check().expect("tidy can inspect the workspace");
        assert!(found.is_empty(), "{found:#?}");
    }
}
