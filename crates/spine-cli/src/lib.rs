//! The library behind the `spine` binary: the domain pipelines (source → parse/validate →
//! normalize → calcs) and the commands that drive them. The binary (`main.rs`) is a thin shell
//! over this library so that tests, the benchmark and `xtask` run exactly the production code.

pub mod cli;
pub mod clock;
pub mod commands;
pub mod domains;
pub mod output;
pub mod pipelines;
pub mod server;
