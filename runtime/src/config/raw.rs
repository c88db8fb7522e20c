//! The configuration file as written, and its validation.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use switchyard_core::config::ControllerConfig;
use switchyard_core::ids::NodeId;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};

use super::leader::LeaderSection;
use super::{ConfigLoadError, DaemonConfig};
use crate::alerts::config::validate_sinks;
use crate::alerts::{AlertSinkConfig, Secret};
use crate::api::ApiToken;
use crate::lavalink::NodeEndpoint;

/// `switchyard.toml` as written. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The daemon itself.
    #[serde(default)]
    pub daemon: DaemonSection,
    /// Regions, nodes (policy), plans, shard count: the scenario files' `[topology]`.
    #[serde(default)]
    pub topology: RawTopology,
    /// How to reach each node.
    #[serde(default)]
    pub lavalink: Vec<LavalinkSection>,
    /// The core's tunables: the scenario files' `[controller]`.
    #[serde(default)]
    pub controller: ControllerConfig,
    /// Alert webhooks.
    #[serde(default)]
    pub alerts: Vec<AlertSinkConfig>,
    /// Sharing Redis with other controllers: `[leader]`.
    #[serde(default)]
    pub leader: LeaderSection,
}

/// `[daemon]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSection {
    /// API listen address (default `127.0.0.1:8080`).
    pub listen: Option<String>,
    /// Redis URL (default `redis://127.0.0.1:6379/0`).
    pub redis_url: Option<String>,
    /// Operator bearer token.
    pub api_token: Option<String>,
    /// Bot bearer token.
    pub bot_token: Option<String>,
    /// Name in alerts (default `switchyard`).
    pub source: Option<String>,
    /// TTL of `lavalink:health:<node>` (default 30 s).
    pub health_ttl_ms: Option<u64>,
    /// How often bot state is read from Redis (default 1 s).
    pub store_poll_interval_ms: Option<u64>,
    /// How often every player snapshot is read, not only the changed ones (default
    /// 30 s).
    pub snapshot_full_read_interval_ms: Option<u64>,
    /// How long a daemon that starts acting waits before it admits nodes that joined,
    /// so hot spares have re-registered (default 15 s).
    pub node_admission_grace_ms: Option<u64>,
    /// Capacity of nodes listed by `LAVALINK_NODES` (default 1,000 players).
    pub default_node_capacity: Option<u32>,
    /// Password of nodes listed by `LAVALINK_NODES` and of `[[lavalink]]` entries that
    /// give none (`LAVALINK_PASSWORD` overrides it).
    pub lavalink_password: Option<String>,
}

/// `[topology]`, like [`TopologySpec`] but every list optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopology {
    /// Regions.
    #[serde(default)]
    pub regions: Vec<RegionSpec>,
    /// Nodes.
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// Plans.
    #[serde(default)]
    pub plans: Vec<PlanSpec>,
    /// Gateway shards.
    #[serde(default = "one")]
    pub shard_count: u32,
}

fn one() -> u32 {
    1
}

impl Default for RawTopology {
    fn default() -> Self {
        Self {
            regions: Vec::new(),
            nodes: Vec::new(),
            plans: Vec::new(),
            shard_count: 1,
        }
    }
}

/// `[[lavalink]]`: how to reach one node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LavalinkSection {
    /// The node (as named in `[[topology.nodes]]`).
    pub name: NodeId,
    /// Base URL, `http://host:2333`.
    pub url: String,
    /// Its password; when absent, `daemon.lavalink_password` (or `LAVALINK_PASSWORD`),
    /// so the file can hold no secret.
    #[serde(default)]
    pub password: Option<String>,
}

/// Parses the file; errors carry the line and column.
pub(super) fn parse(path: &Path, text: &str) -> Result<RawConfig, ConfigLoadError> {
    toml::from_str(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        ConfigLoadError::File {
            path: path.to_owned(),
            line,
            column,
            message: error.message().to_owned(),
        }
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

fn invalid(source: &str, field: impl Into<String>, message: impl Into<String>) -> ConfigLoadError {
    ConfigLoadError::Invalid {
        source_name: source.to_owned(),
        field: field.into(),
        message: message.into(),
    }
}

/// Checks an `http(s)://host[:port]` base URL; returns it without a trailing slash.
pub(super) fn check_base_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err("expected http://host:port or https://host:port".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "must not carry credentials; the password goes in the Authorization header".to_owned(),
        );
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl RawConfig {
    pub(super) fn validate(self, source: &str) -> Result<DaemonConfig, ConfigLoadError> {
        let daemon = self.daemon;
        let listen_text = daemon.listen.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                source,
                "daemon.listen",
                format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
            )
        })?;
        let redis_url = daemon
            .redis_url
            .unwrap_or_else(|| "redis://127.0.0.1:6379/0".to_owned());
        match url::Url::parse(&redis_url) {
            Ok(url) if matches!(url.scheme(), "redis" | "rediss" | "redis+unix") => {}
            _ => {
                return Err(invalid(
                    source,
                    "daemon.redis_url",
                    "expected a redis:// or rediss:// URL",
                ));
            }
        }
        let topology = TopologySpec {
            regions: self.topology.regions,
            nodes: self.topology.nodes,
            plans: self.topology.plans,
            shard_count: self.topology.shard_count,
        };
        if topology.nodes.is_empty() {
            return Err(invalid(
                source,
                "topology.nodes",
                "no Lavalink nodes: list them in [[topology.nodes]] and [[lavalink]], or set LAVALINK_NODES",
            ));
        }
        let mut endpoints = Vec::new();
        for (i, node) in topology.nodes.iter().enumerate() {
            let section = self
                .lavalink
                .iter()
                .find(|l| l.name == node.name)
                .ok_or_else(|| {
                    invalid(
                        source,
                        format!("topology.nodes[{i}]"),
                        format!(
                            "node `{}` has no [[lavalink]] entry (url, password)",
                            node.name
                        ),
                    )
                })?;
            let base_url = check_base_url(&section.url)
                .map_err(|m| invalid(source, format!("lavalink.{}.url", node.name), m))?;
            let password = section
                .password
                .clone()
                .or_else(|| daemon.lavalink_password.clone())
                .ok_or_else(|| {
                    invalid(
                        source,
                        format!("lavalink.{}.password", node.name),
                        "no password: set it here, in daemon.lavalink_password or in LAVALINK_PASSWORD",
                    )
                })?;
            endpoints.push(NodeEndpoint {
                name: node.name.clone(),
                base_url,
                password,
            });
        }
        if let Some((i, extra)) = self
            .lavalink
            .iter()
            .enumerate()
            .find(|(_, l)| topology.nodes.iter().all(|n| n.name != l.name))
        {
            return Err(invalid(
                source,
                format!("lavalink[{i}].name"),
                format!("`{}` is not a node of the topology", extra.name),
            ));
        }
        switchyard_core::Controller::new(
            switchyard_core::time::Millis::ZERO,
            self.controller.clone(),
            &topology,
        )
        .map_err(|e| {
            let field = if e.field.starts_with("controller.") {
                e.field.clone()
            } else {
                format!("topology.{}", e.field)
            };
            invalid(source, field, e.reason)
        })?;
        validate_sinks(&self.alerts).map_err(|e| invalid(source, "alerts", e.to_string()))?;
        let health_ttl_ms = daemon.health_ttl_ms.unwrap_or(30_000);
        let store_poll_interval_ms = daemon.store_poll_interval_ms.unwrap_or(1_000);
        let snapshot_full_read_interval_ms =
            daemon.snapshot_full_read_interval_ms.unwrap_or(30_000);
        let node_admission_grace_ms = daemon.node_admission_grace_ms.unwrap_or(15_000);
        for (field, value) in [
            ("daemon.health_ttl_ms", health_ttl_ms),
            ("daemon.store_poll_interval_ms", store_poll_interval_ms),
            (
                "daemon.snapshot_full_read_interval_ms",
                snapshot_full_read_interval_ms,
            ),
        ] {
            // A zero period would spin (or panic the timer); a zero TTL expires at once.
            if value == 0 {
                return Err(invalid(source, field, "must be at least 1 ms"));
            }
        }
        Ok(DaemonConfig {
            listen,
            redis_url: Secret::new(redis_url),
            api_token: daemon.api_token.and_then(ApiToken::new),
            bot_token: daemon.bot_token.and_then(ApiToken::new),
            source: daemon.source.unwrap_or_else(|| "switchyard".to_owned()),
            health_ttl_ms,
            store_poll_interval_ms,
            snapshot_full_read_interval_ms,
            node_admission_grace_ms,
            topology,
            endpoints,
            controller: self.controller,
            alerts: self.alerts,
            leader: self.leader.validate(source, listen)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn offsets_become_one_based_lines_and_columns() {
        let text = "a = 1\nbb = [\n  3,\n]";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 15), (3, 3));
    }
}
