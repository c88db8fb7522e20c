//! Prometheus metrics: the `lavalink_*` gauges Lavalink exports since 4.1.0. The
//! JVM, logback and GC series of a real node are not emulated.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::emulator::protocol::Stats;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn render(State(shared): State<AppState>) -> Result<Response, ApiError> {
    let stats = shared
        .with_node(|node, now, faults| node.stats(now, faults))
        .ok_or_else(ApiError::unavailable)?;
    let mut response = exposition(&stats).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}

fn exposition(stats: &Stats) -> String {
    let gauges: [(&str, &str, f64); 10] = [
        (
            "lavalink_players_total",
            "Total number of players",
            f64::from(stats.players),
        ),
        (
            "lavalink_playing_players_total",
            "Number of players playing a track",
            f64::from(stats.playing_players),
        ),
        (
            "lavalink_uptime_milliseconds",
            "Uptime of the node",
            stats.uptime as f64,
        ),
        (
            "lavalink_memory_free_bytes",
            "Free JVM memory",
            stats.memory.free as f64,
        ),
        (
            "lavalink_memory_used_bytes",
            "Used JVM memory",
            stats.memory.used as f64,
        ),
        (
            "lavalink_memory_allocated_bytes",
            "Allocated JVM memory",
            stats.memory.allocated as f64,
        ),
        (
            "lavalink_memory_reservable_bytes",
            "Reservable JVM memory",
            stats.memory.reservable as f64,
        ),
        (
            "lavalink_cpu_cores",
            "Number of CPU cores",
            f64::from(stats.cpu.cores),
        ),
        (
            "lavalink_cpu_system_load_percentage",
            "System CPU load (a 0-1 fraction)",
            stats.cpu.system_load,
        ),
        (
            "lavalink_cpu_lavalink_load_percentage",
            "Lavalink CPU load (a 0-1 fraction)",
            stats.cpu.lavalink_load,
        ),
    ];
    let mut text = String::new();
    for (name, help, value) in gauges {
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::protocol::{Cpu, Memory};

    #[test]
    fn every_gauge_has_help_type_and_a_sample() {
        let stats = Stats {
            players: 3,
            playing_players: 2,
            uptime: 1000,
            memory: Memory {
                free: 1,
                used: 2,
                allocated: 3,
                reservable: 4,
            },
            cpu: Cpu {
                cores: 4,
                system_load: 0.5,
                lavalink_load: 0.25,
            },
        };
        let text = exposition(&stats);
        assert!(text.contains("# TYPE lavalink_players_total gauge\nlavalink_players_total 3\n"));
        assert!(text.contains("lavalink_cpu_system_load_percentage 0.5\n"));
        assert_eq!(
            text.lines()
                .filter(|line| line.starts_with("# TYPE"))
                .count(),
            10
        );
    }
}
