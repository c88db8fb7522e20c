//! `/v4/websocket`: the handshake, then one task per socket pumping the session's
//! messages out and watching for the client to leave (Lavalink ignores what clients
//! send).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use super::{ApiError, AppState};
use crate::emulator::shared::{Shared, SocketTracker};
use crate::emulator::state::{CloseCommand, SocketEnd};

/// Read-buffer size of a session's websocket: clients send nothing but small control
/// frames, and tungstenite zero-fills its whole read buffer (128 KiB by default) on
/// reads, which dominated a simulation with hundreds of sessions.
const CLIENT_MESSAGE_BUFFER_BYTES: usize = 4 * 1024;

/// How long the node waits for a client to answer its close frame.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(2);

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The handshake: `Authorization` is checked by the auth layer (401), then `User-Id`
/// (400), then the upgrade itself. `Session-Resumed` says whether `Session-Id` named a
/// session waiting to be resumed.
pub(super) async fn upgrade(
    State(shared): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Some(user_id) = header(&headers, "User-Id") else {
        tracing::warn!("websocket handshake without a User-Id header");
        return StatusCode::BAD_REQUEST.into_response();
    };
    let client_name = header(&headers, "Client-Name");
    if client_name.is_none() {
        tracing::warn!("Library developers: Please specify a 'Client-Name' header.");
    }
    let Ok(upgrade) = upgrade else {
        return ApiError::bad_request("Can \"Upgrade\" only to \"WebSocket\".").into_response();
    };
    let resume = header(&headers, "Session-Id").filter(|id| {
        shared
            .with_node(|node, now, _| node.claim_resume(id, now))
            .unwrap_or(false)
    });
    let resumed = resume.is_some();
    let failed_shared = Arc::clone(&shared);
    let failed_resume = resume.clone();
    let mut response = upgrade
        .read_buffer_size(CLIENT_MESSAGE_BUFFER_BYTES)
        .on_failed_upgrade(move |error| {
            tracing::warn!(%error, "websocket upgrade failed");
            if let Some(id) = failed_resume {
                failed_shared.with_node(|node, now, _| node.release_claim(&id, now));
            }
        })
        .on_upgrade(move |socket| run(shared, socket, user_id, client_name, resume));
    response.headers_mut().insert(
        "Session-Resumed",
        HeaderValue::from_static(if resumed { "true" } else { "false" }),
    );
    response
}

async fn run(
    shared: Arc<Shared>,
    socket: WebSocket,
    user_id: String,
    client_name: Option<String>,
    resume: Option<String>,
) {
    let _tracked = SocketTracker::enter(&shared);
    let attached = match resume {
        Some(id) => shared
            .with_node(|node, now, _| node.attach_resumed(&id, now))
            .flatten()
            .map(|(socket_id, end)| (id, socket_id, end, true)),
        None => shared.with_node(|node, now, faults| {
            let (id, socket_id, end) = node.open_session(user_id, client_name, now, faults);
            (id, socket_id, end, false)
        }),
    };
    // No node (it stopped meanwhile): dropping the socket closes it.
    let Some((session_id, socket_id, end, resumed)) = attached else {
        return;
    };
    tracing::info!(session = %session_id, resumed, "websocket open");
    pump(&shared, socket, end).await;
    tracing::info!(session = %session_id, "websocket closed");
    shared.with_node(|node, now, _| node.handle_socket_closed(&session_id, socket_id, now));
}

/// Moves messages to the client until either side closes. While the node hangs,
/// nothing moves in either direction except a close command.
async fn pump(shared: &Shared, socket: WebSocket, mut end: SocketEnd) {
    let (mut sink, mut stream) = socket.split();
    let mut hang = shared.hang_watch();
    loop {
        let hung = *hang.borrow_and_update();
        tokio::select! {
            biased;
            changed = end.control.changed() => {
                let command = end.control.borrow_and_update().clone();
                match (changed, command) {
                    (Ok(()), Some(CloseCommand::Frame { code, reason })) => {
                        if !hung {
                            flush_queued(&mut sink, &mut end).await;
                        }
                        close_with(&mut sink, &mut stream, code, reason).await;
                        return;
                    }
                    (Ok(()), None) => {}
                    // An abort, or the session (and its link) is gone.
                    _ => return,
                }
            }
            message = end.messages.recv(), if !hung => match message {
                Some(text) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            _ = hang.changed(), if hung => {}
            // A hung node reads nothing either, so it answers no ping.
            incoming = stream.next(), if !hung => match incoming {
                Some(Ok(Message::Close(_))) => {
                    // Completes the closing handshake the client started.
                    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, sink.close()).await;
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}

/// Sends what is already queued so a close does not overtake earlier messages.
async fn flush_queued(sink: &mut SplitSink<WebSocket, Message>, end: &mut SocketEnd) {
    while let Ok(text) = end.messages.try_recv() {
        if sink.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
}

async fn close_with(
    sink: &mut SplitSink<WebSocket, Message>,
    stream: &mut SplitStream<WebSocket>,
    code: u16,
    reason: String,
) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if sink.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let reply = async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, reply).await;
}
