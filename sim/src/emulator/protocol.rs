//! Lavalink v4 wire types: what the emulator sends and the request bodies it reads.
//!
//! Field order follows the Kotlin protocol classes (`dev.arbjerg.lavalink.protocol.v4`),
//! which kotlinx serialises in declaration order; optional fields with a default are
//! omitted when unset (`encodeDefaults = false`), nullable fields without one are
//! written as `null`. Unknown request fields are ignored (`ignoreUnknownKeys = true`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::filters::Filters;
use super::track::{LoadException, Severity, TrackData};

/// A request field that can be omitted, `null`, or set (kotlin `Omissible<T?>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Omitted,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_present(&self) -> bool {
        !matches!(self, Patch::Omitted)
    }

    pub fn as_value(&self) -> Option<&T> {
        match self {
            Patch::Value(value) => Some(value),
            _ => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Patch::Null, Patch::Value))
    }
}

// ---------------------------------------------------------------------------------
// Requests

/// Body of `PATCH /v4/sessions/{sessionId}/players/{guildId}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PlayerUpdateRequest {
    /// Deprecated top-level form of `track.encoded`.
    pub encoded_track: Patch<String>,
    /// Deprecated top-level form of `track.identifier`.
    pub identifier: Patch<String>,
    pub track: Patch<PlayerUpdateTrack>,
    pub position: Patch<i64>,
    pub end_time: Patch<i64>,
    pub volume: Patch<i64>,
    pub paused: Patch<bool>,
    pub filters: Patch<Filters>,
    pub voice: Patch<VoiceRequest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PlayerUpdateTrack {
    pub encoded: Patch<String>,
    pub identifier: Patch<String>,
    pub user_data: Patch<Map<String, Value>>,
}

/// Voice fields are read leniently so that a missing one gets Lavalink's own message
/// rather than a generic parse error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VoiceRequest {
    pub token: Option<String>,
    pub endpoint: Option<String>,
    pub session_id: Option<String>,
    pub channel_id: Option<String>,
}

/// Body of `PATCH /v4/sessions/{sessionId}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionUpdateRequest {
    pub resuming: Patch<bool>,
    pub timeout: Patch<i64>,
}

// ---------------------------------------------------------------------------------
// Responses and messages

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Track {
    pub encoded: String,
    pub info: TrackInfo,
    pub plugin_info: Map<String, Value>,
    pub user_data: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackInfo {
    pub identifier: String,
    pub is_seekable: bool,
    pub author: String,
    pub length: i64,
    pub is_stream: bool,
    pub position: i64,
    pub title: String,
    pub uri: Option<String>,
    pub source_name: String,
    pub artwork_url: Option<String>,
    pub isrc: Option<String>,
}

impl TrackInfo {
    pub fn from_data(data: &TrackData) -> Self {
        Self {
            identifier: data.identifier.clone(),
            is_seekable: !data.is_stream,
            author: data.author.clone(),
            length: data.length_ms,
            is_stream: data.is_stream,
            position: data.position_ms,
            title: data.title.clone(),
            uri: data.uri.clone(),
            source_name: data.source_name.clone(),
            artwork_url: data.artwork_url.clone(),
            isrc: data.isrc.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Player {
    pub guild_id: String,
    pub track: Option<Track>,
    pub volume: u16,
    pub paused: bool,
    pub state: PlayerState,
    pub voice: VoiceState,
    pub filters: Filters,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlayerState {
    pub time: u64,
    pub position: i64,
    pub connected: bool,
    pub ping: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceState {
    pub token: String,
    pub endpoint: String,
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameStats {
    pub sent: i64,
    pub nulled: i64,
    pub deficit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Memory {
    pub free: u64,
    pub used: u64,
    pub allocated: u64,
    pub reservable: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    pub cores: u32,
    pub system_load: f64,
    pub lavalink_load: f64,
}

/// `GET /v4/stats`: `frameStats` is always absent there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub players: u32,
    pub playing_players: u32,
    pub uptime: u64,
    pub memory: Memory,
    pub cpu: Cpu,
}

/// The `stats` op's body: like [`Stats`] with a nullable `frameStats` first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsMessage {
    pub frame_stats: Option<FrameStats>,
    pub players: u32,
    pub playing_players: u32,
    pub uptime: u64,
    pub memory: Memory,
    pub cpu: Cpu,
}

impl StatsMessage {
    pub fn new(stats: Stats, frame_stats: Option<FrameStats>) -> Self {
        Self {
            frame_stats,
            players: stats.players,
            playing_players: stats.playing_players,
            uptime: stats.uptime,
            memory: stats.memory,
            cpu: stats.cpu,
        }
    }
}

/// A websocket message from the node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Message {
    Ready {
        resumed: bool,
        session_id: String,
    },
    PlayerUpdate {
        state: PlayerState,
        guild_id: String,
    },
    Stats(StatsMessage),
    /// Boxed: events carry whole tracks and dwarf the other messages.
    Event(Box<Event>),
}

/// Why a track ended, as in lavaplayer's `AudioTrackEndReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TrackEndReason {
    Finished,
    LoadFailed,
    Stopped,
    Replaced,
    Cleanup,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Event {
    #[serde(rename = "TrackStartEvent")]
    TrackStart { guild_id: String, track: Track },
    #[serde(rename = "TrackEndEvent")]
    TrackEnd {
        guild_id: String,
        track: Track,
        reason: TrackEndReason,
    },
    #[serde(rename = "TrackExceptionEvent")]
    TrackException {
        guild_id: String,
        track: Track,
        exception: Exception,
    },
    #[serde(rename = "TrackStuckEvent")]
    TrackStuck {
        guild_id: String,
        track: Track,
        threshold_ms: u64,
    },
    #[serde(rename = "WebSocketClosedEvent")]
    WebSocketClosed {
        guild_id: String,
        code: u16,
        reason: String,
        by_remote: bool,
    },
}

/// A lavaplayer `FriendlyException` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exception {
    pub message: Option<String>,
    pub severity: Severity,
    pub cause: String,
    pub cause_stack_trace: String,
}

impl Exception {
    pub fn from_load(exception: &LoadException) -> Self {
        Self {
            message: Some(exception.message.clone()),
            severity: exception.severity,
            cause: exception.cause.clone(),
            cause_stack_trace: format!(
                "{}\n\tat com.sedmelluq.discord.lavaplayer.tools.ExceptionTools.wrapUnfriendlyExceptions(ExceptionTools.java:45)\n",
                exception.cause
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaylistInfo {
    pub name: String,
    pub selected_track: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Playlist {
    pub info: PlaylistInfo,
    pub plugin_info: Map<String, Value>,
    pub tracks: Vec<Track>,
}

/// `GET /v4/loadtracks` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "loadType", content = "data", rename_all = "camelCase")]
pub enum LoadResult {
    Track(Track),
    Playlist(Playlist),
    Search(Vec<Track>),
    /// The docs specify `"data": {}`.
    Empty(Map<String, Value>),
    Error(Exception),
}

/// `PATCH /v4/sessions/{sessionId}` response.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Session {
    pub resuming: bool,
    pub timeout: u64,
}

/// The REST error body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    pub timestamp: u64,
    pub status: u16,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    pub message: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub version: Version,
    pub build_time: u64,
    pub git: Git,
    pub jvm: String,
    pub lavaplayer: String,
    pub source_managers: Vec<String>,
    pub filters: Vec<String>,
    pub plugins: Vec<Plugin>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub semver: String,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    pub pre_release: Option<String>,
    pub build: Option<String>,
}

impl Version {
    /// Parses `MAJOR.MINOR.PATCH[-PRE][+BUILD]`; anything else reports 0.0.0 with the
    /// text as `semver`, as Lavalink's `Version.fromSemver` does.
    pub fn parse(semver: &str) -> Self {
        let (core_and_pre, build) = match semver.split_once('+') {
            Some((head, build)) => (head, Some(build.to_owned())),
            None => (semver, None),
        };
        let (core, pre_release) = match core_and_pre.split_once('-') {
            Some((core, pre)) => (core, Some(pre.to_owned())),
            None => (core_and_pre, None),
        };
        let numbers: Vec<Option<u32>> = core.split('.').map(|part| part.parse().ok()).collect();
        match numbers.as_slice() {
            [Some(major), Some(minor), Some(patch)] => Self {
                semver: semver.to_owned(),
                major: *major,
                minor: *minor,
                patch: *patch,
                pre_release,
                build,
            },
            _ => Self {
                semver: semver.to_owned(),
                major: 0,
                minor: 0,
                patch: 0,
                pre_release: None,
                build: None,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Git {
    pub branch: String,
    pub commit: String,
    pub commit_time: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plugin {
    pub name: String,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_distinguishes_omitted_null_and_value() {
        let update: PlayerUpdateRequest =
            serde_json::from_str(r#"{"endTime":null,"volume":50,"unknown":1}"#)
                .expect("valid body with an unknown field");
        assert_eq!(update.end_time, Patch::Null);
        assert_eq!(update.volume, Patch::Value(50));
        assert_eq!(update.position, Patch::Omitted);
    }

    #[test]
    fn messages_put_op_and_type_first() {
        let ready = Message::Ready {
            resumed: false,
            session_id: "abc".to_owned(),
        };
        assert_eq!(
            serde_json::to_string(&ready).expect("serialises"),
            r#"{"op":"ready","resumed":false,"sessionId":"abc"}"#
        );
        let closed = Message::Event(Box::new(Event::WebSocketClosed {
            guild_id: "1".to_owned(),
            code: 4006,
            reason: "x".to_owned(),
            by_remote: true,
        }));
        assert_eq!(
            serde_json::to_string(&closed).expect("serialises"),
            r#"{"op":"event","type":"WebSocketClosedEvent","guildId":"1","code":4006,"reason":"x","byRemote":true}"#
        );
    }

    #[test]
    fn load_results_are_adjacently_tagged() {
        let empty = LoadResult::Empty(Map::new());
        assert_eq!(
            serde_json::to_string(&empty).expect("serialises"),
            r#"{"loadType":"empty","data":{}}"#
        );
    }

    #[test]
    fn versions_parse_like_lavalink() {
        let version = Version::parse("4.2.2-rc.1+abc");
        assert_eq!((version.major, version.minor, version.patch), (4, 2, 2));
        assert_eq!(version.pre_release.as_deref(), Some("rc.1"));
        assert_eq!(version.build.as_deref(), Some("abc"));
        assert_eq!(Version::parse("dev").major, 0);
    }
}
