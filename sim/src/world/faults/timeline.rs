//! The fault schedule expanded up front into timed actions: every edge of a repeated
//! fault (each flap, each node of a rolling restart) gets its own instant before the
//! run starts, so what happens when depends only on the scenario, never on the run.

use std::fmt;

use switchyard_core::ids::NodeId;
use switchyard_core::topology::NodeSpec;

use crate::scenario::{Fault, FaultKind, Scenario};

/// Whether a fault that toggles starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The fault begins.
    Start,
    /// The fault heals.
    End,
}

/// What an operator asks the controller to do.
#[derive(Debug, Clone, PartialEq)]
pub enum OperatorRequest {
    /// `POST /api/nodes/{name}/drain`.
    Drain(NodeId),
    /// `POST /api/nodes/{name}/enable`.
    Enable(NodeId),
    /// Add a node the controller does not know yet.
    Join(NodeSpec),
    /// Take a node out: its players move away, then the controller forgets it.
    Leave(NodeId),
}

impl fmt::Display for OperatorRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatorRequest::Drain(node) => write!(f, "drain {node}"),
            OperatorRequest::Enable(node) => write!(f, "enable {node}"),
            OperatorRequest::Join(spec) => write!(f, "join {}", spec.name),
            OperatorRequest::Leave(node) => write!(f, "leave {node}"),
        }
    }
}

/// One thing the world does at one instant.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A fault whose whole effect is switched on at its start and off at its end.
    Toggle(Edge),
    /// A node's process stops: killed outright, or (`graceful`) shut down as on
    /// SIGTERM, closing its websockets with 1001 first.
    NodeDown {
        /// The node.
        node: NodeId,
        /// Shut down rather than killed.
        graceful: bool,
    },
    /// A node's process starts (again).
    NodeUp {
        /// The node.
        node: NodeId,
    },
    /// An operator acts through the controller.
    Operator(OperatorRequest),
}

impl Action {
    /// Actions that end something run before those that begin something at the same
    /// instant, so back-to-back faults never overlap for a tick.
    fn is_heal(&self) -> bool {
        matches!(
            self,
            Action::Toggle(Edge::End)
                | Action::NodeUp { .. }
                | Action::Operator(OperatorRequest::Enable(_))
        )
    }
}

/// An action, when it happens and which fault it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    /// Run milliseconds.
    pub at_ms: u64,
    /// The fault's index in the scenario.
    pub fault: usize,
    /// What happens.
    pub action: Action,
}

/// Every action of the scenario's faults, in the order the world applies them: by
/// instant, heals first, then by fault index, then in each fault's own order.
pub fn expand(scenario: &Scenario) -> Vec<Timed> {
    let mut timeline: Vec<Timed> = scenario
        .faults
        .iter()
        .flat_map(|fault| fault_actions(fault, scenario.duration_ms))
        .collect();
    // A stable sort keeps each fault's own order among its simultaneous actions.
    timeline.sort_by_key(|timed| (timed.at_ms, !timed.action.is_heal(), timed.fault));
    timeline
}

/// Nodes whose host must not run at the start (they join later), with the index of
/// the fault that joins each.
pub fn absent_at_start(scenario: &Scenario) -> Vec<(usize, NodeId)> {
    scenario
        .faults
        .iter()
        .filter_map(|fault| match &fault.kind {
            FaultKind::NodeJoin { spec } => Some((fault.index, spec.name.clone())),
            _ => None,
        })
        .collect()
}

/// `run_ms` ends the faults that last to the end of the run.
fn fault_actions(fault: &Fault, run_ms: u64) -> Vec<Timed> {
    let at = |at_ms: u64, action: Action| Timed {
        at_ms,
        fault: fault.index,
        action,
    };
    let mut actions = Vec::new();
    match &fault.kind {
        FaultKind::NodeKill { node } => {
            actions.push(at(fault.at_ms, down(node, false)));
            actions.extend(fault.until_ms.map(|until| at(until, up(node))));
        }
        FaultKind::NodeRestart { node } => {
            actions.push(at(fault.at_ms, down(node, true)));
            actions.extend(fault.until_ms.map(|until| at(until, up(node))));
        }
        FaultKind::RegionOutage { nodes, .. } => {
            actions.extend(nodes.iter().map(|node| at(fault.at_ms, down(node, false))));
            if let Some(until) = fault.until_ms {
                actions.extend(nodes.iter().map(|node| at(until, up(node))));
            }
        }
        FaultKind::NodeFlapping {
            node,
            period_ms,
            down_ms,
        } => {
            let end_ms = fault.until_ms.unwrap_or(run_ms);
            for (down_at, up_at) in flapping(fault.at_ms, end_ms, *period_ms, *down_ms) {
                actions.push(at(down_at, down(node, false)));
                actions.push(at(up_at, up(node)));
            }
        }
        FaultKind::RollingRestart {
            nodes,
            every_ms,
            downtime_ms,
            ..
        } => {
            for (i, node) in nodes.iter().enumerate() {
                let offset_ms = every_ms.saturating_mul(u64::try_from(i).unwrap_or(u64::MAX));
                let down_at = fault.at_ms.saturating_add(offset_ms);
                actions.push(at(down_at, down(node, true)));
                actions.push(at(down_at.saturating_add(*downtime_ms), up(node)));
            }
        }
        FaultKind::NodeDrain { node } => {
            let drain = OperatorRequest::Drain(node.clone());
            actions.push(at(fault.at_ms, Action::Operator(drain)));
            if let Some(until) = fault.until_ms {
                let enable = OperatorRequest::Enable(node.clone());
                actions.push(at(until, Action::Operator(enable)));
            }
        }
        FaultKind::NodeJoin { spec } => {
            // The node starts first; the operator adds it once it can answer a probe.
            actions.push(at(fault.at_ms, up(&spec.name)));
            let join = OperatorRequest::Join(spec.clone());
            actions.push(at(fault.at_ms, Action::Operator(join)));
        }
        FaultKind::NodeLeave { node } => {
            let leave = OperatorRequest::Leave(node.clone());
            actions.push(at(fault.at_ms, Action::Operator(leave)));
        }
        FaultKind::Partition { .. }
        | FaultKind::Latency { .. }
        | FaultKind::MessageLoss { .. }
        | FaultKind::NodeSlow { .. }
        | FaultKind::ShardStall { .. }
        | FaultKind::ShardKill { .. }
        | FaultKind::RedisOutage
        | FaultKind::WebhookOutage { .. }
        | FaultKind::ControllerCrash => {
            actions.push(at(fault.at_ms, Action::Toggle(Edge::Start)));
            actions.extend(
                fault
                    .until_ms
                    .map(|until| at(until, Action::Toggle(Edge::End))),
            );
        }
    }
    actions
}

fn down(node: &NodeId, graceful: bool) -> Action {
    Action::NodeDown {
        node: node.clone(),
        graceful,
    }
}

fn up(node: &NodeId) -> Action {
    Action::NodeUp { node: node.clone() }
}

/// The (down, up) instants of a flapping node: a cycle every `period_ms` from `at_ms`
/// until `end_ms` (the fault's end, or the run's), which cuts the last down phase short.
fn flapping(at_ms: u64, end_ms: u64, period_ms: u64, down_ms: u64) -> Vec<(u64, u64)> {
    assert!(
        period_ms > down_ms && down_ms > 0,
        "validated: 0 < down < period"
    );
    (at_ms..end_ms)
        .step_by(usize::try_from(period_ms).unwrap_or(usize::MAX))
        .map(|down_at| (down_at, down_at.saturating_add(down_ms).min(end_ms)))
        .collect()
}

#[cfg(test)]
pub(in crate::world) mod tests {
    use super::*;

    /// Repeated and operator faults, shared with the incidents' tests.
    pub(in crate::world) const SCENARIO: &str = r#"name = "timeline"
description = "Repeated and operator faults."
duration = "5m"
[topology]
[[topology.regions]]
name = "eu"
priority = 10
[[topology.nodes]]
name = "eu-1"
region = "eu"
capacity = 10
[[topology.nodes]]
name = "eu-2"
region = "eu"
capacity = 10
[[topology.plans]]
name = "free"
regions = ["eu"]
[workload]
guilds = 4
[shards]
count = 1
processes = 1
heartbeat_interval = "2s"
[[faults]]
at = "1m"
kind = "rolling_restart"
region = "eu"
every = "30s"
downtime = "30s"
[[faults]]
at = "10s"
kind = "node_join"
node = "eu-3"
region = "eu"
capacity = 10
[[faults]]
at = "1m30s"
kind = "node_drain"
node = "eu-3"
duration = "1m"
"#;

    fn short(timed: &Timed) -> (u64, usize, String) {
        let what = match &timed.action {
            Action::NodeDown { node, graceful } => format!("down {node} graceful={graceful}"),
            Action::NodeUp { node } => format!("up {node}"),
            Action::Operator(request) => request.to_string(),
            Action::Toggle(edge) => format!("{edge:?}"),
        };
        (timed.at_ms, timed.fault, what)
    }

    #[test]
    fn repeated_faults_expand_in_order_with_heals_first() {
        let scenario = crate::scenario::parse("timeline.toml", SCENARIO).expect("valid");
        let timeline: Vec<_> = expand(&scenario).iter().map(short).collect();
        let expected = [
            (10_000, 1, "up eu-3"),
            (10_000, 1, "join eu-3"),
            (60_000, 0, "down eu-1 graceful=true"),
            // eu-1 is back at the instant eu-2 goes: the heal comes first.
            (90_000, 0, "up eu-1"),
            (90_000, 0, "down eu-2 graceful=true"),
            (90_000, 2, "drain eu-3"),
            // eu-3 joined before the restart began, so it restarts too.
            (120_000, 0, "up eu-2"),
            (120_000, 0, "down eu-3 graceful=true"),
            (150_000, 0, "up eu-3"),
            (150_000, 2, "enable eu-3"),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(at, fault, what)| (*at, *fault, what.to_string()))
            .collect();
        assert_eq!(timeline, expected);
        assert_eq!(absent_at_start(&scenario), vec![(1, NodeId::new("eu-3"))]);
    }

    #[test]
    fn flapping_cycles_until_the_fault_heals() {
        let phases = flapping(1_000, 5_000, 2_000, 500);
        assert_eq!(
            phases,
            vec![(1_000, 1_500), (3_000, 3_500)],
            "a down phase every period, each down for `down`"
        );
    }

    #[test]
    fn the_fault_end_cuts_the_last_down_phase_short() {
        let phases = flapping(0, 1_200, 1_000, 600);
        assert_eq!(phases, vec![(0, 600), (1_000, 1_200)]);
    }
}
