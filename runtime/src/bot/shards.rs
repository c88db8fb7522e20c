//! Shards: heartbeats under the fencing epoch, learning of fencing, and taking shards
//! over as a hot spare.
//!
//! - An owner heartbeats every shard it holds each `heartbeat_interval`. A refusal naming
//!   another owner (or a higher epoch) fences it: it stops acting for the shard at once,
//!   leaves voice in its guilds and deletes its own players there. A refusal naming this
//!   process with a higher epoch is its own lease (granted before a restart): it takes
//!   that epoch up.
//! - Each held shard has a lease of `shard_lease`, renewed from the send time of every
//!   accepted heartbeat (or from the claim). When it runs out the bot stops acting for
//!   the shard on its own, exactly as when fenced: cut off from the store it cannot
//!   learn of a spare's promotion, so it must stop before the controller's stall
//!   threshold hands the shard over. It keeps heartbeating; an accepted heartbeat whose
//!   lease still runs resumes the shard (its guilds re-established as after a takeover),
//!   a refusal fences it for good.
//! - Every process watches the leases; one that names it (a promotion) is claimed under
//!   the lease's epoch. A spare that owns nothing registers with the controller.
//! - The first accepted heartbeat confirms a shard; the bot then re-establishes the
//!   shard's guilds from their snapshots: a new voice state for each, the old player
//!   deleted, the player re-created in the bot's own session on its node at the
//!   snapshot's position brought forward to now.
//! - While stalled (the simulation's `shard_stall`), no heartbeats and no lease
//!   adoption: the process is alive but its shards are silent (and lapse).

use std::collections::BTreeMap;
use std::time::Duration;

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

/// One shard the bot claimed, owns, let lapse or was fenced from.
#[derive(Debug, Clone)]
pub(crate) struct ShardEntry {
    pub(crate) epoch: u64,
    pub(crate) status: ShardStatus,
    /// Claimed from a lease naming this process (reported as an adoption).
    adopted: bool,
    /// Its guilds were re-established from their snapshots.
    restored: bool,
    restore_in_flight: bool,
    /// When the bot stops acting unless a heartbeat is accepted first: the send time of
    /// the last accepted heartbeat (or the claim) plus `shard_lease`.
    lease_until: Instant,
}

/// What an accepted heartbeat does to a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// Nothing: it answers an older claim, the shard is fenced, or the lease it would
    /// renew ran out before the answer came back.
    Ignored,
    /// The lease runs on.
    Extended,
    /// The claim's first accepted heartbeat.
    Confirmed,
    /// The lease had lapsed; the bot acts for the shard again.
    Resumed,
}

impl ShardEntry {
    fn claimed(epoch: u64, adopted: bool, now: Instant, lease: Duration) -> Self {
        Self {
            epoch,
            status: ShardStatus::Claimed,
            adopted,
            restored: false,
            restore_in_flight: false,
            lease_until: now + lease,
        }
    }

    pub(crate) fn is_acting(&self) -> bool {
        matches!(self.status, ShardStatus::Claimed | ShardStatus::Owned)
    }

    /// Whether the bot still heartbeats the shard: acting or lapsed, not fenced.
    fn holds_lease(&self) -> bool {
        !matches!(self.status, ShardStatus::Fenced { .. })
    }

    /// When the bot stops acting for the shard, if it acts.
    fn lapses_at(&self) -> Option<Instant> {
        self.is_acting().then_some(self.lease_until)
    }

    /// Stops acting when the lease has run out. Returns whether it just lapsed.
    fn lapse_if_due(&mut self, now: Instant) -> bool {
        if !self.is_acting() || now < self.lease_until {
            return false;
        }
        self.status = ShardStatus::Lapsed;
        // Its guilds are dropped: a resumption re-establishes them.
        self.restored = false;
        true
    }

    /// Renews the lease from a heartbeat under `epoch` sent at `sent_at` and accepted.
    fn renew(&mut self, epoch: u64, sent_at: Instant, lease: Duration, now: Instant) -> Renewal {
        if epoch != self.epoch || !self.holds_lease() {
            return Renewal::Ignored;
        }
        let until = sent_at + lease;
        if now >= until {
            // The controller may have counted the whole lease since the write landed.
            return Renewal::Ignored;
        }
        self.lease_until = self.lease_until.max(until);
        match self.status {
            ShardStatus::Claimed => {
                self.status = ShardStatus::Owned;
                Renewal::Confirmed
            }
            ShardStatus::Lapsed => {
                self.status = ShardStatus::Owned;
                Renewal::Resumed
            }
            ShardStatus::Owned | ShardStatus::Fenced { .. } => Renewal::Extended,
        }
    }

    /// Takes up the lease naming this process at a higher epoch, learned from a
    /// refusal. A lapsed shard stays stopped until a heartbeat under it is accepted.
    fn take_up(&mut self, epoch: u64) -> bool {
        if epoch <= self.epoch || !self.holds_lease() {
            return false;
        }
        self.epoch = epoch;
        if self.is_acting() {
            self.status = ShardStatus::Claimed;
        }
        true
    }

    /// Whether a lease held by another process at `epoch` fences this one.
    fn is_fenced_by(&self, epoch: u64) -> bool {
        epoch >= self.epoch && self.holds_lease()
    }

    /// Stops for good: `owner` holds the shard at `epoch`.
    fn fence(&mut self, owner: ProcessId, epoch: u64) {
        self.status = ShardStatus::Fenced { owner, epoch };
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
    /// When it was sent: an acceptance renews the lease from here.
    sent_at: Instant,
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
        let lease = self.config.timing.shard_lease;
        let entry = ShardEntry::claimed(epoch, adopted, Instant::now(), lease);
        self.shards.insert(shard, entry);
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
        // Lapsed shards too: an accepted heartbeat resumes them.
        let held: Vec<(ShardId, u64)> = self
            .shards
            .iter()
            .filter(|(_, entry)| entry.holds_lease())
            .map(|(shard, entry)| (*shard, entry.epoch))
            .collect();
        if held.is_empty() {
            return;
        }
        self.heartbeats_in_flight = true;
        let store = self.store.clone();
        let process = self.config.process.clone();
        let clock = self.clock;
        self.tasks.spawn(async move {
            let mut results = Vec::with_capacity(held.len());
            for (shard, epoch) in held {
                let sent_at = Instant::now();
                let result = store
                    .heartbeat(shard, &process, epoch, clock.now_ms())
                    .await;
                results.push(HeartbeatResult {
                    shard,
                    epoch,
                    sent_at,
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
            sent_at,
            result,
        } in results
        {
            match result {
                Ok(FencedWrite::Accepted) => self.renew_shard(shard, epoch, sent_at),
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

    fn renew_shard(&mut self, shard: ShardId, epoch: u64, sent_at: Instant) {
        let Some(entry) = self.shards.get_mut(&shard) else {
            return;
        };
        let lease = self.config.timing.shard_lease;
        let event = match entry.renew(epoch, sent_at, lease, Instant::now()) {
            Renewal::Ignored => return,
            Renewal::Extended => None,
            Renewal::Confirmed if entry.adopted => Some(BotEvent::ShardAdopted { shard, epoch }),
            Renewal::Confirmed => Some(BotEvent::ShardOwned { shard, epoch }),
            Renewal::Resumed => {
                tracing::info!(%shard, epoch, "heartbeat accepted again: acting for the shard");
                Some(BotEvent::ShardResumed { shard, epoch })
            }
        };
        if let Some(event) = event {
            self.publish_shard(shard);
            self.emit(event);
        }
        self.start_restore(shard);
    }

    /// When the next acting shard's lease runs out.
    pub(crate) fn next_lapse_at(&self) -> Option<Instant> {
        self.shards.values().filter_map(ShardEntry::lapses_at).min()
    }

    /// Stops acting for every shard whose lease ran out.
    pub(crate) fn handle_lapse_timeout(&mut self) {
        let now = Instant::now();
        let lapsed: Vec<ShardId> = self
            .shards
            .iter_mut()
            .filter_map(|(shard, entry)| entry.lapse_if_due(now).then_some(*shard))
            .collect();
        for shard in lapsed {
            let epoch = self.shards[&shard].epoch;
            self.publish_shard(shard);
            tracing::warn!(%shard, epoch, "no heartbeat accepted within the shard lease: stopped acting for the shard");
            self.stop_acting(shard);
            self.emit(BotEvent::ShardLapsed { shard, epoch });
        }
    }

    /// Handles a refused write for `shard`. Returns whether the refusal handed the bot
    /// its own lease at a higher epoch.
    pub(crate) fn handle_refusal(&mut self, shard: ShardId, current: &ShardLease) -> bool {
        let Some(entry) = self.shards.get_mut(&shard) else {
            return false;
        };
        if current.owner == self.config.process {
            if !entry.take_up(current.epoch) {
                return false;
            }
            self.publish_shard(shard);
            return true;
        }
        // The store's rule: a lease at our epoch or above, held by another, fences us.
        if entry.is_fenced_by(current.epoch) {
            self.fence_shard(shard, current.owner.clone(), current.epoch);
        }
        false
    }

    /// Stops acting for a shard for good: another process holds it.
    fn fence_shard(&mut self, shard: ShardId, owner: ProcessId, epoch: u64) {
        if let Some(entry) = self.shards.get_mut(&shard) {
            entry.fence(owner.clone(), epoch);
        }
        self.publish_shard(shard);
        tracing::info!(%shard, %owner, epoch, "fenced: no longer acting for the shard");
        self.stop_acting(shard);
        self.emit(BotEvent::ShardFenced {
            shard,
            owner,
            epoch,
        });
    }

    /// Drops the shard's guilds at once: voice is left and the bot's own players there
    /// are deleted. The shard's next owner (or this bot, resuming) re-creates them.
    fn stop_acting(&mut self, shard: ShardId) {
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
        if self.state.is_stalled() || self.shards.values().any(ShardEntry::holds_lease) {
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
        // Resuming a lapsed shard: the player it left there is re-created, not deleted.
        if let Some(session) = self.sessions.get(&node).cloned() {
            self.stale.cancel(guild, &node, &session);
        }
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
                written_position: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);

    fn owned(now: Instant) -> ShardEntry {
        let mut entry = ShardEntry::claimed(3, false, now, LEASE);
        assert_eq!(entry.renew(3, now, LEASE, now), Renewal::Confirmed);
        entry
    }

    #[tokio::test(start_paused = true)]
    async fn an_owner_stops_once_the_lease_runs_out_and_not_before() {
        let start = Instant::now();
        let mut entry = owned(start);
        assert_eq!(entry.lapses_at(), Some(start + LEASE));
        let just_before = start + LEASE - Duration::from_millis(1);
        assert!(!entry.lapse_if_due(just_before));
        assert!(entry.is_acting());

        assert!(entry.lapse_if_due(start + LEASE));
        assert_eq!(entry.status, ShardStatus::Lapsed);
        assert!(!entry.is_acting());
        assert!(entry.holds_lease(), "it keeps heartbeating");
        assert_eq!(entry.lapses_at(), None);
        assert!(!entry.lapse_if_due(start + LEASE * 2), "lapses once");
    }

    #[tokio::test(start_paused = true)]
    async fn each_accepted_heartbeat_renews_from_when_it_was_sent() {
        let start = Instant::now();
        let mut entry = owned(start);
        let sent = start + Duration::from_secs(10);
        let answered = sent + Duration::from_secs(1);
        assert_eq!(entry.renew(3, sent, LEASE, answered), Renewal::Extended);
        assert_eq!(entry.lapses_at(), Some(sent + LEASE));
        // An older answer arriving late never shortens the lease.
        assert_eq!(entry.renew(3, start, LEASE, answered), Renewal::Extended);
        assert_eq!(entry.lapses_at(), Some(sent + LEASE));
        // An answer about another epoch renews nothing.
        assert_eq!(entry.renew(2, answered, LEASE, answered), Renewal::Ignored);
        assert_eq!(entry.lapses_at(), Some(sent + LEASE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_shard_resumes_when_a_heartbeat_is_accepted_again() {
        let start = Instant::now();
        let mut entry = owned(start);
        entry.restored = true;
        assert!(entry.lapse_if_due(start + LEASE));
        assert!(!entry.restored, "its guilds were dropped");

        // Accepted, but only after the lease it renews would have run out: still stopped.
        let sent = start + LEASE + Duration::from_secs(1);
        let late = sent + LEASE;
        assert_eq!(entry.renew(3, sent, LEASE, late), Renewal::Ignored);
        assert_eq!(entry.status, ShardStatus::Lapsed);

        let answered = late + Duration::from_millis(5);
        let sent = late;
        assert_eq!(entry.renew(3, sent, LEASE, answered), Renewal::Resumed);
        assert_eq!(entry.status, ShardStatus::Owned);
        assert_eq!(entry.lapses_at(), Some(sent + LEASE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_fences_a_lapsed_shard_and_it_stays_stopped() {
        let start = Instant::now();
        let mut entry = owned(start);
        assert!(entry.lapse_if_due(start + LEASE));
        assert!(entry.is_fenced_by(4), "a spare's higher epoch");
        entry.fence(ProcessId::new("spare-eu-0"), 4);
        assert!(!entry.holds_lease(), "no more heartbeats");
        assert!(!entry.is_acting());
        let later = start + LEASE * 2;
        assert_eq!(entry.renew(3, later, LEASE, later), Renewal::Ignored);
        assert!(!entry.take_up(5), "a fenced shard takes nothing up");
        assert!(!entry.is_acting());
        assert_eq!(entry.lapses_at(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_shard_taking_up_its_own_higher_epoch_waits_for_a_heartbeat() {
        let start = Instant::now();
        let mut entry = owned(start);
        assert!(entry.lapse_if_due(start + LEASE));
        assert!(entry.take_up(5));
        assert_eq!((entry.epoch, &entry.status), (5, &ShardStatus::Lapsed));
        let later = start + LEASE * 2;
        assert_eq!(entry.renew(5, later, LEASE, later), Renewal::Resumed);
        assert!(entry.is_acting());
    }
}
