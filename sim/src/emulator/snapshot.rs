//! Ground truth about a node, read by the simulation's oracle and the admin endpoint.
//! It is what the node *is* doing, never what a client believes.

use std::sync::Arc;

use serde::Serialize;

use super::faults::Faults;

/// A node at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSnapshot {
    pub name: String,
    pub region: String,
    /// False before `serve` starts and after it returns.
    pub serving: bool,
    /// Whether a graceful shutdown has been requested.
    pub shutting_down: bool,
    pub uptime_ms: u64,
    /// Unix milliseconds on the node's clock.
    pub wall_ms: u64,
    pub sessions: Vec<SessionSnapshot>,
    pub faults: Faults,
}

impl NodeSnapshot {
    /// Every player on the node, with the id of its session.
    pub fn players(&self) -> impl Iterator<Item = (&str, &PlayerSnapshot)> {
        self.sessions.iter().flat_map(|session| {
            session
                .players
                .iter()
                .map(move |player| (session.session_id.as_str(), player))
        })
    }
}

/// Whether a session's websocket is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionLinkState {
    Open,
    /// The socket is gone; the session waits for a resume until it expires.
    AwaitingResume {
        expires_in_ms: u64,
    },
    /// A handshake is resuming the session.
    Resuming,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSnapshot {
    pub session_id: String,
    pub user_id: String,
    pub client_name: Option<String>,
    pub link: SessionLinkState,
    pub resuming: bool,
    pub timeout_secs: u64,
    pub players: Vec<PlayerSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerSnapshot {
    pub guild_id: u64,
    /// Shared with the node, which builds it once per track.
    pub track: Option<Arc<TrackSnapshot>>,
    /// The position now, not as of the last `playerUpdate`.
    pub position_ms: u64,
    pub paused: bool,
    /// Lavalink's `isPlaying`: a track is loaded and not paused.
    pub playing: bool,
    /// Audio is actually flowing: playing, voice connected and not stuck.
    pub audible: bool,
    pub voice_connected: bool,
    /// When the voice connection was made (Unix ms, node clock), while connected.
    pub voice_connected_at_ms: Option<u64>,
    /// Shared with the node, which builds it once per voice update.
    pub voice: Option<Arc<VoiceSnapshot>>,
    pub volume: u16,
}

/// The few facts about a player that the simulation's oracle reads twice a second, for
/// every player of every node: a plain copy, without the strings and shared track and
/// voice records a [`PlayerSnapshot`] carries, so sampling a large world stays cheap.
/// Each field means what the [`PlayerSnapshot`] field of the same name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerTruth {
    pub guild_id: u64,
    /// A track is loaded (playing or paused).
    pub has_track: bool,
    pub audible: bool,
    pub voice_connected: bool,
    pub voice_connected_at_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackSnapshot {
    pub identifier: String,
    pub title: String,
    pub author: String,
    pub source_name: String,
    pub length_ms: i64,
    pub is_stream: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceSnapshot {
    pub token: String,
    pub endpoint: String,
    pub session_id: String,
    pub channel_id: Option<String>,
}
