//! `switchyard`: the production failover daemon.

use std::process::ExitCode;

use clap::Parser;

/// Keeps Discord music bots playing when Lavalink nodes, regions or shards fail.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    eprintln!("switchyard: the daemon is not built yet; only --version and --help work");
    ExitCode::from(2)
}
