//! One module per `sim` subcommand, each with an `exec(args) -> ExitCode`.

pub mod check_determinism;
pub mod list;
pub mod logging;
pub mod node;
pub mod report;
pub mod run;
pub mod sweep;
pub mod validate;
