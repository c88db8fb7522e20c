//! Shards: heartbeats under the fencing epoch, learning of fencing, and taking shards
//! over as a hot spare.
//!
//! - An owner heartbeats every acting shard each `heartbeat_interval`. A refusal naming
//!   another owner (or a higher epoch) fences it: it stops acting for the shard at once,
//!   leaves voice in its guilds and deletes its own players there. A refusal naming this
//!   process with a higher epoch is its own lease (granted before a restart): it takes
//!   that epoch up.
//! - Every process watches the leases; one that names it (a promotion) is claimed under
//!   the lease's epoch. A spare that owns nothing registers with the controller.
//! - The first accepted heartbeat confirms a shard; the bot then re-establishes the
//!   shard's guilds from their snapshots: a new voice state for each, the old player
//!   deleted, the player re-created in the bot's own session on its node at the
//!   snapshot's position brought forward to now.
//! - While stalled (the simulation's `shard_stall`), no heartbeats and no lease
//!   adoption: the process is alive but its shards are silent.

use std::collections::BTreeMap;

use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};
use tokio::time::Instant;

use super::BotError;
use super::create::CreatePlan;
use super::placement::PlacementSource;
use super::players::PlayerEntry;
use super::runner::{Bot, Completion};
use super::state::{BotEvent, PlayerStatus, ShardStatus, ShardView};
use crate::ports::http::HttpClient;
use crate::ports::store::{FencedWrite, Store, StoreError};
use crate::store_schema::{PlayerSnapshot, SessionRegistration, ShardLease};

/// One shard the bot claimed, owns or was fenced from.
#[derive(Debug, Clone)]
pub(crate) struct ShardEntry {
    pub(crate) epoch: u64,
    pub(crate) status: ShardStatus,
    /// Claimed from a lease naming this process (reported as an adoption).
    adopted: bool,
    /// Its guilds were re-established from their snapshots.
    restored: bool,
    restore_in_flight: bool,
}

impl ShardEntry {
    pub(crate) fn is_acting(&self) -> bool {
        !matches!(self.status, ShardStatus::Fenced { .. })
    }

    fn view(&self) -> ShardView {
        ShardView {
            epoch: self.epoch,
            status: self.status.clone(),
        }
    }
}

/// One heartbeat and its answer.
#[derive(Debug)]
pub(crate) struct HeartbeatResult {
    shard: ShardId,
    epoch: u64,
    result: Result<FencedWrite, StoreError>,
}

/// A guild to re-establish after taking a shard over.
#[derive(Debug)]
pub(crate) struct RestoreItem {
    snapshot: PlayerSnapshot,
    /// Where it plays: the routing table's node, else the snapshot's.
    node: NodeId,
    /// The previous owner's players to delete first.
    delete_first: Vec<(NodeId, String)>,
}

impl<H: HttpClient, S: Store> Bot<H, S> {
    /// Starts acting for `shard` under `epoch`, to be confirmed by a heartbeat.
    pub(crate) fn claim_shard(&mut self, shard: ShardId, epoch: u64, adopted: bool) {
        self.shards.insert(
            shard,
            ShardEntry {
                epoch,
                status: ShardStatus::Claimed,
                adopted,
                restored: false,
                restore_in_flight: false,
            },
        );
        self.publish_shard(shard);
    }

    fn publish_shard(&self, shard: ShardId) {
        let view = self.shards.get(&shard).map(ShardEntry::view);
        self.state.update(|state| {
            if let Some(view) = view {
                state.shards.insert(shard, view);
            }
        });
    }

    pub(crate) fn is_acting_for(&self, shard: ShardId) -> bool {
        self.shards.get(&shard).is_some_and(ShardEntry::is_acting)
    }

    pub(crate) fn start_heartbeats(&mut self) {
        if self.heartbeats_in_flight || self.state.is_stalled() {
            return;
        }
        let acting: Vec<(ShardId, u64)> = self
            .shards
            .iter()
            .filter(|(_, entry)| entry.is_acting())
            .map(|(shard, entry)| (*shard, entry.epoch))
            .collect();
        if acting.is_empty() {
            return;
        }
        self.heartbeats_in_flight = true;
        let store = self.store.clone();
        let process = self.config.process.clone();
        let clock = self.clock;
        self.tasks.spawn(async move {
            let mut results = Vec::with_capacity(acting.len());
            for (shard, epoch) in acting {
                let result = store
                    .heartbeat(shard, &process, epoch, clock.now_ms())
                    .await;
                results.push(HeartbeatResult {
                    shard,
                    epoch,
                    result,
                });
            }
            Completion::Heartbeats(results)
        });
    }

    pub(crate) fn on_heartbeats(&mut self, results: Vec<HeartbeatResult>) {
        self.heartbeats_in_flight = false;
        let mut reclaimed = false;
        for HeartbeatResult {
            shard,
            epoch,
            result,
        } in results
        {
            match result {
                Ok(FencedWrite::Accepted) => self.confirm_shard(shard, epoch),
                Ok(FencedWrite::Fenced { current }) => {
                    reclaimed |= self.handle_refusal(shard, &current);
                }
                Err(error) => tracing::debug!(%shard, %error, "heartbeat failed"),
            }
        }
        if reclaimed {
            // The lease is this process's at a higher epoch: confirm it now.
            self.start_heartbeats();
        }
    }

    fn confirm_shard(&mut self, shard: ShardId, epoch: u64) {
        let Some(entry) = self.shards.get_mut(&shard) else {
            return;
        };
        if entry.epoch != epoch || !entry.is_acting() {
            return; // An answer to an older claim.
        }
        if entry.status == ShardStatus::Claimed {
            entry.status = ShardStatus::Owned;
            let event = if entry.adopted {
                BotEvent::ShardAdopted { shard, epoch }
            } else {
                BotEvent::ShardOwned { shard, epoch }
            };
            self.publish_shard(shard);
            self.emit(event);
        }
        self.start_restore(shard);
    }

    /// Handles a refused write for `shard`. Returns whether the refusal handed the bot
    /// its own lease at a higher epoch.
    pub(crate) fn handle_refusal(&mut self, shard: ShardId, current: &ShardLease) -> bool {
        let Some(entry) = self.shards.get_mut(&shard) else {
            return false;
        };
        if current.owner == self.config.process {
            if current.epoch <= entry.epoch {
                return false;
            }
            entry.epoch = current.epoch;
            entry.status = ShardStatus::Claimed;
            self.publish_shard(shard);
            return true;
        }
        // The store's rule: a lease at our epoch or above, held by another, fences us.
        if current.epoch >= entry.epoch && entry.is_acting() {
            self.fence_shard(shard, current.owner.clone(), current.epoch);
        }
        false
    }

    /// Stops acting for a shard at once: its guilds are dropped, voice is left and the
    /// bot's own players there are deleted. The new owner re-creates them.
    fn fence_shard(&mut self, shard: ShardId, owner: ProcessId, epoch: u64) {
        if let Some(entry) = self.shards.get_mut(&shard) {
            entry.status = ShardStatus::Fenced {
                owner: owner.clone(),
                epoch,
            };
        }
        self.publish_shard(shard);
        tracing::info!(%shard, %owner, epoch, "fenced: no longer acting for the shard");
        let guilds: Vec<GuildId> = self
            .players
            .iter()
            .filter(|(_, entry)| entry.shard == shard)
            .map(|(guild, _)| *guild)
            .collect();
        for guild in guilds {
            let Some(mut entry) = self.players.remove(&guild) else {
                continue;
            };
            if let Some(reply) = entry.reply.take() {
                let _ = reply.send(Err(BotError::NotOwner { guild, shard }));
            }
            self.publish_player(guild);
            let leave = self.voice.leave(guild);
            self.tasks.spawn(async move {
                leave.await;
                Completion::Done
            });
            if let (Some(node), Some(session_id)) = (entry.node, entry.session_id) {
                self.add_stale(guild, node, session_id);
            }
        }
        self.emit(BotEvent::ShardFenced {
            shard,
            owner,
            epoch,
        });
    }

    pub(crate) fn start_lease_poll(&mut self) {
        if self.leases_in_flight || self.state.is_stalled() {
            return;
        }
        self.leases_in_flight = true;
        let store = self.store.clone();
        self.tasks
            .spawn(async move { Completion::Leases(store.all_shard_leases().await) });
    }

    pub(crate) fn on_leases(&mut self, result: Result<BTreeMap<ShardId, ShardLease>, StoreError>) {
        self.leases_in_flight = false;
        let leases = match result {
            Ok(leases) => leases,
            Err(error) => {
                tracing::debug!(%error, "shard leases unreadable");
                return;
            }
        };
        let mut claimed = false;
        for (shard, lease) in leases {
            if shard.0 >= self.config.shard_count {
                continue;
            }
            let held = self.shards.get(&shard).map(|entry| entry.epoch);
            if lease.owner == self.config.process {
                if held.is_none_or(|epoch| lease.epoch > epoch) {
                    tracing::info!(%shard, epoch = lease.epoch, "a lease names this process");
                    self.claim_shard(shard, lease.epoch, true);
                    claimed = true;
                }
            } else if held.is_some() {
                self.handle_refusal(shard, &lease);
            }
        }
        if claimed {
            self.start_heartbeats();
        }
    }

    /// A spare with nothing to do offers itself (again: a new leader forgets spares).
    pub(crate) fn register_spare(&mut self) {
        let Some(spare) = &self.config.spare else {
            return;
        };
        if self.state.is_stalled() || self.shards.values().any(ShardEntry::is_acting) {
            return;
        }
        let placement = self.placement.clone();
        let process = self.config.process.clone();
        let region = spare.region.clone();
        self.tasks.spawn(async move {
            if let Err(error) = placement.register_spare(&process, region.as_ref()).await {
                tracing::debug!(%error, "spare registration failed");
            }
            Completion::Done
        });
    }

    fn start_restore(&mut self, shard: ShardId) {
        let Some(entry) = self.shards.get_mut(&shard) else {
            return;
        };
        if entry.restored || entry.restore_in_flight {
            return;
        }
        entry.restore_in_flight = true;
        let epoch = entry.epoch;
        let store = self.store.clone();
        let shard_count = self.config.shard_count;
        self.tasks.spawn(async move {
            let result = read_restore(store, shard, shard_count).await;
            Completion::Restore {
                shard,
                epoch,
                result,
            }
        });
    }

    pub(crate) fn on_restore(
        &mut self,
        shard: ShardId,
        epoch: u64,
        result: Result<Vec<RestoreItem>, StoreError>,
    ) {
        let Some(entry) = self.shards.get_mut(&shard) else {
            return;
        };
        entry.restore_in_flight = false;
        let items = match result {
            Ok(items) => items,
            Err(error) => {
                // Retried after the next accepted heartbeat.
                tracing::debug!(%shard, %error, "shard guilds unreadable");
                return;
            }
        };
        if entry.epoch != epoch || !entry.is_acting() {
            return;
        }
        entry.restored = true;
        for item in items {
            self.restore_guild(shard, epoch, item);
        }
    }

    /// Re-creates one guild's player from its snapshot, in the bot's own session.
    fn restore_guild(&mut self, shard: ShardId, epoch: u64, item: RestoreItem) {
        let RestoreItem {
            snapshot,
            node,
            delete_first,
        } = item;
        let guild = snapshot.guild;
        if self.players.contains_key(&guild) || snapshot.epoch > epoch {
            return; // Already the bot's, or written by a newer owner.
        }
        let (Some(track), Some(channel_id)) = (snapshot.track, snapshot.voice.channel_id.clone())
        else {
            return; // Nothing playing, or no channel to rejoin.
        };
        let elapsed_ms = if snapshot.paused {
            0
        } else {
            self.clock.now_ms().saturating_sub(snapshot.position_at_ms)
        };
        let own = |(node, session): &(NodeId, String)| self.sessions.get(node) == Some(session);
        let delete_first = delete_first.into_iter().filter(|d| !own(d)).collect();
        let generation = self.next_generation();
        self.players.insert(
            guild,
            PlayerEntry {
                shard,
                tracks: vec![track],
                track_index: 0,
                channel_id,
                volume: snapshot.volume,
                paused: snapshot.paused,
                filters: snapshot.filters,
                voice: Some(snapshot.voice),
                node: Some(node),
                session_id: None,
                status: PlayerStatus::Pending,
                position_ms: snapshot.position_ms.saturating_add(elapsed_ms),
                position_at: Instant::now(),
                generation,
                create: CreatePlan {
                    rejoin_voice: true,
                    delete_first,
                    check_route: false,
                },
                source: PlacementSource::RoutingTable,
                reply: None,
                report_elsewhere: None,
                placement: None,
                placement_retry_at: None,
            },
        );
        self.publish_player(guild);
        self.try_create(guild);
    }
}

/// Reads the shard's guilds (from the routing table), their snapshots and, where the
/// route moved away from the snapshot's node, the previous owner's session there.
async fn read_restore<S: Store>(
    store: S,
    shard: ShardId,
    shard_count: u32,
) -> Result<Vec<RestoreItem>, StoreError> {
    let routes = store.all_routes().await?;
    let guilds: Vec<GuildId> = routes
        .keys()
        .copied()
        .filter(|guild| guild.shard(shard_count) == shard)
        .collect();
    if guilds.is_empty() {
        return Ok(Vec::new());
    }
    let snapshots = store.player_snapshots(&guilds).await?;
    let mut owner_sessions: BTreeMap<ProcessId, BTreeMap<NodeId, SessionRegistration>> =
        BTreeMap::new();
    let mut items = Vec::with_capacity(snapshots.len());
    for (guild, snapshot) in snapshots {
        let node = routes.get(&guild).cloned().unwrap_or(snapshot.node.clone());
        let mut delete_first = vec![(snapshot.node.clone(), snapshot.session_id.clone())];
        if node != snapshot.node {
            if !owner_sessions.contains_key(&snapshot.owner) {
                let sessions = store.sessions(&snapshot.owner).await?;
                owner_sessions.insert(snapshot.owner.clone(), sessions);
            }
            if let Some(registration) = owner_sessions
                .get(&snapshot.owner)
                .and_then(|sessions| sessions.get(&node))
            {
                delete_first.push((node.clone(), registration.session_id.clone()));
            }
        }
        items.push(RestoreItem {
            snapshot,
            node,
            delete_first,
        });
    }
    Ok(items)
}
