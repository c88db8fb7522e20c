//! A fake-clock driver for the core, for unit tests, property tests and benchmarks.
//!
//! It plays the shell against a scripted world without any IO: probes are answered
//! after the node's latency (or time out when the node is dead), moves succeed when
//! the target is alive, and time jumps straight to the next deadline or delivery. Every
//! run is bounded in steps, so a core that keeps re-arming a timer fails loudly instead
//! of spinning.

use std::collections::BTreeMap;

use crate::command::Command;
use crate::config::ControllerConfig;
use crate::controller::{Controller, PlaybackRequest};
use crate::health::ProbeFailure;
use crate::ids::{GuildId, MoveId, NodeId, PlanId, RegionId};
use crate::penalty::NodeStats;
use crate::time::Millis;
use crate::topology::TopologySpec;

/// Steps a single `run_*` call may take before the harness gives up.
pub const STEPS_MAX: usize = 1_000_000;

/// How a scripted node behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBehaviour {
    /// Whether it answers at all.
    pub alive: bool,
    /// How long its probe answers take.
    pub latency_ms: u64,
    /// Whether moves onto it fail even though it answers probes.
    pub rejects_moves: bool,
    /// Stats its probes report.
    pub stats: NodeStats,
}

impl Default for NodeBehaviour {
    fn default() -> Self {
        Self {
            alive: true,
            latency_ms: 5,
            rejects_moves: false,
            stats: NodeStats::default(),
        }
    }
}

#[derive(Debug, Clone)]
enum Delivery {
    ProbeOk {
        node: NodeId,
        latency_ms: u64,
        stats: NodeStats,
    },
    ProbeFailed {
        node: NodeId,
    },
    MoveSucceeded(MoveId),
    MoveFailed(MoveId),
}

/// The core plus a scripted world and a fake clock.
#[derive(Debug, Clone)]
pub struct Harness {
    /// The core under test.
    pub controller: Controller,
    /// The fake clock.
    pub now: Millis,
    /// Every command the core issued, with when.
    pub log: Vec<(Millis, Command)>,
    nodes: BTreeMap<NodeId, NodeBehaviour>,
    /// How long a move takes to report back.
    pub move_latency_ms: u64,
    deliveries: BTreeMap<(Millis, u64), Delivery>,
    sequence: u64,
}

impl Harness {
    /// Builds a controller at time zero with every node alive and fast.
    pub fn new(
        config: ControllerConfig,
        topology: &TopologySpec,
    ) -> Result<Self, crate::config::ConfigError> {
        let controller = Controller::new(Millis::ZERO, config, topology)?;
        let nodes = topology
            .nodes
            .iter()
            .map(|n| (n.name.clone(), NodeBehaviour::default()))
            .collect();
        Ok(Self {
            controller,
            now: Millis::ZERO,
            log: Vec::new(),
            nodes,
            move_latency_ms: 50,
            deliveries: BTreeMap::new(),
            sequence: 0,
        })
    }

    /// The scripted behaviour of a node, to change it.
    pub fn node(&mut self, node: &str) -> &mut NodeBehaviour {
        self.nodes.entry(NodeId::new(node)).or_default()
    }

    /// Kills a node (it stops answering) and, like a real node, closes its websocket.
    pub fn kill(&mut self, node: &str) {
        self.node(node).alive = false;
        let now = self.now;
        // Unknown nodes are a test bug, surfaced by the controller's error.
        self.controller
            .handle_node_socket_closed(now, &NodeId::new(node))
            .expect("the harness kills nodes the controller knows");
        self.drain();
    }

    /// Brings a node back.
    pub fn revive(&mut self, node: &str) {
        self.node(node).alive = true;
    }

    /// Asks for playback for a guild.
    pub fn request(
        &mut self,
        guild: u64,
        plan: &str,
        region: Option<&str>,
        residency: Option<&str>,
    ) {
        let request = PlaybackRequest {
            guild: GuildId(guild),
            plan: PlanId::new(plan),
            region: region.map(RegionId::new),
            residency: residency.map(RegionId::new),
        };
        let now = self.now;
        self.controller
            .handle_playback_requested(now, &request)
            .expect("the harness requests valid plans and regions");
        self.drain();
    }

    /// Drains the core's commands into the log and schedules the world's answers.
    pub fn drain(&mut self) {
        while let Some(command) = self.controller.poll_command() {
            self.answer(&command);
            self.log.push((self.now, command));
        }
    }

    fn schedule(&mut self, at: Millis, delivery: Delivery) {
        self.sequence += 1;
        self.deliveries.insert((at, self.sequence), delivery);
    }

    fn answer(&mut self, command: &Command) {
        match command {
            Command::Probe { node } => {
                let behaviour = self.nodes.get(node).cloned().unwrap_or_default();
                let timeout_ms = self.controller.config().health.probe_timeout_ms;
                if behaviour.alive && behaviour.latency_ms < timeout_ms {
                    let delivery = Delivery::ProbeOk {
                        node: node.clone(),
                        latency_ms: behaviour.latency_ms,
                        stats: behaviour.stats,
                    };
                    self.schedule(self.now.plus_ms(behaviour.latency_ms), delivery);
                } else {
                    self.schedule(
                        self.now.plus_ms(timeout_ms),
                        Delivery::ProbeFailed { node: node.clone() },
                    );
                }
            }
            Command::MovePlayer(order) => {
                let target = self.nodes.get(&order.to).cloned().unwrap_or_default();
                let delivery = if target.alive && !target.rejects_moves {
                    Delivery::MoveSucceeded(order.id)
                } else {
                    Delivery::MoveFailed(order.id)
                };
                self.schedule(self.now.plus_ms(self.move_latency_ms), delivery);
            }
            _ => {}
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        let controller = &mut self.controller;
        let result = match delivery {
            Delivery::ProbeOk {
                node,
                latency_ms,
                stats,
            } => controller.handle_probe_ok(now, &node, latency_ms, Some(stats)),
            Delivery::ProbeFailed { node } => {
                controller.handle_probe_failed(now, &node, ProbeFailure::Timeout)
            }
            Delivery::MoveSucceeded(id) => {
                controller.handle_move_succeeded(now, id);
                Ok(())
            }
            Delivery::MoveFailed(id) => {
                controller.handle_move_failed(now, id);
                Ok(())
            }
        };
        // A node removed while its probe was out is the one expected error.
        if let Err(error) = result {
            assert!(
                matches!(error, crate::InputError::UnknownNode(_)),
                "unexpected input error: {error}"
            );
        }
    }

    /// Advances to the next deadline or delivery at or before `until`; returns false when
    /// nothing is due by then (the clock is then moved to `until`).
    pub fn step(&mut self, until: Millis) -> bool {
        let next_delivery = self.deliveries.keys().next().map(|(at, _)| *at);
        let next = crate::time::earliest(self.controller.poll_timeout(), next_delivery);
        let Some(next) = next.filter(|t| *t <= until) else {
            self.now = self.now.max(until);
            return false;
        };
        self.now = self.now.max(next);
        while let Some(entry) = self.deliveries.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let delivery = entry.remove();
            self.deliver(delivery);
            self.drain();
        }
        let now = self.now;
        self.controller.handle_timeout(now);
        self.drain();
        true
    }

    /// Runs until the clock reaches `until`.
    pub fn run_until(&mut self, until: Millis) {
        for _ in 0..STEPS_MAX {
            if !self.step(until) {
                return;
            }
        }
        panic!("the core did not settle within {STEPS_MAX} steps before {until}");
    }

    /// Runs for `ms` more milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now.plus_ms(ms));
    }

    /// Commands issued at or after `since`.
    pub fn commands_since(&self, since: Millis) -> impl Iterator<Item = &Command> {
        self.log
            .iter()
            .filter(move |(at, _)| *at >= since)
            .map(|(_, c)| c)
    }
}
