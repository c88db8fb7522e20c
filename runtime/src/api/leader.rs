//! The API of a controller that shares its store with others: only the acting leader
//! serves bots and operators.
//!
//! A standby (or a leader still reading the store after taking over) answers their
//! routes with `503 Service Unavailable`, `Retry-After: 1` and, when it knows the leader's
//! API, the header `Switchyard-Leader: <url>`; the body names the leader too. Bots list
//! every controller's URL and follow the header (`docs/bot-contract.md`). The checks for
//! a bearer token come first, so a wrong token is a 401 or 403 on every controller.
//! `/readyz` is 200 only on the acting leader, so a load balancer in front of the
//! controllers sends traffic to the one that acts; `/healthz` is 200 on all of them.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiState;
use crate::leader::{LeadershipState, Phase};

/// Names the leader's API URL on a standby's refusals.
pub const LEADER_HEADER: &str = "switchyard-leader";

/// The refusal of a controller that does not act, or `None` when it acts (or runs
/// alone).
pub(super) fn standby_refusal(state: &ApiState) -> Option<Response> {
    let leadership = state.leadership.as_ref()?;
    let current = leadership.state();
    if current.phase() == Phase::Acting {
        return None;
    }
    Some(refusal(&current, leadership.me().api_url.as_deref()))
}

/// The same refusal, for a request the driver turned down because the lease changed
/// hands while it was queued.
pub(super) fn stood_down(state: &ApiState) -> Response {
    match state.leadership.as_ref() {
        Some(leadership) => refusal(&leadership.state(), leadership.me().api_url.as_deref()),
        None => unavailable(None, json!({"error": "the controller does not act now"})),
    }
}

fn refusal(current: &LeadershipState, my_url: Option<&str>) -> Response {
    let leader_url = current
        .leader
        .as_ref()
        .and_then(|l| l.id.as_ref())
        .and_then(|id| id.api_url.clone())
        // While taking over, "the leader" is this controller: ask again shortly.
        .filter(|url| Some(url.as_str()) != my_url);
    let body = json!({
        "error": "this controller is not the acting leader",
        "role": current.phase(),
        "leader": leader_json(current),
    });
    unavailable(leader_url.as_deref(), body)
}

fn unavailable(leader_url: Option<&str>, body: Value) -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    if let Some(value) = leader_url.and_then(|url| HeaderValue::from_str(url).ok()) {
        headers.insert(HeaderName::from_static(LEADER_HEADER), value);
    }
    response
}

fn leader_json(current: &LeadershipState) -> Value {
    match &current.leader {
        None => Value::Null,
        Some(leader) => match &leader.id {
            Some(id) => json!({
                "instance": id.instance,
                "api_url": id.api_url,
                "token": leader.token,
            }),
            None => json!({"holder": leader.holder, "token": leader.token}),
        },
    }
}

/// `leadership` in `/api/status`: `null` for a controller that runs alone.
pub(super) fn status_json(state: &ApiState) -> Value {
    let Some(leadership) = &state.leadership else {
        return Value::Null;
    };
    let current = leadership.state();
    json!({
        "role": current.phase(),
        "instance": leadership.me().instance,
        "token": current.acting_token,
        "leader": leader_json(&current),
        "store_reachable": current.store_reachable,
    })
}

/// `/readyz`'s refusal when this controller does not serve bots and operators.
pub(super) fn not_ready(state: &ApiState) -> Option<Response> {
    if !state.driver.is_running() {
        return Some(unavailable(None, json!({"status": "stopped"})));
    }
    let leadership = state.leadership.as_ref()?;
    let current = leadership.state();
    (current.phase() != Phase::Acting).then(|| {
        unavailable(
            None,
            json!({"status": current.phase(), "leader": leader_json(&current)}),
        )
    })
}
