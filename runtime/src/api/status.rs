//! Read-only status endpoints, served from the driver's latest view of the core.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use switchyard_core::health::NodeStatus;

use super::{ApiState, leader};

pub(super) async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

pub(super) async fn readyz(State(state): State<ApiState>) -> Response {
    match leader::not_ready(&state) {
        None => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Some(refusal) => refusal,
    }
}

/// One node as the control panel shows it (the runbook's fields). Borrowed from the
/// view and serialised straight into the answer: the control panel polls this list.
#[derive(Debug, Serialize)]
struct PanelNode<'a> {
    name: &'a str,
    region: &'a str,
    status: NodeStatus,
    available: bool,
    players: u32,
    latency_ms: Option<u64>,
    drained: bool,
    maintenance: bool,
    flapping: bool,
    joining: bool,
    leaving: bool,
}

#[derive(Debug, Serialize)]
struct PanelNodes<'a> {
    nodes: Vec<PanelNode<'a>>,
}

pub(super) async fn nodes(State(state): State<ApiState>) -> Response {
    let view = state.driver.view();
    let reports = view.nodes();
    let nodes = reports
        .iter()
        .map(|n| PanelNode {
            name: n.node.as_str(),
            region: n.region.as_str(),
            status: n.status,
            available: n.available,
            players: n.players,
            latency_ms: n.latency_ms,
            drained: n.drained,
            maintenance: n.maintenance,
            flapping: n.flapping,
            joining: n.joining,
            leaving: n.leaving,
        })
        .collect();
    Json(PanelNodes { nodes }).into_response()
}

pub(super) async fn status(State(state): State<ApiState>) -> impl IntoResponse {
    let view = state.driver.view();
    let nodes = view.nodes();
    let up = nodes.iter().filter(|n| n.status.is_serving()).count();
    let evacuated: Vec<String> = view.evacuated_regions().map(ToString::to_string).collect();
    let body: Value = json!({
        "fail_open": view.is_fail_open(),
        "shard_promotions_frozen": view.shard_promotions_frozen(),
        "nodes": { "total": nodes.len(), "serving": up },
        "players": view.player_count(),
        "degraded_guilds": view.degraded_guilds().count(),
        "moves_in_flight": view.moves_in_flight(),
        "evacuated_regions": evacuated,
        "active_alerts": view.active_alerts().len(),
        "shards": view.shards(),
        "leadership": leader::status_json(&state),
    });
    Json(body)
}

pub(super) async fn failover_history(State(state): State<ApiState>) -> impl IntoResponse {
    let view = state.driver.view();
    let records: Vec<_> = view.failover_history().rev().cloned().collect();
    Json(json!({ "failovers": records }))
}

pub(super) async fn alerts(State(state): State<ApiState>) -> impl IntoResponse {
    Json(json!({ "alerts": state.driver.view().active_alerts() }))
}
