//! The reference runbook's environment variables, applied over the file.

use switchyard_core::ids::{NodeId, RegionId};
use switchyard_core::topology::{NodeSpec, RegionSpec};

use super::ConfigLoadError;
use super::raw::{LavalinkSection, RawConfig, check_base_url};
use crate::alerts::{AlertSinkConfig, Secret, SinkKind};

fn env_error(variable: &'static str, message: impl Into<String>) -> ConfigLoadError {
    ConfigLoadError::Env {
        variable,
        message: message.into(),
    }
}

/// One `region:name:url` entry of `LAVALINK_NODES`.
fn parse_node_entry(
    index: usize,
    entry: &str,
) -> Result<(RegionId, NodeId, String), ConfigLoadError> {
    let mut parts = entry.splitn(3, ':');
    let (Some(region), Some(name), Some(url)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(env_error(
            "LAVALINK_NODES",
            format!("entry {} (`{entry}`) is not region:name:url", index + 1),
        ));
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if !valid(region) || !valid(name) {
        return Err(env_error(
            "LAVALINK_NODES",
            format!(
                "entry {} (`{entry}`): region and name must be letters, digits, `-`, `_` or `.`",
                index + 1
            ),
        ));
    }
    let url = check_base_url(url).map_err(|m| {
        env_error(
            "LAVALINK_NODES",
            format!("entry {} (`{region}:{name}:...`): url {m}", index + 1),
        )
    })?;
    Ok((RegionId::new(region), NodeId::new(name), url))
}

fn apply_nodes(
    raw: &mut RawConfig,
    value: &str,
    password: Option<String>,
) -> Result<(), ConfigLoadError> {
    let entries: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(env_error("LAVALINK_NODES", "is set but lists no node"));
    }
    let password = password.ok_or_else(|| {
        env_error(
            "LAVALINK_PASSWORD",
            "is required for the nodes LAVALINK_NODES lists (or set daemon.lavalink_password)",
        )
    })?;
    let capacity = raw.daemon.default_node_capacity.unwrap_or(1_000);
    raw.topology.nodes.clear();
    raw.lavalink.clear();
    for (index, entry) in entries.iter().enumerate() {
        let (region, name, url) = parse_node_entry(index, entry)?;
        if raw.lavalink.iter().any(|l| l.name == name) {
            return Err(env_error(
                "LAVALINK_NODES",
                format!("node `{name}` is listed twice"),
            ));
        }
        if raw.topology.regions.iter().all(|r| r.name != region) {
            raw.topology.regions.push(RegionSpec {
                name: region.clone(),
                priority: 0,
            });
        }
        raw.topology.nodes.push(NodeSpec {
            name: name.clone(),
            region,
            priority: 0,
            weight: 1,
            capacity,
            maintenance: false,
        });
        raw.lavalink.push(LavalinkSection {
            name,
            url,
            password: Some(password.clone()),
        });
    }
    Ok(())
}

/// Recognises the runbook's health webhook by its host.
fn webhook_sink(
    url: &str,
    routing_key: Option<String>,
) -> Result<AlertSinkConfig, ConfigLoadError> {
    let parsed =
        url::Url::parse(url).map_err(|_| env_error("LAVALINK_HEALTH_WEBHOOK", "is not a URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    let kind = if host == "events.pagerduty.com" {
        let key = routing_key.ok_or_else(|| {
            env_error(
                "PAGERDUTY_ROUTING_KEY",
                "is required when LAVALINK_HEALTH_WEBHOOK is PagerDuty's",
            )
        })?;
        SinkKind::PagerDuty {
            routing_key: Secret::new(key),
        }
    } else if host == "hooks.slack.com" {
        SinkKind::Slack
    } else if matches!(host, "discord.com" | "discordapp.com")
        && parsed.path().starts_with("/api/webhooks/")
    {
        SinkKind::Discord
    } else {
        SinkKind::Generic
    };
    Ok(AlertSinkConfig::new("health-webhook", kind, url))
}

/// Applies every variable that is set.
pub(super) fn apply(
    mut raw: RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RawConfig, ConfigLoadError> {
    if let Some(url) = env("QUEUE_REDIS_URL") {
        raw.daemon.redis_url = Some(url);
    }
    if let Some(listen) = env("SWITCHYARD_LISTEN") {
        raw.daemon.listen = Some(listen);
    }
    if let Some(token) = env("SWITCHYARD_API_TOKEN") {
        raw.daemon.api_token = Some(token);
    }
    if let Some(token) = env("SWITCHYARD_BOT_TOKEN") {
        raw.daemon.bot_token = Some(token);
    }
    if let Some(password) = env("LAVALINK_PASSWORD") {
        raw.daemon.lavalink_password = Some(password);
    }
    if let Some(instance) = env("SWITCHYARD_INSTANCE") {
        raw.leader.instance = Some(instance);
    } else if raw.leader.instance.is_none() {
        raw.leader.instance = env("HOSTNAME");
    }
    if let Some(url) = env("SWITCHYARD_ADVERTISE_URL") {
        let url = check_base_url(&url)
            .map_err(|m| env_error("SWITCHYARD_ADVERTISE_URL", format!("url {m}")))?;
        raw.leader.advertise_url = Some(url);
    }
    if let Some(nodes) = env("LAVALINK_NODES") {
        let password = raw.daemon.lavalink_password.clone();
        apply_nodes(&mut raw, &nodes, password)?;
    }
    if let Some(url) = env("LAVALINK_HEALTH_WEBHOOK") {
        let sink = webhook_sink(&url, env("PAGERDUTY_ROUTING_KEY"))?;
        raw.alerts.retain(|s| s.name != sink.name);
        raw.alerts.push(sink);
    }
    Ok(raw)
}
