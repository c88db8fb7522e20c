//! Incidents: what each fault interrupted and how fast the world recovered.
//!
//! Most faults strike once, at their `at`. A fault that strikes again and again (each
//! node of a rolling restart, each down phase of a flapping node) gets one incident per
//! strike, so the last node a rolling restart stops is held to the same RTO as the
//! first, rather than falling outside the first strike's attribution window.

use serde::Serialize;
use switchyard_core::command::Command;
use switchyard_core::ids::NodeId;
use switchyard_core::time::Millis;

use super::faults::timeline::{self, Action};
use super::oracle::{Oracle, Recovery};
use crate::scenario::{FaultKind, Scenario};

/// Guilds whose service breaks within this long of a fault's injection count as
/// interrupted by it (detection, moves and voice handshakes all fall well inside).
pub const ATTRIBUTION_WINDOW_MS: u64 = 60_000;

/// One incident's recovery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// The fault's index in the scenario.
    pub fault: usize,
    /// Its kind.
    pub kind: String,
    /// The node this strike of a repeated fault stopped (a rolling restart's node, a
    /// flapping node's down phase); absent for faults that strike once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// When it was injected.
    pub at_ms: u64,
    /// From injection until every guild it interrupted was served again; `None` when
    /// one never was.
    pub rto_ms: Option<u64>,
    /// Guilds it interrupted, when the first and the last were served again, and which
    /// guild was last.
    pub recovery: Recovery,
    /// The controller's first reaction in the incident's window (an alert, a move or a
    /// shard promotion), from its command trace.
    pub detected_at_ms: Option<u64>,
    /// Moves the controller ordered in the incident's window.
    pub players_moved: u64,
}

/// One strike of a fault: when, and the node it stopped if it is one of several.
#[derive(Debug, Clone, PartialEq)]
struct Strike {
    fault: usize,
    at_ms: u64,
    node: Option<NodeId>,
}

/// Every strike of the scenario's faults, in time order.
fn strikes(scenario: &Scenario) -> Vec<Strike> {
    let repeated = |fault: usize| {
        scenario.faults.get(fault).is_some_and(|fault| {
            matches!(
                fault.kind,
                FaultKind::RollingRestart { .. } | FaultKind::NodeFlapping { .. }
            )
        })
    };
    let mut strikes: Vec<Strike> = scenario
        .faults
        .iter()
        .filter(|fault| !repeated(fault.index))
        .map(|fault| Strike {
            fault: fault.index,
            at_ms: fault.at_ms,
            node: None,
        })
        .collect();
    strikes.extend(
        timeline::expand(scenario)
            .into_iter()
            .filter(|timed| repeated(timed.fault))
            .filter_map(|timed| match timed.action {
                Action::NodeDown { node, .. } => Some(Strike {
                    fault: timed.fault,
                    at_ms: timed.at_ms,
                    node: Some(node),
                }),
                _ => None,
            }),
    );
    strikes.sort_by_key(|strike| (strike.at_ms, strike.fault));
    strikes
}

/// The incidents of a finished run, from the oracle's outages and the controller's
/// command trace. A strike's window ends at the next strike or after
/// [`ATTRIBUTION_WINDOW_MS`], whichever comes first.
pub fn incidents(
    scenario: &Scenario,
    oracle: &Oracle,
    trace: &[(Millis, Command)],
) -> Vec<Incident> {
    let strikes = strikes(scenario);
    strikes
        .iter()
        .map(|strike| {
            let next_strike = strikes
                .iter()
                .map(|s| s.at_ms)
                .filter(|at| *at > strike.at_ms)
                .min()
                .unwrap_or(u64::MAX);
            let window_end = next_strike.min(strike.at_ms + ATTRIBUTION_WINDOW_MS);
            let recovery = oracle.recovery(strike.at_ms, window_end, scenario.duration_ms);
            let in_window: Vec<&(Millis, Command)> = trace
                .iter()
                .filter(|(at, _)| (strike.at_ms..window_end).contains(&at.as_ms()))
                .collect();
            let detected_at_ms = in_window
                .iter()
                .find(|(_, command)| is_reaction(command))
                .map(|(at, _)| at.as_ms());
            let players_moved = in_window
                .iter()
                .filter(|(_, command)| matches!(command, Command::MovePlayer(_)))
                .count() as u64;
            Incident {
                fault: strike.fault,
                kind: scenario
                    .faults
                    .get(strike.fault)
                    .map(|fault| fault.kind.name().to_owned())
                    .unwrap_or_default(),
                node: strike.node.clone(),
                at_ms: strike.at_ms,
                rto_ms: recovery.rto_ms,
                recovery,
                detected_at_ms,
                players_moved,
            }
        })
        .collect()
}

/// Whether a command shows the controller reacting to a fault.
fn is_reaction(command: &Command) -> bool {
    match command {
        Command::Alert(notice) => notice.action == switchyard_core::alerts::AlertAction::Trigger,
        Command::MovePlayer(_) | Command::PromoteShard(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::faults::timeline::tests::SCENARIO;

    #[test]
    fn a_rolling_restart_strikes_once_per_node_and_other_faults_once() {
        let scenario = crate::scenario::parse("timeline.toml", SCENARIO).expect("valid");
        let strikes = strikes(&scenario);
        let found: Vec<(usize, u64, Option<&str>)> = strikes
            .iter()
            .map(|s| (s.fault, s.at_ms, s.node.as_ref().map(NodeId::as_str)))
            .collect();
        // Fault 0 restarts the region (eu-3 joined by fault 1 included), fault 1 joins
        // eu-3, fault 2 drains it.
        assert_eq!(
            found,
            [
                (1, 10_000, None),
                (0, 60_000, Some("eu-1")),
                (0, 90_000, Some("eu-2")),
                (2, 90_000, None),
                (0, 120_000, Some("eu-3")),
            ]
        );
    }
}
