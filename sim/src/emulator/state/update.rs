//! Applying a validated player PATCH, in the order Lavalink's `PlayerRestHandler` does:
//! pause, user data, volume, seek, end time and filters first, then the track. A track
//! that fails to resolve leaves the earlier changes applied, as in Lavalink.

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::player::NewPlayback;
use super::{NodeState, StateError};
use crate::emulator::filters::Filters;
use crate::emulator::protocol::{self, Patch};
use crate::emulator::track::{LoadResult, TrackData, catalog, codec};

/// A change of track requested by a PATCH.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TrackChange {
    /// `encoded: null`: stop the current track.
    Stop,
    Encoded(String),
    Identifier(String),
}

/// A PATCH body that passed validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlayerChanges {
    pub track: Option<TrackChange>,
    pub user_data: Option<Map<String, Value>>,
    pub position_ms: Option<u64>,
    /// Validated to be positive when set.
    pub end_time_ms: Patch<u64>,
    pub volume: Option<i64>,
    pub paused: Option<bool>,
    pub filters: Option<Filters>,
}

impl NodeState {
    pub fn apply_update(
        &mut self,
        session_id: &str,
        guild_id: u64,
        changes: PlayerChanges,
        no_replace: bool,
        now: Instant,
    ) -> Result<protocol::Player, StateError> {
        let tick = self.tick(now);
        let queue_max = self.config.resume_queue_max;
        let session = self.rest_session_mut(session_id)?;
        let mut player = session.players.get_or_insert(guild_id);
        let mut out = Vec::new();
        let changes_track = changes.track.is_some();

        if !changes_track {
            if let Some(paused) = changes.paused {
                player.set_paused(paused, &tick);
            }
            if let Some(user_data) = changes.user_data.clone() {
                player.set_user_data(user_data);
            }
        }
        if let Some(volume) = changes.volume {
            player.set_volume(volume);
        }
        if !changes_track {
            if let Some(position) = changes.position_ms
                && player.has_track()
            {
                player.seek(position, &tick, &mut out);
            }
            match changes.end_time_ms {
                Patch::Omitted => {}
                Patch::Null => player.set_end_time(None, &tick),
                Patch::Value(end) => player.set_end_time(Some(end), &tick),
            }
        }
        if let Some(filters) = changes.filters.clone() {
            player.set_filters(filters, &tick, &mut out);
        }

        let result = match changes.track.clone() {
            Some(_) if no_replace && player.has_track() => Ok(()),
            Some(change) => {
                player.set_paused(changes.paused.unwrap_or(false), &tick);
                resolve(change).map(|resolved| match resolved {
                    Some(data) => {
                        let playback = new_playback(data, &changes);
                        player.play(playback, &tick, &mut out);
                    }
                    None => player.stop(&tick, &mut out),
                })
            }
            None => Ok(()),
        };
        let json = player.to_json(&tick);
        // The guard holds the session until it re-indexes the player.
        drop(player);
        session.flush(out, queue_max);
        result.map(|()| json)
    }
}

fn new_playback(data: TrackData, changes: &PlayerChanges) -> NewPlayback {
    // Without an explicit position, a decoded track starts where it was encoded.
    let position_ms = changes
        .position_ms
        .unwrap_or_else(|| u64::try_from(data.position_ms).unwrap_or(0));
    NewPlayback {
        data,
        user_data: changes.user_data.clone().unwrap_or_default(),
        position_ms,
        end_time_ms: changes.end_time_ms.as_value().copied(),
        paused: changes.paused.unwrap_or(false),
    }
}

/// Decodes or loads the requested track; `None` means stop.
fn resolve(change: TrackChange) -> Result<Option<TrackData>, StateError> {
    match change {
        TrackChange::Stop => Ok(None),
        TrackChange::Encoded(encoded) => Ok(Some(codec::decode(&encoded)?)),
        TrackChange::Identifier(identifier) => match catalog::load(&identifier) {
            LoadResult::Track(track) => Ok(Some(track)),
            LoadResult::Empty => Err(StateError::NoMatches),
            LoadResult::Playlist { .. } | LoadResult::Search(_) => Err(StateError::NotATrack),
            LoadResult::Error(exception) => Err(StateError::LoadFailed(exception.message)),
        },
    }
}
