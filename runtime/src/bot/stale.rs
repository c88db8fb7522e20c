//! Players the bot left behind and still has to delete: after a move, after losing a
//! shard, after a creation that landed somewhere it no longer wants.
//!
//! One deletion per player runs at a time and failed ones are tried again. The book also
//! keeps a deletion from undoing a newer player in the same place: when the bot wants
//! the very player back (a lapsed shard resumes) while its DELETE is on the wire, the
//! deletion is called off and the player is re-created only once that DELETE has landed.

use std::collections::BTreeMap;

use switchyard_core::ids::{GuildId, NodeId};

/// A player left on a node, still to delete.
#[derive(Debug)]
struct StalePlayer {
    /// The session holding it.
    session_id: String,
    /// Whether a deletion is under way.
    in_flight: bool,
    /// Wanted back while its deletion was under way: no further attempt.
    cancelled: bool,
}

/// What became of a deletion that came back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Landed {
    /// About a player no longer in the book (or an older one in the same place).
    Unknown,
    /// The player is gone from the book: a creation waiting for it may go ahead.
    Settled,
    /// It failed and will be tried again.
    Retry,
}

/// The left-behind players, by guild and node.
#[derive(Debug, Default)]
pub(crate) struct StaleBook {
    players: BTreeMap<(GuildId, NodeId), StalePlayer>,
}

impl StaleBook {
    /// Remembers a player to delete (replacing an older one in the same place).
    pub(crate) fn insert(&mut self, guild: GuildId, node: NodeId, session_id: String) {
        let stale = StalePlayer {
            session_id,
            in_flight: false,
            cancelled: false,
        };
        self.players.insert((guild, node), stale);
    }

    pub(crate) fn contains(&self, guild: GuildId, node: &NodeId) -> bool {
        self.players.contains_key(&(guild, node.clone()))
    }

    /// Every player still to delete.
    pub(crate) fn keys(&self) -> Vec<(GuildId, NodeId)> {
        self.players.keys().cloned().collect()
    }

    /// Starts a deletion: the session to delete the player from, unless one is already
    /// under way or it was called off.
    pub(crate) fn begin_delete(&mut self, guild: GuildId, node: &NodeId) -> Option<String> {
        let stale = self.players.get_mut(&(guild, node.clone()))?;
        if stale.in_flight || stale.cancelled {
            return None;
        }
        stale.in_flight = true;
        Some(stale.session_id.clone())
    }

    /// Whether a deletion of the guild's player on `node` is under way: a player created
    /// there now could be removed by it.
    pub(crate) fn deleting(&self, guild: GuildId, node: &NodeId) -> bool {
        self.players
            .get(&(guild, node.clone()))
            .is_some_and(|stale| stale.in_flight)
    }

    /// The bot wants the player in `session_id` on `node` back: its deletion is called
    /// off at once, or, when one is under way, once that one lands.
    pub(crate) fn cancel(&mut self, guild: GuildId, node: &NodeId, session_id: &str) {
        let key = (guild, node.clone());
        let Some(stale) = self.players.get_mut(&key) else {
            return;
        };
        if stale.session_id != session_id {
            return;
        }
        if stale.in_flight {
            stale.cancelled = true;
        } else {
            self.players.remove(&key);
        }
    }

    /// A deletion came back, done (`deleted`) or not.
    pub(crate) fn landed(
        &mut self,
        guild: GuildId,
        node: &NodeId,
        session_id: &str,
        deleted: bool,
    ) -> Landed {
        let key = (guild, node.clone());
        let Some(stale) = self.players.get_mut(&key) else {
            return Landed::Unknown;
        };
        if stale.session_id != session_id {
            return Landed::Unknown; // A newer player was left there; its own deletion decides.
        }
        if deleted || stale.cancelled {
            // Called off: whatever is left there, the creation overwrites it.
            self.players.remove(&key);
            Landed::Settled
        } else {
            stale.in_flight = false;
            Landed::Retry
        }
    }

    /// A session closed: its players are gone with it.
    pub(crate) fn forget_session(&mut self, node: &NodeId, session_id: &str) {
        self.players.retain(|(_, stale_node), stale| {
            !(stale_node == node && stale.session_id == session_id)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book_with_one() -> (StaleBook, GuildId, NodeId) {
        let mut book = StaleBook::default();
        let (guild, node) = (GuildId(7), NodeId::new("eu-1"));
        book.insert(guild, node.clone(), "s1".into());
        (book, guild, node)
    }

    #[test]
    fn one_deletion_at_a_time_and_a_failed_one_is_tried_again() {
        let (mut book, guild, node) = book_with_one();
        assert_eq!(book.begin_delete(guild, &node).as_deref(), Some("s1"));
        assert!(book.deleting(guild, &node));
        assert_eq!(book.begin_delete(guild, &node), None, "one at a time");
        assert_eq!(book.landed(guild, &node, "s1", false), Landed::Retry);
        assert!(!book.deleting(guild, &node));
        assert_eq!(book.begin_delete(guild, &node).as_deref(), Some("s1"));
        assert_eq!(book.landed(guild, &node, "s1", true), Landed::Settled);
        assert!(!book.contains(guild, &node));
    }

    #[test]
    fn a_player_wanted_back_before_its_deletion_started_is_never_deleted() {
        let (mut book, guild, node) = book_with_one();
        book.cancel(guild, &node, "s1");
        assert!(!book.contains(guild, &node));
        assert_eq!(book.begin_delete(guild, &node), None);
    }

    #[test]
    fn a_player_wanted_back_mid_deletion_waits_for_it_and_is_not_deleted_again() {
        let (mut book, guild, node) = book_with_one();
        assert!(book.begin_delete(guild, &node).is_some());
        book.cancel(guild, &node, "s1");
        // The creation must wait: the DELETE on the wire could remove the new player.
        assert!(book.deleting(guild, &node));
        // Even a failed deletion settles it, and nothing is tried again.
        assert_eq!(book.landed(guild, &node, "s1", false), Landed::Settled);
        assert!(!book.deleting(guild, &node));
        assert_eq!(book.begin_delete(guild, &node), None);
    }

    #[test]
    fn answers_about_another_session_or_unknown_players_change_nothing() {
        let (mut book, guild, node) = book_with_one();
        assert!(book.begin_delete(guild, &node).is_some());
        book.cancel(guild, &node, "s0");
        assert_eq!(book.landed(guild, &node, "s0", true), Landed::Unknown);
        assert!(book.deleting(guild, &node));
        let other = NodeId::new("eu-2");
        assert_eq!(book.landed(guild, &other, "s1", true), Landed::Unknown);
        book.forget_session(&node, "s1");
        assert!(!book.contains(guild, &node));
    }
}
