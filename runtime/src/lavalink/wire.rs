//! Lavalink v4 JSON shapes, as documented (`docs/api/rest.md`, `websocket.md`).
//!
//! Only the fields the controller uses are typed; unknown fields are ignored so a newer
//! 4.x node still parses.

use serde::{Deserialize, Serialize};
use switchyard_core::penalty::{FrameStats, NodeStats};

/// `GET /v4/stats` and the websocket `stats` op.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Players on the node, every session.
    pub players: u32,
    /// Playing players, every session.
    pub playing_players: u32,
    /// Uptime in milliseconds.
    pub uptime: u64,
    /// CPU figures.
    pub cpu: Cpu,
    /// Frame figures; absent over REST and when no player played in the last minute.
    #[serde(default)]
    pub frame_stats: Option<FrameStatsWire>,
}

/// The `cpu` object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    /// Cores.
    pub cores: u32,
    /// System load, 0–1.
    pub system_load: f64,
    /// Lavalink's load, 0–1.
    pub lavalink_load: f64,
}

/// The `frameStats` object.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct FrameStatsWire {
    /// Frames sent.
    pub sent: i64,
    /// Frames nulled.
    pub nulled: i64,
    /// Frames missing.
    pub deficit: i64,
}

impl Stats {
    /// The core's view of these stats.
    pub fn to_core(&self) -> NodeStats {
        NodeStats {
            players: self.players,
            playing_players: self.playing_players,
            uptime_ms: self.uptime,
            system_load: self.cpu.system_load,
            lavalink_load: self.cpu.lavalink_load,
            frame_stats: self.frame_stats.map(|f| FrameStats {
                sent: f.sent,
                nulled: f.nulled,
                deficit: f.deficit,
            }),
        }
    }
}

/// The voice state a player connects with; all four fields are required by v4.2+.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceState {
    /// Discord voice token.
    pub token: String,
    /// Discord voice endpoint.
    pub endpoint: String,
    /// Discord voice session id.
    pub session_id: String,
    /// The voice channel.
    pub channel_id: String,
}

/// The `track` field of a player update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackUpdate {
    /// The encoded track.
    pub encoded: String,
}

/// `PATCH /v4/sessions/{sessionId}/players/{guildId}` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayerUpdate {
    /// The track to play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<TrackUpdate>,
    /// Where to start, in milliseconds.
    pub position: u64,
    /// Volume, 0–1000.
    pub volume: u16,
    /// Whether it is paused.
    pub paused: bool,
    /// Filters, passed through unchanged.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub filters: serde_json::Value,
    /// The voice state.
    pub voice: VoiceState,
}

/// The part of a v4 player object the controller reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Player {
    /// The guild, as a string snowflake.
    pub guild_id: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Its state.
    pub state: PlayerState,
}

/// A player's `state` object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlayerState {
    /// Position in milliseconds.
    pub position: u64,
    /// Whether the voice connection is up.
    pub connected: bool,
}

/// The v4 error body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorBody {
    /// HTTP status.
    pub status: u16,
    /// Reason phrase.
    pub error: String,
    /// What went wrong.
    pub message: String,
    /// The request path.
    pub path: String,
}
