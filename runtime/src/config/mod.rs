//! The daemon's configuration: a TOML file, then the reference runbook's environment
//! variables on top, validated into [`DaemonConfig`].
//!
//! Environment variables (they override the file):
//!
//! | Variable | Meaning |
//! |---|---|
//! | `LAVALINK_NODES` | `region:name:url,...`; replaces the file's nodes (regions it names are added) |
//! | `LAVALINK_PASSWORD` | password of the nodes `LAVALINK_NODES` lists, and of `[[lavalink]]` entries without one |
//! | `LAVALINK_HEALTH_WEBHOOK` | an alert webhook; its kind is recognised from the URL |
//! | `PAGERDUTY_ROUTING_KEY` | routing key when that webhook is PagerDuty's |
//! | `QUEUE_REDIS_URL` | the Redis URL |
//! | `SWITCHYARD_LISTEN` | the API's listen address |
//! | `SWITCHYARD_API_TOKEN` | bearer token of the operator endpoints |
//! | `SWITCHYARD_INSTANCE` | this daemon's name in the leader lease (else `HOSTNAME`) |
//! | `SWITCHYARD_ADVERTISE_URL` | the URL a standby sends bots and operators to while this daemon leads |
//! | `SWITCHYARD_BOT_TOKEN` | bearer token of the bot endpoints (open when unset) |
//!
//! A bad value is an error naming the variable, or the file, line, column and field.

mod env;
mod leader;
mod raw;
pub mod reload;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use switchyard_core::config::ControllerConfig;
use switchyard_core::time::Millis;
use switchyard_core::topology::TopologySpec;
use thiserror::Error;

use crate::alerts::{AlertSinkConfig, Secret};
use crate::api::ApiToken;
use crate::lavalink::NodeEndpoint;

pub use leader::{LeaderConfig, LeaderSection};
pub use raw::{DaemonSection, LavalinkSection, RawConfig};

/// Why the configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigLoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a bad field.
    #[error("{path}:{line}:{column}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {variable}: {message}")]
    Env {
        /// The variable.
        variable: &'static str,
        /// What is wrong (never the value itself when it may hold a secret).
        message: String,
    },
    /// The values parse but do not work together.
    #[error("{source_name}: `{field}`: {message}")]
    Invalid {
        /// The file (or "environment").
        source_name: String,
        /// Dotted field path.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Everything the daemon needs, validated.
#[derive(Clone)]
pub struct DaemonConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The Redis URL (may hold a password).
    pub redis_url: Secret,
    /// Bearer token of the operator endpoints.
    pub api_token: Option<ApiToken>,
    /// Optional bearer token of the bot endpoints.
    pub bot_token: Option<ApiToken>,
    /// The deployment's name in alerts.
    pub source: String,
    /// TTL of the health keys.
    pub health_ttl_ms: u64,
    /// How often the bots' side is read from Redis.
    pub store_poll_interval_ms: u64,
    /// How often every player snapshot is read, not only the changed ones.
    pub snapshot_full_read_interval_ms: u64,
    /// How long a daemon that starts acting waits before it admits joined nodes.
    pub node_admission_grace_ms: u64,
    /// Regions, nodes, plans, shard count.
    pub topology: TopologySpec,
    /// How to reach each node.
    pub endpoints: Vec<NodeEndpoint>,
    /// The core's tunables.
    pub controller: ControllerConfig,
    /// Alert webhooks.
    pub alerts: Vec<AlertSinkConfig>,
    /// The leader lease shared with other controllers.
    pub leader: LeaderConfig,
}

impl fmt::Debug for DaemonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_toml())
    }
}

/// The effective configuration as shown to people: every secret replaced.
#[derive(Serialize)]
struct Redacted<'a> {
    daemon: RedactedDaemon<'a>,
    leader: &'a LeaderConfig,
    topology: &'a TopologySpec,
    lavalink: Vec<RedactedEndpoint<'a>>,
    controller: &'a ControllerConfig,
    alerts: Vec<crate::alerts::config::RedactedAlertSinkConfig>,
}

#[derive(Serialize)]
struct RedactedDaemon<'a> {
    listen: String,
    redis_url: String,
    api_token: &'static str,
    bot_token: &'static str,
    source: &'a str,
    health_ttl_ms: u64,
    store_poll_interval_ms: u64,
    snapshot_full_read_interval_ms: u64,
    node_admission_grace_ms: u64,
}

#[derive(Serialize)]
struct RedactedEndpoint<'a> {
    name: &'a str,
    url: &'a str,
    password: &'static str,
}

fn shown(secret: bool) -> &'static str {
    if secret { "<redacted>" } else { "<unset>" }
}

impl DaemonConfig {
    /// Reads `path` (if any), applies the environment, validates.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigLoadError> {
        let (raw, source_name) = match path {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigLoadError::Read {
                        path: path.to_owned(),
                        source,
                    })?;
                (raw::parse(path, &text)?, path.display().to_string())
            }
            None => (RawConfig::default(), "environment".to_owned()),
        };
        let raw = env::apply(raw, env)?;
        raw.validate(&source_name)
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn redacted_toml(&self) -> String {
        let redacted = Redacted {
            daemon: RedactedDaemon {
                listen: self.listen.to_string(),
                redis_url: redact_url(self.redis_url.expose()),
                api_token: shown(self.api_token.is_some()),
                bot_token: shown(self.bot_token.is_some()),
                source: &self.source,
                health_ttl_ms: self.health_ttl_ms,
                store_poll_interval_ms: self.store_poll_interval_ms,
                snapshot_full_read_interval_ms: self.snapshot_full_read_interval_ms,
                node_admission_grace_ms: self.node_admission_grace_ms,
            },
            topology: &self.topology,
            lavalink: self
                .endpoints
                .iter()
                .map(|e| RedactedEndpoint {
                    name: e.name.as_str(),
                    url: &e.base_url,
                    password: "<redacted>",
                })
                .collect(),
            controller: &self.controller,
            alerts: self.alerts.iter().map(AlertSinkConfig::redacted).collect(),
            leader: &self.leader,
        };
        toml::to_string_pretty(&redacted).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// Builds the core for this configuration.
    pub fn controller(
        &self,
    ) -> Result<switchyard_core::Controller, switchyard_core::config::ConfigError> {
        switchyard_core::Controller::new(Millis::ZERO, self.controller.clone(), &self.topology)
    }
}

/// A URL with its user and password removed, for display.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() || !parsed.username().is_empty() {
                // Setting these only fails for URLs that cannot carry them.
                let _ = parsed.set_username("");
                let _ = parsed.set_password(Some("<redacted>"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}
