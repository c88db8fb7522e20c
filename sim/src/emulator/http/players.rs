//! Sessions and players: `/v4/sessions/{sessionId}[/players[/{guildId}]]`.
//!
//! Checks run in Lavalink's order: the body is parsed first (400 for malformed JSON,
//! or a `null` where the protocol has no nullable field), then the session is looked
//! up (404), then the semantic checks (400), then the update is applied.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::UNREADABLE_BODY;
use super::{ApiError, AppState};
use crate::emulator::protocol::{
    self, Patch, PlayerUpdateRequest, SessionUpdateRequest, VoiceRequest, VoiceState,
};
use crate::emulator::state::{PlayerChanges, StateError, TrackChange, VoiceStep};

/// Reads a JSON body with the node's size limit (413 past it).
pub(super) fn read_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Maximum upload size exceeded",
            )
        } else {
            ApiError::bad_request(UNREADABLE_BODY)
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("Required request body is missing"));
    }
    serde_json::from_slice(&bytes).map_err(|_| ApiError::unreadable_body())
}

/// Guild ids are Java longs in the path.
fn parse_guild(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "Failed to convert value of type 'java.lang.String' to required type 'long'; For input string: \"{raw}\""
        ))
    })
}

fn on_node<T>(
    shared: &AppState,
    operation: impl FnOnce(
        &mut crate::emulator::state::NodeState,
        tokio::time::Instant,
        &crate::emulator::faults::Faults,
    ) -> Result<T, StateError>,
) -> Result<T, ApiError> {
    shared
        .with_node(operation)
        .ok_or_else(ApiError::unavailable)?
        .map_err(ApiError::from)
}

pub(super) async fn list(
    State(shared): State<AppState>,
    Path(session_id): Path<String>,
) -> Result<Json<Vec<protocol::Player>>, ApiError> {
    on_node(&shared, |node, now, _| node.players_json(&session_id, now)).map(Json)
}

pub(super) async fn get(
    State(shared): State<AppState>,
    Path((session_id, guild)): Path<(String, String)>,
) -> Result<Json<protocol::Player>, ApiError> {
    let guild_id = parse_guild(&guild)?;
    on_node(&shared, |node, now, _| {
        node.player_json(&session_id, guild_id, now)
    })
    .map(Json)
}

pub(super) async fn destroy(
    State(shared): State<AppState>,
    Path((session_id, guild)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let guild_id = parse_guild(&guild)?;
    on_node(&shared, |node, now, _| {
        node.destroy_player(&session_id, guild_id, now)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn update_session(
    State(shared): State<AppState>,
    Path(session_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<protocol::Session>, ApiError> {
    let update: SessionUpdateRequest = read_body(body)?;
    let resuming = non_null(update.resuming)?;
    let timeout = non_null(update.timeout)?;
    on_node(&shared, |node, _, _| {
        node.update_session(&session_id, resuming, timeout)
    })
    .map(Json)
}

/// A protocol field that is not nullable: `null` is a parse error.
fn non_null<T>(field: Patch<T>) -> Result<Option<T>, ApiError> {
    match field {
        Patch::Omitted => Ok(None),
        Patch::Null => Err(ApiError::unreadable_body()),
        Patch::Value(value) => Ok(Some(value)),
    }
}

pub(super) async fn update(
    State(shared): State<AppState>,
    Path((session_id, guild)): Path<(String, String)>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<protocol::Player>, ApiError> {
    // Spring resolves the body before converting path and query values.
    let request: PlayerUpdateRequest = read_body(body)?;
    let guild_id = parse_guild(&guild)?;
    let no_replace = match query.ok().and_then(|Query(params)| params.get("noReplace").cloned()) {
        None => false,
        Some(value) => value.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "Failed to convert value of type 'java.lang.String' to required type 'boolean'; Invalid boolean value [{value}]"
            ))
        })?,
    };
    let parsed = parse_update(request)?;
    on_node(&shared, |node, _, _| node.require_session(&session_id))?;
    parsed.check()?;

    if let Some(voice) = parsed.voice.clone() {
        connect_voice(&shared, &session_id, guild_id, voice).await?;
    }
    on_node(&shared, |node, now, _| {
        node.apply_update(&session_id, guild_id, parsed.changes, no_replace, now)
    })
    .map(Json)
}

/// Lavalink blocks the PATCH until the voice handshake completes.
async fn connect_voice(
    shared: &AppState,
    session_id: &str,
    guild_id: u64,
    voice: VoiceState,
) -> Result<(), ApiError> {
    let step = on_node(shared, |node, now, _| {
        node.begin_voice(session_id, guild_id, voice, now)
    })?;
    let VoiceStep::Connect { generation } = step else {
        return Ok(());
    };
    tokio::time::sleep(shared.config.voice_handshake).await;
    on_node(shared, |node, now, faults| {
        node.finish_voice(session_id, guild_id, generation, now, faults)
    })
}

/// A parsed PATCH body whose semantic checks run after the session lookup.
struct ParsedUpdate {
    changes: PlayerChanges,
    voice: Option<VoiceState>,
    /// The first semantic error, reported only if the session exists.
    error: Option<ApiError>,
}

impl ParsedUpdate {
    fn check(&self) -> Result<(), ApiError> {
        self.error.clone().map_or(Ok(()), Err)
    }
}

fn parse_update(request: PlayerUpdateRequest) -> Result<ParsedUpdate, ApiError> {
    let mut error = None;
    let mut fail = |message: &str| {
        error.get_or_insert_with(|| ApiError::bad_request(message));
    };
    let legacy = request.encoded_track.is_present() || request.identifier.is_present();
    if request.track.is_present() && legacy {
        fail("Cannot specify both track and encodedTrack/identifier");
    }
    let (encoded, identifier, user_data) = match request.track {
        Patch::Null => return Err(ApiError::unreadable_body()),
        Patch::Value(track) => (track.encoded, track.identifier, track.user_data),
        Patch::Omitted => (request.encoded_track, request.identifier, Patch::Omitted),
    };
    if encoded.is_present() && identifier.is_present() {
        fail("Cannot specify both encodedTrack and identifier");
    }
    let track = match (encoded, non_null(identifier)?) {
        (Patch::Value(encoded), _) => Some(TrackChange::Encoded(encoded)),
        (Patch::Null, _) => Some(TrackChange::Stop),
        (Patch::Omitted, Some(identifier)) => Some(TrackChange::Identifier(identifier)),
        (Patch::Omitted, None) => None,
    };
    let voice = non_null(request.voice)?.and_then(|voice| {
        let checked = complete_voice(voice);
        if checked.is_none() {
            fail("token, endpoint, sessionId and channelId must be provided in voice state");
        }
        checked
    });
    let end_time_ms = match request.end_time {
        Patch::Omitted => Patch::Omitted,
        Patch::Null => Patch::Null,
        Patch::Value(end) if end > 0 => Patch::Value(end as u64),
        Patch::Value(_) => {
            fail("End time must be greater than 0");
            Patch::Omitted
        }
    };
    let changes = PlayerChanges {
        track,
        user_data: non_null(user_data)?,
        position_ms: non_null(request.position)?.map(|position| position.max(0) as u64),
        end_time_ms,
        volume: non_null(request.volume)?,
        paused: non_null(request.paused)?,
        filters: non_null(request.filters)?,
    };
    Ok(ParsedUpdate {
        changes,
        voice,
        error,
    })
}

/// All four voice fields are required since Lavalink 4.2 (DAVE needs the channel).
fn complete_voice(voice: VoiceRequest) -> Option<VoiceState> {
    let present = |field: Option<String>| field.filter(|value| !value.trim().is_empty());
    Some(VoiceState {
        token: present(voice.token)?,
        endpoint: present(voice.endpoint)?,
        session_id: present(voice.session_id)?,
        channel_id: Some(present(voice.channel_id)?),
    })
}
