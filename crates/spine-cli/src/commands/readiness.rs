//! `spine readiness`: certify a week (or one tier) for a use, with the proof.

use std::process::ExitCode;

use spine_engine::readiness::{Certification, certify};
use spine_model::PartitionKey;

use crate::cli::ReadinessArgs;
use crate::commands::Context;
use crate::output::{Table, emit};

/// Exit code when the partition is not ready for the use.
pub const NOT_READY: u8 = 3;

/// Runs `spine readiness`.
pub async fn run(ctx: &Context, args: ReadinessArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.open_engine().await?;
    let partition = match args.tier {
        Some(tier) => PartitionKey::week_tier(args.week_ending, tier),
        None => PartitionKey::week(args.week_ending),
    };
    let cert = certify(
        &engine,
        &args.domain,
        &partition,
        args.ready_for,
        &args.by,
        &ctx.run_context(),
    )
    .await?
    .certification;
    emit(
        ctx.format(),
        &table(&cert),
        Some(&serde_json::to_value(&cert)?),
    )?;
    Ok(if cert.is_ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_READY)
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
