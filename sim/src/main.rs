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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Node(args) => commands::node::exec(*args),
    }
}
