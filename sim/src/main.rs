//! `sim`: Switchyard's simulator command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

#[derive(Debug, Parser)]
#[command(name = "sim", version, about = "Switchyard failover simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an emulated Lavalink v4 node (REST, websocket, fault knobs).
    Node(Box<commands::node::NodeArgs>),
    /// Check scenario files (exit 2 with every problem listed when any is invalid).
    Validate(commands::validate::ValidateArgs),
    /// List the scenarios in a directory.
    List(commands::list::ListArgs),
    /// Run a scenario in the simulated world and check its expectations.
    Run(commands::run::RunArgs),
    /// Run a scenario once per seed of a range and sum the results up.
    Sweep(commands::sweep::SweepArgs),
    /// Run a scenario twice with one seed and compare the traces byte for byte.
    CheckDeterminism(commands::check_determinism::CheckDeterminismArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Node(_)) {
        // `sim node` sets up its own logs (on by default, optionally JSON).
        commands::logging::init_from_env();
    }
    match cli.command {
        Command::Node(args) => commands::node::exec(*args),
        Command::Validate(args) => commands::validate::exec(args),
        Command::List(args) => commands::list::exec(args),
        Command::Run(args) => commands::run::exec(args),
        Command::CheckDeterminism(args) => commands::check_determinism::exec(args),
        Command::Sweep(args) => commands::sweep::exec(args),
    }
}
