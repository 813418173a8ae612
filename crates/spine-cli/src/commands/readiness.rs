//! `spine readiness`: certify a week (or one tier) for a use, with the proof.
//!
//! The signer is resolved first ([`crate::signer`]): without one the command refuses before it
//! opens the database. `--dry-run` evaluates through the engine's read-only path and records
//! nothing; otherwise the evaluation is recorded and the output says how (a new verdict, an
//! unchanged re-check, or a backdated evaluation that did not become current).

use std::process::ExitCode;

use serde_json::Value;
use spine_engine::readiness::{Certification, certify, evaluate_only};
use spine_model::{PartitionKey, ReadinessStatus};
use spine_store::readiness::Recorded;

use crate::cli::ReadinessArgs;
use crate::commands::Context;
use crate::output::{Table, emit};
use crate::signer::{self, Signing};

/// Exit code when the partition is not ready for the use (or, with `--strict`, ready only with
/// warnings).
pub const NOT_READY: u8 = 3;

/// Runs `spine readiness`.
pub async fn run(ctx: &Context, args: ReadinessArgs) -> anyhow::Result<ExitCode> {
    // Before anything is opened: a refused command writes nothing, not even a database file.
    let signer = if args.dry_run {
        None
    } else {
        Some(signer::resolve(args.by.clone(), Signing::Certification)?)
    };
    let engine = ctx.open_engine().await?;
    let partition = match args.tier {
        Some(tier) => PartitionKey::week_tier(args.week_ending, tier),
        None => PartitionKey::week(args.week_ending),
    };
    let run = ctx.run_context();
    let (cert, recorded) = match signer {
        None => (
            evaluate_only(&engine, &args.domain, &partition, args.ready_for, &run).await?,
            None,
        ),
        Some(by) => {
            let certified =
                certify(&engine, &args.domain, &partition, args.ready_for, &by, &run).await?;
            (certified.certification, Some(certified.recorded))
        }
    };
    let mut people = table(&cert);
    if let Some(line) = recorded_line(recorded.as_ref()) {
        people.push(["recorded".to_string(), line]);
    }
    let mut json = serde_json::to_value(&cert)?;
    if let Value::Object(map) = &mut json {
        let outcome = recorded.as_ref().map_or("dry_run", Recorded::as_str);
        map.insert("recorded".into(), outcome.into());
    }
    emit(ctx.format(), &people, Some(&json))?;
    Ok(exit_code(&cert, args.strict))
}

/// 0 when the partition may be used; [`NOT_READY`] when it may not, and with `strict` also when
/// it may only with warnings.
pub fn exit_code(cert: &Certification, strict: bool) -> ExitCode {
    let caveats = strict && cert.status == ReadinessStatus::ReadyWithWarnings;
    if cert.is_ready && !caveats {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_READY)
    }
}

/// What recording did, in words, when it did something other than record a new verdict (the
/// usual case, which needs no line): the people's view of [`Recorded`]. Only as-of times appear,
/// so the output is the same whenever a replay with the same `--now` runs; the wall clock is in
/// `spine report readiness-audit`.
fn recorded_line(recorded: Option<&Recorded>) -> Option<String> {
    let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
    Some(match recorded {
        None => "nothing (dry run)".to_string(),
        Some(Recorded::Changed { .. }) => return None,
        Some(Recorded::Unchanged { current }) => format!(
            "unchanged since the verdict as of {}: no history row; last checked as of {}",
            at(current.evaluated_at),
            current.last_checked_at.map_or_else(|| "-".into(), at)
        ),
        Some(Recorded::Backdated { current, event }) => format!(
            "backdated: as of {}, earlier than the current verdict ({} as of {}); appended to \
             the history as backdated, the current verdict is unchanged",
            at(event.evaluated_at),
            current.status,
            at(current.last_checked_at.unwrap_or(current.evaluated_at)),
        ),
    })
}

/// The people's view of a certification: verdict, criteria, then what blocks it.
pub fn table(cert: &Certification) -> Table {
    let mark = |ok: bool| if ok { "yes" } else { "NO" };
    let c = &cert.criteria;
    let mut t = Table::new(["readiness", "value"]);
    t.push([
        "status".to_string(),
        format!("{} for {}", cert.status, cert.ready_for),
    ]);
    t.push(["partition", cert.partition_key.as_str()]);
    t.push(["all_partitions_present", mark(c.all_partitions_present)]);
    t.push(["all_stages_complete", mark(c.all_stages_complete)]);
    t.push(["no_critical_anomalies", mark(c.no_critical_anomalies)]);
    t.push(["dependencies_current", mark(c.dependencies_current)]);
    t.push(["age_exceeds_preliminary", mark(c.age_exceeds_preliminary)]);
    for issue in &cert.blocking_issues {
        t.push(["blocking", issue.as_str()]);
    }
    for w in &cert.warnings {
        t.push(["warning", w.as_str()]);
    }
    for n in &cert.notices {
        t.push(["notice", n.as_str()]);
    }
    if let Some(at) = cert.certified_at {
        t.push([
            "certified".to_string(),
            format!(
                "{} by {}",
                at.to_rfc3339(),
                cert.certified_by.as_deref().unwrap_or("-")
            ),
        ]);
    }
    t.push([
        "captures_judged".to_string(),
        cert.captures_judged.join(", "),
    ]);
    t
}
