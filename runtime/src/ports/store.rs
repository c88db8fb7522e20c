//! The shared-state port: node health, routing, player snapshots, bot sessions, shard
//! leases, streams for the bots and operators, and the controller's leader lease.
//!
//! Production implements it with redis-rs against a real Redis; the simulation runs the
//! very same adapter against a simulated RESP server over turmoil's network. The store is
//! soft state: every method can fail with [`StoreError`], and the driver keeps deciding
//! from memory and writes what it owes when the store returns.
//!
//! Fencing is done by the store, not by timing: shard writes from bots carry the shard's
//! epoch and are refused once a higher epoch was granted, and the leader lease carries a
//! monotonically increasing token (Kleppmann's fencing token). A store handle made with
//! [`Store::with_leader_fence`] makes every controller write (health, routes, guild
//! records, streams, shard grants) conditional on that token still being the newest and
//! the lease not being held by another controller, so a deposed leader's late writes
//! are refused with [`StoreError::Superseded`].

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use switchyard_core::command::AuditEvent;
use switchyard_core::history::FailoverRecord;
use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};
use thiserror::Error;

use crate::store_schema::{
    GuildRecord, LeaderLease, MoveAnnouncement, NodeHealthRecord, OperatorHold, PlayerSnapshot,
    SessionRegistration, ShardHeartbeat, ShardLease, StreamEntry, StreamId,
};

/// Why a store operation produced no answer, or an answer that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached (refused, reset, closed, still reconnecting).
    #[error("store unavailable during {operation}: {reason}")]
    Unavailable {
        /// The operation that failed.
        operation: &'static str,
        /// What the connection reported.
        reason: String,
    },
    /// No answer within the configured operation timeout.
    #[error("store did not answer {operation} within {timeout_ms} ms")]
    Timeout {
        /// The operation that failed.
        operation: &'static str,
        /// The timeout that expired.
        timeout_ms: u64,
    },
    /// The store answered with an error (wrong key type, unknown script, ...).
    #[error("store refused {operation}: {message}")]
    Rejected {
        /// The operation that failed.
        operation: &'static str,
        /// The server's error message.
        message: String,
    },
    /// A stored value is not what the schema says.
    #[error("malformed value at {key}: {reason}")]
    Decode {
        /// The key (and field) holding it.
        key: String,
        /// Why it could not be read.
        reason: String,
    },
    /// A value could not be encoded, or an argument is out of range.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The store's configuration (for example its URL) is invalid.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// A controller write behind the leader fence was refused: another controller holds
    /// the lease, or a higher token was handed out since the writer's. The writer has
    /// been deposed and must stop acting. Nothing was written.
    #[error(
        "{operation} refused: the writer is no longer the leader (lease held by {holder:?}, newest token {token})"
    )]
    Superseded {
        /// The operation that was refused.
        operation: &'static str,
        /// Who holds the lease now, if anyone.
        holder: Option<String>,
        /// The newest token handed out.
        token: u64,
    },
}

impl StoreError {
    /// Whether retrying later may succeed (the store was down or slow), as opposed to a
    /// bug or bad data that a retry would only repeat.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Timeout { .. }
        )
    }
}

/// What [`Store::grant_shard`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardGrant {
    /// The lease now names the new owner and epoch.
    Granted,
    /// The same owner already held the shard at the same epoch (a retried grant).
    AlreadyHeld,
    /// The stored epoch is at least as high: nothing changed.
    Rejected {
        /// The lease that stands.
        current: ShardLease,
    },
}

/// What a fenced write from a bot ([`Store::heartbeat`], player snapshots) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FencedWrite {
    /// Written. Also the answer when no lease is stored (the store lost its state): a
    /// bot is not fenced by missing data, the controller re-grants leases from memory.
    Accepted,
    /// The shard was granted to someone else or at a higher epoch: the writer is fenced
    /// and must stop acting for the shard. Nothing was written.
    Fenced {
        /// The lease that stands.
        current: ShardLease,
    },
}

/// What [`Store::acquire_leader`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderAcquisition {
    /// The caller is now the leader with this fencing token, higher than any handed out
    /// before (and than the caller's `token_floor`).
    Acquired {
        /// The fencing token.
        token: u64,
    },
    /// The lease is held (possibly by the caller itself, after a lost reply: compare
    /// `holder`). Nothing changed.
    Held(LeaderLease),
}

/// The lease a controller writes under: its holder id and fencing token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderFence {
    /// The holder id the controller acquired the lease with.
    pub holder: String,
    /// Its fencing token.
    pub token: u64,
}

/// The shared state, as the driver and the bot contract use it.
///
/// Implementations are cheap to clone and share one connection (pool); every method
/// honours the implementation's operation timeout, so none can hang the driver.
pub trait Store: Clone + Send + Sync + 'static {
    /// Checks that the store answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A handle on the same store whose controller writes are made only under `fence`:
    /// each is refused with [`StoreError::Superseded`] when another controller holds the
    /// lease or a token above the fence's was handed out. A lapsed lease that nobody took
    /// since still admits them, so a leader that lost its store (or whose store restarted
    /// empty) writes back what it owes. `None` writes without a fence (one controller
    /// alone, or the simulation). Bot writes are fenced by shard epochs instead.
    fn with_leader_fence(&self, fence: Option<LeaderFence>) -> Self;

    // --- Node health (`lavalink:health:<node>`) ---

    /// Writes a node's health; it lapses after `ttl` unless written again, so a reader
    /// sees a silent controller's data disappear rather than go stale.
    fn put_node_health(
        &self,
        record: &NodeHealthRecord,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One node's health, if present and not expired.
    fn node_health(
        &self,
        node: &NodeId,
    ) -> impl Future<Output = Result<Option<NodeHealthRecord>, StoreError>> + Send;

    /// Every node's health. Entries that do not decode are skipped (and logged), so one
    /// foreign writer cannot hide the others.
    fn all_node_health(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<NodeId, NodeHealthRecord>, StoreError>> + Send;

    /// Removes a node's health (the node left the topology).
    fn delete_node_health(
        &self,
        node: &NodeId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // --- Routing table (`switchyard:routes`) ---

    /// Routes guilds to nodes, all in one write.
    fn set_routes(
        &self,
        routes: &[(GuildId, NodeId)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes guilds' routes.
    fn delete_routes(
        &self,
        guilds: &[GuildId],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A guild's node.
    fn route(
        &self,
        guild: GuildId,
    ) -> impl Future<Output = Result<Option<NodeId>, StoreError>> + Send;

    /// The whole routing table.
    fn all_routes(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<GuildId, NodeId>, StoreError>> + Send;

    // --- Guild records (`switchyard:guilds`) ---

    /// Writes the controller's records of guilds, all in one write.
    fn set_guild_records(
        &self,
        records: &[GuildRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes guilds' records.
    fn delete_guild_records(
        &self,
        guilds: &[GuildId],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every guild record. Entries that do not decode are skipped (and logged).
    fn all_guild_records(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<GuildId, GuildRecord>, StoreError>> + Send;

    // --- Operator holds (`switchyard:operator`) ---

    /// Replaces the operator holds in force with `holds` (all of them, in one write).
    fn put_operator_holds(
        &self,
        holds: &[OperatorHold],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The operator holds in force, or `None` when no leader wrote them (or the store
    /// lost them, or they do not decode: logged): the reader keeps its own then.
    fn operator_holds(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<OperatorHold>>, StoreError>> + Send;

    // --- Player snapshots (`switchyard:player:<guild>`) ---

    /// Writes a bot's player snapshot, fenced by the shard epoch it carries; it lapses
    /// after `ttl` unless written again.
    fn put_player_snapshot(
        &self,
        snapshot: &PlayerSnapshot,
        ttl: Duration,
    ) -> impl Future<Output = Result<FencedWrite, StoreError>> + Send;

    /// Removes a guild's snapshot (playback stopped), fenced like a write.
    fn delete_player_snapshot(
        &self,
        guild: GuildId,
        shard: ShardId,
        owner: &ProcessId,
        epoch: u64,
    ) -> impl Future<Output = Result<FencedWrite, StoreError>> + Send;

    /// One guild's snapshot.
    fn player_snapshot(
        &self,
        guild: GuildId,
    ) -> impl Future<Output = Result<Option<PlayerSnapshot>, StoreError>> + Send;

    /// Several guilds' snapshots, in one round trip; absent ones are left out.
    fn player_snapshots(
        &self,
        guilds: &[GuildId],
    ) -> impl Future<Output = Result<BTreeMap<GuildId, PlayerSnapshot>, StoreError>> + Send;

    /// Up to `count` entries of `switchyard:player-changes` after `after` (from the
    /// oldest kept when `None`), oldest first: each names a guild whose snapshot was
    /// written or deleted. The stream is capped, so a reader that falls far behind
    /// misses changes; a full read of the snapshots catches up.
    fn player_changes_after(
        &self,
        after: Option<&StreamId>,
        count: usize,
    ) -> impl Future<Output = Result<Vec<StreamEntry<GuildId>>, StoreError>> + Send;

    /// The id of the newest player change (`None`: the stream is empty). Read it before a
    /// full read of the snapshots, then follow the changes after it: nothing written
    /// after the full read started is missed.
    fn player_changes_newest(
        &self,
    ) -> impl Future<Output = Result<Option<StreamId>, StoreError>> + Send;

    // --- Bot session registrations (`switchyard:sessions:<process>`) ---

    /// Records the Lavalink session a bot process holds on a node (replacing any older).
    fn register_session(
        &self,
        process: &ProcessId,
        node: &NodeId,
        registration: &SessionRegistration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets a process's session on a node.
    fn unregister_session(
        &self,
        process: &ProcessId,
        node: &NodeId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A process's sessions, by node.
    fn sessions(
        &self,
        process: &ProcessId,
    ) -> impl Future<Output = Result<BTreeMap<NodeId, SessionRegistration>, StoreError>> + Send;

    /// Every process's sessions.
    #[allow(clippy::type_complexity)]
    fn all_sessions(
        &self,
    ) -> impl Future<
        Output = Result<BTreeMap<ProcessId, BTreeMap<NodeId, SessionRegistration>>, StoreError>,
    > + Send;

    // --- Shard leases and heartbeats (`switchyard:shards`, `switchyard:heartbeats`) ---

    /// Hands `shard` to `owner` at `epoch`, atomically, only if `epoch` is higher than
    /// the stored one (or none is stored).
    fn grant_shard(
        &self,
        shard: ShardId,
        owner: &ProcessId,
        epoch: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<ShardGrant, StoreError>> + Send;

    /// A shard's lease.
    fn shard_lease(
        &self,
        shard: ShardId,
    ) -> impl Future<Output = Result<Option<ShardLease>, StoreError>> + Send;

    /// Every shard's lease.
    fn all_shard_leases(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<ShardId, ShardLease>, StoreError>> + Send;

    /// Records a bot shard's heartbeat, refused (with the standing lease) when `owner`
    /// and `epoch` are fenced: that is how a stale owner learns it lost the shard.
    fn heartbeat(
        &self,
        shard: ShardId,
        owner: &ProcessId,
        epoch: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<FencedWrite, StoreError>> + Send;

    /// Every shard's latest accepted heartbeat.
    fn heartbeats(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<ShardId, ShardHeartbeat>, StoreError>> + Send;

    // --- Streams (`switchyard:moves`, `switchyard:audit`, `switchyard:failovers`) ---

    /// Announces a move to the bots.
    fn announce_move(
        &self,
        announcement: &MoveAnnouncement,
    ) -> impl Future<Output = Result<StreamId, StoreError>> + Send;

    /// Up to `count` announcements after `after` (from the start when `None`), oldest
    /// first. Bots poll this with the last id they handled.
    fn moves_after(
        &self,
        after: Option<&StreamId>,
        count: usize,
    ) -> impl Future<Output = Result<Vec<StreamEntry<MoveAnnouncement>>, StoreError>> + Send;

    /// Appends to the audit stream (capped).
    fn append_audit(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<StreamId, StoreError>> + Send;

    /// The newest `count` audit events, newest first.
    fn recent_audit(
        &self,
        count: usize,
    ) -> impl Future<Output = Result<Vec<StreamEntry<AuditEvent>>, StoreError>> + Send;

    /// Records a version of a failover record (capped history).
    fn record_failover(
        &self,
        record: &FailoverRecord,
    ) -> impl Future<Output = Result<StreamId, StoreError>> + Send;

    /// The latest version of each of the newest incidents, newest first, at most
    /// `count` versions read.
    fn recent_failovers(
        &self,
        count: usize,
    ) -> impl Future<Output = Result<Vec<FailoverRecord>, StoreError>> + Send;

    // --- The controller's leader lease (`switchyard:leader`) ---

    /// Takes the lease for `ttl` if nobody holds it, with a fresh fencing token above
    /// every token handed out before and above `token_floor` (the highest token the
    /// caller has seen, so a store that lost its counter cannot make tokens regress).
    fn acquire_leader(
        &self,
        holder: &str,
        ttl: Duration,
        token_floor: u64,
    ) -> impl Future<Output = Result<LeaderAcquisition, StoreError>> + Send;

    /// Extends the lease to `ttl` from now if `holder` still holds it with `token`, or
    /// takes it back when it lapsed (or the store lost it) and no token above `token`
    /// was handed out since: nobody else can have acted in between. `false` means
    /// another controller holds the lease or held it since: stop acting.
    fn renew_leader(
        &self,
        holder: &str,
        token: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives the lease up, only if `holder` still holds it with `token`.
    fn release_leader(
        &self,
        holder: &str,
        token: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The current lease, if held.
    fn leader(&self) -> impl Future<Output = Result<Option<LeaderLease>, StoreError>> + Send;

    /// The last fencing token handed out, 0 when none is stored. Below a token already
    /// seen, it shows the store lost its data (a restart without persistence).
    fn newest_leader_token(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
