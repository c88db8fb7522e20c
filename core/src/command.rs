//! What the core asks its shell to do. The core decides; the shell acts and reports back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alerts::AlertNotice;
use crate::health::NodeStatus;
use crate::history::FailoverRecord;
use crate::ids::{GuildId, IncidentId, MoveId, NodeId, ProcessId, RegionId, ShardId};
use crate::time::Millis;

/// One instruction to the shell, drained with [`crate::Controller::poll_command`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Probe a node now (`GET /version` and `/v4/stats`) and report the outcome with
    /// [`crate::Controller::handle_probe_ok`] or [`crate::Controller::handle_probe_failed`].
    Probe {
        /// The node to probe.
        node: NodeId,
    },
    /// A node's health changed: publish it (the `lavalink:health:<node>` key, the API).
    PublishNodeHealth(NodeHealthReport),
    /// Create the guild's player on this node; the bot should play there.
    AssignPlayer(Assignment),
    /// Re-create a player on another node and report the outcome with
    /// [`crate::Controller::handle_move_succeeded`] or
    /// [`crate::Controller::handle_move_failed`].
    MovePlayer(MoveOrder),
    /// The guild cannot be served right now; tell the bot and the operators why.
    ReportDegraded {
        /// The guild.
        guild: GuildId,
        /// Why it has no player.
        reason: DegradedReason,
    },
    /// Hand a shard to a new owner with a higher fencing epoch.
    PromoteShard(ShardPromotion),
    /// Tell a process that it no longer owns a shard: it must stop acting for it.
    FenceShardOwner {
        /// The shard.
        shard: ShardId,
        /// The stale owner.
        process: ProcessId,
        /// The shard's current epoch, which the stale owner's epoch is below.
        epoch: u64,
    },
    /// Trigger or resolve an alert.
    Alert(AlertNotice),
    /// Append to the audit stream.
    Audit(AuditEvent),
    /// A failover incident started, progressed or ended: record it.
    RecordFailover(FailoverRecord),
}

/// A node's health as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeHealthReport {
    /// The node.
    pub node: NodeId,
    /// Its region.
    pub region: RegionId,
    /// Health state.
    pub status: NodeStatus,
    /// Whether new players may go there (serving, not drained, not in maintenance).
    pub available: bool,
    /// Players the controller has assigned to it.
    pub players: u32,
    /// Players it is configured to hold.
    pub capacity: u32,
    /// Players it may take now (reduced during slow start after a recovery).
    pub usable_capacity: u32,
    /// Latest probe latency.
    pub latency_ms: Option<u64>,
    /// Whether it is being held down for flapping.
    pub flapping: bool,
    /// Whether an operator drained it.
    pub drained: bool,
    /// Whether it is in a maintenance window.
    pub maintenance: bool,
    /// Whether it joined at run time and is not admitted yet (it takes no players until
    /// every bot process holds a Lavalink session on it).
    #[serde(default)]
    pub joining: bool,
    /// Whether it is leaving: it takes no players and its players move away.
    #[serde(default)]
    pub leaving: bool,
    /// When this state began.
    pub since: Millis,
}

/// Where a guild's new player goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The guild.
    pub guild: GuildId,
    /// The node to create the player on.
    pub node: NodeId,
    /// The node's region.
    pub region: RegionId,
    /// The guild's effective home region after plan clamping.
    pub effective_region: RegionId,
    /// Whether the requested region was not allowed and was clamped.
    pub clamped: bool,
    /// Whether every allowed node was full and this one was filled past its capacity.
    pub over_capacity: bool,
}

/// Why a player is being moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveReason {
    /// Its node failed.
    NodeDown,
    /// An operator drained its node or put it in maintenance.
    Drain,
    /// An operator failed its region over.
    RegionEvacuation,
    /// It returns to the node it was displaced from.
    Restoration,
    /// A restoration was rolled back.
    Rollback,
    /// Its plan or residency no longer allows where it is.
    Policy,
    /// It had no player (degraded) and a node can take it again.
    Recovery,
}

/// A player move for the shell to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoveOrder {
    /// Identifies this move in the outcome report.
    pub id: MoveId,
    /// The guild whose player moves.
    pub guild: GuildId,
    /// Where it is now; `None` when it has no player anywhere.
    pub from: Option<NodeId>,
    /// Whether the old node is believed reachable, so the shell should `DELETE` the old
    /// player before creating the new one: a guild must never have two live players.
    pub delete_from: bool,
    /// The node to re-create it on.
    pub to: NodeId,
    /// Where playback resumes: the position when the fault was detected, extrapolated
    /// from the last report no further than the old node's last sign of life.
    pub position_ms: u64,
    /// Why.
    pub reason: MoveReason,
    /// The failover incident it belongs to.
    pub incident: IncidentId,
}

/// Why a guild that wants playback has no player.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DegradedReason {
    /// Its residency pin keeps it in a region with no serving node: it is not moved out.
    ResidencyPinned {
        /// The pinned region.
        region: RegionId,
    },
    /// No node in any region its plan allows is serving.
    NoServingNode,
    /// Moves kept failing.
    MovesFailed,
    /// The controller suspects it is cut off and froze moves (fail-open).
    ControllerIsolated,
}

/// A shard handed to a hot spare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardPromotion {
    /// The shard.
    pub shard: ShardId,
    /// The spare that now owns it.
    pub process: ProcessId,
    /// The new fencing epoch; every write for the shard must carry it.
    pub epoch: u64,
    /// The owner it replaces, which is now fenced.
    pub previous_owner: Option<ProcessId>,
}

/// An entry of the audit stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    pub at: Millis,
    /// What happened, in snake case (`shard_failover`, `node_marked_down`, ...).
    pub kind: String,
    /// Details as flat key/value pairs, in a stable order.
    pub fields: BTreeMap<String, String>,
}

impl AuditEvent {
    pub(crate) fn new(at: Millis, kind: &str) -> Self {
        Self {
            at,
            kind: kind.to_owned(),
            fields: BTreeMap::new(),
        }
    }

    pub(crate) fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.fields.insert(key.to_owned(), value.to_string());
        self
    }
}
