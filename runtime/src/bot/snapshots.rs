//! Player snapshots: what the controller needs to re-create a player elsewhere, written
//! whenever the player changes (including a reported position that strays from the one
//! the snapshot implies) and refreshed every `snapshot_refresh_interval`.
//!
//! A snapshot's position is extrapolated by its readers (`position_ms` plus the time
//! since `position_at_ms` while playing), so a playing player needs no rewrite while it
//! plays on as expected: the store sees one write per change, not one per second.
//!
//! Every write is fenced by the shard epoch the bot holds; a refusal naming another
//! owner is how a stale owner learns it lost the shard. A lost player's snapshot keeps
//! being rewritten (with its frozen position) so it does not lapse while the controller
//! waits for a node to take it.

use futures_util::StreamExt;
use switchyard_core::ids::{GuildId, ShardId};

use super::players::WrittenPosition;
use super::runner::{Bot, Completion};
use super::state::PlayerStatus;
use crate::ports::http::HttpClient;
use crate::ports::store::{FencedWrite, Store, StoreError};
use crate::store_schema::PlayerSnapshot;

/// Snapshot writes in flight at once during a refresh: enough to refresh hundreds of
/// guilds per interval over a slow link, few enough not to flood the store.
const WRITES_CONCURRENT_MAX: usize = 16;

/// One fenced snapshot write (or delete) and its answer.
#[derive(Debug)]
pub(crate) struct SnapshotWrite {
    pub(crate) guild: GuildId,
    pub(crate) shard: ShardId,
    pub(crate) result: Result<FencedWrite, StoreError>,
}

impl<H: HttpClient, S: Store> Bot<H, S> {
    /// The guild's snapshot, if the bot acts for its shard and a player was made in one
    /// of its sessions.
    fn snapshot_of(&self, guild: GuildId) -> Option<PlayerSnapshot> {
        let entry = self.players.get(&guild)?;
        if !matches!(entry.status, PlayerStatus::Live | PlayerStatus::Lost) {
            return None;
        }
        let shard = self.shards.get(&entry.shard).filter(|s| s.is_acting())?;
        let now_ms = self.clock.now_ms();
        Some(PlayerSnapshot {
            guild,
            shard: entry.shard,
            owner: self.config.process.clone(),
            epoch: shard.epoch,
            node: entry.node.clone()?,
            session_id: entry.session_id.clone()?,
            track: Some(entry.track().to_owned()),
            position_ms: entry.position_ms,
            position_at_ms: self.clock.unix_ms_at(entry.position_at),
            paused: entry.paused,
            volume: entry.volume,
            filters: entry.filters.clone(),
            voice: entry.voice.clone()?,
            updated_at_ms: now_ms,
        })
    }

    /// The guild's snapshot, about to be written: its position becomes the one node
    /// reports are checked against.
    fn snapshot_to_write(&mut self, guild: GuildId) -> Option<PlayerSnapshot> {
        let snapshot = self.snapshot_of(guild)?;
        let entry = self.players.get_mut(&guild)?;
        entry.written_position = Some(WrittenPosition {
            position_ms: snapshot.position_ms,
            at: entry.position_at,
            paused: snapshot.paused,
        });
        Some(snapshot)
    }

    /// Writes one guild's snapshot now (the player changed).
    pub(crate) fn write_snapshot(&mut self, guild: GuildId) {
        let Some(snapshot) = self.snapshot_to_write(guild) else {
            return;
        };
        let store = self.store.clone();
        let ttl = self.config.timing.snapshot_ttl;
        self.tasks.spawn(async move {
            let write = write_one(&store, snapshot, ttl).await;
            Completion::Snapshots {
                writes: vec![write],
                refresh: false,
            }
        });
    }

    /// The periodic retries of players.
    pub(crate) fn retry_chores(&mut self) {
        self.retry_pending();
        self.retry_placements();
        self.retry_stale();
    }

    /// Rewrites every snapshot (keeping it alive past its TTL).
    pub(crate) fn refresh_snapshots(&mut self) {
        if self.refresh_in_flight {
            return;
        }
        let guilds: Vec<GuildId> = self.players.keys().copied().collect();
        let snapshots: Vec<PlayerSnapshot> = guilds
            .into_iter()
            .filter_map(|guild| self.snapshot_to_write(guild))
            .collect();
        if snapshots.is_empty() {
            return;
        }
        self.refresh_in_flight = true;
        let store = self.store.clone();
        let ttl = self.config.timing.snapshot_ttl;
        self.tasks.spawn(async move {
            let writes = futures_util::stream::iter(snapshots)
                .map(|snapshot| write_one(&store, snapshot, ttl))
                .buffer_unordered(WRITES_CONCURRENT_MAX)
                .collect()
                .await;
            Completion::Snapshots {
                writes,
                refresh: true,
            }
        });
    }

    pub(crate) fn on_snapshots_written(&mut self, mut writes: Vec<SnapshotWrite>, refresh: bool) {
        if refresh {
            self.refresh_in_flight = false;
        }
        // Completion order depends on the network; handling in guild order keeps the
        // bot's reaction to a batch the same every run.
        writes.sort_by_key(|write| write.guild);
        for write in writes {
            match write.result {
                Ok(FencedWrite::Accepted) => {}
                Ok(FencedWrite::Fenced { current }) => {
                    self.handle_refusal(write.shard, &current);
                }
                Err(error) => {
                    // The store is soft state: the next refresh writes it again.
                    tracing::debug!(guild = %write.guild, %error, "snapshot write failed");
                }
            }
        }
    }
}

async fn write_one<S: Store>(
    store: &S,
    snapshot: PlayerSnapshot,
    ttl: std::time::Duration,
) -> SnapshotWrite {
    let result = store.put_player_snapshot(&snapshot, ttl).await;
    SnapshotWrite {
        guild: snapshot.guild,
        shard: snapshot.shard,
        result,
    }
}
