//! `spine serve`: the read-only readiness HTTP API ([`crate::server`]).

use std::process::ExitCode;

use anyhow::Context as _;

use clap::CommandFactory as _;

use crate::cli::{Cli, ServeArgs};
use crate::commands::Context;
use crate::server::{AppState, serve};

/// Runs `spine serve`: checks the flags, opens (and migrates) the database, binds `--bind`,
/// and serves until Ctrl-C (or SIGTERM), letting in-flight requests finish.
pub async fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Usage errors first, before anything is opened or bound.
    let config = match args
        .exposure_error()
        .map_or_else(|| args.server_config(), Err)
    {
        Ok(config) => config,
        Err(message) => return Ok(usage_error(&message)),
    };
    let engine = ctx.open_engine().await?;
    let store = engine.store().clone();
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another server using it? pick another with --bind",
                args.bind
            )
        })?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // `--now`/SPINE_NOW pins every answer to one instant; otherwise each request reads the clock.
    let fixed_now = ctx.clock.is_fixed().then(|| ctx.clock.now());
    if !addr.ip().is_loopback() {
        eprintln!(
            "spine serve: warning: --public: {addr} is not a loopback address; the API is reachable from the network and answers to {}",
            config.allowed_hosts.names().join(", ")
        );
    }
    eprintln!(
        "spine serve: listening on http://{addr} (read-only; GET /api/v1/openapi.json describes it; Ctrl-C stops)"
    );
    serve(
        listener,
        AppState::new(engine.clone(), fixed_now).with_metrics_weeks(args.metrics_weeks),
        config,
        shutdown_signal(),
    )
    .await
    .context("the HTTP server failed")?;
    eprintln!("spine serve: stopped");
    store.close().await.ok();
    Ok(ExitCode::SUCCESS)
}

/// Prints `message` as clap prints a usage error of `spine serve` and returns its exit code (2).
fn usage_error(message: &str) -> ExitCode {
    let mut command = Cli::command();
    command.build();
    let serve = command
        .find_subcommand_mut("serve")
        .expect("`spine serve` is a subcommand");
    let error = serve.error(clap::error::ErrorKind::ArgumentConflict, message);
    let _ = error.print();
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}

/// Completes on Ctrl-C, or on SIGTERM where there is one (how service managers stop servers).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler could be installed: never complete rather than stop at once.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
