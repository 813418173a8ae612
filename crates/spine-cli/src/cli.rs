//! The command line, declared with clap's derive API. Parsing only: the commands live in
//! [`crate::commands`].

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use spine_finra::parse::PublicationLags;
use spine_model::{
    Category, Channel, DependencyType, DigestMode, Domain, EventKind, ReadyFor, ScheduleType,
    Severity, Tier, WeekEnding,
};

use crate::output::Format;
use crate::server;

/// Market Spine: FINRA OTC Transparency analytics that say whether a week can be trusted.
#[derive(Debug, Parser)]
#[command(name = "spine", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Examples:\n  spine demo\n  spine db migrate --database-url sqlite://spine.db?mode=rwc\n  spine status --format json"
)]
pub struct Cli {
    /// Options every command shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database URL: `sqlite://PATH?mode=rwc` (embedded, the default) or `postgres://…`.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = spine_store::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The clock for every time-dependent step (RFC 3339), e.g. `2026-01-20T09:00:00Z`.
    /// Defaults to the system clock.
    #[arg(long, global = true, env = "SPINE_NOW", value_parser = parse_rfc3339)]
    pub now: Option<DateTime<Utc>>,
    /// Never create or migrate a database, not even in `db migrate`, `ingest` or `demo`: use
    /// it where the schema is managed separately and a wrong URL must fail.
    #[arg(
        long,
        global = true,
        env = "SPINE_NO_CREATE",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_create: bool,
}

fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time such as 2026-01-20T09:00:00Z ({e})"))
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Database administration.
    #[command(subcommand)]
    Db(DbCommand),
    /// What is captured, what is open and what is certified, per domain.
    #[command(after_help = "Example:\n  spine status --format json")]
    Status,
    /// Ingest a source file through every stage (RAW → NORMALIZED → CALC).
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Exchange calendars (holidays and trading days).
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Query the analytics of a week (latest capture unless --capture is given).
    Query(QueryArgs),
    /// List the registered pipelines.
    #[command(after_help = "Example:\n  spine pipelines")]
    Pipelines,
    /// Run one registered pipeline stage for a partition.
    #[command(
        after_help = "Examples:\n  spine run finra_otc.normalize --week-ending 2025-12-19 --tier OTC\n  spine run finra_otc.ingest --file otc.csv"
    )]
    Run(RunArgs),
    /// Generate realistic FINRA OTC weekly files (deterministic from a seed).
    #[command(subcommand)]
    Gen(GenCommand),
    /// Certify whether a week (or one tier of it) is ready for a use; exit 0 ready, 3 not ready
    /// (with --strict, READY_WITH_WARNINGS too).
    #[command(
        after_help = "Examples:\n  spine readiness finra.otc_transparency --week-ending 2025-12-19 --for trading --by desk-ops\n  spine readiness finra.otc_transparency --week-ending 2025-12-19 --tier OTC --for compliance --format json\n  spine readiness finra.otc_transparency --week-ending 2025-12-19 --dry-run --strict"
    )]
    Readiness(ReadinessArgs),
    /// List and resolve anomalies.
    #[command(subcommand)]
    Anomalies(AnomaliesCommand),
    /// The rejected lines of a capture: line number, reason and the line as received.
    #[command(subcommand)]
    Rejects(RejectsCommand),
    /// A capture's input as received: any line of it, from the bytes kept at capture time.
    #[command(subcommand)]
    Captures(CapturesCommand),
    /// Pipeline runs: what ran, with which parameters, how long, how it ended.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Expected schedules: list, add, and check for missed or late partitions.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Run Market Spine by itself: enqueue what is due, fetch it from the configured sources
    /// with retries, check recent weeks for revisions, heal stale calcs and re-evaluate
    /// verdicts. Until SIGTERM/Ctrl-C, or one pass with --once.
    #[command(
        after_help = "Examples:\n  spine worker --once --now 2026-01-12T10:00:00Z\n  spine worker --worker-id ops-1 --concurrency 2 --interval 5m"
    )]
    Worker(WorkerArgs),
    /// The work queue: list items, retry a failed one, cancel one.
    #[command(subcommand)]
    Work(WorkCommand),
    /// Where each domain's partitions are fetched from, configured once for every worker.
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Who is told about what: subscriptions (webhook, Slack, email), their delivery log, a test
    /// message, and delivering what is due.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCommand),
    /// Recompute a week's calcs from their stored rows (e.g. after a calendar correction).
    #[command(
        after_help = "Example:\n  spine recompute finra.otc_transparency --week-ending 2025-12-26"
    )]
    Recompute(RecomputeArgs),
    /// Diagnose a domain: expected vs actual partitions, what is missing and where it stopped,
    /// open anomalies, readiness per week, and the commands that fix it. Exit 3 if anything blocks.
    #[command(
        after_help = "Examples:\n  spine doctor finra.otc_transparency\n  spine doctor finra.otc_transparency --weeks 8 --format json"
    )]
    Doctor(DoctorArgs),
    /// Calc dependencies: list, declare, and what a change upstream makes stale.
    #[command(subcommand)]
    Deps(DepsCommand),
    /// Compliance reports: anomaly trends and the readiness audit trail.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Serve the read-only readiness HTTP API (loopback unless told otherwise).
    #[command(
        after_help = "Examples:\n  spine serve\n  spine serve --bind 127.0.0.1:9090 --max-expensive 2\n  spine serve --bind 0.0.0.0:8080 --public --allow-host spine.internal.example\n  curl -s localhost:8080/api/v1/readiness/finra.otc_transparency/2025-12-19?ready_for=trading\n\nThe timeouts and caps are described in docs/OPERATIONS.md (\"Exposing the API\")."
    )]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  spine completions bash > /etc/bash_completion.d/spine\n  spine completions zsh > \"${fpath[1]}/_spine\"\n  spine completions fish > ~/.config/fish/completions/spine.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Generate a few weeks for all tiers, ingest them with the calendar into DIR/spine.db, and
    /// show what happened.
    #[command(after_help = "Example:\n  spine demo --dir demo")]
    Demo(DemoArgs),
}

/// `spine ingest …`
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// A FINRA OTC Transparency weekly file (pipe-delimited), from a path or an http(s) URL.
    #[command(
        after_help = "Examples:\n  spine ingest finra-otc --file finra_otc_weekly_otc_20251219.csv\n  spine ingest finra-otc --file http://127.0.0.1:8000/otc.csv --tier OTC --week-ending 2025-12-19 --format json"
    )]
    FinraOtc(FinraIngestArgs),
}

/// Arguments of `spine ingest finra-otc`.
#[derive(Debug, Clone, Args)]
pub struct FinraIngestArgs {
    /// The file: a path or an http(s) URL.
    #[arg(long)]
    pub file: String,
    /// The tier the file holds; an error if the file says otherwise.
    #[arg(long, value_parser = parse_tier)]
    pub tier: Option<Tier>,
    /// The Friday ending the covered week; derived from lastUpdateDate and the tier's
    /// publication lag when omitted (and the derivation is recorded in the capture).
    #[arg(long, value_parser = parse_date)]
    pub week_ending: Option<NaiveDate>,
    /// Publication lag of NMS Tier 1 in days, for deriving the week.
    #[arg(long, default_value_t = PublicationLags::NMS_TIER_1_DAYS)]
    pub lag_tier1_days: u32,
    /// Publication lag of NMS Tier 2 and OTC in days, for deriving the week.
    #[arg(long, default_value_t = PublicationLags::NMS_TIER_2_AND_OTC_DAYS)]
    pub lag_tier2_otc_days: u32,
}

/// `spine calendar …`
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Ingest a holiday file (JSON: exchange_code, year, holidays[{date,name}]).
    #[command(after_help = "Example:\n  spine calendar ingest --file xnys_2025.json")]
    Ingest {
        /// The holiday file.
        #[arg(long)]
        file: PathBuf,
    },
    /// The years each exchange calendar covers and where each year's calendar came from (the
    /// shipped, rule-computed one, or a file an operator loaded).
    #[command(after_help = "Example:\n  spine calendar coverage --format json")]
    Coverage,
}

/// The analytics `spine query` can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryKind {
    /// Per symbol: total shares, trades, venue count.
    Summary,
    /// Per venue (MPID): shares and share of the tier.
    VenueShare,
    /// Per symbol: HHI venue concentration.
    Hhi,
    /// Per tier: share of all tiers' shares.
    TierSplit,
    /// Per symbol: shares per trading day.
    VolumePerDay,
}

/// Arguments of `spine query`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  spine query summary --week-ending 2025-12-19 --tier OTC --symbol AAPL\n  spine query tier-split --week-ending 2025-12-19 --format csv"
)]
pub struct QueryArgs {
    /// Which analytics.
    #[arg(value_enum)]
    pub kind: QueryKind,
    /// The Friday ending the week.
    #[arg(long, value_parser = parse_date)]
    pub week_ending: NaiveDate,
    /// The tier (required except for tier-split).
    #[arg(long, value_parser = parse_tier)]
    pub tier: Option<Tier>,
    /// Only this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
    /// A specific capture instead of the latest.
    #[arg(long)]
    pub capture: Option<String>,
}

/// Arguments of `spine run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The pipeline's registered name (see `spine pipelines`).
    pub pipeline: String,
    /// The Friday ending the week (for stages that work on a stored capture).
    #[arg(long, value_parser = parse_date)]
    pub week_ending: Option<NaiveDate>,
    /// The tier (for stages that work on a stored capture).
    #[arg(long, value_parser = parse_tier)]
    pub tier: Option<Tier>,
    /// The input file (for ingest pipelines).
    #[arg(long)]
    pub file: Option<String>,
}

/// `spine gen …`
#[derive(Debug, Subcommand)]
pub enum GenCommand {
    /// FINRA OTC weekly files for all three tiers.
    #[command(
        after_help = "Examples:\n  spine gen finra-otc --out data --weeks 4\n  spine gen finra-otc --out data --weeks 2 --inject negative-quantity --inject duplicate-pair"
    )]
    FinraOtc(GenArgs),
}

/// Arguments of `spine gen finra-otc`.
#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// Output directory (created if missing).
    #[arg(long, required_unless_present = "list_faults")]
    pub out: Option<PathBuf>,
    /// List the faults `--inject` accepts, and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// Number of consecutive weeks (1 to 520).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=520))]
    pub weeks: u32,
    /// Symbols per tier.
    #[arg(long, default_value_t = 3_000)]
    pub symbols: usize,
    /// Venues (MPIDs).
    #[arg(long, default_value_t = 50)]
    pub mpids: usize,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The Friday ending the first week.
    #[arg(long, value_parser = parse_date, default_value = "2025-11-28")]
    pub first_week_ending: NaiveDate,
    /// A fault to inject into the last week (repeatable); `--list-faults` lists them.
    #[arg(long = "inject")]
    pub inject: Vec<String>,
}

/// Arguments of `spine demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where to write the generated files and `spine.db`.
    #[arg(long, default_value = "demo")]
    pub dir: PathBuf,
    /// Weeks to generate (1 to 52).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=52))]
    pub weeks: u32,
}

/// Arguments of `spine readiness`.
#[derive(Debug, Clone, Args)]
pub struct ReadinessArgs {
    /// The domain, e.g. `finra.otc_transparency`.
    #[arg(value_parser = parse_domain)]
    pub domain: Domain,
    /// The Friday ending the week.
    #[arg(long, value_parser = parse_week_ending)]
    pub week_ending: NaiveDate,
    /// One tier; without it the week-level partition covers all tiers.
    #[arg(long, value_parser = parse_tier)]
    pub tier: Option<Tier>,
    /// The use to certify for.
    #[arg(long = "for", value_parser = parse_ready_for, default_value = "trading")]
    pub ready_for: ReadyFor,
    /// Who evaluates and certifies (recorded as evaluated_by / certified_by). Without it (and
    /// without $SPINE_CERTIFIED_BY), the OS user ($USER, then $LOGNAME); with none of them the
    /// command refuses (exit 2) and records nothing.
    #[arg(long, env = "SPINE_CERTIFIED_BY")]
    pub by: Option<String>,
    /// Evaluate and print the verdict without recording anything (no history row, no current
    /// verdict, no missed-partition detection); needs no signer.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit 3 on READY_WITH_WARNINGS too, for callers that accept no caveats (without it,
    /// READY_WITH_WARNINGS exits 0).
    #[arg(long)]
    pub strict: bool,
}

/// `spine executions …`
#[derive(Debug, Subcommand)]
pub enum ExecutionsCommand {
    /// List runs, newest first. A RUNNING run whose process stopped renewing its heartbeat is
    /// shown as ABANDONED.
    #[command(
        after_help = "Examples:\n  spine executions list --status RUNNING\n  spine executions list --since 2026-01-01 --format json"
    )]
    List(ExecutionsListArgs),
}

/// Arguments of `spine worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Run one pass at the command's clock (`--now`, else the system clock) and exit 0: how
    /// cron and tests drive the worker.
    #[arg(long)]
    pub once: bool,
    /// This worker's name: it holds leases and signs the verdicts it records under it.
    /// Default: `worker@<host>:<pid>`.
    #[arg(long, env = "SPINE_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Items worked on at once (1 to 64).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Time between passes without --once, e.g. `30s`, `5m`, `1h`.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// How long a claimed item is held without renewal (renewed every third of it), e.g. `60s`.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub lease: std::time::Duration,
    /// How many weeks back captured partitions are checked for revisions.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=52))]
    pub revision_weeks: u32,
}

/// A human duration (`90s`, `5m`, `1h 30m`), at least one second.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration such as 30s, 5m or 1h ({e})"))?;
    if d < std::time::Duration::from_secs(1) {
        return Err(format!("`{s}` is shorter than one second"));
    }
    Ok(d)
}

/// `spine work …`
#[derive(Debug, Subcommand)]
pub enum WorkCommand {
    /// List work items: open ones first by when they run next, then finished ones.
    #[command(
        after_help = "Examples:\n  spine work list --state FAILED\n  spine work list --domain finra.otc_transparency --format json"
    )]
    List(WorkListArgs),
    /// Put a FAILED, CANCELLED or RETRY_WAIT item back in the queue now, with a fresh budget of
    /// attempts (its history stays).
    #[command(after_help = "Example:\n  spine work retry 12")]
    Retry {
        /// The item id (see `spine work list`).
        id: i64,
    },
    /// Withdraw an item, saying why; a worker holding it drops its result.
    #[command(after_help = "Example:\n  spine work cancel 12 --reason \"FINRA withdrew the week\"")]
    Cancel {
        /// The item id (see `spine work list`).
        id: i64,
        /// Why (kept with the item).
        #[arg(long)]
        reason: String,
    },
}

/// Arguments of `spine work list`.
#[derive(Debug, Clone, Args)]
pub struct WorkListArgs {
    /// Only this state: PENDING, RUNNING, RETRY_WAIT, COMPLETE, FAILED or CANCELLED.
    #[arg(long, value_parser = parse_work_state)]
    pub state: Option<spine_model::WorkItemState>,
    /// Only this domain.
    #[arg(long, value_parser = parse_domain)]
    pub domain: Option<Domain>,
    /// At most this many.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
    /// Also show each item's attempts.
    #[arg(long)]
    pub attempts: bool,
}

fn parse_work_state(s: &str) -> Result<spine_model::WorkItemState, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

/// Arguments of `spine executions list`.
#[derive(Debug, Clone, Args)]
pub struct ExecutionsListArgs {
    /// Only this status: RUNNING, COMPLETED, FAILED, ABORTED or ABANDONED.
    #[arg(long, value_parser = parse_execution_status)]
    pub status: Option<spine_model::ExecutionStatus>,
    /// Only runs started on or after this day (UTC).
    #[arg(long, value_parser = parse_date)]
    pub since: Option<NaiveDate>,
    /// At most this many.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
}

fn parse_execution_status(s: &str) -> Result<spine_model::ExecutionStatus, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

/// `spine rejects …`
#[derive(Debug, Subcommand)]
pub enum RejectsCommand {
    /// List rejected lines, in (capture, line) order.
    #[command(
        after_help = "Examples:\n  spine rejects list --week-ending 2025-12-19 --tier OTC\n  spine rejects list --capture cap_0123456789abcdef01234567 --reason BAD_DATE --format csv"
    )]
    List(RejectsListArgs),
}

/// Arguments of `spine rejects list`: one capture, or the latest capture of each partition a
/// week (and tier) covers.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["capture", "week_ending"])))]
pub struct RejectsListArgs {
    /// One capture, by id.
    #[arg(long, conflicts_with_all = ["week_ending", "tier"])]
    pub capture: Option<String>,
    /// The domain of the week.
    #[arg(long, value_parser = parse_domain, default_value = spine_model::Domain::FINRA_OTC)]
    pub domain: Domain,
    /// The Friday ending the week: its partitions' latest captures.
    #[arg(long, value_parser = parse_week_ending)]
    pub week_ending: Option<NaiveDate>,
    /// Only this tier of the week.
    #[arg(long, value_parser = parse_tier, requires = "week_ending")]
    pub tier: Option<Tier>,
    /// Only this reason code, e.g. `BAD_DATE`.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `spine captures …`
#[derive(Debug, Subcommand)]
pub enum CapturesCommand {
    /// Show lines of a capture's input exactly as received (a byte that is a control character
    /// or not UTF-8 is shown as `\xNN`, a backslash as `\\`).
    #[command(
        after_help = "Examples:\n  spine captures lines cap_0123456789abcdef01234567 --line 2\n  spine captures lines cap_0123456789abcdef01234567 --line 1 --count 20 --format json"
    )]
    Lines(CaptureLinesArgs),
}

/// Arguments of `spine captures lines`.
#[derive(Debug, Clone, Args)]
pub struct CaptureLinesArgs {
    /// The capture, by id (see `spine ingest` output, `spine status` or `spine rejects list`).
    pub capture: String,
    /// The first line to show, 1-based (the header is line 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
    pub line: i64,
    /// How many lines to show (at most 10,000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub count: i64,
}

/// `spine anomalies …`
#[derive(Debug, Subcommand)]
pub enum AnomaliesCommand {
    /// List anomalies, oldest first.
    #[command(
        after_help = "Examples:\n  spine anomalies list --unresolved\n  spine anomalies list --domain finra.otc_transparency --week-ending 2025-12-19 --severity ERROR --format json"
    )]
    List(AnomalyListArgs),
    /// Resolve an anomaly; the note (why it no longer matters) is required.
    #[command(
        after_help = "Example:\n  spine anomalies resolve 12 --note \"FINRA confirmed the zero-share rows were a test feed\""
    )]
    Resolve {
        /// The anomaly id.
        id: i64,
        /// Why it is resolved: recorded for the audit trail.
        #[arg(long)]
        note: String,
        /// Who resolves it (recorded as resolved_by). Without it (and without $SPINE_USER), the
        /// OS user ($USER, then $LOGNAME); with none of them the command refuses (exit 2).
        #[arg(long, env = "SPINE_USER")]
        by: Option<String>,
    },
}

/// Arguments of `spine anomalies list`.
#[derive(Debug, Clone, Args, Default)]
pub struct AnomalyListArgs {
    /// Only this domain.
    #[arg(long, value_parser = parse_domain)]
    pub domain: Option<Domain>,
    /// Only partitions of this week.
    #[arg(long, value_parser = parse_date)]
    pub week_ending: Option<NaiveDate>,
    /// Only this severity.
    #[arg(long, value_parser = parse_severity)]
    pub severity: Option<Severity>,
    /// Only this category.
    #[arg(long, value_parser = parse_category)]
    pub category: Option<Category>,
    /// Only unresolved anomalies.
    #[arg(long)]
    pub unresolved: bool,
}

/// `spine schedules …`
#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// List the expected schedules.
    #[command(after_help = "Example:\n  spine schedules list --format json")]
    List {
        /// Only this domain.
        #[arg(long, value_parser = parse_domain)]
        domain: Option<Domain>,
    },
    /// Add (or update) an expected schedule.
    #[command(
        after_help = "Example:\n  spine schedules add --domain finra.otc_transparency --pipeline finra_otc.ingest.otc --schedule-type WEEKLY \\\n    --partition-template '{\"tier\":\"${TIER}\",\"week_ending\":\"${FRIDAY}\"}' --partition-values '{\"TIER\":[\"OTC\"]}' \\\n    --expected-delay-hours 522 --preliminary-hours 48"
    )]
    Add(ScheduleAddArgs),
    /// Check the schedules: which expected partitions are present, late, missed or pending.
    #[command(
        after_help = "Example:\n  spine schedules check --domain finra.otc_transparency --from 2025-11-28 --to 2025-12-19"
    )]
    Check {
        /// The domain.
        #[arg(long, value_parser = parse_domain)]
        domain: Domain,
        /// First business date (default: the earliest captured week).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Last business date (default: today on the run's clock).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
    },
}

/// `spine sources …`
#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Configure a source: a URL or path template (`--kind url-template`) or a kind the domain
    /// offers (FINRA: `--kind finra-api`). Bad input is refused (exit 2) with nothing written,
    /// a duplicate name included. Needs an existing database (`spine db migrate`).
    #[command(
        after_help = "Examples:\n  spine sources add --domain finra.otc_transparency --kind url-template \\\n    --url-template 'https://files.example.com/finra/${TIER}/${WEEK_ENDING}.psv' --since 2025-11-28\n  spine sources add --domain finra.otc_transparency --kind url-template \\\n    --url-template '/srv/drop/${WEEK_START}/${TIER}.psv' --name finra-drop\n  spine sources add --domain finra.otc_transparency --kind finra-api \\\n    --client-id-env FINRA_CLIENT_ID --client-secret-env FINRA_CLIENT_SECRET --since 2025-06-06\n\nTemplate variables (FINRA): ${TIER} (NMS_TIER_1, NMS_TIER_2, OTC), ${WEEK_ENDING} (the Friday),\n${WEEK_START} (the Monday), as YYYY-MM-DD. Credentials are never stored: give the names of the\nenvironment variables that hold them; the worker reads them when it fetches."
    )]
    Add(Box<SourceAddArgs>),
    /// List the configured sources (settings hold no secrets: only variable names).
    #[command(
        after_help = "Examples:\n  spine sources list\n  spine sources list --domain finra.otc_transparency --format json"
    )]
    List {
        /// Only this domain's.
        #[arg(long, value_parser = parse_domain)]
        domain: Option<Domain>,
    },
    /// Remove a source by name (with what it recorded of past fetches; its captures stay).
    #[command(after_help = "Example:\n  spine sources remove finra-drop")]
    Remove {
        /// The source's name (see `spine sources list`).
        name: String,
    },
}

/// `spine subscriptions …`
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a desk, a team or a person to events. Bad input (a target that is not a URL or
    /// an address, an unknown event, domain or use, a secret variable name that is not one) is
    /// refused (exit 2) with nothing written, before the database is opened.
    #[command(
        after_help = "Examples:\n  spine subscriptions add --name trading-desk --channel webhook \\\n    --target https://hooks.example.com/spine --for trading --secret-env DESK_HOOK_KEY\n  spine subscriptions add --name ops-slack --channel slack \\\n    --target https://hooks.slack.com/services/T000/B000/XXXX --events readiness.changed,work.failed\n  spine subscriptions add --name compliance --channel email --target compliance@example.com \\\n    --for compliance --digest daily --secret-env SMTP_PASSWORD\n\nEvents: readiness.changed, certification.invalidated, capture.revised, anomaly.opened,\nanomaly.resolved, schedule.missed, work.failed. Email goes through the SMTP server of\nSPINE_SMTP_URL (smtp://user@host:587, STARTTLS when offered; see docs/OPERATIONS.md)."
    )]
    Add(Box<SubscriptionAddArgs>),
    /// List the subscriptions (secrets are only ever variable names).
    #[command(after_help = "Example:\n  spine subscriptions list --format json")]
    List,
    /// Remove a subscription (its undelivered messages go with it; the log of sent ones stays).
    #[command(after_help = "Example:\n  spine subscriptions remove ops-slack")]
    Remove {
        /// The subscription's name.
        name: String,
    },
    /// Send a test message to a subscription now (nothing is recorded). Exit 1 if it fails.
    #[command(after_help = "Example:\n  spine subscriptions test trading-desk")]
    Test {
        /// The subscription's name.
        name: String,
    },
    /// A subscription's delivery log, newest first: state, attempts, next attempt, last error.
    #[command(after_help = "Example:\n  spine subscriptions deliveries trading-desk --format json")]
    Deliveries {
        /// The subscription's name.
        name: String,
    },
    /// Fan out new events and send what is due at the run's clock (`--now`), as the worker does
    /// at the end of each pass.
    #[command(after_help = "Example:\n  spine subscriptions deliver --now 2025-12-22T09:00:00Z")]
    Deliver,
}

/// Arguments of `spine subscriptions add`.
#[derive(Debug, Clone, Args)]
pub struct SubscriptionAddArgs {
    /// Unique name. A subscription named like the signer of a certification (`--by`) also hears
    /// when that certification is invalidated.
    #[arg(long)]
    pub name: String,
    /// `webhook` (signed JSON), `slack` (incoming webhook) or `email`.
    #[arg(long, value_parser = parse_channel)]
    pub channel: Channel,
    /// An http(s) URL (webhook, slack) or an email address (email).
    #[arg(long)]
    pub target: String,
    /// Only this domain's events.
    #[arg(long, value_parser = parse_domain)]
    pub domain: Option<Domain>,
    /// Only verdicts for this use (trading, compliance, research).
    #[arg(long = "for", value_parser = parse_ready_for)]
    pub ready_for: Option<ReadyFor>,
    /// Only these events, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', value_parser = parse_event_kind)]
    pub events: Vec<EventKind>,
    /// Only events at this severity or worse (INFO, WARN, ERROR, CRITICAL); events without a
    /// severity (verdicts) always pass.
    #[arg(long, value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    /// The environment variable holding the webhook signing key (required for webhooks) or the
    /// SMTP password. Never the secret itself.
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// `none` (one message per event) or `daily` (one message per UTC day, after it ends).
    #[arg(long, value_parser = parse_digest, default_value = "none")]
    pub digest: DigestMode,
}

/// Arguments of `spine sources add`.
#[derive(Debug, Clone, Args)]
pub struct SourceAddArgs {
    /// The domain whose partitions it serves.
    #[arg(long, value_parser = parse_domain)]
    pub domain: Domain,
    /// `url-template`, or a kind the domain offers (FINRA: `finra-api`).
    #[arg(long)]
    pub kind: String,
    /// With `--kind url-template`: an http(s):// or file:// URL, or a path, with the domain's
    /// `${VARIABLES}`.
    #[arg(long)]
    pub url_template: Option<String>,
    /// The first week the source is expected to serve (YYYY-MM-DD, not after today): nothing
    /// earlier is fetched from it.
    #[arg(long, value_parser = parse_date)]
    pub since: Option<NaiveDate>,
    /// Its name (default `<domain>/<kind>`); names are unique.
    #[arg(long)]
    pub name: Option<String>,
    /// finra-api: the API's base URL (default https://api.finra.org).
    #[arg(long)]
    pub base_url: Option<String>,
    /// finra-api: the OAuth2 token endpoint (default FINRA's).
    #[arg(long)]
    pub token_url: Option<String>,
    /// finra-api: the environment variable holding the OAuth2 client id (with
    /// --client-secret-env). Without both, requests are anonymous.
    #[arg(long, value_name = "VAR")]
    pub client_id_env: Option<String>,
    /// finra-api: the environment variable holding the OAuth2 client secret.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// finra-api: the tierIdentifier FINRA uses for OTC equities (default OTCE).
    #[arg(long)]
    pub otc_tier_code: Option<String>,
    /// finra-api: rows per page, 1 to 5000 (default 5000).
    #[arg(long)]
    pub page_limit: Option<u32>,
    /// Requests per second to the source, across every worker: finra-api below FINRA's 20
    /// (default 10); url-template up to 1000 (default 5, polite to a public site).
    #[arg(long)]
    pub requests_per_second: Option<f64>,
}

impl SourceAddArgs {
    /// The plugin settings given on the command line, by settings key (flags without a value
    /// are left out), and the flags that set them, for messages.
    pub fn plugin_settings(&self) -> Vec<(&'static str, &'static str, serde_json::Value)> {
        let text = |v: &Option<String>| v.as_ref().map(|v| serde_json::json!(v));
        [
            ("base_url", "--base-url", text(&self.base_url)),
            ("token_url", "--token-url", text(&self.token_url)),
            (
                "client_id_env",
                "--client-id-env",
                text(&self.client_id_env),
            ),
            (
                "client_secret_env",
                "--client-secret-env",
                text(&self.client_secret_env),
            ),
            (
                "otc_tier_code",
                "--otc-tier-code",
                text(&self.otc_tier_code),
            ),
            (
                "page_limit",
                "--page-limit",
                self.page_limit.map(|v| serde_json::json!(v)),
            ),
            (
                "requests_per_second",
                "--requests-per-second",
                self.requests_per_second.map(|v| serde_json::json!(v)),
            ),
        ]
        .into_iter()
        .filter_map(|(key, flag, value)| value.map(|v| (key, flag, v)))
        .collect()
    }
}

/// Arguments of `spine schedules add`: the seed's fields.
#[derive(Debug, Clone, Args)]
pub struct ScheduleAddArgs {
    /// The domain expected.
    #[arg(long, value_parser = parse_domain)]
    pub domain: Domain,
    /// The pipeline that produces it (unique per domain).
    #[arg(long)]
    pub pipeline: String,
    /// WEEKLY, DAILY, MONTHLY, ANNUAL or TRIGGERED.
    #[arg(long, value_parser = parse_schedule_type)]
    pub schedule_type: ScheduleType,
    /// Optional cron expression, for cadences the type alone cannot say.
    #[arg(long)]
    pub cron_expression: Option<String>,
    /// Partition template, e.g. {"tier":"${TIER}","week_ending":"${FRIDAY}"}.
    #[arg(long)]
    pub partition_template: String,
    /// Values of the template's list placeholders, e.g. {"TIER":["OTC"]}.
    #[arg(long)]
    pub partition_values: Option<String>,
    /// Trading-time hours after the business date by which data is due.
    #[arg(long)]
    pub expected_delay_hours: Option<i32>,
    /// Hours after capture during which data is preliminary.
    #[arg(long)]
    pub preliminary_hours: Option<i32>,
    /// What the schedule is for.
    #[arg(long)]
    pub description: Option<String>,
    /// Add it inactive (kept, not expanded).
    #[arg(long)]
    pub inactive: bool,
}

/// Arguments of `spine recompute`.
#[derive(Debug, Clone, Args)]
pub struct RecomputeArgs {
    /// The domain whose calcs to recompute.
    #[arg(value_parser = parse_domain)]
    pub domain: Domain,
    /// The Friday ending the week.
    #[arg(long, value_parser = parse_week_ending)]
    pub week_ending: NaiveDate,
}

/// Arguments of `spine doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The domain to diagnose.
    #[arg(value_parser = parse_domain)]
    pub domain: Domain,
    /// How many of the most recent fully due weeks to examine (every expected partition due),
    /// besides the newer weeks that are only partly due. At least 1.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=520))]
    pub weeks: u32,
}

/// `spine deps …`
#[derive(Debug, Subcommand)]
pub enum DepsCommand {
    /// List declared calc dependencies.
    #[command(after_help = "Example:\n  spine deps list --domain finra.otc_transparency")]
    List {
        /// Only calcs of this domain.
        #[arg(long, value_parser = parse_domain)]
        domain: Option<Domain>,
    },
    /// Declare (or update) a calc dependency.
    #[command(
        after_help = "Example:\n  spine deps add --calc-domain finra.otc_transparency --calc-pipeline finra_otc.calc \\\n    --calc-table finra_otc_volume_per_day --depends-on-domain reference.exchange_calendar \\\n    --depends-on-table ref_calendar_trading_days --dependency-type REQUIRED"
    )]
    Add(DepsAddArgs),
    /// Every calc that depends on DOMAIN.TABLE, transitively, with the partitions now stale.
    #[command(
        after_help = "Example:\n  spine deps impact reference.exchange_calendar.ref_calendar_trading_days"
    )]
    Impact {
        /// The upstream as `<domain>.<table>`, e.g. `reference.exchange_calendar.ref_calendar_trading_days`.
        target: String,
    },
}

/// Arguments of `spine deps add`.
#[derive(Debug, Clone, Args)]
pub struct DepsAddArgs {
    /// The calc's domain.
    #[arg(long, value_parser = parse_domain)]
    pub calc_domain: Domain,
    /// The pipeline that computes the calc.
    #[arg(long)]
    pub calc_pipeline: String,
    /// The calc's table (omit for the whole pipeline).
    #[arg(long)]
    pub calc_table: Option<String>,
    /// The upstream domain.
    #[arg(long, value_parser = parse_domain)]
    pub depends_on_domain: Domain,
    /// The upstream table.
    #[arg(long)]
    pub depends_on_table: String,
    /// REQUIRED, OPTIONAL or REFERENCE.
    #[arg(long, value_parser = parse_dependency_type, default_value = "REQUIRED")]
    pub dependency_type: DependencyType,
    /// Why the dependency exists.
    #[arg(long)]
    pub description: Option<String>,
}

/// `spine report …`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Per month, severity and category: count, domains affected, resolved, mean days to resolve.
    #[command(after_help = "Example:\n  spine report anomaly-trends --months 12 --format csv")]
    AnomalyTrends {
        /// How many months back from the clock's month (1 to 1200).
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1200))]
        months: u32,
    },
    /// Every certification event from the audit trail, with the capture ids judged.
    #[command(
        after_help = "Example:\n  spine report readiness-audit --domain finra.otc_transparency --from 2026-01-01 --to 2026-03-31 --format json"
    )]
    ReadinessAudit {
        /// The domain.
        #[arg(long, value_parser = parse_domain)]
        domain: Domain,
        /// First day (inclusive, UTC).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Last day (inclusive, UTC).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
    },
}

/// Arguments of `spine serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: a non-loopback address needs --public.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Allow --bind on a non-loopback address, reachable from the network. Needs at least one
    /// --allow-host: a public server must say which names it answers to.
    #[arg(long, requires = "allow_host")]
    pub public: bool,
    /// Also answer requests for this host name or IP address, any port (repeatable). Without
    /// it only localhost, 127.0.0.1 and [::1] are answered; any other Host header gets 421,
    /// which defeats DNS rebinding (a web page reading the API under its own name).
    #[arg(long = "allow-host", value_name = "NAME", value_parser = crate::server::parse_host_name)]
    pub allow_host: Vec<String>,
    /// Seconds a client has to send a request's line and headers (from connecting, or from the
    /// first byte of a later request); a client that trickles them (slow-loris) is cut off.
    #[arg(long, value_name = "SECONDS", default_value_t = server::DEFAULT_HEADER_TIMEOUT_SECS, value_parser = seconds)]
    pub header_timeout: u64,
    /// Seconds a request body may take to arrive. No route reads one (the API is GET only);
    /// an unread body is discarded once the answer is sent.
    #[arg(long, value_name = "SECONDS", default_value_t = server::DEFAULT_BODY_TIMEOUT_SECS, value_parser = seconds)]
    pub body_timeout: u64,
    /// Seconds a keep-alive connection may stay open with nothing sent or received before the
    /// server closes it, freeing its slot of --max-connections.
    #[arg(long, value_name = "SECONDS", default_value_t = server::DEFAULT_IDLE_TIMEOUT_SECS, value_parser = seconds)]
    pub idle_timeout: u64,
    /// Seconds a request may run before it is answered 503 with a JSON error and Retry-After
    /// (its work is abandoned; the API only reads).
    #[arg(long, value_name = "SECONDS", default_value_t = server::DEFAULT_REQUEST_TIMEOUT_SECS, value_parser = seconds)]
    pub request_timeout: u64,
    /// Connections served at once; a connection beyond it is answered 503 with Retry-After and
    /// closed, never queued.
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = count)]
    pub max_connections: usize,
    /// Expensive requests (doctor, metrics, the anomaly list) answered at once; beyond it they
    /// are answered 503 with Retry-After immediately instead of queueing.
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_EXPENSIVE, value_parser = count)]
    pub max_expensive: usize,
    /// `/metrics` writes one series per partition only for the weeks ending within this many
    /// weeks of the server clock (and partitions without a week captured within them); older
    /// partitions are summed up per domain, so the series do not grow with history.
    #[arg(long, value_name = "WEEKS", env = "SPINE_METRICS_WEEKS", default_value_t = server::DEFAULT_METRICS_WEEKS, value_parser = clap::value_parser!(u32).range(1..=520))]
    pub metrics_weeks: u32,
}

impl ServeArgs {
    /// The usage error of binding a non-loopback address without `--public`, if that is what
    /// was asked: exposing the API is a deliberate choice, not a typo in `--bind`.
    pub fn exposure_error(&self) -> Option<String> {
        (!self.bind.ip().is_loopback() && !self.public).then(|| {
            format!(
                "--bind {} is not a loopback address: the API would be reachable from the \
                 network; add --public (with --allow-host NAME for each name clients use) if \
                 that is intended",
                self.bind
            )
        })
    }

    /// The server's limits from these flags.
    pub fn server_config(&self) -> Result<server::ServerConfig, String> {
        use std::time::Duration;
        Ok(server::ServerConfig {
            header_timeout: Duration::from_secs(self.header_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            max_connections: self.max_connections,
            max_expensive: self.max_expensive,
            allowed_hosts: server::AllowedHosts::with(&self.allow_host)?,
        })
    }
}

/// A timeout in whole seconds, 1 to 3600: zero would refuse everything, and a limit of hours
/// is no limit.
fn seconds(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if (1..=3600).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a number of seconds from 1 to 3600")),
    }
}

/// A cap, 1 to 65,536.
fn count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=65_536).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a whole number from 1 to 65536")),
    }
}

fn parse_dependency_type(s: &str) -> Result<DependencyType, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

/// A domain some registered domain owns: a typo or a domain this binary does not ship is a usage
/// error (exit 2) naming the registered ones, before anything is opened or written.
fn parse_domain(s: &str) -> Result<Domain, String> {
    let domain = Domain::parse(s).map_err(|e| e.to_string())?;
    let registered = crate::registry::domain_names();
    if registered.iter().any(|d| d == domain.as_str()) {
        Ok(domain)
    } else {
        Err(format!(
            "unknown domain `{s}`; registered domains: {}",
            registered.join(", ")
        ))
    }
}

/// A week ending: a `YYYY-MM-DD` Friday.
fn parse_week_ending(s: &str) -> Result<NaiveDate, String> {
    s.parse::<WeekEnding>()
        .map(WeekEnding::date)
        .map_err(|e| e.to_string())
}

fn parse_channel(s: &str) -> Result<Channel, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

fn parse_digest(s: &str) -> Result<DigestMode, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

/// An event a subscription can ask for (`test` is only ever sent on demand).
fn parse_event_kind(s: &str) -> Result<EventKind, String> {
    let kind: EventKind = s
        .trim()
        .parse()
        .map_err(|e: spine_model::VocabError| e.to_string())?;
    if kind == EventKind::Test {
        return Err(
            "`test` is not an event to subscribe to (use `spine subscriptions test NAME`)".into(),
        );
    }
    Ok(kind)
}

fn parse_ready_for(s: &str) -> Result<ReadyFor, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

fn parse_category(s: &str) -> Result<Category, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

fn parse_schedule_type(s: &str) -> Result<ScheduleType, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    s.parse()
        .map_err(|e: spine_model::VocabError| e.to_string())
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

/// `spine db …`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration (creating the database file if needed). Idempotent.
    #[command(
        after_help = "Example:\n  spine db migrate --database-url postgres://postgres@127.0.0.1/spine"
    )]
    Migrate {
        /// Add Market Spine's tables even to a database that already holds another
        /// application's tables.
        #[arg(long)]
        force: bool,
    },
    /// List the migrations and whether each is applied.
    #[command(after_help = "Example:\n  spine db status")]
    Status,
}
