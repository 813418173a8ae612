//! The library behind the `spine` binary: the command line, the commands, their output and the
//! HTTP server. Thin by design: every command calls the engine (`spine-engine`), which reaches
//! the domains (`spine-finra`, `spine-calendar`) only through the [`registry`]. The binary
//! (`main.rs`) is a shell over this library so that tests, the benchmark and `xtask` run exactly
//! the production code.

pub mod cli;
pub mod commands;
pub mod errors;
pub mod output;
pub mod progress;
pub mod registry;
pub mod server;
pub mod signer;
