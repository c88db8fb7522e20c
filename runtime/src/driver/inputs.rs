//! Inputs from outside the loop: placement requests from bots, operator actions, node
//! websocket signals. They arrive through a cloneable [`DriverHandle`].

use std::sync::Arc;

use switchyard_core::command::DegradedReason;
use switchyard_core::ids::{GuildId, NodeId, ProcessId, RegionId};
use switchyard_core::penalty::NodeStats;
use switchyard_core::topology::NodeSpec;
use switchyard_core::{Controller, InputError, PlaybackRequest, PlayerPlacement};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};

use super::{Driver, MembershipError};
use crate::lavalink::NodeEndpoint;
use crate::ports::http::HttpClient;
use crate::ports::store::Store;

/// Where a guild that asked for playback should play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementReply {
    /// Create (or keep) the player on this node.
    Node(NodeId),
    /// No node can take it now; it was reported degraded.
    Degraded(DegradedReason),
    /// The request named an unknown plan or region.
    Rejected(String),
    /// This controller stands by (or is still taking over): ask the leader.
    Standby,
}

/// An operator's action.
#[derive(Debug, Clone, PartialEq)]
pub enum OperatorAction {
    /// Move every player out of a region (pinned guilds stay).
    FailOverRegion(RegionId),
    /// End a manual region failover.
    RestoreRegion(RegionId),
    /// Drain a node.
    Drain(NodeId),
    /// Re-enable a drained node or end its maintenance.
    Enable(NodeId),
    /// Start a maintenance window.
    Maintenance(NodeId),
    /// A node leaves: its players move away, then it is forgotten.
    Remove(NodeId),
    /// A node joins (its client must already be known to the driver); it takes players
    /// once every bot process holds a session on it.
    Add(NodeSpec),
}

/// One input to the driver loop.
#[derive(Debug)]
pub enum DriverInput {
    /// A guild wants playback.
    Playback {
        /// The request.
        request: PlaybackRequest,
        /// Where the answer goes.
        reply: oneshot::Sender<PlacementReply>,
    },
    /// A guild stopped playback.
    PlaybackStopped(GuildId),
    /// A bot process offers itself as a hot spare.
    SpareRegistered {
        /// The process.
        process: ProcessId,
        /// Its region, when it has one.
        region: Option<RegionId>,
    },
    /// The controller's websocket to a node closed.
    NodeSocketClosed(NodeId),
    /// A node pushed `stats` over its websocket.
    NodeStats(NodeId, NodeStats),
    /// A node joined the configuration: it is probed, and takes players once every bot
    /// process holds a session on it. Every controller applies it, acting or standing by.
    NodeJoined {
        /// Its policy: region, priority, weight, capacity, maintenance.
        spec: NodeSpec,
        /// Where it is.
        endpoint: NodeEndpoint,
        /// Whether it was added.
        reply: oneshot::Sender<Result<(), MembershipError>>,
    },
    /// A node left the configuration: its players move away, then it is forgotten.
    /// Every controller applies it, acting or standing by.
    NodeLeft {
        /// The node.
        node: NodeId,
        /// Whether it was known.
        reply: oneshot::Sender<Result<(), MembershipError>>,
    },
    /// An operator action.
    Operator {
        /// The action.
        action: OperatorAction,
        /// Its outcome.
        reply: oneshot::Sender<Result<(), InputError>>,
    },
    /// Stop the loop.
    Shutdown,
}

/// The driver stopped and takes no more input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the controller loop has stopped")]
pub struct DriverGone;

/// Feeds a running driver. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<DriverInput>,
    view: watch::Receiver<Arc<Controller>>,
}

impl DriverHandle {
    pub(super) fn new(
        tx: mpsc::Sender<DriverInput>,
        view: watch::Receiver<Arc<Controller>>,
    ) -> Self {
        Self { tx, view }
    }

    /// Whether the driver loop still runs.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// The core's state after the driver's latest step (read-only).
    pub fn view(&self) -> Arc<Controller> {
        self.view.borrow().clone()
    }

    /// Sends an input.
    pub async fn send(&self, input: DriverInput) -> Result<(), DriverGone> {
        self.tx.send(input).await.map_err(|_| DriverGone)
    }

    /// Asks where a guild should play.
    pub async fn request_playback(
        &self,
        request: PlaybackRequest,
    ) -> Result<PlacementReply, DriverGone> {
        let (reply, answer) = oneshot::channel();
        self.send(DriverInput::Playback { request, reply }).await?;
        answer.await.map_err(|_| DriverGone)
    }

    /// Adds a node that joined the configuration.
    pub async fn join_node(
        &self,
        spec: NodeSpec,
        endpoint: NodeEndpoint,
    ) -> Result<Result<(), MembershipError>, DriverGone> {
        let (reply, answer) = oneshot::channel();
        let input = DriverInput::NodeJoined {
            spec,
            endpoint,
            reply,
        };
        self.send(input).await?;
        answer.await.map_err(|_| DriverGone)
    }

    /// Starts the departure of a node that left the configuration.
    pub async fn leave_node(
        &self,
        node: NodeId,
    ) -> Result<Result<(), MembershipError>, DriverGone> {
        let (reply, answer) = oneshot::channel();
        self.send(DriverInput::NodeLeft { node, reply }).await?;
        answer.await.map_err(|_| DriverGone)
    }

    /// Runs an operator action.
    pub async fn operate(
        &self,
        action: OperatorAction,
    ) -> Result<Result<(), InputError>, DriverGone> {
        let (reply, answer) = oneshot::channel();
        self.send(DriverInput::Operator { action, reply }).await?;
        answer.await.map_err(|_| DriverGone)
    }
}

impl<H: HttpClient, S: Store> Driver<H, S> {
    pub(super) fn accept(&mut self, input: DriverInput) {
        let now = self.now();
        // The configuration is every controller's: a standby follows it too.
        let input = match input {
            DriverInput::NodeJoined {
                spec,
                endpoint,
                reply,
            } => {
                let _ = reply.send(self.join_node_at(now, &spec, endpoint));
                return;
            }
            DriverInput::NodeLeft { node, reply } => {
                let _ = reply.send(self.leave_node(now, &node).map_err(Into::into));
                return;
            }
            input => input,
        };
        if !self.is_acting() {
            return self.refuse(input);
        }
        match input {
            DriverInput::Playback { request, reply } => {
                let guild = request.guild;
                let answer = match self.core.handle_playback_requested(now, &request) {
                    Err(error) => PlacementReply::Rejected(error.to_string()),
                    Ok(()) => self.placement_of(guild),
                };
                // A requester that gave up waiting is no loss.
                let _ = reply.send(answer);
            }
            DriverInput::PlaybackStopped(guild) => {
                self.core.handle_playback_stopped(now, guild);
                self.snapshots.remove(&guild);
                self.writer.route(guild, None);
                self.writer.guild(guild, None);
            }
            DriverInput::SpareRegistered { process, region } => {
                if let Err(error) = self.core.handle_spare_registered(now, process, region) {
                    tracing::warn!(%error, "spare registration refused");
                }
            }
            DriverInput::NodeSocketClosed(node) => {
                if let Err(error) = self.core.handle_node_socket_closed(now, &node) {
                    tracing::warn!(%error, "socket close for a node that left");
                }
            }
            DriverInput::NodeStats(node, stats) => {
                if let Err(error) = self.core.handle_node_stats(now, &node, stats) {
                    tracing::warn!(%error, "stats for a node that left");
                }
            }
            DriverInput::Operator { action, reply } => {
                let outcome = self.operate(now, action);
                if outcome.is_ok() {
                    self.publish_operator_holds(false);
                }
                let _ = reply.send(outcome);
            }
            // Membership was applied above; shutdown is the loop's.
            DriverInput::NodeJoined { .. }
            | DriverInput::NodeLeft { .. }
            | DriverInput::Shutdown => {}
        }
    }

    /// What a controller that does not act answers: bots and operators go to the
    /// leader; node signals still keep its view warm.
    fn refuse(&mut self, input: DriverInput) {
        let now = self.now();
        match input {
            DriverInput::Playback { reply, .. } => {
                let _ = reply.send(PlacementReply::Standby);
            }
            DriverInput::NodeSocketClosed(node) => {
                if let Err(error) = self.core.handle_node_socket_closed(now, &node) {
                    tracing::warn!(%error, "socket close for a node that left");
                }
            }
            DriverInput::NodeStats(node, stats) => {
                if let Err(error) = self.core.handle_node_stats(now, &node, stats) {
                    tracing::warn!(%error, "stats for a node that left");
                }
            }
            // Dropping the reply tells the operator the controller cannot act now.
            DriverInput::Operator { .. }
            | DriverInput::PlaybackStopped(_)
            | DriverInput::SpareRegistered { .. }
            | DriverInput::NodeJoined { .. }
            | DriverInput::NodeLeft { .. }
            | DriverInput::Shutdown => {}
        }
    }

    fn operate(
        &mut self,
        now: switchyard_core::time::Millis,
        action: OperatorAction,
    ) -> Result<(), InputError> {
        match action {
            OperatorAction::FailOverRegion(region) => self.core.fail_over_region(now, &region),
            OperatorAction::RestoreRegion(region) => self.core.restore_region(now, &region),
            OperatorAction::Drain(node) => self.core.drain_node(now, &node),
            OperatorAction::Enable(node) => self.core.enable_node(now, &node),
            OperatorAction::Maintenance(node) => self.core.set_maintenance(now, &node, true),
            OperatorAction::Remove(node) => self.leave_node(now, &node),
            OperatorAction::Add(spec) => self.join_node(now, &spec, None),
        }
    }

    /// Where the core placed a guild, after executing the commands its request caused.
    fn placement_of(&mut self, guild: GuildId) -> PlacementReply {
        self.execute_commands();
        match self.core.player(guild).map(|p| p.placement) {
            Some(PlayerPlacement::Serving { node })
            | Some(PlayerPlacement::Moving { to: node, .. }) => PlacementReply::Node(node),
            Some(PlayerPlacement::Degraded { reason }) => PlacementReply::Degraded(reason),
            None => PlacementReply::Degraded(DegradedReason::NoServingNode),
        }
    }
}
