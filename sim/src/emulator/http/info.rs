//! `/version`, `/v4/info`, `/v4/stats` and the route planner status.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};
use crate::emulator::protocol::{Git, Info, Plugin, Stats, Version};

/// Build metadata reported by `/v4/info`: fixed, so output does not depend on the run.
const BUILD_TIME_MS: u64 = 1_733_011_200_000;
const GIT_COMMIT: &str = "d7d5a54";
const JVM_VERSION: &str = "21.0.5";
const LAVAPLAYER_VERSION: &str = "2.2.2";
const SOURCE_MANAGERS: [&str; 3] = ["youtube", "soundcloud", "http"];
const FILTERS: [&str; 10] = [
    "volume",
    "equalizer",
    "karaoke",
    "timescale",
    "tremolo",
    "vibrato",
    "distortion",
    "rotation",
    "channelMix",
    "lowPass",
];

pub(super) async fn version(State(shared): State<AppState>) -> Response {
    let mut response = shared.config.version.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    response
}

pub(super) async fn info(State(shared): State<AppState>) -> Json<Info> {
    Json(Info {
        version: Version::parse(&shared.config.version),
        build_time: BUILD_TIME_MS,
        git: Git {
            branch: "HEAD".to_owned(),
            commit: GIT_COMMIT.to_owned(),
            commit_time: BUILD_TIME_MS,
        },
        jvm: JVM_VERSION.to_owned(),
        lavaplayer: LAVAPLAYER_VERSION.to_owned(),
        source_managers: SOURCE_MANAGERS.map(str::to_owned).to_vec(),
        filters: FILTERS.map(str::to_owned).to_vec(),
        plugins: vec![Plugin {
            name: "youtube-plugin".to_owned(),
            version: "1.13.3".to_owned(),
        }],
    })
}

pub(super) async fn stats(State(shared): State<AppState>) -> Result<Json<Stats>, ApiError> {
    shared
        .with_node(|node, now, faults| node.stats(now, faults))
        .map(Json)
        .ok_or_else(ApiError::unavailable)
}

/// No route planner is configured, as on a node without IP rotation.
pub(super) async fn route_planner_status() -> Json<serde_json::Value> {
    Json(json!({ "class": null, "details": null }))
}
