//! `switchyard`: the production failover daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard_runtime::config::DaemonConfig;
use switchyard_runtime::daemon::{Hangups, Reloader};

/// The configuration or the environment is invalid.
const INVALID_CONFIG: u8 = 2;
/// The daemon failed while running.
const RUNTIME_ERROR: u8 = 3;

/// Keeps Discord music bots playing when Lavalink nodes, regions or shards fail.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controller.
    Run {
        /// The configuration file (the runbook's environment variables apply on top).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Log as JSON lines.
        #[arg(long)]
        log_json: bool,
    },
    /// Validate the configuration and print the effective one, secrets redacted.
    CheckConfig {
        /// The configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn load(config: Option<&PathBuf>) -> Result<DaemonConfig, ExitCode> {
    DaemonConfig::load(config.map(PathBuf::as_path), &|name| {
        std::env::var(name).ok()
    })
    .map_err(|error| {
        eprintln!("switchyard: invalid configuration: {error}");
        ExitCode::from(INVALID_CONFIG)
    })
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckConfig { config } => match load(config.as_ref()) {
            Ok(config) => {
                print!("{}", config.redacted_toml());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Run { config, log_json } => {
            init_logging(log_json);
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("switchyard: cannot start the async runtime: {error}");
                    return ExitCode::from(RUNTIME_ERROR);
                }
            };
            // Before anything slow: a reload sent while the daemon starts must wait for
            // it, not end the process (SIGHUP's default action).
            let hangups = {
                let _entered = runtime.enter();
                Hangups::listen()
            };
            let path = config;
            let config = match load(path.as_ref()) {
                Ok(config) => config,
                Err(code) => return code,
            };
            // SIGHUP reads the same file and environment again.
            let reload: Reloader = Box::new(move || {
                if std::env::var_os("LAVALINK_NODES").is_some() {
                    tracing::warn!(
                        "LAVALINK_NODES lists the nodes, and a running process cannot see \
                         its environment change: restart to change those nodes"
                    );
                }
                DaemonConfig::load(path.as_deref(), &|name| std::env::var(name).ok())
            });
            let daemon = switchyard_runtime::daemon::run(config, reload, hangups);
            match runtime.block_on(daemon) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("switchyard: {error}");
                    ExitCode::from(RUNTIME_ERROR)
                }
            }
        }
    }
}
