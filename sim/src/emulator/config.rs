//! Settings of one emulated node.

use std::time::Duration;

use super::faults::{FaultError, Faults};

/// The Lavalink release the emulator reports by default.
pub const DEFAULT_VERSION: &str = "4.2.2";
/// Default wall-clock epoch (2025-01-01T00:00:00Z), used when no epoch is given, so a
/// simulation prints the same timestamps every run.
pub const DEFAULT_EPOCH_MS: u64 = 1_735_689_600_000;

/// Bound on configured durations, so that no deadline computation can overflow.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Configuration of an emulated Lavalink node.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// Name used in logs, the admin endpoint and snapshots (Lavalink has no name).
    pub name: String,
    /// Region used in logs, the admin endpoint and snapshots (Lavalink has no region).
    pub region: String,
    /// The `Authorization` password.
    pub password: String,
    /// Seed of every random choice: session ids, jitter, error draws, memory figures.
    pub seed: u64,
    /// Version reported by `/version` and `/v4/info`.
    pub version: String,
    /// `lavalink.server.playerUpdateInterval` (default 5 s).
    pub player_update_interval: Duration,
    /// Interval of the `stats` op (fixed at 60 s in Lavalink).
    pub stats_interval: Duration,
    /// How long a voice handshake takes; a voice PATCH blocks for this long.
    pub voice_handshake: Duration,
    /// The `ping` reported for connected players.
    pub voice_ping: Duration,
    /// Serve Prometheus metrics at `metrics_path` (unauthenticated).
    pub metrics_enabled: bool,
    pub metrics_path: String,
    /// Wall-clock time at which the node starts, in Unix milliseconds. Timestamps are
    /// this plus the tokio time elapsed since the node started serving.
    pub epoch_ms: u64,
    /// Reported `cpu.cores`.
    pub cpu_cores: u32,
    /// Reported `memory.reservable` (the JVM's `-Xmx`).
    pub memory_reservable_bytes: u64,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Messages kept for a disconnected resumable session; older ones are dropped.
    pub resume_queue_max: usize,
    /// Messages buffered per open websocket before the node drops a slow client.
    pub socket_buffer: usize,
    /// Faults in force from the start.
    pub faults: Faults,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            name: "emulator".to_owned(),
            region: "local".to_owned(),
            password: "youshallnotpass".to_owned(),
            seed: 0,
            version: DEFAULT_VERSION.to_owned(),
            player_update_interval: Duration::from_secs(5),
            stats_interval: Duration::from_secs(60),
            voice_handshake: Duration::from_millis(20),
            voice_ping: Duration::from_millis(20),
            metrics_enabled: false,
            metrics_path: "/metrics".to_owned(),
            epoch_ms: DEFAULT_EPOCH_MS,
            cpu_cores: 4,
            memory_reservable_bytes: 2 << 30,
            max_body_bytes: 1 << 20,
            resume_queue_max: 10_000,
            socket_buffer: 4096,
            faults: Faults::default(),
        }
    }
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("password must not be empty")]
    EmptyPassword,
    #[error("{0} must be greater than zero")]
    ZeroInterval(&'static str),
    #[error("{0} must not exceed one day")]
    LongInterval(&'static str),
    #[error("metrics path must start with '/' and not be an API route, got {0:?}")]
    MetricsPath(String),
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    #[error("invalid fault setting: {0}")]
    Faults(#[from] FaultError),
}

impl EmulatorConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.password.is_empty() {
            return Err(ConfigError::EmptyPassword);
        }
        if self.player_update_interval.is_zero() {
            return Err(ConfigError::ZeroInterval("player_update_interval"));
        }
        if self.stats_interval.is_zero() {
            return Err(ConfigError::ZeroInterval("stats_interval"));
        }
        for (name, interval) in [
            ("player_update_interval", self.player_update_interval),
            ("stats_interval", self.stats_interval),
            ("voice_handshake", self.voice_handshake),
            ("voice_ping", self.voice_ping),
        ] {
            if interval > MAX_INTERVAL {
                return Err(ConfigError::LongInterval(name));
            }
        }
        let path = &self.metrics_path;
        if !path.starts_with('/') || path.starts_with("/v4/") || path == "/version" {
            return Err(ConfigError::MetricsPath(path.clone()));
        }
        for (name, value) in [
            ("max_body_bytes", self.max_body_bytes),
            ("resume_queue_max", self.resume_queue_max),
            ("socket_buffer", self.socket_buffer),
            ("cpu_cores", self.cpu_cores as usize),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        self.faults.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_lavalink_like() {
        let config = EmulatorConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.player_update_interval, Duration::from_secs(5));
        assert_eq!(config.stats_interval, Duration::from_secs(60));
    }

    #[test]
    fn rejects_unusable_settings() {
        let empty = EmulatorConfig {
            password: String::new(),
            ..EmulatorConfig::default()
        };
        assert_eq!(empty.validate(), Err(ConfigError::EmptyPassword));
        let metrics = EmulatorConfig {
            metrics_path: "/v4/stats".to_owned(),
            ..EmulatorConfig::default()
        };
        assert!(matches!(
            metrics.validate(),
            Err(ConfigError::MetricsPath(_))
        ));
        let zero = EmulatorConfig {
            stats_interval: Duration::ZERO,
            ..EmulatorConfig::default()
        };
        assert_eq!(
            zero.validate(),
            Err(ConfigError::ZeroInterval("stats_interval"))
        );
        let long = EmulatorConfig {
            voice_handshake: Duration::from_secs(90_000),
            ..EmulatorConfig::default()
        };
        assert_eq!(
            long.validate(),
            Err(ConfigError::LongInterval("voice_handshake"))
        );
    }
}
