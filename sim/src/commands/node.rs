//! `sim node`: an emulated Lavalink v4 node as a real process.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use switchyard_sim::emulator::{
    DEFAULT_VERSION, Emulator, EmulatorConfig, EmulatorControl, Faults, serve_admin,
};
use switchyard_sim::exit_codes::{INTERNAL_ERROR, INVALID_INPUT, SUCCESS, exit};
use tokio::net::TcpListener;

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Address to serve the Lavalink REST API and websocket on.
    #[arg(long, default_value = "127.0.0.1:2333")]
    listen: SocketAddr,
    /// The `Authorization` password clients must send.
    #[arg(
        long,
        env = "LAVALINK_SERVER_PASSWORD",
        hide_env_values = true,
        default_value = "youshallnotpass"
    )]
    password: String,
    /// Node name (for logs and the admin endpoint).
    #[arg(long, default_value = "emulator")]
    name: String,
    /// Node region (for logs and the admin endpoint).
    #[arg(long, default_value = "local")]
    region: String,
    /// Seed of every random choice (session ids, jitter, injected errors).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Serve the admin endpoint (fault knobs, ground truth) on this address.
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics, unauthenticated.
    #[arg(long, env = "METRICS_PROMETHEUS_ENABLED")]
    metrics: bool,
    #[arg(long, env = "METRICS_PROMETHEUS_ENDPOINT", default_value = "/metrics")]
    metrics_path: String,
    /// Lavalink version to report.
    #[arg(long, default_value = DEFAULT_VERSION)]
    lavalink_version: String,
    #[arg(long, default_value_t = 5000)]
    player_update_interval_ms: u64,
    #[arg(long, default_value_t = 60_000)]
    stats_interval_ms: u64,
    /// How long a voice connection takes to establish.
    #[arg(long, default_value_t = 20)]
    voice_handshake_ms: u64,
    /// The voice `ping` reported for connected players.
    #[arg(long, default_value_t = 20)]
    voice_ping_ms: u64,
    /// Wall-clock time at start, in Unix ms [default: now].
    #[arg(long)]
    epoch_ms: Option<u64>,
    #[arg(long, default_value_t = 4)]
    cpu_cores: u32,
    /// Largest accepted request body (larger gets 413).
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    faults: FaultArgs,
}

/// Faults in force from the start (all can be changed later on the admin endpoint).
#[derive(Debug, Args)]
#[command(next_help_heading = "Fault injection")]
struct FaultArgs {
    /// Added to every response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Uniform extra delay up to this much.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Fraction (0 to 1) of requests answered with --error-status.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    #[arg(long, default_value_t = 500)]
    error_status: u16,
    /// Accept connections but answer nothing.
    #[arg(long)]
    hang: bool,
    /// Close every new connection at once.
    #[arg(long)]
    refuse_connections: bool,
    /// Report this system CPU load (0 to 1).
    #[arg(long)]
    cpu_load: Option<f64>,
    /// Frames each playing player misses per minute.
    #[arg(long, default_value_t = 0)]
    frame_deficit: u32,
    /// Frames each playing player nulls per minute.
    #[arg(long, default_value_t = 0)]
    frame_nulled: u32,
    /// Fail every voice handshake.
    #[arg(long)]
    voice_connect_fail: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl NodeArgs {
    fn config(&self) -> EmulatorConfig {
        let faults = &self.faults;
        EmulatorConfig {
            name: self.name.clone(),
            region: self.region.clone(),
            password: self.password.clone(),
            seed: self.seed,
            version: self.lavalink_version.clone(),
            player_update_interval: Duration::from_millis(self.player_update_interval_ms),
            stats_interval: Duration::from_millis(self.stats_interval_ms),
            voice_handshake: Duration::from_millis(self.voice_handshake_ms),
            voice_ping: Duration::from_millis(self.voice_ping_ms),
            metrics_enabled: self.metrics,
            metrics_path: self.metrics_path.clone(),
            // Reading the system clock once, as configuration, is what makes a real
            // process report real timestamps; behaviour still runs on tokio time.
            epoch_ms: self.epoch_ms.unwrap_or_else(wall_clock_ms),
            cpu_cores: self.cpu_cores,
            max_body_bytes: self.max_body_bytes,
            faults: Faults {
                latency_ms: faults.latency_ms,
                jitter_ms: faults.jitter_ms,
                error_rate: faults.error_rate,
                error_status: faults.error_status,
                hang: faults.hang,
                refuse_connections: faults.refuse_connections,
                cpu_load: faults.cpu_load,
                frame_deficit: faults.frame_deficit,
                frame_nulled: faults.frame_nulled,
                voice_connect_fail: faults.voice_connect_fail,
            },
            ..EmulatorConfig::default()
        }
    }
}

fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second subscriber (impossible here) would only lose logs, not fail the node.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub fn exec(args: NodeArgs) -> ExitCode {
    init_logging(args.log_format);
    let (emulator, control) = match Emulator::new(args.config()) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::error!(%error, "invalid node configuration");
            return exit(INVALID_INPUT);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return exit(INTERNAL_ERROR);
        }
    };
    exit(runtime.block_on(run(emulator, control, args.listen, args.admin_listen)))
}

async fn run(
    emulator: Emulator,
    control: EmulatorControl,
    listen: SocketAddr,
    admin_listen: Option<SocketAddr>,
) -> u8 {
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%listen, %error, "cannot listen");
            return INVALID_INPUT;
        }
    };
    if let Some(admin) = admin_listen {
        if !admin.ip().is_loopback() {
            tracing::warn!(%admin, "the admin endpoint is unauthenticated; prefer a loopback address");
        }
        match TcpListener::bind(admin).await {
            Ok(admin_listener) => {
                tracing::info!(addr = %admin_listener.local_addr().unwrap_or(admin), "admin endpoint listening");
                tokio::spawn(serve_admin(control.clone(), admin_listener));
            }
            Err(error) => {
                tracing::error!(%admin, %error, "cannot listen for the admin endpoint");
                return INVALID_INPUT;
            }
        }
    }
    tracing::info!(
        addr = %listener.local_addr().unwrap_or(listen),
        name = %control.name(),
        region = %control.region(),
        metrics = emulator.config().metrics_enabled,
        "lavalink emulator listening"
    );

    let server = emulator.serve(listener);
    tokio::pin!(server);
    let result = tokio::select! {
        biased;
        result = &mut server => result,
        signal = termination_signal() => {
            tracing::info!(signal, "shutting down");
            control.shutdown();
            server.await
        }
    };
    match result {
        Ok(()) => SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            INTERNAL_ERROR
        }
    }
}

/// Resolves on SIGINT or SIGTERM with the signal's name.
async fn termination_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            },
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only SIGINT stops the node");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
