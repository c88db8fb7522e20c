//! The admin endpoint: fault knobs and ground truth over HTTP, for the real process.
//! It is unauthenticated and meant for a loopback address.
//!
//! | Route | Effect |
//! |---|---|
//! | `GET /healthz` | `ok` |
//! | `GET /state` | the [`NodeSnapshot`](super::NodeSnapshot) as JSON |
//! | `GET /faults` | the faults in force |
//! | `PUT /faults` | replace all faults (missing fields take defaults) |
//! | `PATCH /faults` | change the named faults (`{"hang": true}`, `{"cpu_load": null}`) |
//! | `POST /websockets/close` | `{"code": 4000, "reason": "..."}` sends a close frame; `{"abort": true}` drops the connections |
//! | `POST /voice/close` | `{"guild_id": "1", "code": 4006, "reason": "...", "by_remote": true}`; no `guild_id` closes all |
//! | `POST /shutdown` | graceful shutdown (websockets close with 1001) |

use std::fmt::Debug;
use std::future::IntoFuture;
use std::io;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::Listener;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::control::EmulatorControl;
use super::faults::{CloseWebsockets, Faults, FaultsPatch};

/// Serves the admin endpoint until the node shuts down.
pub async fn serve_admin<L>(control: EmulatorControl, listener: L) -> io::Result<()>
where
    L: Listener,
    L::Addr: Debug,
{
    let shutdown = control.clone();
    axum::serve(listener, admin_router(control))
        .with_graceful_shutdown(async move { shutdown.shutdown_requested().await })
        .into_future()
        .await
}

/// The admin routes, for embedding in another server.
pub fn admin_router(control: EmulatorControl) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/state", get(state))
        .route(
            "/faults",
            get(faults).put(replace_faults).patch(patch_faults),
        )
        .route("/websockets/close", post(close_websockets))
        .route("/voice/close", post(close_voice))
        .route("/shutdown", post(shutdown))
        .with_state(control)
}

fn bad_request(message: impl ToString) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.to_string() })),
    )
        .into_response()
}

/// Parses a JSON body (an empty one counts as `{}`); the error is a 400's message.
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, String> {
    let bytes = body.map_err(|rejection| rejection.body_text())?;
    let bytes = if bytes.is_empty() {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(bytes).map_err(|error| error.to_string())
}

async fn state(State(control): State<EmulatorControl>) -> Response {
    Json(control.snapshot()).into_response()
}

async fn faults(State(control): State<EmulatorControl>) -> Response {
    Json(control.faults()).into_response()
}

async fn replace_faults(
    State(control): State<EmulatorControl>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let faults: Faults = match parse(body) {
        Ok(faults) => faults,
        Err(message) => return bad_request(message),
    };
    match control.set_faults(faults.clone()) {
        Ok(()) => Json(faults).into_response(),
        Err(error) => bad_request(error),
    }
}

async fn patch_faults(
    State(control): State<EmulatorControl>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let patch: FaultsPatch = match parse(body) {
        Ok(patch) => patch,
        Err(message) => return bad_request(message),
    };
    match control.update_faults(patch) {
        Ok(faults) => Json(faults).into_response(),
        Err(error) => bad_request(error),
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CloseWebsocketsRequest {
    code: u16,
    reason: String,
    abort: bool,
}

impl Default for CloseWebsocketsRequest {
    fn default() -> Self {
        Self {
            code: 1000,
            reason: String::new(),
            abort: false,
        }
    }
}

async fn close_websockets(
    State(control): State<EmulatorControl>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: CloseWebsocketsRequest = match parse(body) {
        Ok(request) => request,
        Err(message) => return bad_request(message),
    };
    let how = if request.abort {
        CloseWebsockets::Abort
    } else {
        CloseWebsockets::Frame {
            code: request.code,
            reason: request.reason,
        }
    };
    Json(json!({ "closed": control.close_websockets(how) })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CloseVoiceRequest {
    /// A snowflake, as a string (like Lavalink's JSON) or a number.
    guild_id: Option<serde_json::Value>,
    code: u16,
    reason: String,
    by_remote: bool,
}

impl Default for CloseVoiceRequest {
    fn default() -> Self {
        Self {
            guild_id: None,
            code: 4006,
            reason: "Session is no longer valid.".to_owned(),
            by_remote: true,
        }
    }
}

async fn close_voice(
    State(control): State<EmulatorControl>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: CloseVoiceRequest = match parse(body) {
        Ok(request) => request,
        Err(message) => return bad_request(message),
    };
    let guild_id = match &request.guild_id {
        None => None,
        Some(serde_json::Value::Number(number)) => number.as_u64(),
        Some(serde_json::Value::String(text)) => text.parse().ok(),
        Some(_) => None,
    };
    if request.guild_id.is_some() && guild_id.is_none() {
        return bad_request("guild_id must be a snowflake");
    }
    let closed = control.close_voice(guild_id, request.code, &request.reason, request.by_remote);
    Json(json!({ "closed": closed })).into_response()
}

async fn shutdown(State(control): State<EmulatorControl>) -> StatusCode {
    control.shutdown();
    StatusCode::ACCEPTED
}
