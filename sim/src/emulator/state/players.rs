//! A session's players, indexed by their next deadline.
//!
//! A node wakes for every `playerUpdate` of every player, each at its own phase, so
//! recomputing every player's timers on each wake-up costs O(players) per wake and
//! O(players²) per update interval. The index keeps each player's next deadline as of
//! its last change, so a wake-up visits only the players that are due.
//!
//! The cached deadline is exact because [`Player::next_deadline`] depends only on the
//! player's own state, never on the current instant, and every mutable access goes
//! through [`PlayerMut`], which re-reads it when dropped. No mutator can forget to
//! refresh the index, including a write to one of the player's public fields.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

use tokio::time::Instant;

use super::player::Player;

#[derive(Debug)]
struct Entry {
    player: Player,
    /// The player's next deadline after its last change: its key in the index.
    deadline: Option<Instant>,
}

/// Players by guild id, with an ordered index of their next deadlines.
#[derive(Debug, Default)]
pub(crate) struct PlayerTable {
    entries: BTreeMap<u64, Entry>,
    /// `(deadline, guild id)` of every player that has a deadline.
    deadlines: BTreeSet<(Instant, u64)>,
}

impl PlayerTable {
    pub fn get(&self, guild_id: u64) -> Option<&Player> {
        self.entries.get(&guild_id).map(|entry| &entry.player)
    }

    /// Every player, in guild id order.
    pub fn values(&self) -> impl Iterator<Item = &Player> {
        self.entries.values().map(|entry| &entry.player)
    }

    pub fn get_mut(&mut self, guild_id: u64) -> Option<PlayerMut<'_>> {
        let Self { entries, deadlines } = self;
        let entry = entries.get_mut(&guild_id)?;
        Some(PlayerMut {
            guild_id,
            entry,
            deadlines,
        })
    }

    /// The guild's player, created (as a `PATCH` or voice update does) if missing.
    pub fn get_or_insert(&mut self, guild_id: u64) -> PlayerMut<'_> {
        let Self { entries, deadlines } = self;
        // A new player has no deadline; the guard indexes whatever it gains.
        let entry = entries.entry(guild_id).or_insert_with(|| Entry {
            player: Player::new(guild_id),
            deadline: None,
        });
        PlayerMut {
            guild_id,
            entry,
            deadlines,
        }
    }

    pub fn remove(&mut self, guild_id: u64) -> Option<Player> {
        let entry = self.entries.remove(&guild_id)?;
        if let Some(at) = entry.deadline {
            let indexed = self.deadlines.remove(&(at, guild_id));
            assert!(indexed, "every cached deadline is in the index");
        }
        Some(entry.player)
    }

    /// The earliest deadline of any player.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The guild ids of the players due at `now`, in guild id order: the order in
    /// which the node fires their timers, which fixes the order of their messages.
    pub fn due(&self, now: Instant) -> Vec<u64> {
        let mut due: Vec<u64> = self
            .deadlines
            .range(..=(now, u64::MAX))
            .map(|(_, guild_id)| *guild_id)
            .collect();
        due.sort_unstable();
        due
    }
}

/// Mutable access to one player; the index learns its new deadline on drop.
#[derive(Debug)]
pub(crate) struct PlayerMut<'a> {
    guild_id: u64,
    entry: &'a mut Entry,
    deadlines: &'a mut BTreeSet<(Instant, u64)>,
}

impl Deref for PlayerMut<'_> {
    type Target = Player;

    fn deref(&self) -> &Player {
        &self.entry.player
    }
}

impl DerefMut for PlayerMut<'_> {
    fn deref_mut(&mut self) -> &mut Player {
        &mut self.entry.player
    }
}

impl Drop for PlayerMut<'_> {
    fn drop(&mut self) {
        let deadline = self.entry.player.next_deadline();
        if deadline == self.entry.deadline {
            return;
        }
        if let Some(old) = self.entry.deadline {
            let indexed = self.deadlines.remove(&(old, self.guild_id));
            assert!(indexed, "every cached deadline is in the index");
        }
        if let Some(new) = deadline {
            self.deadlines.insert((new, self.guild_id));
        }
        self.entry.deadline = deadline;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::emulator::protocol::VoiceState;
    use crate::emulator::state::player::tests::{playback as playback_of, test_track};
    use crate::emulator::state::player::{NewPlayback, Tick};
    use crate::emulator::track::TestTrackOptions;

    fn tick(now: Instant) -> Tick {
        crate::emulator::state::player::tests::tick(now, 0)
    }

    fn playback(length_ms: u64) -> NewPlayback {
        playback_of(test_track(TestTrackOptions {
            length_ms: Some(length_ms),
            ..TestTrackOptions::default()
        }))
    }

    /// The index must hold exactly what a full recomputation would find.
    fn assert_index_exact(table: &PlayerTable) {
        let expected: BTreeSet<(Instant, u64)> = table
            .values()
            .filter_map(|player| player.next_deadline().map(|at| (at, player.guild_id)))
            .collect();
        assert_eq!(table.deadlines, expected);
    }

    #[test]
    fn the_index_follows_every_kind_of_change() {
        let start = Instant::now();
        let mut table = PlayerTable::default();
        let mut out = Vec::new();
        for guild_id in 1..=3 {
            table
                .get_or_insert(guild_id)
                .play(playback(7_000 * guild_id), &tick(start), &mut out);
        }
        assert_index_exact(&table);
        assert_eq!(table.next_deadline(), Some(start + Duration::from_secs(5)));

        let later = start + Duration::from_secs(1);
        let mut connected = table.get_mut(2).expect("inserted above");
        connected.begin_voice(VoiceState::default(), &tick(later));
        connected.voice_ready(&tick(later), &mut out);
        drop(connected);
        assert_index_exact(&table);
        table
            .get_mut(2)
            .expect("inserted above")
            .set_paused(true, &tick(later));
        assert_index_exact(&table);
        table.get_mut(3).expect("inserted above").paused = true;
        assert_index_exact(&table);

        let due_at = start + Duration::from_secs(5);
        assert_eq!(
            table.due(due_at - Duration::from_millis(1)),
            Vec::<u64>::new()
        );
        assert_eq!(table.due(due_at), vec![1, 2, 3], "due in guild id order");
        for guild_id in table.due(due_at) {
            let mut player = table.get_mut(guild_id).expect("due players exist");
            player.handle_timeout(&tick(due_at), &mut out);
        }
        assert_index_exact(&table);
        assert_eq!(table.next_deadline(), Some(start + Duration::from_secs(10)));

        table.remove(1);
        assert_index_exact(&table);
        table
            .get_mut(2)
            .expect("inserted above")
            .stop(&tick(due_at), &mut out);
        table
            .get_mut(3)
            .expect("inserted above")
            .stop(&tick(due_at), &mut out);
        assert_index_exact(&table);
        assert_eq!(table.next_deadline(), None);
    }
}
