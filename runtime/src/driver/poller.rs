//! Reading the bots' side of the contract from the store: shard heartbeats, Lavalink
//! session registrations and player snapshots (with positions).
//!
//! One read runs at a time, off the loop; its result comes back as a completion. A store
//! that is down yields errors here, and the driver keeps using what it read last.
//!
//! Snapshots are read incrementally (see [`super::snapshot_feed`]).

use std::collections::{BTreeMap, BTreeSet};

use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};
use switchyard_core::shards::ShardHeartbeat as CoreHeartbeat;
use switchyard_core::time::Millis;
use tokio::time::Instant;

use super::snapshot_feed::{SnapshotRead, read_all, read_changed};
use super::{Completion, Driver};
use crate::ports::http::HttpClient;
use crate::ports::store::{Store, StoreError};
use crate::store_schema::{PlayerSnapshot, SessionRegistration, ShardHeartbeat};

type Sessions = BTreeMap<ProcessId, BTreeMap<NodeId, SessionRegistration>>;

/// One round of reads.
#[derive(Debug)]
pub(super) struct Polled {
    heartbeats: Result<BTreeMap<ShardId, ShardHeartbeat>, StoreError>,
    sessions: Result<Sessions, StoreError>,
    snapshots: Result<SnapshotRead, StoreError>,
}

impl<H: HttpClient, S: Store> Driver<H, S> {
    pub(super) fn start_poll(&mut self) {
        if self.poll_in_flight {
            return;
        }
        self.poll_in_flight = true;
        let known: BTreeSet<GuildId> = self.core.guilds().collect();
        let incremental_from = self
            .snapshot_feed
            .next_read(Instant::now(), self.settings.snapshot_full_read_interval);
        let unread: BTreeSet<GuildId> = known
            .iter()
            .filter(|guild| !self.snapshots.contains_key(guild))
            .copied()
            .collect();
        let store = self.store.clone();
        let tx = self.completions_tx.clone();
        tokio::spawn(async move {
            let snapshots = match incremental_from {
                Some(cursor) => read_changed(&store, cursor, &known, unread).await,
                None => read_all(&store, &known.into_iter().collect::<Vec<_>>()).await,
            };
            let polled = Polled {
                heartbeats: store.heartbeats().await,
                sessions: store.all_sessions().await,
                snapshots,
            };
            let _ = tx.send(Completion::Polled(Box::new(polled)));
        });
    }

    pub(super) fn absorb_poll(&mut self, now: Millis, polled: Polled) {
        self.poll_in_flight = false;
        match polled.heartbeats {
            Ok(heartbeats) => self.feed_heartbeats(now, heartbeats),
            Err(error) => tracing::debug!(%error, "heartbeats unreadable"),
        }
        match polled.sessions {
            Ok(sessions) => {
                self.sessions = sessions;
                self.admit_joined_nodes(now);
            }
            Err(error) => tracing::debug!(%error, "sessions unreadable"),
        }
        match polled.snapshots {
            Ok(read) => {
                self.snapshot_feed.advance(read.cursor);
                if read.full {
                    tracing::trace!(read = read.snapshots.len(), "read every player snapshot");
                }
                self.feed_snapshots(now, read.snapshots);
            }
            Err(error) => {
                self.snapshot_feed.restart();
                tracing::debug!(%error, "player snapshots unreadable");
            }
        }
        self.retry_awaiting_snapshot(now);
    }

    fn feed_heartbeats(&mut self, now: Millis, heartbeats: BTreeMap<ShardId, ShardHeartbeat>) {
        for (shard, heartbeat) in heartbeats {
            let fed = self.heartbeats_fed.entry(shard.0).or_default();
            if heartbeat.at_ms <= *fed {
                continue; // Already seen: a silent shard must look silent.
            }
            *fed = heartbeat.at_ms;
            let input = CoreHeartbeat {
                shard,
                process: heartbeat.owner,
                epoch: heartbeat.epoch,
            };
            if let Err(error) = self.core.handle_shard_heartbeat(now, &input) {
                tracing::warn!(%error, "heartbeat for an unknown shard");
            }
        }
    }

    fn feed_snapshots(&mut self, now: Millis, snapshots: BTreeMap<GuildId, PlayerSnapshot>) {
        let unix_now = self.unix_ms(now);
        for (guild, snapshot) in snapshots {
            // Bots stamp positions with wall-clock time; bring them to the core's `now`.
            let elapsed = if snapshot.paused {
                0
            } else {
                unix_now.saturating_sub(snapshot.position_at_ms)
            };
            let position = snapshot.position_ms.saturating_add(elapsed);
            self.core
                .handle_player_update(now, guild, position, !snapshot.paused, None);
            // A move the driver made is newer than a snapshot the bot wrote before it.
            let keep_local = self.snapshots.get(&guild).is_some_and(|local| {
                local.node != snapshot.node && local.updated_at_ms >= snapshot.updated_at_ms
            });
            if !keep_local {
                self.snapshots.insert(guild, snapshot);
            }
        }
    }

    /// Wall-clock milliseconds at the core instant `now`.
    pub(super) fn unix_ms(&self, now: Millis) -> u64 {
        self.settings.epoch_unix_ms.saturating_add(now.as_ms())
    }
}
