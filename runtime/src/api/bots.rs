//! The bots' endpoints: where to play, stopped, hot spare.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_core::PlaybackRequest;
use switchyard_core::command::DegradedReason;
use switchyard_core::ids::{GuildId, NodeId, PlanId, ProcessId, RegionId};

use super::{ApiState, auth, leader};
use crate::driver::{DriverInput, PlacementReply};

/// Body of `POST /api/bots/players/{guild}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementRequestBody {
    /// The guild's plan.
    pub plan: PlanId,
    /// The region it asked for.
    #[serde(default)]
    pub region: Option<RegionId>,
    /// Its data-residency pin.
    #[serde(default)]
    pub residency: Option<RegionId>,
}

/// Answer of `POST /api/bots/players/{guild}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementAnswer {
    /// Play on this node.
    Node(NodeId),
    /// No node can take it now.
    Degraded(DegradedReason),
}

/// Body of `POST /api/bots/spares/{process}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SpareBody {
    /// The spare's region.
    #[serde(default)]
    pub region: Option<RegionId>,
}

/// The bot token's check, then the standby's refusal.
fn bot_refusal(state: &ApiState, headers: &HeaderMap) -> Option<Response> {
    let authorised = match &state.bot_token {
        None => Ok(()),
        Some(token) => auth::check(Some(token), headers),
    };
    match authorised {
        Err(status) => Some(status.into_response()),
        Ok(()) => leader::standby_refusal(state),
    }
}

fn gone() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "the controller is shutting down"})),
    )
        .into_response()
}

pub(super) async fn request_playback(
    State(state): State<ApiState>,
    Path(guild): Path<u64>,
    headers: HeaderMap,
    Json(body): Json<PlacementRequestBody>,
) -> Response {
    if let Some(refusal) = bot_refusal(&state, &headers) {
        return refusal;
    }
    let request = PlaybackRequest {
        guild: GuildId(guild),
        plan: body.plan,
        region: body.region,
        residency: body.residency,
    };
    match state.driver.request_playback(request).await {
        Ok(PlacementReply::Node(node)) => Json(PlacementAnswer::Node(node)).into_response(),
        Ok(PlacementReply::Degraded(reason)) => {
            Json(PlacementAnswer::Degraded(reason)).into_response()
        }
        Ok(PlacementReply::Rejected(error)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": error })),
        )
            .into_response(),
        Ok(PlacementReply::Standby) => leader::stood_down(&state),
        Err(_) => gone(),
    }
}

pub(super) async fn stop_playback(
    State(state): State<ApiState>,
    Path(guild): Path<u64>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = bot_refusal(&state, &headers) {
        return refusal;
    }
    match state
        .driver
        .send(DriverInput::PlaybackStopped(GuildId(guild)))
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
}

pub(super) async fn register_spare(
    State(state): State<ApiState>,
    Path(process): Path<String>,
    headers: HeaderMap,
    body: Option<Json<SpareBody>>,
) -> Response {
    if let Some(refusal) = bot_refusal(&state, &headers) {
        return refusal;
    }
    let region = body.and_then(|Json(b)| b.region);
    let input = DriverInput::SpareRegistered {
        process: ProcessId::new(process),
        region,
    };
    match state.driver.send(input).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
}
