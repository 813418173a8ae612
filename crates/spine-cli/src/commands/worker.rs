//! `spine worker`: Market Spine running itself (`spine_engine::worker`), one pass with
//! `--once` or a pass every `--interval` until SIGTERM/Ctrl-C.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use serde_json::json;
use spine_engine::worker::{self, PassReport, WorkerConfig};
use spine_store::workers;

use crate::cli::WorkerArgs;
use crate::commands::Context;
use crate::output::{Format, Table, emit};

/// Runs `spine worker`.
pub async fn run(ctx: &Context, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    if !args.once && ctx.clock.is_fixed() {
        return Err(crate::errors::usage(
            "--now needs --once: a worker that keeps running follows the real clock",
        ));
    }
    // The worker is a set-up command: it may create and migrate the database.
    let engine = ctx.prepare_engine(false).await?;
    let host = hostname();
    let pid = std::process::id();
    let worker_id = args
        .worker_id
        .clone()
        .unwrap_or_else(|| format!("worker@{host}:{pid}"));
    // SQLite has one writer at a time: one worker per database file, and a second one says so
    // instead of contending for every write.
    let _single = if engine.store().sqlite_path().is_some() {
        Some(
            engine
                .store()
                .lock("spine worker", Duration::ZERO)
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "another spine worker is running on this SQLite database: SQLite runs one worker at a time (PostgreSQL runs any number)"
                    )
                })?,
        )
    } else {
        None
    };
    let conn = engine.store().conn();
    workers::register(conn, &worker_id, &host, pid, Utc::now()).await?;
    let config = WorkerConfig {
        concurrency: args.concurrency as usize,
        lease: args.lease,
        revision_lookback_weeks: i64::from(args.revision_weeks),
        ..WorkerConfig::new(worker_id.clone())
    };
    let mut code = ExitCode::SUCCESS;
    loop {
        let mut run = ctx.run_context();
        if !args.once {
            run.now = Utc::now();
        }
        let report = worker::pass(&engine, &config, &run)
            .await
            .with_context(|| format!("worker {worker_id}: the pass at {} failed", run.now))?;
        print_pass(ctx, &worker_id, &report)?;
        deliver(ctx, conn, &worker_id, run.now).await;
        if let Some(reason) = run.cancel.reason() {
            eprintln!("spine worker {worker_id}: stopped ({reason})");
            code = ExitCode::from(if reason == "SIGTERM" { 143 } else { 130 });
            break;
        }
        if args.once {
            break;
        }
        // Sleep until the next pass, waking early for a stop request.
        let deadline = tokio::time::Instant::now() + args.interval;
        while tokio::time::Instant::now() < deadline && ctx.cancel.reason().is_none() {
            workers::seen(conn, &worker_id, Utc::now()).await.ok();
            let step = Duration::from_millis(250).min(deadline - tokio::time::Instant::now());
            tokio::time::sleep(step).await;
        }
        if let Some(reason) = ctx.cancel.reason() {
            eprintln!("spine worker {worker_id}: stopped ({reason})");
            code = ExitCode::from(if reason == "SIGTERM" { 143 } else { 130 });
            break;
        }
    }
    workers::stopped(conn, &worker_id, Utc::now()).await?;
    Ok(code)
}

/// Tells people what the pass changed (`spine_notify::deliver_due`): fans new events out and
/// sends what is due at the pass's clock. A delivery problem is recorded by notify itself (retries,
/// an ERROR anomaly); a failure of the whole step (the database) is reported here and never stops
/// the worker. A line is printed only when something was sent or scheduled, on stderr when the
/// output is JSON or CSV so stdout stays one document.
async fn deliver(
    ctx: &Context,
    conn: &spine_store::DatabaseConnection,
    worker_id: &str,
    now: chrono::DateTime<Utc>,
) {
    let opts = match super::subscriptions::deliver_options(worker_id) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("spine worker {worker_id}: notifications not sent: {e:#}");
            return;
        }
    };
    match spine_notify::deliver_due(conn, now, &opts).await {
        Ok(report) if report.created > 0 || !report.attempts.is_empty() => {
            let line = format!("{worker_id}: {}", report.summary());
            if ctx.format() == Format::Table {
                println!("{line}");
                for a in &report.attempts {
                    println!(
                        "  notify    {} {} {}{}",
                        a.subscription,
                        a.delivery_id,
                        a.outcome,
                        a.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    );
                }
            } else {
                eprintln!("{line}");
            }
        }
        Ok(_) => {}
        Err(e) => eprintln!("spine worker {worker_id}: notifications not sent: {e}"),
    }
}

/// This machine's name, for the worker's default id and `core_workers`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Prints what a pass did: the story in table form, the report as JSON.
fn print_pass(ctx: &Context, worker_id: &str, report: &PassReport) -> anyhow::Result<()> {
    if ctx.format() != Format::Table {
        let mut value = serde_json::to_value(report)?;
        value["worker_id"] = json!(worker_id);
        let mut table = Table::new(["item", "partition", "kind", "attempt", "outcome", "detail"]);
        for i in &report.items {
            table.push(item_row(i));
        }
        emit(ctx.format(), &table, Some(&value))?;
        return Ok(());
    }
    println!(
        "{worker_id}: pass at {}: {} enqueued, {} attempted, {} verdicts changed{}",
        report.now.to_rfc3339(),
        report.enqueued.len(),
        report.items.len(),
        report.verdicts.len(),
        if report.recomputed > 0 {
            format!(", {} stale calcs recomputed", report.recomputed)
        } else {
            String::new()
        }
    );
    // A catch-up pass can enqueue and work hundreds of items: the first ones tell the story,
    // `spine work list` has them all.
    const SHOWN: usize = 12;
    for e in report.enqueued.iter().take(SHOWN) {
        println!("  due       {} {} {}", e.kind, e.domain, e.partition_key);
    }
    if report.enqueued.len() > SHOWN {
        println!("  due       … and {} more", report.enqueued.len() - SHOWN);
    }
    for i in report.items.iter().take(SHOWN) {
        let [item, partition, kind, attempt, outcome, detail] = item_row(i);
        println!("  item {item:<4} {kind} {partition} attempt {attempt}: {outcome} {detail}");
    }
    if report.items.len() > SHOWN {
        println!(
            "  items     … and {} more (see `spine work list`)",
            report.items.len() - SHOWN
        );
    }
    for v in &report.verdicts {
        let change = match v.previous {
            Some(p) if p == v.status => format!("{} (its blocking issues changed)", v.status),
            Some(p) => format!("{p} → {}", v.status),
            None => format!("{} (first verdict)", v.status),
        };
        let why = match (&v.certified_at, v.blocking_issues.first()) {
            (Some(t), _) => format!(", certified at {}", t.to_rfc3339()),
            (None, Some(first)) if v.blocking_issues.len() > 1 => {
                format!(": {first} (+{} more)", v.blocking_issues.len() - 1)
            }
            (None, Some(first)) => format!(": {first}"),
            (None, None) => String::new(),
        };
        println!(
            "  verdict   {} {} for {}: {change}{why}",
            v.domain, v.partition_key, v.ready_for
        );
    }
    Ok(())
}

fn item_row(i: &worker::ItemResult) -> [String; 6] {
    let detail = match (&i.ingest, &i.capture_id, &i.error, &i.next_attempt_at) {
        (Some(status), Some(capture), _, _) => format!("({status} {capture})"),
        (_, _, Some(error), Some(next)) => format!("({error}; next attempt {})", next.to_rfc3339()),
        (_, _, Some(error), None) => format!("({error})"),
        _ => String::new(),
    };
    let taken = i
        .took_over_from
        .as_ref()
        .map(|w| format!(" [took over from {w}]"))
        .unwrap_or_default();
    [
        i.item_id.to_string(),
        i.partition_key.clone(),
        i.kind.to_string(),
        i.attempt.to_string(),
        i.outcome.to_string(),
        format!("{detail}{taken}"),
    ]
}
