//! `spine doctor`: the morning check for operations.

use std::process::ExitCode;

use crate::cli::DoctorArgs;
use crate::commands::Context;
use crate::output::{Format, Table, emit};
use spine_engine::doctor::{DoctorReport, MissingStatus, diagnose};

/// Exit code when something blocks.
pub const BLOCKING: u8 = 3;

/// Runs `spine doctor`.
pub async fn run(ctx: &Context, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.open_engine().await?;
    let report = diagnose(&engine, &args.domain, args.weeks, &ctx.run_context()).await?;
    let undelivered = failed_deliveries(engine.store(), args.domain.as_str()).await?;
    if ctx.format() == Format::Table {
        print_report(&report)?;
        print_undelivered(&undelivered);
    } else {
        let mut json = serde_json::to_value(&report)?;
        if let Some(map) = json.as_object_mut() {
            map.insert(
                "failed_deliveries".to_string(),
                serde_json::to_value(&undelivered)?,
            );
        }
        emit(ctx.format(), &weeks_table(&report), Some(&json))?;
    }
    Ok(if report.blocking {
        ExitCode::from(BLOCKING)
    } else {
        ExitCode::SUCCESS
    })
}

/// A notification given up on, for a subscription of this domain (or of every domain).
#[derive(Debug, serde::Serialize)]
struct UndeliveredNotice {
    subscription: String,
    channel: String,
    delivery_id: String,
    attempts: i32,
    last_error: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

/// The FAILED deliveries of the subscriptions that hear about `domain`: the alert about the
/// alert channel (each also opened an ERROR NOTIFICATION anomaly, listed with the others).
async fn failed_deliveries(
    store: &spine_store::Store,
    domain: &str,
) -> anyhow::Result<Vec<UndeliveredNotice>> {
    let conn = store.conn();
    let subs = spine_store::subscriptions::list(conn).await?;
    let mut out = Vec::new();
    for d in spine_store::deliveries::in_state(conn, spine_model::DeliveryState::Failed).await? {
        let Some(sub) = subs.iter().find(|s| s.id == d.subscription_id) else {
            continue;
        };
        if sub.domain.as_deref().is_some_and(|x| x != domain) {
            continue;
        }
        out.push(UndeliveredNotice {
            subscription: sub.name.clone(),
            channel: sub.channel.clone(),
            delivery_id: d.delivery_id,
            attempts: d.attempts,
            last_error: d.last_error,
            updated_at: d.updated_at,
        });
    }
    Ok(out)
}

fn print_undelivered(undelivered: &[UndeliveredNotice]) {
    if undelivered.is_empty() {
        return;
    }
    println!("\nNotifications not delivered (see `spine subscriptions deliveries NAME`):");
    for u in undelivered.iter().take(10) {
        println!(
            "  {} ({}) {} after {} attempt(s): {}",
            u.subscription,
            u.channel,
            u.delivery_id,
            u.attempts,
            u.last_error.as_deref().unwrap_or("-")
        );
    }
    if undelivered.len() > 10 {
        println!("  … {} more", undelivered.len() - 10);
    }
}

fn weeks_table(report: &DoctorReport) -> Table {
    let mut t = Table::new([
        "week_ending",
        "expected",
        "present",
        "missing",
        "trading",
        "compliance",
        "research",
        "summary",
    ]);
    for w in &report.weeks {
        let status = |i: usize| {
            w.readiness
                .get(i)
                .map(|c| c.status.to_string())
                .unwrap_or_default()
        };
        t.push([
            w.week_ending.to_string(),
            w.expected.len().to_string(),
            w.present.len().to_string(),
            w.missing
                .iter()
                .filter(|m| m.status != MissingStatus::Pending)
                .count()
                .to_string(),
            status(0),
            status(1),
            status(2),
            w.summary.clone(),
        ]);
    }
    t
}

fn print_report(report: &DoctorReport) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    println!(
        "{} — checked at {}\n",
        report.domain,
        report.checked_at.to_rfc3339()
    );
    if let Some(headline) = &report.headline {
        println!("{headline}\n");
    }
    if report.weeks.is_empty() {
        println!("No week has anything captured or due yet.\n");
    } else {
        weeks_table(report).write_aligned(&mut out)?;
        println!();
    }
    let mut missing = Table::new([
        "week_ending",
        "partition_key",
        "status",
        "stopped_at",
        "due",
    ]);
    for w in &report.weeks {
        for m in &w.missing {
            missing.push([
                w.week_ending.to_string(),
                m.partition_key.clone(),
                m.status.to_string(),
                m.stopped_at
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                m.due.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into()),
            ]);
        }
    }
    if !missing.rows.is_empty() {
        println!("Missing or incomplete partitions:");
        missing.write_aligned(&mut out)?;
        println!();
    }
    for w in &report.weeks {
        for d in &w.derived {
            println!("{}: {}", w.week_ending, d.problem);
        }
    }
    for w in &report.weeks {
        for c in w.readiness.iter().filter(|c| !c.is_ready) {
            println!("{} not ready for {}:", w.week_ending, c.ready_for);
            for issue in &c.blocking_issues {
                println!("  - {issue}");
            }
        }
        for c in w.readiness.iter().filter(|c| c.certified_at.is_some()) {
            println!(
                "{} certified for {} at {} by {}",
                w.week_ending,
                c.ready_for,
                c.certified_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                c.certified_by.as_deref().unwrap_or("-")
            );
        }
    }
    if !report.open_anomalies.is_empty() {
        println!("\nOpen anomalies:");
        for g in &report.open_anomalies {
            println!("  {} ({})", g.severity, g.count);
            for a in g.anomalies.iter().take(10) {
                println!("    #{} {} {}", a.id, a.category, a.message);
            }
            if g.count > 10 {
                println!(
                    "    … {} more: spine anomalies list --domain {} --severity {} --unresolved",
                    g.count - 10,
                    report.domain,
                    g.severity
                );
            }
        }
    }
    if !report.abandoned.is_empty() {
        println!("\nRuns that died without finishing (ABANDONED):");
        for a in &report.abandoned {
            println!(
                "  {} {} {} started {}",
                a.execution_id,
                a.pipeline,
                a.partition_key.as_deref().unwrap_or("-"),
                a.started_at.to_rfc3339()
            );
        }
    }
    if !report.work.by_state.is_empty() {
        let counts: Vec<String> = report
            .work
            .by_state
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        println!(
            "\nWork queue: {}; last worker pass {}",
            counts.join(", "),
            match (&report.work.last_pass_at, &report.work.last_pass_by) {
                (Some(at), Some(by)) => format!("at {} by {by}", at.to_rfc3339()),
                _ => "never".to_string(),
            }
        );
        // A year of catch-up can fail hundreds of items: the first ones say why, `spine work
        // list --state FAILED` has them all.
        const SHOWN: usize = 10;
        for f in report.work.failed.iter().take(SHOWN) {
            println!(
                "  FAILED item {} {} {} after {} attempt(s): {}",
                f.id,
                f.kind,
                f.partition_key,
                f.attempts,
                f.last_error
                    .as_deref()
                    .map(|e| spine_model::redact::error(e, 200))
                    .unwrap_or_default()
            );
        }
        if report.work.failed.len() > SHOWN {
            println!(
                "  … and {} more FAILED items (spine work list --state FAILED)",
                report.work.failed.len() - SHOWN
            );
        }
    }
    if !report.remediation.is_empty() {
        println!("\nTo fix, run:");
        for r in &report.remediation {
            println!("  {r}");
        }
    }
    println!(
        "\n{}",
        if report.blocking {
            "Something blocks: exit 3."
        } else {
            "Nothing blocks."
        }
    );
    Ok(())
}
