//! Turning the scenario's fault schedule into actions on the turmoil world.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::scenario::{Fault, FaultKind, Host, LinkTarget, WebhookFailure};

use super::Shared;

/// Whether a fault starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The fault begins.
    Start,
    /// The fault heals.
    End,
}

fn host_name(host: &Host) -> String {
    host.to_string()
}

fn pairs(target: &LinkTarget, all_hosts: &[String]) -> Vec<(String, String)> {
    match target {
        LinkTarget::Hosts(hosts) => hosts
            .iter()
            .flat_map(|h| {
                let h = host_name(h);
                all_hosts
                    .iter()
                    .filter(|o| **o != h)
                    .map(|o| (h.clone(), o.clone()))
                    .collect::<Vec<_>>()
            })
            .collect(),
        LinkTarget::Links(links) => links
            .iter()
            .map(|(a, b)| (host_name(a), host_name(b)))
            .collect(),
    }
}

/// Applies one edge of a fault. Returns an error for kinds the world does not model yet.
pub fn apply(
    sim: &mut turmoil::Sim<'static>,
    shared: &Arc<Mutex<Shared>>,
    fault: &Fault,
    edge: Edge,
    all_hosts: &[String],
) -> Result<(), String> {
    let start = edge == Edge::Start;
    match &fault.kind {
        FaultKind::NodeKill { node } => toggle_host(sim, node.as_str(), start),
        FaultKind::RegionOutage { nodes, .. } => {
            for node in nodes {
                toggle_host(sim, node.as_str(), start);
            }
        }
        FaultKind::NodeRestart { node } => {
            if start {
                if let Some(control) = shared
                    .lock()
                    .expect("no panics while locked")
                    .nodes
                    .get(node)
                {
                    control.shutdown();
                }
                sim.crash(node.as_str());
            } else {
                sim.bounce(node.as_str());
            }
        }
        FaultKind::Partition { a, b, oneway } => {
            for x in a {
                for y in b {
                    let (x, y) = (host_name(x), host_name(y));
                    match (start, oneway) {
                        (true, false) => sim.partition(x.as_str(), y.as_str()),
                        (true, true) => sim.partition_oneway(x.as_str(), y.as_str()),
                        (false, false) => sim.repair(x.as_str(), y.as_str()),
                        (false, true) => sim.repair_oneway(x.as_str(), y.as_str()),
                    }
                }
            }
        }
        FaultKind::Latency {
            target, latency_ms, ..
        } => {
            // Jitter is not modelled: turmoil takes one latency per link.
            let value = if start {
                Duration::from_millis(*latency_ms)
            } else {
                Duration::from_millis(1)
            };
            for (x, y) in pairs(target, all_hosts) {
                sim.set_link_latency(x.as_str(), y.as_str(), value);
            }
        }
        FaultKind::NodeSlow {
            node,
            cpu_load,
            response_latency_ms,
            ..
        } => {
            let shared = shared.lock().expect("no panics while locked");
            let control = shared
                .nodes
                .get(node)
                .ok_or_else(|| format!("no node {node}"))?;
            let latency = Duration::from_millis(if start {
                response_latency_ms.unwrap_or(0)
            } else {
                0
            });
            control
                .set_latency(latency, Duration::ZERO)
                .map_err(|e| e.to_string())?;
            control
                .set_cpu_load(if start { *cpu_load } else { None })
                .map_err(|e| e.to_string())?;
        }
        FaultKind::ShardStall { shard } => {
            let shared = shared.lock().expect("no panics while locked");
            for bot in shared.bots.values() {
                if bot.state().owned_shards().contains_key(shard) {
                    if start { bot.stall() } else { bot.resume() }
                }
            }
        }
        FaultKind::ShardKill { owner, .. } => toggle_host(sim, owner.as_str(), start),
        FaultKind::RedisOutage => toggle_host(sim, "redis", start),
        FaultKind::ControllerCrash => toggle_host(sim, "controller", start),
        FaultKind::WebhookOutage { failure } => {
            let status = match failure {
                WebhookFailure::Status(code) => *code,
                WebhookFailure::RateLimited => 429,
                WebhookFailure::Drop => 503,
            };
            shared
                .lock()
                .expect("no panics while locked")
                .webhook_failure = start.then_some(status);
        }
        other => {
            return Err(format!(
                "fault kind `{}` is not simulated yet",
                other.name()
            ));
        }
    }
    Ok(())
}

fn toggle_host(sim: &mut turmoil::Sim<'static>, host: &str, start: bool) {
    if start {
        sim.crash(host)
    } else {
        sim.bounce(host)
    }
}
