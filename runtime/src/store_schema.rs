//! The shared state's key names and JSON values: what the controller, the bots and the
//! control panel read and write in Redis.
//!
//! `docs/redis-schema.md` describes every key for operators and bot authors; this module
//! is its source of truth in code. Values are JSON so that bots in any language (the
//! reference bot is Python) can read them with no Rust in sight.

use std::fmt;

use serde::{Deserialize, Serialize};
use switchyard_core::command::NodeHealthReport;
use switchyard_core::ids::{GuildId, MoveId, NodeId, PlanId, ProcessId, RegionId, ShardId};

/// Key names. Functions build per-entity keys; constants are the singletons.
pub mod keys {
    use super::{GuildId, NodeId, ProcessId};

    /// Prefix of the per-node health keys (the reference runbook's name).
    pub const NODE_HEALTH_PREFIX: &str = "lavalink:health:";
    /// Hash: guild id (decimal) -> node name.
    pub const ROUTES: &str = "switchyard:routes";
    /// Prefix of the per-guild player snapshot keys.
    pub const PLAYER_PREFIX: &str = "switchyard:player:";
    /// Prefix of the per-process session hashes (node -> registration).
    pub const SESSIONS_PREFIX: &str = "switchyard:sessions:";
    /// Hash: shard number (decimal) -> [`super::ShardLease`] JSON.
    pub const SHARD_LEASES: &str = "switchyard:shards";
    /// Hash: shard number (decimal) -> [`super::ShardHeartbeat`] JSON.
    pub const HEARTBEATS: &str = "switchyard:heartbeats";
    /// Stream with one entry (field `guild`) per player snapshot written or deleted, so
    /// the controller reads only the snapshots that changed.
    pub const PLAYER_CHANGES: &str = "switchyard:player-changes";
    /// Stream of [`super::MoveAnnouncement`]s for the bots.
    pub const MOVES: &str = "switchyard:moves";
    /// Stream of audit events.
    pub const AUDIT: &str = "switchyard:audit";
    /// Stream of failover record versions.
    pub const FAILOVERS: &str = "switchyard:failovers";
    /// String: the leader's holder id, with a TTL.
    pub const LEADER: &str = "switchyard:leader";
    /// String (integer): the last leader fencing token handed out.
    pub const LEADER_TOKEN: &str = "switchyard:leader:token";
    /// Hash: guild id (decimal) -> [`super::GuildRecord`] JSON.
    pub const GUILDS: &str = "switchyard:guilds";
    /// String: every [`super::OperatorHold`] in force, as one JSON array.
    pub const OPERATOR: &str = "switchyard:operator";

    /// `lavalink:health:<node>`.
    pub fn node_health(node: &NodeId) -> String {
        format!("{NODE_HEALTH_PREFIX}{node}")
    }

    /// `switchyard:player:<guild>`.
    pub fn player(guild: GuildId) -> String {
        format!("{PLAYER_PREFIX}{guild}")
    }

    /// `switchyard:sessions:<process>`.
    pub fn sessions(process: &ProcessId) -> String {
        format!("{SESSIONS_PREFIX}{process}")
    }
}

/// Field names inside stream entries. Every entry carries the whole value as `json`;
/// the other fields only make `XRANGE` readable by a person. The exception is
/// [`keys::PLAYER_CHANGES`], whose entries are only a `guild`.
pub mod stream_fields {
    /// The entry's value as JSON.
    pub const JSON: &str = "json";
    /// The audit event's kind (`shard_failover`, ...).
    pub const KIND: &str = "kind";
    /// The guild a move concerns.
    pub const GUILD: &str = "guild";
    /// The failover incident's id.
    pub const INCIDENT: &str = "incident";
}

/// The value of `lavalink:health:<node>`: the core's report plus when it was written.
///
/// Flattened, so the runbook's readers find `status`, `available`, `players`, `region`
/// and `latency_ms` at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeHealthRecord {
    /// The core's view of the node.
    #[serde(flatten)]
    pub report: NodeHealthReport,
    /// When the controller wrote it, in the writer's clock (Unix milliseconds in
    /// production, simulated milliseconds in the simulation).
    pub updated_at_ms: u64,
}

/// Discord voice state, as Lavalink's player update takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceState {
    /// The voice token.
    pub token: String,
    /// The voice server endpoint.
    pub endpoint: String,
    /// The bot's voice session id.
    pub session_id: String,
    /// The voice channel, when the bot knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
}

/// The value of `switchyard:player:<guild>`: what a bot last knew about a player, enough
/// to re-create it elsewhere at the right position.
///
/// Written by the bot process that owns the guild's shard, fenced by its epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayerSnapshot {
    /// The guild.
    pub guild: GuildId,
    /// Its shard.
    pub shard: ShardId,
    /// The bot process that wrote it.
    pub owner: ProcessId,
    /// The writer's fencing epoch for the shard.
    pub epoch: u64,
    /// The node playing it.
    pub node: NodeId,
    /// The writer's Lavalink session id on that node.
    pub session_id: String,
    /// The encoded track, if one is loaded.
    #[serde(default)]
    pub track: Option<String>,
    /// Playback position at `position_at_ms`.
    pub position_ms: u64,
    /// When the position was read (writer's clock).
    pub position_at_ms: u64,
    /// Whether playback is paused.
    pub paused: bool,
    /// Volume, 0..=1000 (Lavalink's range).
    pub volume: u16,
    /// Lavalink filters, passed through as JSON.
    #[serde(default)]
    pub filters: serde_json::Value,
    /// Discord voice state.
    pub voice: VoiceState,
    /// When the snapshot was written (writer's clock).
    pub updated_at_ms: u64,
}

/// The value of `switchyard:guilds` (field: the guild id): what the leader knows of a
/// playing guild beyond the node it plays on, so that a controller taking over can adopt
/// the guild where it plays instead of placing it anew.
///
/// Written by the leader (behind the leader fence) whenever it places or moves a guild;
/// removed when the guild stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildRecord {
    /// The guild.
    pub guild: GuildId,
    /// Its plan.
    pub plan: PlanId,
    /// Its effective home region (the pin, when pinned).
    pub home_region: RegionId,
    /// Whether the home region is a data-residency pin.
    pub pinned: bool,
    /// The node failover displaced it from, to which restoration returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displaced_from: Option<NodeId>,
}

/// An operator's standing decision, kept by the leader in `switchyard:operator` so that
/// a controller taking over honours it: a drained node stays drained, a maintenance
/// window stays open and a failed-over region stays evacuated until an operator ends it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "hold", rename_all = "snake_case")]
pub enum OperatorHold {
    /// The node takes no players (`POST /api/nodes/{name}/drain`).
    Drained {
        /// The node.
        node: NodeId,
    },
    /// The node is in a maintenance window: drained, its alerts silenced.
    Maintenance {
        /// The node.
        node: NodeId,
    },
    /// An operator failed the region over (`POST /api/failover/{region}`); unpinned
    /// guilds play elsewhere until it is restored.
    RegionFailedOver {
        /// The region.
        region: RegionId,
    },
}

/// One entry of a process's session hash (`switchyard:sessions:<process>`, field node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRegistration {
    /// The Lavalink session id the bot process holds on the node.
    pub session_id: String,
    /// The bot's Discord user id.
    pub user_id: u64,
    /// When it registered (writer's clock).
    pub registered_at_ms: u64,
}

/// A shard lease: who owns the shard, with which fencing epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardLease {
    /// The shard.
    pub shard: ShardId,
    /// The owning bot process.
    pub owner: ProcessId,
    /// The fencing epoch; only ever grows for a shard.
    pub epoch: u64,
    /// When the controller granted it (controller's clock).
    pub granted_at_ms: u64,
}

/// A bot shard's latest accepted heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeartbeat {
    /// The shard.
    pub shard: ShardId,
    /// The process that sent it.
    pub owner: ProcessId,
    /// The epoch it claimed.
    pub epoch: u64,
    /// When it was sent (the bot's clock).
    pub at_ms: u64,
}

/// A move announced to the bots on `switchyard:moves`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveAnnouncement {
    /// The controller's id for the move.
    pub move_id: MoveId,
    /// The guild.
    pub guild: GuildId,
    /// The node it leaves, if it had one.
    pub from: Option<NodeId>,
    /// The node it now plays on.
    pub to: NodeId,
    /// The leader fencing token of the controller that made the move; a bot ignores
    /// announcements whose token is below the highest it has seen.
    pub leader_token: u64,
    /// When it was announced (controller's clock).
    pub at_ms: u64,
}

/// An entry id of a Redis stream (`1700000000000-0`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(pub String);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One decoded stream entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntry<T> {
    /// The entry's id.
    pub id: StreamId,
    /// Its value.
    pub value: T,
}

/// The controller's leader lease as read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    /// The controller instance holding it.
    pub holder: String,
    /// Its fencing token.
    pub token: u64,
    /// Time left before it lapses unless renewed.
    pub ttl_remaining_ms: u64,
}

#[cfg(test)]
mod tests {
    use switchyard_core::health::NodeStatus;
    use switchyard_core::ids::RegionId;
    use switchyard_core::time::Millis;

    use super::*;

    #[test]
    fn health_record_keeps_runbook_fields_at_top_level() {
        let record = NodeHealthRecord {
            report: NodeHealthReport {
                node: NodeId::new("us-1"),
                region: RegionId::new("us"),
                status: NodeStatus::Up,
                available: true,
                players: 12,
                capacity: 100,
                usable_capacity: 100,
                latency_ms: Some(7),
                flapping: false,
                drained: false,
                maintenance: false,
                joining: false,
                leaving: false,
                since: Millis(5),
            },
            updated_at_ms: 9,
        };
        let json: serde_json::Value =
            serde_json::to_value(&record).expect("a plain struct serialises");
        for field in ["status", "available", "players", "region", "latency_ms"] {
            assert!(json.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(json["status"], "up");
        let back: NodeHealthRecord = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, record);
    }

    #[test]
    fn voice_state_uses_lavalink_names() {
        let voice = VoiceState {
            token: "t".into(),
            endpoint: "e".into(),
            session_id: "s".into(),
            channel_id: Some("c".into()),
        };
        let json = serde_json::to_value(&voice).expect("a plain struct serialises");
        assert_eq!(json["sessionId"], "s");
        assert_eq!(json["channelId"], "c");
    }

    #[test]
    fn keys_follow_the_runbook() {
        assert_eq!(
            keys::node_health(&NodeId::new("eu-2")),
            "lavalink:health:eu-2"
        );
        assert_eq!(keys::player(GuildId(42)), "switchyard:player:42");
    }
}
