//! Following the controller's moves: read `switchyard:moves` from the last seen id, and
//! for each of the bot's guilds route further commands to the new node, ignore what the
//! old node still says, delete the player left there once that node answers, and write
//! a fresh snapshot naming the new node.
//!
//! History before the bot started is skipped: its first successful read only finds the
//! stream's end (and the highest leader token), because an old move says nothing about
//! where a guild the bot places now will play. Entries whose leader token is below the
//! highest seen come from a deposed leader and are ignored.

use switchyard_core::ids::{GuildId, NodeId};

use super::runner::{Bot, Completion};
use super::stale::Landed;
use super::state::{BotEvent, PlayerStatus};
use crate::lavalink::LavalinkError;
use crate::ports::http::HttpClient;
use crate::ports::store::{Store, StoreError};
use crate::store_schema::{MoveAnnouncement, StreamEntry, StreamId};

/// Entries read per request.
const PAGE_LEN: usize = 256;
/// Pages read to find the stream's end at start; the stream is capped far below this.
const CATCH_UP_PAGES_MAX: usize = 1_000;

/// Where the bot is in the move stream.
#[derive(Debug, Default)]
pub(crate) struct MoveCursor {
    last: Option<StreamId>,
    token_max: u64,
    caught_up: bool,
    in_flight: bool,
}

/// One read of the stream.
#[derive(Debug)]
pub(crate) enum MovesRead {
    /// The end of the history at start.
    CaughtUp {
        last: Option<StreamId>,
        token_max: u64,
    },
    /// New entries.
    Entries(Vec<StreamEntry<MoveAnnouncement>>),
}

async fn read<S: Store>(
    store: S,
    after: Option<StreamId>,
    caught_up: bool,
) -> Result<MovesRead, StoreError> {
    if caught_up {
        return store
            .moves_after(after.as_ref(), PAGE_LEN)
            .await
            .map(MovesRead::Entries);
    }
    let mut last = after;
    let mut token_max = 0;
    for _ in 0..CATCH_UP_PAGES_MAX {
        let page = store.moves_after(last.as_ref(), PAGE_LEN).await?;
        let full = page.len() == PAGE_LEN;
        for entry in page {
            token_max = token_max.max(entry.value.leader_token);
            last = Some(entry.id);
        }
        if !full {
            break;
        }
    }
    Ok(MovesRead::CaughtUp { last, token_max })
}

impl<H: HttpClient, S: Store> Bot<H, S> {
    pub(crate) fn start_moves_poll(&mut self) {
        if self.moves.in_flight {
            return;
        }
        self.moves.in_flight = true;
        let store = self.store.clone();
        let after = self.moves.last.clone();
        let caught_up = self.moves.caught_up;
        self.tasks
            .spawn(async move { Completion::Moves(read(store, after, caught_up).await) });
    }

    pub(crate) fn on_moves(&mut self, result: Result<MovesRead, StoreError>) {
        self.moves.in_flight = false;
        match result {
            Err(error) => tracing::debug!(%error, "move stream unreadable"),
            Ok(MovesRead::CaughtUp { last, token_max }) => {
                self.moves.last = last;
                self.moves.token_max = self.moves.token_max.max(token_max);
                if !self.moves.caught_up {
                    self.moves.caught_up = true;
                    self.state.update(|view| view.following_moves = true);
                }
            }
            Ok(MovesRead::Entries(entries)) => {
                let full = entries.len() == PAGE_LEN;
                for entry in entries {
                    self.moves.last = Some(entry.id);
                    if entry.value.leader_token < self.moves.token_max {
                        tracing::info!(guild = %entry.value.guild, token = entry.value.leader_token, "ignoring a move from a deposed leader");
                        continue;
                    }
                    self.moves.token_max = entry.value.leader_token;
                    self.follow(&entry.value);
                }
                if full {
                    // More are waiting: read on now rather than a poll interval later.
                    self.start_moves_poll();
                }
            }
        }
    }

    /// Routes a guild of this bot to the node the controller moved it to.
    fn follow(&mut self, announcement: &MoveAnnouncement) {
        let guild = announcement.guild;
        let to = &announcement.to;
        let new_session = self.sessions.get(to).cloned();
        let generation = self.next_generation();
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        if !self
            .shards
            .get(&entry.shard)
            .is_some_and(|shard| shard.is_acting())
        {
            return;
        }
        let already_there = entry.node.as_ref() == Some(to)
            && entry.status == PlayerStatus::Live
            && entry.session_id == new_session;
        // A guild still waiting for its first player has no snapshot the controller
        // could have moved; its own creation decides.
        if already_there || entry.status == PlayerStatus::Placing || entry.reply.is_some() {
            return;
        }
        let from = entry.node.clone();
        // A player may remain where the bot believed it was, in a session still open.
        let left_behind = match (&entry.node, &entry.session_id) {
            (Some(node), Some(session)) if node != to || Some(session) != new_session.as_ref() => {
                (self.sessions.get(node) == Some(session)).then(|| (node.clone(), session.clone()))
            }
            _ => None,
        };
        // Work still in flight for the old placement is superseded.
        entry.generation = generation;
        entry.node = Some(to.clone());
        let report = entry.report_elsewhere.take();
        let was_lost = entry.status == PlayerStatus::Lost;
        match new_session {
            Some(session) => {
                if let Some(report) = report.filter(|r| &r.node == to && r.session_id == session) {
                    // The new node's own word beats extrapolating the old position.
                    entry.position_ms = report.position_ms;
                    entry.position_at = report.received_at;
                } else if was_lost {
                    // Nothing played while it was lost: the controller resumes it from
                    // about where it stopped, not from where it would be by now.
                    entry.position_at = tokio::time::Instant::now();
                }
                entry.session_id = Some(session);
                entry.status = PlayerStatus::Live;
            }
            None => {
                // The controller made it in a session that has since closed: it is gone
                // and is re-created when the bot's session there opens.
                entry.status = PlayerStatus::Lost;
            }
        }
        entry.create = super::create::CreatePlan {
            check_route: true,
            ..Default::default()
        };
        if let Some((node, session)) = left_behind {
            self.add_stale(guild, node, session);
        }
        self.publish_player(guild);
        self.emit(BotEvent::PlayerMoved {
            guild,
            from,
            to: to.clone(),
        });
        self.write_snapshot(guild);
    }

    /// Remembers a player left on `node` and tries to delete it now.
    pub(crate) fn add_stale(&mut self, guild: GuildId, node: NodeId, session_id: String) {
        if self.sessions.get(&node) != Some(&session_id) {
            return; // Its session closed, and the player with it.
        }
        self.stale.insert(guild, node.clone(), session_id);
        self.delete_stale(guild, node);
    }

    /// Deletes a left-behind player, unless a deletion is already under way.
    pub(crate) fn delete_stale(&mut self, guild: GuildId, node: NodeId) {
        let Some(client) = self.clients.get(&node).cloned() else {
            return;
        };
        let Some(session_id) = self.stale.begin_delete(guild, &node) else {
            return;
        };
        self.tasks.spawn(async move {
            let result = client.delete_player(&session_id, guild).await;
            Completion::StaleDeleted {
                guild,
                node,
                session_id,
                result,
            }
        });
    }

    /// Tries every remaining deletion again (the node may answer now).
    pub(crate) fn retry_stale(&mut self) {
        for (guild, node) in self.stale.keys() {
            self.delete_stale(guild, node);
        }
    }

    pub(crate) fn on_stale_deleted(
        &mut self,
        guild: GuildId,
        node: NodeId,
        session_id: String,
        result: Result<(), LavalinkError>,
    ) {
        if let Err(error) = &result {
            tracing::debug!(%guild, %error, "old player not deleted yet");
        }
        if self.stale.landed(guild, &node, &session_id, result.is_ok()) == Landed::Settled {
            // A creation on this node may have waited for the deletion to land.
            self.try_create(guild);
        }
    }
}
