//! Turning the scenario's fault schedule into actions on the turmoil world.
//!
//! The schedule is expanded before the run into timed actions ([`timeline`]); the
//! [`Injector`] applies those that are due before each step and, between steps, lets
//! message loss act on the traffic of the step just run ([`loss`]). Operator actions
//! (drain, enable, join) go through an operator host ([`operator`]).

mod loss;
mod operator;
pub(super) mod timeline;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::scenario::{Fault, FaultKind, Host, LinkTarget, Scenario, WebhookFailure};

use super::Shared;
use loss::LossModel;
pub use loss::LossStats;
use operator::OperatorDesk;
pub use operator::{OPERATOR_HOST, OperatorOutcome};
use timeline::{Action, Edge, Timed, expand};

/// Something the world did to inject a fault, and what turmoil reported right after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultEvent {
    /// Run milliseconds.
    pub at_ms: u64,
    /// The fault's index in the scenario.
    pub fault: usize,
    /// What happened.
    #[serde(flatten)]
    pub what: FaultEffect,
}

/// What one fault action did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FaultEffect {
    /// A fault that toggles was switched on.
    Started,
    /// It was switched off.
    Healed,
    /// A node's process was stopped; `running` is turmoil's view right after (a
    /// graceful stop runs on until its websockets are closed).
    NodeStopped {
        /// The node.
        node: String,
        /// Shut down rather than killed.
        graceful: bool,
        /// Whether its host still runs.
        running: bool,
    },
    /// A fault holding a node down ended. The node's process starts unless another
    /// fault still holds it down (overlapping faults on one node), in which case
    /// `running` stays false until the last of them ends.
    NodeStarted {
        /// The node.
        node: String,
        /// Whether its host runs.
        running: bool,
    },
    /// A message loss fault healed, with what it did.
    LossHealed(LossStats),
    /// The operator was handed a request (its outcome is in the run's operator log).
    OperatorIssued {
        /// `drain eu-1`, ...
        request: String,
    },
}

/// Applies the expanded schedule to the world, step by step.
pub struct Injector {
    timeline: Vec<Timed>,
    next: usize,
    /// Every host's name, for faults that target "every link touching" a host.
    hosts: Vec<String>,
    loss: LossModel,
    operator: Option<OperatorDesk>,
    events: Vec<FaultEvent>,
    /// How many faults hold each node down right now: a node comes back only when the
    /// last of overlapping faults (a region outage and a longer kill of one of its
    /// nodes, say) ends.
    node_holds: BTreeMap<String, u32>,
}

impl Injector {
    /// Expands the schedule, takes down the hosts of nodes that join later, and adds
    /// the operator host when an operator acts. Call after every other host exists.
    pub fn new(
        sim: &mut turmoil::Sim<'static>,
        scenario: &Scenario,
        seed: u64,
        shared: &Arc<Mutex<Shared>>,
        mut hosts: Vec<String>,
    ) -> Self {
        let timeline = expand(scenario);
        let mut events = Vec::new();
        let mut node_holds = BTreeMap::new();
        for (fault, node) in timeline::absent_at_start(scenario) {
            *node_holds.entry(node.to_string()).or_insert(0) += 1;
            // Before the first step: the host never runs until the node joins.
            sim.crash(node.as_str());
            let running = sim.is_host_running(node.as_str());
            let node = node.to_string();
            events.push(FaultEvent {
                at_ms: 0,
                fault,
                what: FaultEffect::NodeStopped {
                    node,
                    graceful: false,
                    running,
                },
            });
        }
        let needs_operator = timeline
            .iter()
            .any(|timed| matches!(timed.action, Action::Operator(_)));
        let operator = needs_operator.then(|| {
            hosts.push(OPERATOR_HOST.to_owned());
            OperatorDesk::add(sim, shared.clone())
        });
        Self {
            timeline,
            next: 0,
            hosts,
            loss: LossModel::new(seed),
            operator,
            events,
            node_holds,
        }
    }

    /// Lets message loss act on the last step's traffic, then applies every action due
    /// by `now_ms`.
    pub fn advance(
        &mut self,
        sim: &mut turmoil::Sim<'static>,
        scenario: &Scenario,
        shared: &Arc<Mutex<Shared>>,
        now_ms: u64,
    ) -> Result<(), String> {
        self.loss.after_step(sim, now_ms);
        while let Some(timed) = self.timeline.get(self.next).filter(|t| t.at_ms <= now_ms) {
            let timed = timed.clone();
            self.next += 1;
            let fault = scenario
                .faults
                .get(timed.fault)
                .ok_or("fault index out of range")?;
            let what = self.apply(sim, shared, fault, timed.action, now_ms)?;
            self.events.push(FaultEvent {
                at_ms: now_ms,
                fault: fault.index,
                what,
            });
        }
        Ok(())
    }

    /// What the injector did, and how the operator's requests ended.
    pub fn finish(self) -> (Vec<FaultEvent>, Vec<OperatorOutcome>) {
        let outcomes = self
            .operator
            .as_ref()
            .map(OperatorDesk::outcomes)
            .unwrap_or_default();
        (self.events, outcomes)
    }

    fn apply(
        &mut self,
        sim: &mut turmoil::Sim<'static>,
        shared: &Arc<Mutex<Shared>>,
        fault: &Fault,
        action: Action,
        now_ms: u64,
    ) -> Result<FaultEffect, String> {
        Ok(match action {
            Action::NodeDown { node, graceful } => {
                *self.node_holds.entry(node.to_string()).or_insert(0) += 1;
                if graceful {
                    // Lavalink on SIGTERM: websockets close with 1001, then the process
                    // exits; the host stops by itself once its server returns.
                    let shared = shared.lock().expect("no panics while locked");
                    let control = shared
                        .nodes
                        .get(&node)
                        .ok_or_else(|| format!("no node {node}"))?;
                    control.shutdown();
                } else {
                    sim.crash(node.as_str());
                }
                FaultEffect::NodeStopped {
                    running: sim.is_host_running(node.as_str()),
                    node: node.to_string(),
                    graceful,
                }
            }
            Action::NodeUp { node } => {
                let holds = self.node_holds.entry(node.to_string()).or_insert(0);
                debug_assert!(
                    *holds > 0,
                    "{node} comes up without a fault holding it down"
                );
                *holds = holds.saturating_sub(1);
                if *holds == 0 {
                    sim.bounce(node.as_str());
                }
                FaultEffect::NodeStarted {
                    running: sim.is_host_running(node.as_str()),
                    node: node.to_string(),
                }
            }
            Action::Operator(request) => {
                let operator = self
                    .operator
                    .as_ref()
                    .expect("the operator host exists when the timeline has requests");
                let effect = FaultEffect::OperatorIssued {
                    request: request.to_string(),
                };
                operator.issue(fault.index, now_ms, request);
                effect
            }
            Action::Toggle(edge) => self.toggle(sim, shared, fault, edge, now_ms)?,
        })
    }

    /// Switches a fault that toggles on or off.
    fn toggle(
        &mut self,
        sim: &mut turmoil::Sim<'static>,
        shared: &Arc<Mutex<Shared>>,
        fault: &Fault,
        edge: Edge,
        now_ms: u64,
    ) -> Result<FaultEffect, String> {
        let start = edge == Edge::Start;
        match &fault.kind {
            FaultKind::Partition { .. }
            | FaultKind::Latency { .. }
            | FaultKind::MessageLoss { .. } => {
                return Ok(self.toggle_network(sim, fault, edge, now_ms));
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
                // The timeline turns every other kind into node and operator actions.
                unreachable!("fault kind `{}` does not toggle", other.name())
            }
        }
        Ok(if start {
            FaultEffect::Started
        } else {
            FaultEffect::Healed
        })
    }

    /// Switches a fault of the simulated network on or off.
    fn toggle_network(
        &mut self,
        sim: &mut turmoil::Sim<'static>,
        fault: &Fault,
        edge: Edge,
        now_ms: u64,
    ) -> FaultEffect {
        let start = edge == Edge::Start;
        match &fault.kind {
            FaultKind::Partition { a, b, oneway } => {
                let pairs = partition_pairs(a, b);
                if start {
                    self.loss.partition_started(sim, &pairs, now_ms);
                } else {
                    self.loss.partition_ended(sim, &pairs);
                }
                for (x, y) in &pairs {
                    match (start, oneway) {
                        (true, false) => sim.partition(x.as_str(), y.as_str()),
                        (true, true) => sim.partition_oneway(x.as_str(), y.as_str()),
                        (false, false) => sim.repair(x.as_str(), y.as_str()),
                        (false, true) => sim.repair_oneway(x.as_str(), y.as_str()),
                    }
                }
            }
            FaultKind::Latency {
                target, latency_ms, ..
            } => {
                // Jitter is not modelled: turmoil takes one latency per link.
                let value = Duration::from_millis(if start { *latency_ms } else { 1 });
                for (x, y) in link_pairs(target, &self.hosts) {
                    sim.set_link_latency(x.as_str(), y.as_str(), value);
                }
            }
            FaultKind::MessageLoss { target, rate } => {
                if start {
                    let pairs = link_pairs(target, &self.hosts);
                    self.loss.start(sim, fault.index, *rate, &pairs);
                } else {
                    let stats = self.loss.end(sim, fault.index, now_ms);
                    return FaultEffect::LossHealed(stats);
                }
            }
            other => unreachable!("fault kind `{}` is not a network fault", other.name()),
        }
        if start {
            FaultEffect::Started
        } else {
            FaultEffect::Healed
        }
    }
}

fn toggle_host(sim: &mut turmoil::Sim<'static>, host: &str, start: bool) {
    if start {
        sim.crash(host)
    } else {
        sim.bounce(host)
    }
}

fn partition_pairs(a: &[Host], b: &[Host]) -> Vec<(String, String)> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x, y)))
        .filter(|(x, y)| !is_discord(x) && !is_discord(y))
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect()
}

/// Discord's voice servers have no turmoil host (no traffic goes to them): a fault on
/// their links acts through the oracle's model of Discord, not the network.
fn is_discord(host: &Host) -> bool {
    matches!(host, Host::Discord)
}

/// The links a latency or loss fault covers, each once.
fn link_pairs(target: &LinkTarget, all_hosts: &[String]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = match target {
        LinkTarget::Hosts(hosts) => hosts
            .iter()
            .filter(|host| !is_discord(host))
            .flat_map(|host| {
                let host = host.to_string();
                all_hosts
                    .iter()
                    .filter(|other| **other != host)
                    .map(|other| (host.clone(), other.clone()))
                    .collect::<Vec<_>>()
            })
            .collect(),
        LinkTarget::Links(links) => links
            .iter()
            .filter(|(a, b)| !is_discord(a) && !is_discord(b))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    };
    // Two targeted hosts share a link; it is one link either way round.
    let mut seen = std::collections::BTreeSet::new();
    pairs.retain(|(a, b)| {
        seen.insert(if a < b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        })
    });
    pairs
}
