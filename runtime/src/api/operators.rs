//! Operator actions, behind the bearer token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchyard_core::InputError;
use switchyard_core::ids::{NodeId, RegionId};

use super::{ApiState, auth, leader};
use crate::driver::OperatorAction;

/// The 401/403 answer when the operator token is missing or wrong, then the standby's
/// 503 naming the leader, else `None`.
fn operator_refusal(state: &ApiState, headers: &HeaderMap) -> Option<Response> {
    auth::check(state.operator_token.as_deref(), headers)
        .err()
        .map(|status| {
            let body = Json(json!({"error": "a valid bearer token is required"}));
            (status, body).into_response()
        })
        .or_else(|| leader::standby_refusal(state))
}

async fn act(state: &ApiState, headers: &HeaderMap, action: OperatorAction) -> Response {
    if let Some(response) = operator_refusal(state, headers) {
        return response;
    }
    let description = format!("{action:?}");
    match state.driver.operate(action).await {
        Ok(Ok(())) => {
            (StatusCode::ACCEPTED, Json(json!({"accepted": description}))).into_response()
        }
        Ok(Err(error @ (InputError::UnknownNode(_) | InputError::UnknownRegion(_)))) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
        Ok(Err(error)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
        // The driver stopped, or stood down while the action was queued.
        Err(_) => leader::stood_down(state),
    }
}

pub(super) async fn fail_over_region(
    State(state): State<ApiState>,
    Path(region): Path<String>,
    headers: HeaderMap,
) -> Response {
    act(
        &state,
        &headers,
        OperatorAction::FailOverRegion(RegionId::new(region)),
    )
    .await
}

pub(super) async fn restore_region(
    State(state): State<ApiState>,
    Path(region): Path<String>,
    headers: HeaderMap,
) -> Response {
    act(
        &state,
        &headers,
        OperatorAction::RestoreRegion(RegionId::new(region)),
    )
    .await
}

pub(super) async fn drain(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    act(&state, &headers, OperatorAction::Drain(NodeId::new(name))).await
}

pub(super) async fn enable(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    act(&state, &headers, OperatorAction::Enable(NodeId::new(name))).await
}

pub(super) async fn maintenance(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    act(
        &state,
        &headers,
        OperatorAction::Maintenance(NodeId::new(name)),
    )
    .await
}

/// Prompts a refresh: the status endpoints always serve the driver's latest view, so a
/// reconcile only needs to be authorised and acknowledged; node health is re-probed on
/// the core's own schedule.
pub(super) async fn reconcile(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Some(response) = operator_refusal(&state, &headers) {
        return response;
    }
    let view = state.driver.view();
    (
        StatusCode::ACCEPTED,
        Json(json!({"nodes": view.nodes().len(), "players": view.player_count()})),
    )
        .into_response()
}
