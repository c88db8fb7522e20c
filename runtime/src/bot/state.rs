//! What a bot process believes, shared with its owner and the simulation's oracle, and
//! the events it reports.
//!
//! The bot's loop is the only writer, and it writes only when a belief changes (never
//! per `playerUpdate`), so reading is cheap and the view is never behind the loop by
//! more than the step in progress.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};

use super::sessions::TrackEndReason;

/// Whether the bot acts for a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardStatus {
    /// Configured or granted, not yet confirmed by an accepted heartbeat.
    Claimed,
    /// A heartbeat under this epoch was accepted.
    Owned,
    /// No heartbeat was accepted within the shard lease: the bot stopped acting for the
    /// shard on its own (a spare may hold it by now) and acts again only once a heartbeat
    /// under this epoch is accepted.
    Lapsed,
    /// A heartbeat or snapshot write was refused: another process holds the shard.
    Fenced {
        /// The owner named by the standing lease.
        owner: ProcessId,
        /// Its epoch.
        epoch: u64,
    },
}

/// One shard as the bot sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardView {
    /// The epoch the bot holds.
    pub epoch: u64,
    /// Whether it acts for the shard.
    pub status: ShardStatus,
}

impl ShardView {
    /// Whether the bot acts for the shard (claimed or confirmed; neither lapsed nor
    /// fenced).
    pub fn is_acting(&self) -> bool {
        matches!(self.status, ShardStatus::Claimed | ShardStatus::Owned)
    }
}

/// Where a guild's player is, as the bot believes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerStatus {
    /// Waiting for the controller's placement.
    Placing,
    /// The controller has no node for it now; the bot asks again every
    /// `placement_retry_interval` until it gets one or the guild stops.
    Degraded,
    /// Waiting to be (re)created on `node` (no session there yet, or a retry is due).
    Pending,
    /// A create request is in flight.
    Creating,
    /// Playing in one of the bot's sessions.
    Live,
    /// Its session closed, destroying it; the bot waits for a move or the node's return.
    Lost,
}

/// One guild's player, as the bot believes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerView {
    /// The node it is (or will be) on.
    pub node: Option<NodeId>,
    /// The bot's session holding it, once created.
    pub session_id: Option<String>,
    /// Its state.
    pub status: PlayerStatus,
}

/// Everything the bot believes, at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotView {
    /// The process.
    pub process: ProcessId,
    /// Shards it claimed, owns or was fenced from.
    pub shards: BTreeMap<ShardId, ShardView>,
    /// Whether its shard work is stalled (no heartbeats).
    pub stalled: bool,
    /// Its players.
    pub players: BTreeMap<GuildId, PlayerView>,
    /// Its open Lavalink session per node.
    pub sessions: BTreeMap<NodeId, String>,
    /// Whether it found the end of the move stream and acts on new entries.
    pub following_moves: bool,
}

/// A cheap, shared handle on a bot's beliefs: ground truth for the simulation's oracle.
#[derive(Debug, Clone)]
pub struct BotState {
    view: Arc<Mutex<BotView>>,
}

impl BotState {
    pub(crate) fn new(process: ProcessId) -> Self {
        Self {
            view: Arc::new(Mutex::new(BotView {
                process,
                shards: BTreeMap::new(),
                stalled: false,
                players: BTreeMap::new(),
                sessions: BTreeMap::new(),
                following_moves: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BotView> {
        // Writers never panic while holding the lock with a half-made change, so a
        // poisoned view is still a consistent one.
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut BotView)) {
        change(&mut self.lock());
    }

    /// A copy of everything.
    pub fn view(&self) -> BotView {
        self.lock().clone()
    }

    /// Shards it acts for, with the epoch it holds (claimed or confirmed; neither lapsed
    /// nor fenced).
    pub fn owned_shards(&self) -> BTreeMap<ShardId, u64> {
        self.lock()
            .shards
            .iter()
            .filter(|(_, shard)| shard.is_acting())
            .map(|(id, shard)| (*id, shard.epoch))
            .collect()
    }

    /// One shard's state.
    pub fn shard(&self, shard: ShardId) -> Option<ShardView> {
        self.lock().shards.get(&shard).cloned()
    }

    /// Whether its shard work is stalled.
    pub fn is_stalled(&self) -> bool {
        self.lock().stalled
    }

    pub(crate) fn set_stalled(&self, stalled: bool) {
        self.lock().stalled = stalled;
    }

    /// The node each of its guilds' players is on (or headed to).
    pub fn player_nodes(&self) -> BTreeMap<GuildId, NodeId> {
        self.lock()
            .players
            .iter()
            .filter_map(|(guild, player)| Some((*guild, player.node.clone()?)))
            .collect()
    }

    /// One guild's player.
    pub fn player(&self, guild: GuildId) -> Option<PlayerView> {
        self.lock().players.get(&guild).cloned()
    }

    /// Whether it acts on new move announcements (it found the stream's end).
    pub fn is_following_moves(&self) -> bool {
        self.lock().following_moves
    }

    /// Its open Lavalink session per node.
    pub fn session_ids(&self) -> BTreeMap<NodeId, String> {
        self.lock().sessions.clone()
    }
}

/// Something the bot did or learned, for its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum BotEvent {
    /// A session opened (and is being registered).
    SessionReady {
        /// The node.
        node: NodeId,
        /// The session.
        session_id: String,
    },
    /// A session closed; the listed guilds' players died with it.
    SessionClosed {
        /// The node.
        node: NodeId,
        /// The session.
        session_id: String,
        /// Guilds whose players were lost.
        lost: Vec<GuildId>,
    },
    /// A player was created (or re-created) in one of the bot's sessions.
    PlayerCreated {
        /// The guild.
        guild: GuildId,
        /// The node.
        node: NodeId,
    },
    /// A (re)creation failed; the guild waits for a retry, a move or a stop.
    PlayerCreateFailed {
        /// The guild.
        guild: GuildId,
        /// The node.
        node: NodeId,
        /// What went wrong.
        reason: String,
    },
    /// A position report from the node the player is on.
    PlayerUpdated {
        /// The guild.
        guild: GuildId,
        /// The node.
        node: NodeId,
        /// The position.
        position_ms: u64,
    },
    /// A track ended on the player's node.
    TrackEnded {
        /// The guild.
        guild: GuildId,
        /// Why.
        reason: TrackEndReason,
    },
    /// The bot followed a move announced by the controller.
    PlayerMoved {
        /// The guild.
        guild: GuildId,
        /// Where the bot believed it was.
        from: Option<NodeId>,
        /// Where it is now.
        to: NodeId,
    },
    /// A guild stopped playing at the owner's request.
    PlayerStopped {
        /// The guild.
        guild: GuildId,
    },
    /// An accepted heartbeat confirmed a shard.
    ShardOwned {
        /// The shard.
        shard: ShardId,
        /// The epoch.
        epoch: u64,
    },
    /// A hot spare took over a shard its lease now names.
    ShardAdopted {
        /// The shard.
        shard: ShardId,
        /// The epoch.
        epoch: u64,
    },
    /// No heartbeat for a shard was accepted within the shard lease: the bot stopped
    /// acting for it.
    ShardLapsed {
        /// The shard.
        shard: ShardId,
        /// The epoch it still holds.
        epoch: u64,
    },
    /// A heartbeat for a lapsed shard was accepted: the bot acts for it again.
    ShardResumed {
        /// The shard.
        shard: ShardId,
        /// The epoch.
        epoch: u64,
    },
    /// The bot learned it is fenced for a shard and stopped acting for it.
    ShardFenced {
        /// The shard.
        shard: ShardId,
        /// The lease's owner.
        owner: ProcessId,
        /// The lease's epoch.
        epoch: u64,
    },
}
