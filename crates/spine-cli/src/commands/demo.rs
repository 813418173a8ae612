//! `spine demo`: Market Spine running itself over a few generated weeks.
//!
//! The demo starts a loopback web site that publishes generated FINRA files as FINRA would
//! (NMS Tier 1 two weeks after the week, the other tiers two weeks later, on Mondays),
//! configures it as the domain's source, and drives the worker (`spine_engine::worker`) on its
//! own simulated clock, pass after pass, up to the command's clock (`--now`, else now). One week
//! tells the whole story: its OTC file is late (HTTP 404 at the first attempt, fetched by the
//! retry), the week is certified once its preliminary window has passed, FINRA republishes its
//! NMS Tier 1 file with 200 more symbols, the worker captures the revision and the week is
//! re-certified on the new capture. What each pass did is printed as it happens; the database
//! it leaves behind is what `doctor`, `readiness`, `work list` and `serve` explore.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc, Weekday};
use serde_json::json;
use spine_engine::sources::{self, NewSourceSpec, SourceKind};
use spine_engine::worker::{self, PassReport, WorkerConfig};
use spine_gen::{GenConfig, GeneratedFile, generate};
use spine_model::{AttemptOutcome, Domain, Tier};

use crate::cli::DemoArgs;
use crate::commands::{Context, status};
use crate::output::Format;

/// The worker id that signs the demo's certifications.
const DEMO_WORKER: &str = "spine-demo-worker";

/// The name of the demo's loopback source, by which a later demo recognises its database.
const DEMO_SOURCE: &str = "demo-site";

/// Runs `spine demo`.
pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let data = args.dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    // The demo lives on its clock (`--now`, else the system clock): the weeks FINRA would have
    // published by then, and a story that ends at it, so `doctor`, `readiness` and `serve` run
    // afterwards on the same clock agree with what the demo printed.
    let end = ctx.clock.now();
    let plan = DemoWeeks::ending_before(end, args.weeks);
    let files = generate(
        &GenConfig {
            weeks: plan.generated,
            first_week_ending: plan.first_week_ending,
            ..GenConfig::default()
        },
        &data,
    )?;
    let story = plan.story_week(end);
    let mut site = Site::default();
    for f in &files {
        // FINRA's site has a file from 06:00 UTC on its publication Monday; the story week's
        // OTC file is late (13:00), after the worker's first attempt.
        let late = story == Some(f.week_ending) && f.tier == Tier::Otc;
        let when = at(f.last_update, if late { 13 } else { 6 }, 0);
        if when > end {
            // Not published by the clock: it does not exist yet.
            let _ = std::fs::remove_file(&f.path);
            continue;
        }
        site.publish(f, when)?;
    }
    // The republished NMS Tier 1 file of the story week: 200 more symbols, on the Friday.
    let mut revision_at = None;
    if let Some(week) = story {
        let revised = generate(
            &GenConfig {
                weeks: 1,
                symbols: GenConfig::default().symbols + 200,
                first_week_ending: week,
                tiers: vec![Tier::NmsTier1],
                ..GenConfig::default()
            },
            &data.join("republished"),
        )?;
        let monday = spine_gen::last_update_date(Tier::Otc, week);
        let when = at(monday + Days::new(4), 12, 0);
        site.publish(&revised[0], when)?;
        revision_at = Some(when);
    }
    let site = Arc::new(Mutex::new(site));
    let (addr, _stop) = start_site(site.clone()).await?;

    let db_path = args.dir.join("spine.db");
    let mut demo_ctx = ctx.clone();
    demo_ctx.global.database_url = format!("sqlite://{}?mode=rwc", db_path.display());
    let existed = db_path.exists();
    let mut engine = demo_ctx.prepare_engine(false).await?;
    if existed {
        // A second demo in the same directory starts over, but only on a database an earlier
        // demo made (it has the demo's source); anything else is someone's data.
        let ours = sources::list_sources(&engine, None)
            .await?
            .iter()
            .any(|s| s.name == DEMO_SOURCE);
        if !ours {
            anyhow::bail!(
                "{} exists and was not made by `spine demo`; choose another --dir",
                db_path.display()
            );
        }
        engine.store().clone().close().await.ok();
        drop(engine);
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let path = format!("{}{suffix}", db_path.display());
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot replace {path}")),
            }
        }
        engine = demo_ctx.prepare_engine(false).await?;
    }
    let domain = Domain::parse(Domain::FINRA_OTC)?;
    let template = format!("http://{addr}/${{TIER}}/${{WEEK_ENDING}}.csv");
    sources::add_source(
        &engine,
        NewSourceSpec {
            name: Some(DEMO_SOURCE.into()),
            domain: domain.clone(),
            // The loopback site is the demo's own: no need to be polite to it.
            kind: SourceKind::UrlTemplate {
                template,
                requests_per_second: Some(sources::MAX_REQUESTS_PER_SECOND),
            },
            since: Some(plan.first_week_ending),
        },
        end,
    )
    .await
    .map_err(|e| anyhow::anyhow!("the demo's source: {e}"))?;

    let table = ctx.format() == Format::Table;
    if table {
        println!(
            "Market Spine demo: {} weeks of generated FINRA data in {}, served by a loopback \
             site at http://{addr}/ that publishes each file when FINRA would; the worker \
             fetches, retries, captures and certifies on its own, into {}.",
            plan.generated,
            data.display(),
            db_path.display()
        );
        println!(
            "Clock: the story runs on a simulated clock up to {} ({}).\n",
            end.to_rfc3339(),
            if ctx.clock.is_fixed() {
                "--now"
            } else {
                "the system clock"
            }
        );
    }
    // Captured files are checked for revisions every 4 days instead of daily: the same story
    // with fewer requests to the loopback site (each waits for its rate-limit slot).
    let config = WorkerConfig {
        revision_every: Duration::days(4),
        ..WorkerConfig::new(DEMO_WORKER)
    };
    let mut reports = Vec::new();
    for now in pass_times(&files, story, revision_at, end) {
        site.lock().expect("site lock").now = now;
        let mut run = demo_ctx.run_context();
        run.now = now;
        run.progress = spine_engine::Progress::hidden();
        let report = worker::pass(&engine, &config, &run)
            .await
            .with_context(|| format!("the demo's worker pass at {now}"))?;
        if table {
            tell(&report, story);
        }
        reports.push(report);
    }

    if !table {
        let json = json!({
            "database": db_path,
            "source": format!("http://{addr}/"),
            "story_week": story,
            "passes": reports,
        });
        crate::output::emit(ctx.format(), &crate::output::Table::new(["-"]), Some(&json))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    status::run(&demo_ctx).await?;
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    let week = story
        .or_else(|| plan.fully_published.last().copied())
        .map(|w| w.to_string())
        .unwrap_or_default();
    println!("\nTry:");
    println!(
        "  spine --database-url '{url}' readiness finra.otc_transparency --week-ending {week} --for trading"
    );
    println!(
        "  spine --database-url '{url}' report readiness-audit --domain finra.otc_transparency"
    );
    println!("  spine --database-url '{url}' work list");
    println!("  spine --database-url '{url}' anomalies list");
    println!("  spine --database-url '{url}' doctor finra.otc_transparency");
    println!("  spine --database-url '{url}' serve");
    println!(
        "(the loopback site stops with the demo: a `spine worker` run later finds nothing to fetch there and says so)"
    );
    Ok(ExitCode::SUCCESS)
}

/// `date` at `hour:minute` UTC.
fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    date.and_hms_opt(hour, minute, 0)
        .expect("a valid time")
        .and_utc()
}

/// When the demo's worker runs: 10:00 on every publication Monday (the fetch window of the
/// files due that day opens), Wednesday 15:00 (their preliminary window has passed), and for
/// the story week 14:00 on its Monday (the retry of the late file), Friday 16:00 (the revision
/// check after the republication) and Sunday 17:00 (the revision's window has passed); the
/// last pass runs at the command's clock. Nothing after it.
fn pass_times(
    files: &[GeneratedFile],
    story: Option<NaiveDate>,
    revision_at: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut times = BTreeSet::new();
    for f in files {
        times.insert(at(f.last_update, 10, 0));
        times.insert(at(f.last_update + Days::new(2), 15, 0));
    }
    if let Some(week) = story {
        times.insert(at(spine_gen::last_update_date(Tier::Otc, week), 14, 0));
    }
    if let Some(when) = revision_at {
        times.insert(at(when.date_naive(), 16, 0));
        times.insert(at(when.date_naive() + Days::new(2), 17, 0));
    }
    times.insert(end);
    times.into_iter().filter(|t| *t <= end).collect()
}

/// Prints what one pass did, in the words of the story.
fn tell(report: &PassReport, story: Option<NaiveDate>) {
    let mut lines = Vec::new();
    let mut unchanged = 0;
    for i in &report.items {
        let what = format!("{}{}", short_key(&i.partition_key), kind_word(i));
        match i.outcome {
            AttemptOutcome::NotModified => unchanged += 1,
            AttemptOutcome::Ingested => lines.push(format!(
                "  fetched   {what}: {} (capture {})",
                i.ingest.map(|s| s.to_string()).unwrap_or_default(),
                i.capture_id.as_deref().unwrap_or("-")
            )),
            AttemptOutcome::Retry => lines.push(format!(
                "  retry     {what}: {}; next attempt {}",
                i.error.as_deref().unwrap_or("failed"),
                i.next_attempt_at
                    .map(|t| t.format("%a %H:%M").to_string())
                    .unwrap_or_default()
            )),
            other => lines.push(format!(
                "  {:<9} {what}: {}",
                other.to_string().to_lowercase(),
                i.error.as_deref().unwrap_or("")
            )),
        }
    }
    if unchanged > 0 {
        lines.push(format!(
            "  checked   {unchanged} captured file(s) for revisions: unchanged"
        ));
    }
    // Verdicts whose status moved, one line per week and change (the uses that moved alike
    // together); a verdict whose blocking issues changed but not its status is left to the
    // audit trail.
    let mut moved: Vec<(String, String, Vec<String>)> = Vec::new();
    for v in &report.verdicts {
        if v.previous == Some(v.status) {
            continue;
        }
        let change = match v.previous {
            Some(p) => format!("{p} → {}", v.status),
            None => v.status.to_string(),
        };
        let why = match (v.certified_at, v.blocking_issues.first()) {
            (Some(_), _) => format!(", certified by {DEMO_WORKER}"),
            (None, Some(first)) if v.blocking_issues.len() > 1 => {
                format!(": {first} (+{} more)", v.blocking_issues.len() - 1)
            }
            (None, Some(first)) => format!(": {first}"),
            (None, None) => String::new(),
        };
        let week = short_key(&v.partition_key);
        let line = format!("{change}{why}");
        match moved.iter_mut().find(|(w, l, _)| *w == week && *l == line) {
            Some((_, _, uses)) => uses.push(v.ready_for.to_string()),
            None => moved.push((week, line, vec![v.ready_for.to_string()])),
        }
    }
    for (week, line, uses) in moved {
        let marker = if story.is_some_and(|w| week == w.to_string()) {
            "*"
        } else {
            " "
        };
        lines.push(format!(
            " {marker}verdict   week {week} for {}: {line}",
            uses.join(", ")
        ));
    }
    if lines.is_empty() {
        return;
    }
    println!("{}", report.now.format("%a %Y-%m-%d %H:%M UTC"));
    for line in lines {
        println!("{line}");
    }
}

/// `{"tier":"OTC","week_ending":"2026-10-23"}` → `2026-10-23 OTC`.
fn short_key(key: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(key).unwrap_or_default();
    let week = value["week_ending"].as_str().unwrap_or(key);
    match value["tier"].as_str() {
        Some(tier) => format!("{week} {tier}"),
        None => week.to_string(),
    }
}

fn kind_word(i: &worker::ItemResult) -> &'static str {
    match i.kind {
        spine_model::WorkKind::Fetch => "",
        spine_model::WorkKind::RevisionCheck => " (revision check)",
    }
}

/// What the loopback site serves: `TIER/WEEK_ENDING.csv` → the versions of that file and when
/// each was published; the demo moves `now` before each pass.
#[derive(Default)]
struct Site {
    now: DateTime<Utc>,
    files: HashMap<String, Vec<Version>>,
}

/// One published version of a file: from when, and its bytes.
type Version = (DateTime<Utc>, Arc<Vec<u8>>);

impl Site {
    fn publish(&mut self, f: &GeneratedFile, when: DateTime<Utc>) -> anyhow::Result<()> {
        let bytes =
            std::fs::read(&f.path).with_context(|| format!("cannot read {}", f.path.display()))?;
        let versions = self
            .files
            .entry(format!("{}/{}.csv", f.tier, f.week_ending))
            .or_default();
        versions.push((when, Arc::new(bytes)));
        versions.sort_by_key(|(t, _)| *t);
        Ok(())
    }

    /// The newest version published by the site's clock.
    fn serve(&self, path: &str) -> Option<Arc<Vec<u8>>> {
        self.files
            .get(path)?
            .iter()
            .rev()
            .find(|(t, _)| *t <= self.now)
            .map(|(_, b)| b.clone())
    }
}

async fn serve_file(
    State(site): State<Arc<Mutex<Site>>>,
    UrlPath((tier, file)): UrlPath<(String, String)>,
) -> Result<Vec<u8>, StatusCode> {
    let site = site.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    site.serve(&format!("{tier}/{file}"))
        .map(|b| b.as_ref().clone())
        .ok_or(StatusCode::NOT_FOUND)
}

/// Starts the site on 127.0.0.1 (an ephemeral port); it stops when the sender is dropped.
async fn start_site(
    site: Arc<Mutex<Site>>,
) -> anyhow::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let app = axum::Router::new()
        .route("/{tier}/{file}", get(serve_file))
        .with_state(site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("the demo's loopback site cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .ok();
    });
    Ok((addr, stop))
}

/// Which weeks the demo generates for its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DemoWeeks {
    /// The Friday ending the first generated week.
    first_week_ending: NaiveDate,
    /// How many weeks to generate: the fully published ones and the newer ones of which only
    /// NMS Tier 1 is out (FINRA publishes it two weeks before the other tiers).
    generated: u32,
    /// The weeks every tier of which is published by the clock, oldest first.
    fully_published: Vec<NaiveDate>,
}

impl DemoWeeks {
    /// The `weeks` most recent fully published weeks before `clock`, and the newer weeks with a
    /// published tier. A file counts as published from noon UTC on its `lastUpdateDate`.
    fn ending_before(clock: DateTime<Utc>, weeks: u32) -> DemoWeeks {
        let published = |tier: Tier, week: NaiveDate| {
            at(spine_gen::last_update_date(tier, week), 12, 0) <= clock
        };
        // The latest Friday with any tier out (NMS Tier 1 is always first).
        let mut newest = clock.date_naive();
        while newest.weekday() != Weekday::Fri || !published(Tier::NmsTier1, newest) {
            newest = newest - Days::new(1);
        }
        let mut latest_full = newest;
        while !Tier::ALL.iter().all(|t| published(*t, latest_full)) {
            latest_full = latest_full - Days::new(7);
        }
        let partial = ((newest - latest_full).num_days() / 7) as u32;
        let first_week_ending = latest_full - Days::new(7 * u64::from(weeks - 1));
        DemoWeeks {
            first_week_ending,
            generated: weeks + partial,
            fully_published: (0..weeks)
                .map(|i| first_week_ending + Days::new(7 * u64::from(i)))
                .collect(),
        }
    }

    /// The week whose whole story (late file, retry, certification, revision, re-certification:
    /// Monday to Sunday 17:00 after its last tiers' publication) fits before `clock`: the
    /// newest such fully published week.
    fn story_week(&self, clock: DateTime<Utc>) -> Option<NaiveDate> {
        self.fully_published.iter().rev().copied().find(|w| {
            at(spine_gen::last_update_date(Tier::Otc, *w), 17, 0) + Duration::days(6) <= clock
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_demo_weeks_end_before_its_clock() {
        // Tuesday 1 December 2026: NMS Tier 1 of the week ending 13 November came out on
        // Monday 30 November; every tier of the week ending 30 October did.
        let plan = DemoWeeks::ending_before(time("2026-12-01T09:00:00Z"), 3);
        assert_eq!(
            plan.fully_published,
            [d("2026-10-16"), d("2026-10-23"), d("2026-10-30")]
        );
        assert_eq!(plan.generated, 5);
        assert_eq!(plan.first_week_ending, d("2026-10-16"));
        // The week ending 30 October was published yesterday: its story has not happened yet;
        // the week before's has.
        assert_eq!(
            plan.story_week(time("2026-12-01T09:00:00Z")),
            Some(d("2026-10-23"))
        );
        // Before noon on a publication Monday, that Monday's files are not out yet.
        let plan = DemoWeeks::ending_before(time("2026-11-30T11:59:00Z"), 1);
        assert_eq!(plan.fully_published, [d("2026-10-23")]);
        assert_eq!(plan.generated, 3);
        // One week published five days ago: no week has a whole story yet.
        let plan = DemoWeeks::ending_before(time("2026-11-28T09:00:00Z"), 1);
        assert_eq!(plan.story_week(time("2026-11-28T09:00:00Z")), None);
    }

    #[test]
    fn the_passes_end_at_the_clock() {
        let end = time("2026-12-01T09:00:00Z");
        let plan = DemoWeeks::ending_before(end, 3);
        let story = plan.story_week(end);
        let revision = Some(time("2026-11-27T12:00:00Z"));
        let times = pass_times(&[], story, revision, end);
        assert_eq!(times.last(), Some(&end));
        assert!(times.contains(&time("2026-11-23T14:00:00Z")));
        assert!(times.contains(&time("2026-11-27T16:00:00Z")));
        assert!(times.contains(&time("2026-11-29T17:00:00Z")));
    }
}
