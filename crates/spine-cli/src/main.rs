//! The `spine` binary: parses the command line, runs the command, maps the outcome to an exit
//! code (0 success, 1 runtime error with a one-line cause on stderr, 2 usage error, 3 not ready,
//! 130/143 stopped by SIGINT/SIGTERM at a stage boundary); see `spine_cli::errors`.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser;
use spine_cli::cli::Cli;
use spine_cli::errors::{Failure, wants_json};
use spine_cli::output::Format;

/// mimalloc instead of glibc malloc: the ingest's bulk inserts allocate and free several small
/// buffers per bound value, and glibc's allocator was about 30% of the ingest's CPU time
/// (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    reset_sigpipe();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) if wants_json(&args) && err.use_stderr() => {
            Failure::usage_from_clap(&err).print(Format::Json);
            return ExitCode::from(2);
        }
        Err(err) if err.use_stderr() => {
            // As clap prints it, without its colours and with any control character a
            // hostile argument carried escaped (an argument is echoed in the message).
            let text = err.render().to_string();
            let lines: Vec<String> = text
                .lines()
                .map(|l| spine_model::redact::error(l, 4 * spine_model::redact::MAX_ERROR_CHARS))
                .collect();
            eprintln!("{}", lines.join("\n").trim_end());
            return ExitCode::from(2);
        }
        // Help and version.
        Err(err) => err.exit(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Log lines written to a file or a pipe (a service manager's journal, `2> serve.log`) are
        // plain text: colour codes only on a terminal, and never with NO_COLOR.
        .with_ansi(spine_cli::output::use_colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .init();
    let format = cli.global.format;
    match spine_cli::commands::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            let failure = Failure::of(&err);
            failure.print(format);
            ExitCode::from(failure.exit_code)
        }
    }
}

/// `spine … | head` must end quietly when the reader goes away, as Unix tools do, instead of
/// panicking on a broken pipe: restore the default SIGPIPE action that Rust's runtime ignores.
fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread or I/O; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
