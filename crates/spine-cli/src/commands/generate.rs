//! `spine gen finra-otc`: deterministic, realistic FINRA OTC weekly files.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::GenCommand;
use crate::commands::Context;
use crate::output::{Table, emit};
use spine_gen::{Fault, GenConfig, generate};

/// Runs a `spine gen` command.
pub fn run(ctx: &Context, cmd: GenCommand) -> anyhow::Result<ExitCode> {
    let GenCommand::FinraOtc(args) = cmd;
    if args.list_faults || args.inject.iter().any(|f| f == "help") {
        let mut table = Table::new(["fault", "description"]);
        for f in Fault::ALL {
            table.push([f.as_str(), f.description()]);
        }
        emit(ctx.format(), &table, None)?;
        return Ok(ExitCode::SUCCESS);
    }
    let faults = args
        .inject
        .iter()
        .map(|f| f.parse::<Fault>())
        .collect::<Result<Vec<_>, _>>()?;
    if args.weeks == 0 {
        return Err(crate::errors::usage("--weeks must be at least 1"));
    }
    let out = args
        .out
        .clone()
        .expect("clap requires --out unless --list-faults");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let files = generate(
        &GenConfig {
            weeks: args.weeks,
            symbols: args.symbols,
            mpids: args.mpids,
            seed: args.seed,
            first_week_ending: args.first_week_ending,
            faults,
            ..GenConfig::default()
        },
        &out,
    )?;
    let json: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            serde_json::json!({
                "file": f.path.display().to_string(),
                "tier": f.tier,
                "week_ending": f.week_ending,
                "last_update": f.last_update,
                "rows": f.rows,
                "revision": f.revision,
                "faults": f.faults.iter().map(|i| serde_json::json!({
                    "fault": i.fault.as_str(),
                    "lines": i.lines,
                    "detail": i.detail,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut table = Table::new([
        "file",
        "tier",
        "week_ending",
        "last_update",
        "rows",
        "faults",
    ]);
    for f in &files {
        table.push([
            f.path.display().to_string(),
            f.tier.to_string(),
            f.week_ending.to_string(),
            f.last_update.to_string(),
            f.rows.to_string(),
            f.faults
                .iter()
                .map(|i| format!("{} {:?}", i.fault, i.lines))
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    }
    emit(ctx.format(), &table, Some(&serde_json::Value::from(json)))?;
    Ok(ExitCode::SUCCESS)
}
