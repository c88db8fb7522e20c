//! Nodes joining and leaving while the controller runs.
//!
//! A node that joins is probed at once, but the core gives it no players until every
//! live bot process (a shard owner or a registered hot spare) has registered a Lavalink
//! session on it: a player is created through a session, so a guild placed there
//! earlier could not play. Only an acting controller admits, after a poll that shows the
//! last session, and not before `node_admission_grace` has passed since it began to act:
//! hot spares register with the acting controller alone, so a standby, or a leader that
//! just took over, does not know them all yet.
//!
//! A node that leaves takes no players from then on and its players move away. The
//! core keeps it (and the driver its client) until an acting controller sees it empty:
//! a standby, or a leader that stands down mid-move, must still know the node when it
//! adopts the players left on it. Then it is forgotten and its health key deleted.

use std::collections::{BTreeMap, BTreeSet};

use switchyard_core::ids::{NodeId, ProcessId};
use switchyard_core::time::Millis;
use switchyard_core::topology::NodeSpec;
use switchyard_core::{InputError, NodeHold};
use thiserror::Error;

use super::Driver;
use crate::lavalink::{LavalinkClient, NodeEndpoint};
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::store_schema::SessionRegistration;

/// How often the players left on a leaving node are sent away again.
const LEAVING_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a node could not join or leave.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MembershipError {
    /// The core refused: a name in use (or still leaving), an unknown region or node, an
    /// invalid capacity.
    #[error(transparent)]
    Refused(#[from] InputError),
    /// The driver was built without a Lavalink client to copy the transport from.
    #[error("no Lavalink transport to reach node `{0}` with")]
    NoTransport(NodeId),
}

/// Bot processes that must hold a session on a node before it takes players, and which
/// of them do not yet.
fn missing_sessions(
    required: &BTreeSet<ProcessId>,
    sessions: &BTreeMap<ProcessId, BTreeMap<NodeId, SessionRegistration>>,
    node: &NodeId,
) -> BTreeSet<ProcessId> {
    required
        .iter()
        .filter(|process| {
            !sessions
                .get(*process)
                .is_some_and(|held| held.contains_key(node))
        })
        .cloned()
        .collect()
}

impl<H: HttpClient, S: Store> Driver<H, S> {
    /// Adds a node reached at `endpoint`, with a client like the others'. Refused, and
    /// nothing changes, when the core refuses it.
    pub(super) fn join_node_at(
        &mut self,
        now: Millis,
        spec: &NodeSpec,
        endpoint: NodeEndpoint,
    ) -> Result<(), MembershipError> {
        let client = self
            .client_template
            .as_ref()
            .ok_or_else(|| MembershipError::NoTransport(spec.name.clone()))?
            .for_node(endpoint);
        Ok(self.join_node(now, spec, Some(client))?)
    }

    /// Adds a node, with `client` (`None`: the driver was given its client at start).
    pub(super) fn join_node(
        &mut self,
        now: Millis,
        spec: &NodeSpec,
        client: Option<LavalinkClient<H>>,
    ) -> Result<(), InputError> {
        self.core.add_node(now, spec)?;
        // A node still leaving that joins again stays (with its new address, if any).
        self.leaving.remove(&spec.name);
        if let Some(client) = client {
            self.clients.insert(spec.name.clone(), client);
        }
        self.follow_configured_window(now, spec)?;
        if let Some(metrics) = &self.metrics {
            metrics.node_known(&spec.name, &spec.region);
        }
        // Admitted after a poll, not now: a driver that has not read the shards' heartbeats
        // yet would find no bot process to wait for.
        tracing::info!(node = %spec.name, region = %spec.region, "node joined");
        Ok(())
    }

    /// Opens or ends the maintenance window `spec`'s entry sets: the configuration's,
    /// like those of the nodes the driver started with. A node that joins again while
    /// leaving keeps an operator's drain or window.
    fn follow_configured_window(&mut self, now: Millis, spec: &NodeSpec) -> Result<(), InputError> {
        let node = &spec.name;
        let was_configured = self.configured_maintenance.contains(node);
        if spec.maintenance {
            self.configured_maintenance.insert(node.clone());
            self.core.set_maintenance(now, node, true)?;
        } else if was_configured {
            self.configured_maintenance.remove(node);
            let drained = self.core.node_health(node).is_some_and(|n| n.drained);
            self.core
                .set_node_hold(now, node, drained.then_some(NodeHold::Drained))?;
        }
        self.publish_operator_holds(false);
        Ok(())
    }

    /// Starts a node's departure: its players move away; it is forgotten once empty.
    pub(super) fn leave_node(&mut self, now: Millis, node: &NodeId) -> Result<(), InputError> {
        self.core.remove_node(now, node)?;
        self.joining_waits.remove(node);
        self.leaving.insert(node.clone());
        self.leaving_retry_at = Some(tokio::time::Instant::now() + LEAVING_RETRY_INTERVAL);
        tracing::info!(%node, "node leaving: its players move away");
        self.publish_operator_holds(false);
        Ok(())
    }

    /// Admits every joined node on which each live bot process holds a session.
    pub(super) fn admit_joined_nodes(&mut self, now: Millis) {
        if self
            .admission_from
            .is_none_or(|from| tokio::time::Instant::now() < from)
        {
            return;
        }
        let joining: Vec<NodeId> = self
            .core
            .nodes()
            .into_iter()
            .filter(|n| n.joining && !n.leaving)
            .map(|n| n.node)
            .collect();
        if joining.is_empty() {
            return;
        }
        let required = self.live_bot_processes();
        for node in joining {
            let missing = missing_sessions(&required, &self.sessions, &node);
            if missing.is_empty() {
                self.joining_waits.remove(&node);
                if let Err(error) = self.core.admit_node(now, &node) {
                    tracing::warn!(%node, %error, "cannot admit the node");
                    continue;
                }
                tracing::info!(%node, "node admitted: every bot process holds a session on it");
            } else if self.joining_waits.get(&node) != Some(&missing) {
                let waiting_for: Vec<&str> = missing.iter().map(ProcessId::as_str).collect();
                tracing::info!(
                    %node,
                    ?waiting_for,
                    "node joined; it takes players once these bot processes register a session on it"
                );
                self.joining_waits.insert(node, missing);
            }
        }
    }

    /// Processes whose players may be created or moved now: shard owners whose shard is
    /// not waiting for a spare, and registered hot spares.
    fn live_bot_processes(&self) -> BTreeSet<ProcessId> {
        let owners = self
            .core
            .shards()
            .into_iter()
            .filter(|shard| !shard.awaiting_spare)
            .filter_map(|shard| shard.owner);
        owners.chain(self.core.spares()).collect()
    }

    /// Forgets the leaving nodes no player is on or moving off, once this controller
    /// acts (its view of the players is then the whole one).
    pub(super) fn forget_departed_nodes(&mut self) {
        if self.leaving.is_empty() || !self.is_acting() {
            return;
        }
        let now = self.now();
        let leaving: Vec<NodeId> = self.leaving.iter().cloned().collect();
        let mut forgotten = false;
        let retry_due = self
            .leaving_retry_at
            .is_some_and(|at| at <= tokio::time::Instant::now());
        for node in leaving {
            match self.core.forget_node(now, &node) {
                Ok(()) => tracing::info!(%node, "node left: forgotten"),
                Err(InputError::NodeStillHosts(_)) => {
                    if retry_due {
                        self.send_away_again(now, &node);
                    }
                    continue;
                }
                Err(error) => tracing::warn!(%node, %error, "a leaving node was already gone"),
            }
            self.leaving.remove(&node);
            self.clients.remove(&node);
            self.configured_maintenance.remove(&node);
            self.writer.forget_health(node);
            forgotten = true;
        }
        if forgotten {
            self.publish_operator_holds(false);
        }
        if retry_due {
            self.leaving_retry_at = Some(tokio::time::Instant::now() + LEAVING_RETRY_INTERVAL);
        }
    }

    /// Moves away the players still on a leaving node: a move that landed there after
    /// it began to leave, or one that gave up, leaves them behind.
    fn send_away_again(&mut self, now: Millis, node: &NodeId) {
        // Players on it or heading to it; none while its last players are only moving off.
        let players = self.core.node_health(node).map_or(0, |n| n.players);
        if players == 0 {
            return;
        }
        tracing::warn!(
            %node,
            players,
            "a leaving node still hosts players; moving away those that can go"
        );
        if let Err(error) = self.core.remove_node(now, node) {
            tracing::warn!(%node, %error, "cannot move the players of a leaving node");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> SessionRegistration {
        SessionRegistration {
            session_id: "s".into(),
            user_id: 1,
            registered_at_ms: 0,
        }
    }

    #[test]
    fn a_node_waits_for_every_required_process_and_no_other() {
        let required: BTreeSet<ProcessId> = ["bot-a", "bot-b"].map(ProcessId::new).into();
        let mut sessions = BTreeMap::new();
        let eu3 = NodeId::new("eu-3");
        let on = |nodes: &[&str]| -> BTreeMap<NodeId, SessionRegistration> {
            nodes
                .iter()
                .map(|n| (NodeId::new(*n), registration()))
                .collect()
        };
        sessions.insert(ProcessId::new("bot-a"), on(&["eu-1", "eu-3"]));
        sessions.insert(ProcessId::new("bot-b"), on(&["eu-1"]));
        // A process that owns no shard and is no spare (a dead one's leftovers) is not
        // waited for, with or without a session.
        sessions.insert(ProcessId::new("bot-gone"), on(&["eu-1"]));
        assert_eq!(
            missing_sessions(&required, &sessions, &eu3),
            [ProcessId::new("bot-b")].into()
        );
        sessions.insert(ProcessId::new("bot-b"), on(&["eu-1", "eu-3"]));
        assert!(missing_sessions(&required, &sessions, &eu3).is_empty());
        assert!(
            missing_sessions(&BTreeSet::new(), &BTreeMap::new(), &eu3).is_empty(),
            "no bot process yet: nothing to wait for"
        );
    }
}
