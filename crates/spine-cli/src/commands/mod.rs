//! One module per command family. Each takes the parsed arguments and a [`Context`], calls the
//! store and the rules, and renders through [`crate::output`].

pub mod anomalies;
pub mod calendar;
pub mod captures;
pub mod db;
pub mod demo;
pub mod deps;
pub mod doctor;
pub mod executions;
pub mod generate;
pub mod ingest;
pub mod pipelines;
pub mod query;
pub mod readiness;
pub mod recompute;
pub mod rejects;
pub mod report;
pub mod schedules;
pub mod serve;
pub mod sources;
pub mod status;
pub mod subscriptions;
pub mod work;
pub mod worker;

use std::process::ExitCode;

use anyhow::Context as _;
use spine_engine::{Clock, Engine, RunContext};
use spine_store::Store;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::output::Format;

/// What every command gets: the parsed global options, the run's clock and its stop request.
#[derive(Debug, Clone)]
pub struct Context {
    /// The global options.
    pub global: GlobalArgs,
    /// The run's clock (`--now` or the system clock).
    pub clock: Clock,
    /// Set by SIGTERM or Ctrl-C: runs stop at their next stage boundary.
    pub cancel: spine_engine::Cancel,
}

impl Context {
    /// Builds the context from the global options.
    pub fn new(global: GlobalArgs) -> Context {
        let clock = global.now.map(Clock::fixed).unwrap_or_else(Clock::system);
        Context {
            global,
            clock,
            cancel: spine_engine::Cancel::default(),
        }
    }

    /// Turns SIGTERM and Ctrl-C into a stop request: the first one lets the current stage
    /// commit and stops the run there (recorded as ABORTED, resumable); a second one exits at
    /// once, as people expect of a second Ctrl-C.
    pub fn stop_on_signals(&self) {
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let name = next_signal().await;
                count += 1;
                if count > 1 {
                    eprintln!("spine: {name} again: stopping now");
                    std::process::exit(130);
                }
                eprintln!(
                    "spine: {name} received: stopping after the current stage (again to stop now)"
                );
                cancel.request(name);
            }
        });
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.global.format
    }

    /// A run context on this command's clock, with a progress spinner when stderr is a
    /// terminal (and only in table output, so JSON/CSV consumers see nothing extra).
    pub fn run_context(&self) -> RunContext {
        RunContext {
            now: self.clock.now(),
            execution_id: None,
            progress: if self.format() == Format::Table {
                crate::progress::for_terminal()
            } else {
                spine_engine::Progress::hidden()
            },
            cancel: self.cancel.clone(),
            actor: None,
        }
    }

    /// Opens an existing Market Spine database at this binary's schema, changing nothing:
    /// a missing file, an unmigrated or newer schema, another application's database and an
    /// in-memory URL are refused with what to do. Every command but the deliberate set-ups
    /// ([`Context::prepare_engine`]) opens the database this way.
    pub async fn open_engine(&self) -> anyhow::Result<Engine> {
        let store = spine_store::admin::open(
            &self.global.database_url,
            spine_store::admin::OpenMode::Existing,
        )
        .await?;
        Ok(Engine::new(store, crate::registry::registry()))
    }

    /// The database of [`Context::open_engine`], for commands that only read or write tables.
    pub async fn open_store(&self) -> anyhow::Result<Store> {
        Ok(self.open_engine().await?.store().clone())
    }

    /// Opens the database for a command that sets one up (`db migrate`, `ingest`, `demo`):
    /// creates it if needed (unless `--no-create`), applies pending migrations under a lock,
    /// and prepares it for the registered domains (their calc dependencies, seeded schedules
    /// and shipped reference data). Another application's database needs `force`.
    pub async fn prepare_engine(&self, force: bool) -> anyhow::Result<Engine> {
        let store = spine_store::admin::open(
            &self.global.database_url,
            spine_store::admin::OpenMode::Prepare {
                forbid_create: self.global.no_create,
                force,
            },
        )
        .await?;
        let engine = Engine::new(store, crate::registry::registry());
        engine
            .bootstrap(self.clock.now())
            .await
            .context("cannot prepare the database for the registered domains")?;
        Ok(engine)
    }
}

/// The next SIGTERM or SIGINT, by name.
async fn next_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Context::new(cli.global);
    if !matches!(cli.command, Command::Serve(_)) {
        // `spine serve` stops gracefully on its own signals; the worker uses the same stop
        // request as every run (finish or release the item in hand, then exit).
        ctx.stop_on_signals();
    }
    match cli.command {
        Command::Db(cmd) => db::run(&ctx, cmd).await,
        Command::Status => status::run(&ctx).await,
        Command::Ingest(cmd) => ingest::run(&ctx, cmd).await,
        Command::Calendar(cmd) => calendar::run(&ctx, cmd).await,
        Command::Query(args) => query::run(&ctx, args).await,
        Command::Pipelines => pipelines::list(&ctx),
        Command::Run(args) => pipelines::run(&ctx, args).await,
        Command::Gen(cmd) => generate::run(&ctx, cmd),
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Readiness(args) => readiness::run(&ctx, args).await,
        Command::Anomalies(cmd) => anomalies::run(&ctx, cmd).await,
        Command::Rejects(cmd) => rejects::run(&ctx, cmd).await,
        Command::Captures(cmd) => captures::run(&ctx, cmd).await,
        Command::Executions(cmd) => executions::run(&ctx, cmd).await,
        Command::Schedules(cmd) => schedules::run(&ctx, cmd).await,
        Command::Worker(args) => worker::run(&ctx, args).await,
        Command::Work(cmd) => work::run(&ctx, cmd).await,
        Command::Sources(cmd) => sources::run(&ctx, cmd).await,
        Command::Subscriptions(cmd) => subscriptions::run(&ctx, cmd).await,
        Command::Recompute(args) => recompute::run(&ctx, args).await,
        Command::Doctor(args) => doctor::run(&ctx, args).await,
        Command::Deps(cmd) => deps::run(&ctx, cmd).await,
        Command::Report(cmd) => report::run(&ctx, cmd).await,
        Command::Serve(args) => serve::run(&ctx, args).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "spine",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
