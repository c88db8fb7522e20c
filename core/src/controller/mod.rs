//! The controller: the core's single entry point.
//!
//! Methods fall into four groups, as in quinn-proto: getters, `handle_*` (feed an input
//! that carries `now`), operator mutators (`drain_node`, `fail_over_region`, ...) and
//! `poll_*` (drain commands, ask for the next deadline).

mod adoption;
mod failover;
mod nodes;
mod players;
mod restoration;
mod sabotage;
mod views;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use thiserror::Error;

use crate::alerts::AlertBook;
use crate::command::Command;
use crate::config::{ConfigError, ControllerConfig};
use crate::history::History;
use crate::ids::{GuildId, NodeId, PlanId, ProcessId, RegionId, ShardId};
use crate::shards::{ShardOutputs, ShardSupervisor};
use crate::time::{Millis, earliest};
use crate::topology::{NodeIdx, StaticTopology, TopologySpec};

pub use adoption::PlayerAdoption;
pub use nodes::NodeHold;
pub use players::PlaybackRequest;
#[doc(hidden)]
pub use sabotage::Sabotage;
pub use views::{ActiveAlert, PlayerPlacement, PlayerView};

use failover::MoveBook;
use nodes::NodeEntry;
use players::Player;

/// An input the core cannot act on: it names something the core does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InputError {
    /// No node by that name.
    #[error("unknown node `{0}`")]
    UnknownNode(NodeId),
    /// No region by that name.
    #[error("unknown region `{0}`")]
    UnknownRegion(RegionId),
    /// No plan by that name.
    #[error("unknown plan `{0}`")]
    UnknownPlan(PlanId),
    /// The shard number is not below the shard count.
    #[error("shard {shard} is out of range (the bot runs {count} shards)")]
    UnknownShard {
        /// The shard named.
        shard: ShardId,
        /// How many shards there are.
        count: u32,
    },
    /// A node of that name already exists.
    #[error("node `{0}` already exists")]
    DuplicateNode(NodeId),
    /// Only a node that is leaving can be forgotten.
    #[error("node `{0}` is not leaving")]
    NodeNotLeaving(NodeId),
    /// A leaving node is forgotten only once no player is on it or moving off it.
    #[error("node `{0}` still hosts players")]
    NodeStillHosts(NodeId),
    /// A node joining at run time has an invalid description.
    #[error(transparent)]
    InvalidNode(#[from] ConfigError),
}

/// The failover controller. See the crate documentation for its contract.
#[derive(Debug, Clone)]
pub struct Controller {
    config: ControllerConfig,
    topology: StaticTopology,
    /// Nodes in the order they joined; a removed node stays as a tombstone so indices hold.
    nodes: Vec<NodeEntry>,
    node_index: BTreeMap<NodeId, NodeIdx>,
    /// Live nodes of each region, by region index.
    region_nodes: Vec<Vec<NodeIdx>>,
    /// Regions an operator failed over.
    evacuated_regions: Vec<bool>,
    /// Shared copy-on-write with the views published from it (`Clone` is how a driver
    /// publishes one): copying a view costs a pointer until the next change to a player.
    players: Arc<BTreeMap<GuildId, Player>>,
    degraded: BTreeSet<GuildId>,
    degraded_retry_at: Option<Millis>,
    moves: MoveBook,
    shards: ShardSupervisor,
    alerts: AlertBook,
    history: History,
    fail_open: bool,
    commands: VecDeque<Command>,
    /// The latest `now` any input carried, for views that depend on time.
    now: Millis,
    /// Something that region, capacity or residency alerts derive from changed.
    derived_dirty: bool,
    /// A deliberately broken policy, set only by the oracle's tests.
    sabotage: Option<Sabotage>,
}

impl Controller {
    /// Builds a controller for a topology; every node starts `Unknown` and is probed at
    /// once. Fails with the first invalid field of the configuration or topology.
    pub fn new(
        now: Millis,
        config: ControllerConfig,
        topology: &TopologySpec,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let compiled = StaticTopology::compile(topology)?;
        let region_count = compiled.regions.len();
        let alerts = AlertBook::new(&config.alerts);
        let mut controller = Controller {
            config,
            region_nodes: vec![Vec::new(); compiled.regions.len()],
            shards: ShardSupervisor::new(compiled.shard_count),
            topology: compiled,
            nodes: Vec::new(),
            node_index: BTreeMap::new(),
            evacuated_regions: vec![false; region_count],
            players: Arc::default(),
            degraded: BTreeSet::new(),
            degraded_retry_at: None,
            moves: MoveBook::default(),
            alerts,
            history: History::default(),
            fail_open: false,
            commands: VecDeque::new(),
            now,
            derived_dirty: true,
            sabotage: None,
        };
        for (i, spec) in topology.nodes.iter().enumerate() {
            controller
                .insert_node(now, &format!("nodes[{i}]"), spec)
                .map_err(|error| match error {
                    InputError::InvalidNode(error) => error,
                    other => ConfigError::new(format!("nodes[{i}].name"), other.to_string()),
                })?;
        }
        Ok(controller)
    }

    /// The configuration in force.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// Whether the controller suspects it is cut off and froze mass moves.
    pub fn is_fail_open(&self) -> bool {
        self.fail_open
    }

    /// The next command for the shell, oldest first; drain until `None` after every input.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next instant at which [`Controller::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let nodes = self
            .nodes
            .iter()
            .filter(|n| !n.gone)
            .filter_map(|n| earliest(n.next_timer(), n.restoration_timer()))
            .min();
        let mut next = earliest(nodes, self.moves.next_deadline());
        next = earliest(next, self.shards.poll_timeout(&self.config.shards));
        next = earliest(next, self.alerts.poll_timeout());
        earliest(next, self.degraded_retry_at)
    }

    /// Runs whatever is due at `now`. A spurious or early call does nothing harmful.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.expire_probes(now);
        self.send_due_probes(now);
        self.expire_moves(now);
        self.advance_restorations(now);
        let mut out = ShardOutputs {
            commands: &mut self.commands,
            alerts: &mut self.alerts,
        };
        self.shards
            .handle_timeout(now, &self.config.shards, &mut out);
        if self.degraded_retry_at.is_some_and(|t| t <= now) {
            self.degraded_retry_at = None;
            self.retry_degraded(now);
        }
        self.alerts.handle_timeout(now);
        self.settle(now);
    }

    /// Records a shard heartbeat; a stale owner's heartbeat gets it fenced.
    pub fn handle_shard_heartbeat(
        &mut self,
        now: Millis,
        heartbeat: &crate::shards::ShardHeartbeat,
    ) -> Result<(), InputError> {
        let mut out = ShardOutputs {
            commands: &mut self.commands,
            alerts: &mut self.alerts,
        };
        if !self
            .shards
            .handle_heartbeat(now, heartbeat, &self.config.shards, &mut out)
        {
            return Err(InputError::UnknownShard {
                shard: heartbeat.shard,
                count: self.shards.shard_count(),
            });
        }
        self.settle(now);
        Ok(())
    }

    /// A bot process offers itself as a hot spare, optionally naming its region.
    pub fn handle_spare_registered(
        &mut self,
        now: Millis,
        process: ProcessId,
        region: Option<RegionId>,
    ) -> Result<(), InputError> {
        if let Some(region) = &region {
            self.region_idx(region)?;
        }
        let mut out = ShardOutputs {
            commands: &mut self.commands,
            alerts: &mut self.alerts,
        };
        self.shards
            .handle_spare_registered(now, process, region, &self.config.shards, &mut out);
        self.settle(now);
        Ok(())
    }

    /// A hot spare went away.
    pub fn handle_spare_withdrawn(&mut self, now: Millis, process: &ProcessId) {
        self.shards.handle_spare_withdrawn(process);
        self.settle(now);
    }

    /// Ends every input: turns alert changes into notices and re-arms derived alerts.
    fn settle(&mut self, now: Millis) {
        self.now = self.now.max(now);
        if self.derived_dirty {
            self.derived_dirty = false;
            self.update_region_alerts(now);
        }
        let commands = &mut self.commands;
        self.alerts.reconcile(now, &mut |notice| {
            commands.push_back(Command::Alert(notice))
        });
    }

    fn node(&self, idx: NodeIdx) -> &NodeEntry {
        &self.nodes[idx.0 as usize]
    }

    fn node_mut(&mut self, idx: NodeIdx) -> &mut NodeEntry {
        &mut self.nodes[idx.0 as usize]
    }

    fn node_idx(&self, id: &NodeId) -> Result<NodeIdx, InputError> {
        self.node_index
            .get(id)
            .copied()
            .ok_or_else(|| InputError::UnknownNode(id.clone()))
    }

    fn region_idx(&self, id: &RegionId) -> Result<crate::topology::RegionIdx, InputError> {
        self.topology
            .region(id)
            .ok_or_else(|| InputError::UnknownRegion(id.clone()))
    }
}
