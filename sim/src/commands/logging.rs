//! Logs of a simulated run: off unless `RUST_LOG` asks for them, stamped with simulated
//! time (wall-clock stamps would differ run to run and say nothing about the world).

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Stamps each line with the simulation's elapsed time, or `-` outside a simulation.
struct SimulatedTime;

impl FormatTime for SimulatedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match turmoil::sim_elapsed() {
            Some(elapsed) => write!(w, "{:>10.3}s", elapsed.as_secs_f64()),
            None => write!(w, "{:>11}", "-"),
        }
    }
}

/// Sends logs to stderr when `RUST_LOG` is set (for example
/// `RUST_LOG=switchyard_runtime=debug`); does nothing otherwise.
pub fn init_from_env() {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() else {
        return;
    };
    // A second initialisation (tests running several commands) keeps the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(SimulatedTime)
        .with_writer(std::io::stderr)
        .try_init();
}
