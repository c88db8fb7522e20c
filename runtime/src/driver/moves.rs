//! Carrying out a move: `DELETE` the old player when its node is reachable, then `PATCH`
//! the target with the same track, voice state, volume, filters and paused flag at the
//! position the core chose.
//!
//! Deleting first keeps at most one live player per guild (a reachable old player would
//! otherwise keep playing beside the new one). Everything a move needs comes from the
//! driver's cache of player snapshots and bot sessions, so moves work while the store is
//! down. A guild that started playing since the last read of the store has no snapshot
//! in the cache yet: its move waits for the next reads (a few, bounded) before failing.

use switchyard_core::command::MoveOrder;
use switchyard_core::ids::{GuildId, MoveId, NodeId};
use switchyard_core::time::Millis;

use super::store_writer::StreamWrite;
use super::{Completion, Driver};
use crate::lavalink::wire::{PlayerUpdate, TrackUpdate, VoiceState};
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::store_schema::MoveAnnouncement;

/// How a move ended.
#[derive(Debug)]
pub(super) struct MoveOutcome {
    id: MoveId,
    guild: GuildId,
    from: Option<NodeId>,
    to: NodeId,
    /// The session the player now lives in, on success.
    result: Result<String, String>,
}

/// Store reads a move waits for its guild's first snapshot; the second read surely
/// started after the move was ordered.
const SNAPSHOT_READS_AWAITED: u8 = 2;

impl<H: HttpClient, S: Store> Driver<H, S> {
    pub(super) fn start_move(&mut self, now: Millis, order: MoveOrder) {
        if !self.snapshots.contains_key(&order.guild) {
            self.awaiting_snapshot.push((order, SNAPSHOT_READS_AWAITED));
            self.start_poll();
            return;
        }
        self.launch_move(now, order);
    }

    /// After a read of the store: starts the moves whose snapshot arrived, and those that
    /// waited long enough (they fail for want of one).
    pub(super) fn retry_awaiting_snapshot(&mut self, now: Millis) {
        if !self.is_acting() {
            self.awaiting_snapshot.clear();
            return;
        }
        for (order, reads_left) in std::mem::take(&mut self.awaiting_snapshot) {
            if self.snapshots.contains_key(&order.guild) || reads_left <= 1 {
                self.launch_move(now, order);
            } else {
                self.awaiting_snapshot.push((order, reads_left - 1));
            }
        }
        if !self.awaiting_snapshot.is_empty() {
            self.start_poll();
        }
    }

    fn launch_move(&mut self, _now: Millis, order: MoveOrder) {
        let tx = self.completions_tx.clone();
        let fail = |reason: String| {
            let _ = tx.send(Completion::Move(MoveOutcome {
                id: order.id,
                guild: order.guild,
                from: order.from.clone(),
                to: order.to.clone(),
                result: Err(reason),
            }));
        };
        let Some(snapshot) = self.snapshots.get(&order.guild).cloned() else {
            return fail("no player snapshot from the bot".to_owned());
        };
        let Some(session) = self
            .sessions
            .get(&snapshot.owner)
            .and_then(|by_node| by_node.get(&order.to))
            .map(|r| r.session_id.clone())
        else {
            return fail(format!(
                "bot {} has no session on {}",
                snapshot.owner, order.to
            ));
        };
        let Some(channel_id) = snapshot.voice.channel_id.clone() else {
            return fail("the snapshot has no voice channel".to_owned());
        };
        let (Some(target), old) = (
            self.clients.get(&order.to).cloned(),
            order
                .from
                .as_ref()
                .and_then(|from| self.clients.get(from).cloned()),
        ) else {
            return fail(format!("no client for {}", order.to));
        };
        let update = PlayerUpdate {
            track: snapshot
                .track
                .clone()
                .map(|encoded| TrackUpdate { encoded }),
            position: order.position_ms,
            volume: snapshot.volume,
            paused: snapshot.paused,
            filters: snapshot.filters.clone(),
            voice: VoiceState {
                token: snapshot.voice.token.clone(),
                endpoint: snapshot.voice.endpoint.clone(),
                session_id: snapshot.voice.session_id.clone(),
                channel_id,
            },
        };
        let old_session = snapshot.session_id.clone();
        let delete_old = order.delete_from;
        let tx = self.completions_tx.clone();
        tokio::spawn(async move {
            if delete_old && let Some(old) = old {
                // Best effort: an old node that fails to answer is treated as gone.
                if let Err(error) = old.delete_player(&old_session, order.guild).await {
                    tracing::debug!(%error, "could not delete the old player");
                }
            }
            let result = target
                .update_player(&session, order.guild, &update)
                .await
                .map(|()| session)
                .map_err(|e| e.to_string());
            let _ = tx.send(Completion::Move(MoveOutcome {
                id: order.id,
                guild: order.guild,
                from: order.from,
                to: order.to,
                result,
            }));
        });
    }

    pub(super) fn finish_move(&mut self, now: Millis, outcome: MoveOutcome) {
        self.observe_move_finished(&outcome.to, outcome.result.is_ok());
        match outcome.result {
            Ok(session) => {
                self.core.handle_move_succeeded(now, outcome.id);
                if let Some(snapshot) = self.snapshots.get_mut(&outcome.guild) {
                    snapshot.node = outcome.to.clone();
                    snapshot.session_id = session;
                }
                self.writer.route(outcome.guild, Some(outcome.to.clone()));
                self.writer.stream(StreamWrite::Move(MoveAnnouncement {
                    move_id: outcome.id,
                    guild: outcome.guild,
                    from: outcome.from,
                    to: outcome.to,
                    leader_token: self.leader_token(),
                    at_ms: now.as_ms(),
                }));
            }
            Err(reason) => {
                tracing::warn!(guild = %outcome.guild, to = %outcome.to, %reason, "move failed");
                self.core.handle_move_failed(now, outcome.id);
            }
        }
    }
}
