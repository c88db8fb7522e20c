//! `/v4/loadtracks`, `/v4/decodetrack` and `/v4/decodetracks`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use serde_json::Map;

use super::ApiError;
use super::players::read_body;
use crate::emulator::protocol::{self, Exception, Playlist, PlaylistInfo, TrackInfo};
use crate::emulator::track::{LoadResult, TrackData, catalog, codec};

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

fn params(query: Params) -> Result<BTreeMap<String, String>, ApiError> {
    query
        .map(|Query(params)| params)
        .map_err(|_| ApiError::bad_request("Invalid query string"))
}

/// A loaded track's wire form. Loaded tracks always encode (the catalog checks).
fn track_json(data: &TrackData) -> protocol::Track {
    protocol::Track {
        encoded: codec::encode(data).expect("catalog::load only returns encodable tracks"),
        info: TrackInfo::from_data(data),
        plugin_info: Map::new(),
        user_data: Map::new(),
    }
}

/// Always 200: failures are a `loadType` of `empty` or `error`.
pub(super) async fn load(query: Params) -> Result<Json<protocol::LoadResult>, ApiError> {
    let params = params(query)?;
    let identifier = params.get("identifier").ok_or_else(|| {
        ApiError::bad_request(
            "Required request parameter 'identifier' for method parameter type String is not present",
        )
    })?;
    let result = match catalog::load(identifier) {
        LoadResult::Track(track) => protocol::LoadResult::Track(track_json(&track)),
        LoadResult::Playlist {
            name,
            selected_track,
            tracks,
        } => protocol::LoadResult::Playlist(Playlist {
            info: PlaylistInfo {
                name,
                selected_track,
            },
            plugin_info: Map::new(),
            tracks: tracks.iter().map(track_json).collect(),
        }),
        LoadResult::Search(tracks) => {
            protocol::LoadResult::Search(tracks.iter().map(track_json).collect())
        }
        LoadResult::Empty => protocol::LoadResult::Empty(Map::new()),
        LoadResult::Error(exception) => {
            protocol::LoadResult::Error(Exception::from_load(&exception))
        }
    };
    Ok(Json(result))
}

/// Decoding keeps the caller's string as `encoded`, as Lavalink does.
fn decode(encoded: &str) -> Result<protocol::Track, ApiError> {
    let data = codec::decode(encoded).map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(protocol::Track {
        encoded: encoded.to_owned(),
        info: TrackInfo::from_data(&data),
        plugin_info: Map::new(),
        user_data: Map::new(),
    })
}

pub(super) async fn decode_one(query: Params) -> Result<Json<protocol::Track>, ApiError> {
    let params = params(query)?;
    let encoded = params
        .get("encodedTrack")
        .or_else(|| params.get("track"))
        .ok_or_else(|| ApiError::bad_request("No track to decode provided"))?;
    decode(encoded).map(Json)
}

pub(super) async fn decode_many(
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<protocol::Track>>, ApiError> {
    let encoded: Vec<String> = read_body(body)?;
    if encoded.is_empty() {
        return Err(ApiError::bad_request("No tracks to decode provided"));
    }
    encoded
        .iter()
        .map(|track| decode(track))
        .collect::<Result<_, _>>()
        .map(Json)
}
