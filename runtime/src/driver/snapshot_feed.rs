//! Where the controller stands in the bots' player snapshots.
//!
//! Snapshots are read incrementally: a poll reads only the guilds named on
//! `switchyard:player-changes` since the last read (plus any guild the driver has no
//! snapshot of yet), and every `snapshot_full_read_interval`, after a failed read and
//! after a takeover, it reads them all. With thousands of guilds playing, that turns a
//! read of every snapshot each second into a read of the few that changed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use switchyard_core::ids::GuildId;
use tokio::time::Instant;

use crate::ports::store::{Store, StoreError};
use crate::store_schema::{PlayerSnapshot, StreamId};

/// Most change entries one poll reads; a longer backlog is read over the next polls.
const CHANGES_PER_POLL_MAX: usize = 10_000;

/// Player snapshots read by one poll, and where the change stream stands after them.
#[derive(Debug)]
pub(super) struct SnapshotRead {
    pub(super) snapshots: BTreeMap<GuildId, PlayerSnapshot>,
    /// The last change the read accounts for.
    pub(super) cursor: StreamId,
    /// Whether every known guild was read.
    pub(super) full: bool,
}

/// Where the driver stands in the player change stream.
#[derive(Debug, Default)]
pub(super) struct SnapshotFeed {
    /// The last change read; `None` makes the next read a full one.
    cursor: Option<StreamId>,
    /// When the last full read started.
    full_read_at: Option<Instant>,
}

impl SnapshotFeed {
    /// What the next read is: `Some(cursor)` reads the changes after it; `None` reads
    /// everything (no position yet, or the last full read is `full_read_every` old), and
    /// counts as the full read starting now.
    pub(super) fn next_read(
        &mut self,
        now: Instant,
        full_read_every: Duration,
    ) -> Option<StreamId> {
        let full_read_due = self
            .full_read_at
            .is_none_or(|at| now.duration_since(at) >= full_read_every);
        match &self.cursor {
            Some(cursor) if !full_read_due => Some(cursor.clone()),
            _ => {
                self.full_read_at = Some(now);
                None
            }
        }
    }

    /// A read succeeded up to `cursor`.
    pub(super) fn advance(&mut self, cursor: StreamId) {
        self.cursor = Some(cursor);
    }

    /// Forgets the position, so the next read is a full one: after a failed read
    /// (changes may have been trimmed meanwhile), a takeover or standing down.
    pub(super) fn restart(&mut self) {
        self.cursor = None;
    }
}

/// Every known guild's snapshot, and the change stream's position from just before.
pub(super) async fn read_all<S: Store>(
    store: &S,
    guilds: &[GuildId],
) -> Result<SnapshotRead, StoreError> {
    // Read before the snapshots: a change landing during the read is read again next
    // time, never skipped.
    let newest = store.player_changes_newest().await?;
    let snapshots = store.player_snapshots(guilds).await?;
    Ok(SnapshotRead {
        snapshots,
        // `0-0` precedes every entry: an empty stream is followed from its start.
        cursor: newest.unwrap_or_else(|| StreamId("0-0".to_owned())),
        full: true,
    })
}

/// The snapshots of the known guilds that changed after `cursor`, and of `unread`.
pub(super) async fn read_changed<S: Store>(
    store: &S,
    cursor: StreamId,
    known: &BTreeSet<GuildId>,
    unread: BTreeSet<GuildId>,
) -> Result<SnapshotRead, StoreError> {
    let changes = store
        .player_changes_after(Some(&cursor), CHANGES_PER_POLL_MAX)
        .await?;
    let cursor = changes.last().map_or(cursor, |entry| entry.id.clone());
    let mut guilds = unread;
    guilds.extend(
        changes
            .into_iter()
            .map(|entry| entry.value)
            .filter(|guild| known.contains(guild)),
    );
    let snapshots = if guilds.is_empty() {
        BTreeMap::new()
    } else {
        store
            .player_snapshots(&guilds.into_iter().collect::<Vec<_>>())
            .await?
    };
    Ok(SnapshotRead {
        snapshots,
        cursor,
        full: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: Duration = Duration::from_secs(30);

    fn id(text: &str) -> StreamId {
        StreamId(text.to_owned())
    }

    #[tokio::test(start_paused = true)]
    async fn reads_changes_after_a_full_read_until_the_next_is_due() {
        let mut feed = SnapshotFeed::default();
        assert_eq!(feed.next_read(Instant::now(), EVERY), None, "first: full");
        feed.advance(id("5-0"));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(feed.next_read(Instant::now(), EVERY), Some(id("5-0")));
        feed.advance(id("9-0"));
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(feed.next_read(Instant::now(), EVERY), None, "30 s on: full");
        feed.advance(id("12-0"));
        assert_eq!(feed.next_read(Instant::now(), EVERY), Some(id("12-0")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_makes_the_next_read_full_and_counts_it_as_one() {
        let mut feed = SnapshotFeed::default();
        assert_eq!(feed.next_read(Instant::now(), EVERY), None);
        feed.advance(id("5-0"));
        feed.restart();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(feed.next_read(Instant::now(), EVERY), None);
        // A full read that fails leaves no position: the next read is full again.
        assert_eq!(feed.next_read(Instant::now(), EVERY), None);
        feed.advance(id("7-0"));
        assert_eq!(feed.next_read(Instant::now(), EVERY), Some(id("7-0")));
    }
}
