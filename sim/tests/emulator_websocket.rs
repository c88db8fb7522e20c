//! Conformance of the emulator's websocket with Lavalink v4 (`docs/api/websocket.md`):
//! the handshake, op order, events, resuming and closing. Real loopback TCP with short
//! real intervals; the exact timing is covered in `emulator_turmoil.rs`.

mod emulator_support;

use std::time::Duration;

use emulator_support::{
    Kind, Node, PASSWORD, PROMPT, USER_ID, Ws, assert_shape, assert_track_shape, voice,
};
use hyper::Method;
use serde_json::{Value, json};
use switchyard_sim::emulator::{
    CloseWebsockets, EmulatorConfig, SessionLinkState, TestTrackOptions, test_track_identifier,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;

async fn handshake_status(node: &Node, headers: &[(&str, &str)]) -> u16 {
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://{}/v4/websocket",
        node.addr
    ))
    .expect("valid URL");
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
            tungstenite::http::HeaderValue::from_str(value).expect("ASCII value"),
        );
    }
    let io = node.connect().await;
    match tokio_tungstenite::client_async(request, io).await {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(
                response
                    .headers()
                    .get("lavalink-api-version")
                    .and_then(|v| v.to_str().ok()),
                Some("4")
            );
            response.status().as_u16()
        }
        Err(error) => panic!("unexpected handshake error {error}"),
    }
}

async fn next(ws: &mut Ws<TcpStream>) -> Value {
    tokio::time::timeout(PROMPT, ws.next_json())
        .await
        .expect("a message arrives promptly")
        .expect("the socket is open")
}

async fn next_op(ws: &mut Ws<TcpStream>, op: &str) -> Value {
    let message = next(ws).await;
    assert_eq!(message["op"], op, "{message}");
    message
}

/// The next message that is not a periodic `stats`.
async fn next_non_stats(ws: &mut Ws<TcpStream>) -> Value {
    loop {
        let message = next(ws).await;
        if message["op"] != "stats" {
            return message;
        }
    }
}

fn short_track(length_ms: u64) -> String {
    test_track_identifier(
        "short",
        TestTrackOptions {
            length_ms: Some(length_ms),
            ..TestTrackOptions::default()
        },
    )
}

#[tokio::test]
async fn the_handshake_needs_authorization_and_user_id() {
    let node = Node::default().await;
    assert_eq!(handshake_status(&node, &[("User-Id", USER_ID)]).await, 401);
    assert_eq!(
        handshake_status(&node, &[("Authorization", "wrong"), ("User-Id", USER_ID)]).await,
        401
    );
    assert_eq!(
        handshake_status(&node, &[("Authorization", PASSWORD)]).await,
        400
    );
    assert_eq!(
        handshake_status(&node, &[("Authorization", PASSWORD), ("User-Id", USER_ID)]).await,
        101,
        "Client-Name is optional"
    );
}

#[tokio::test]
async fn ready_comes_first_then_stats_with_documented_shapes() {
    let node = Node::default().await;
    let mut ws = node.ws(&[]).await;
    assert_eq!(
        ws.response_headers
            .get("session-resumed")
            .map(|v| v.as_bytes()),
        Some(&b"false"[..])
    );
    assert_eq!(
        ws.response_headers
            .get("lavalink-api-version")
            .map(|v| v.as_bytes()),
        Some(&b"4"[..])
    );
    let ready = next_op(&mut ws, "ready").await;
    assert_shape(
        &ready,
        &[
            ("op", Kind::Str),
            ("resumed", Kind::Bool),
            ("sessionId", Kind::Str),
        ],
    );
    assert_eq!(ready["resumed"], false);
    let id = ready["sessionId"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 16);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{id}"
    );

    let stats = next_op(&mut ws, "stats").await;
    assert_shape(
        &stats,
        &[
            ("op", Kind::Str),
            ("frameStats", Kind::NullableObject),
            ("players", Kind::Int),
            ("playingPlayers", Kind::Int),
            ("uptime", Kind::Int),
            ("memory", Kind::Object),
            ("cpu", Kind::Object),
        ],
    );
    assert!(stats["frameStats"].is_null(), "no players, no frame stats");
}

#[tokio::test]
async fn playing_sends_events_and_player_updates_in_order() {
    let node = Node::default().await;
    let (mut ws, session) = node.session().await;
    let path = format!("/v4/sessions/{session}/players/5");
    let first = node.encoded("dQw4w9WgXcQ").await;
    let second = node.encoded("https://youtu.be/bbbbbbbbbbb").await;

    node.patch(
        &path,
        json!({"voice": voice(), "track": {"encoded": first}}),
    )
    .await;
    // The voice handshake completes before the track starts.
    let connected = next_op(&mut ws, "playerUpdate").await;
    assert_shape(
        &connected,
        &[
            ("op", Kind::Str),
            ("state", Kind::Object),
            ("guildId", Kind::Str),
        ],
    );
    assert_shape(
        &connected["state"],
        &[
            ("time", Kind::Int),
            ("position", Kind::Int),
            ("connected", Kind::Bool),
            ("ping", Kind::Int),
        ],
    );
    assert_eq!(connected["state"]["connected"], true);
    assert_eq!(connected["guildId"], "5");
    let start = next_op(&mut ws, "event").await;
    assert_shape(
        &start,
        &[
            ("op", Kind::Str),
            ("type", Kind::Str),
            ("guildId", Kind::Str),
            ("track", Kind::Object),
        ],
    );
    assert_eq!(start["type"], "TrackStartEvent");
    assert_track_shape(&start["track"]);
    next_op(&mut ws, "playerUpdate").await;

    node.patch(&path, json!({"track": {"encoded": second}}))
        .await;
    let replaced = next_non_stats(&mut ws).await;
    assert_eq!(replaced["type"], "TrackEndEvent");
    assert_eq!(replaced["reason"], "replaced");
    assert_eq!(replaced["track"]["info"]["identifier"], "dQw4w9WgXcQ");
    assert_eq!(next_non_stats(&mut ws).await["type"], "TrackStartEvent");
    next_op(&mut ws, "playerUpdate").await;

    node.patch(&path, json!({"position": 30_000})).await;
    let seeked = next_op(&mut ws, "playerUpdate").await;
    assert!(seeked["state"]["position"].as_i64().unwrap_or(0) >= 30_000);

    node.patch(&path, json!({"track": {"encoded": null}})).await;
    let stopped = next_non_stats(&mut ws).await;
    assert_eq!(stopped["type"], "TrackEndEvent");
    assert_eq!(stopped["reason"], "stopped");
}

#[tokio::test]
async fn a_track_ends_at_its_length_with_reason_finished() {
    let node = Node::default().await;
    let (mut ws, session) = node.session().await;
    let track = node.encoded(&short_track(300)).await;
    node.patch(
        &format!("/v4/sessions/{session}/players/1"),
        json!({"voice": voice(), "track": {"encoded": track}}),
    )
    .await;
    let end = tokio::time::timeout(
        PROMPT,
        ws.until(|message| message["type"] == "TrackEndEvent"),
    )
    .await
    .expect("the track ends");
    assert_eq!(end["reason"], "finished");
    assert_eq!(end["track"]["info"]["position"], 300);
    let player = node
        .get(&format!("/v4/sessions/{session}/players/1"))
        .await
        .json();
    assert!(player["track"].is_null());
}

#[tokio::test]
async fn position_advances_only_with_voice_and_stops_while_paused() {
    let node = Node::default().await;
    let (_ws, session) = node.session().await;
    let path = format!("/v4/sessions/{session}/players/1");
    let track = node.encoded("dQw4w9WgXcQ").await;
    node.patch(&path, json!({"track": {"encoded": track}}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let unconnected = node.get(&path).await.json();
    assert_eq!(unconnected["state"]["position"], 0, "no voice, no audio");
    assert_eq!(unconnected["state"]["connected"], false);
    assert_eq!(unconnected["state"]["ping"], -1);

    node.patch(&path, json!({"voice": voice()})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let playing = node.get(&path).await.json();
    let position = playing["state"]["position"].as_i64().unwrap_or(0);
    assert!(position >= 250, "position {position} after 300 ms of audio");
    assert_eq!(playing["state"]["ping"], 20);

    let paused = node.patch(&path, json!({"paused": true})).await.json();
    let held = paused["state"]["position"].as_i64().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(node.get(&path).await.json()["state"]["position"], held);
}

#[tokio::test]
async fn stats_count_players_of_every_session() {
    let node = Node::start(EmulatorConfig {
        stats_interval: Duration::from_millis(100),
        ..EmulatorConfig::default()
    })
    .await;
    let (_first, first) = node.session().await;
    let (mut second, _) = node.session().await;
    let track = node.encoded("dQw4w9WgXcQ").await;
    node.patch(
        &format!("/v4/sessions/{first}/players/1"),
        json!({"track": {"encoded": track}}),
    )
    .await;
    let stats = tokio::time::timeout(
        PROMPT,
        second.until(|m| m["op"] == "stats" && m["players"] == 1),
    )
    .await
    .expect("stats arrive every 100 ms");
    assert_eq!(stats["playingPlayers"], 1);
    assert!(
        stats["frameStats"].is_null(),
        "the other session's players are not this session's frames"
    );
}

#[tokio::test]
async fn without_resuming_a_closed_socket_destroys_the_session() {
    let node = Node::default().await;
    let (ws, session) = node.session().await;
    node.patch(
        &format!("/v4/sessions/{session}/players/1"),
        json!({"volume": 50}),
    )
    .await;
    ws.close().await;
    wait_until(|| node.control.snapshot().sessions.is_empty()).await;
    let reply = node.get(&format!("/v4/sessions/{session}/players")).await;
    assert_eq!(reply.status, 404);
}

async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 5 s");
}

#[tokio::test]
async fn resuming_within_the_timeout_replays_queued_events_then_player_updates() {
    let node = Node::default().await;
    let (ws, session) = node.session().await;
    node.patch(
        &format!("/v4/sessions/{session}"),
        json!({"resuming": true, "timeout": 5}),
    )
    .await;
    // Long enough that the socket is surely closed before it ends (its end is what must
    // be queued), short enough to end while the session is away.
    let track = node.encoded(&short_track(1_500)).await;
    node.patch(
        &format!("/v4/sessions/{session}/players/1"),
        json!({"voice": voice(), "track": {"encoded": track}}),
    )
    .await;
    node.patch(
        &format!("/v4/sessions/{session}/players/2"),
        json!({"volume": 10}),
    )
    .await;
    ws.close().await;
    wait_until(|| {
        node.control
            .snapshot()
            .sessions
            .iter()
            .any(|s| matches!(s.link, SessionLinkState::AwaitingResume { .. }))
    })
    .await;
    // Away: REST does not see the session, audio keeps playing to the end.
    let away = node.get(&format!("/v4/sessions/{session}/players")).await;
    assert_eq!(away.status, 404);
    tokio::time::sleep(Duration::from_millis(1_700)).await;

    let mut resumed = node.ws(&[("Session-Id", &session)]).await;
    assert_eq!(
        resumed
            .response_headers
            .get("session-resumed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let ready = next_op(&mut resumed, "ready").await;
    assert_eq!(
        ready,
        json!({"op": "ready", "resumed": true, "sessionId": session})
    );
    let mut replay = Vec::new();
    for _ in 0..3 {
        replay.push(next(&mut resumed).await);
    }
    let kinds: Vec<String> = replay
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["op"].as_str().unwrap_or(""),
                m["type"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        ["event:TrackEndEvent", "playerUpdate:", "playerUpdate:"],
        "the event queued while away (playerUpdates were not queued), then one update per player"
    );
    assert_eq!(replay[0]["reason"], "finished");
    let players = node.get(&format!("/v4/sessions/{session}/players")).await;
    assert_eq!(players.status, 200);
    assert_eq!(players.json().as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn resuming_after_the_timeout_gets_a_new_session() {
    let node = Node::default().await;
    let (ws, session) = node.session().await;
    node.patch(
        &format!("/v4/sessions/{session}"),
        json!({"resuming": true, "timeout": 1}),
    )
    .await;
    node.patch(
        &format!("/v4/sessions/{session}/players/1"),
        json!({"volume": 1}),
    )
    .await;
    ws.close().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut late = node.ws(&[("Session-Id", &session)]).await;
    assert_eq!(
        late.response_headers
            .get("session-resumed")
            .map(|v| v.as_bytes()),
        Some(&b"false"[..])
    );
    let ready = next_op(&mut late, "ready").await;
    assert_eq!(ready["resumed"], false);
    assert_ne!(ready["sessionId"], session.as_str());
    assert_eq!(
        node.get(&format!("/v4/sessions/{session}/players"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn graceful_shutdown_closes_websockets_with_1001() {
    let node = Node::default().await;
    let (mut ws, _) = node.session().await;
    node.control.shutdown();
    let code = tokio::time::timeout(PROMPT, ws.close_code())
        .await
        .expect("closes");
    assert_eq!(code, Some(1001));
    let served = tokio::time::timeout(PROMPT, node.server)
        .await
        .expect("serve returns");
    assert!(matches!(served, Ok(Ok(()))));
    assert!(!node.control.is_serving());
}

#[tokio::test]
async fn the_close_knob_sends_a_code_or_drops_the_connection() {
    let node = Node::default().await;
    let (mut framed, _) = node.session().await;
    let closed = node.control.close_websockets(CloseWebsockets::Frame {
        code: 4000,
        reason: "chaos".to_owned(),
    });
    assert_eq!(closed, 1);
    assert_eq!(
        tokio::time::timeout(PROMPT, framed.close_code()).await.ok(),
        Some(Some(4000))
    );

    let (mut aborted, _) = node.session().await;
    node.control.close_websockets(CloseWebsockets::Abort);
    let code = tokio::time::timeout(PROMPT, aborted.close_code())
        .await
        .expect("ends");
    assert_eq!(code, None, "no close frame on an abort");

    // 1006 may not be sent on the wire: the connection is dropped instead.
    let (mut abnormal, _) = node.session().await;
    node.control.close_websockets(CloseWebsockets::Frame {
        code: 1006,
        reason: String::new(),
    });
    let code = tokio::time::timeout(PROMPT, abnormal.close_code())
        .await
        .expect("ends");
    assert_eq!(code, None);
}

#[tokio::test]
async fn client_messages_are_ignored() {
    let node = Node::default().await;
    let (mut ws, session) = node.session().await;
    ws.send_text("{\"op\":\"play\",\"guildId\":\"1\"}").await;
    ws.send_text("not json at all").await;
    let reply = node.get(&format!("/v4/sessions/{session}/players")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!([]));
    assert_eq!(node.control.snapshot().sessions.len(), 1);
    let _ = node.call(Method::GET, "/version", None).await;
}

#[tokio::test]
async fn a_voice_close_sends_websocket_closed_event_and_disconnects() {
    let node = Node::default().await;
    let (mut ws, session) = node.session().await;
    let path = format!("/v4/sessions/{session}/players/3");
    node.patch(&path, json!({"voice": voice()})).await;
    next_op(&mut ws, "playerUpdate").await;
    assert_eq!(
        node.control
            .close_voice(Some(3), 4014, "Disconnected.", true),
        1
    );
    let event = next_op(&mut ws, "event").await;
    assert_shape(
        &event,
        &[
            ("op", Kind::Str),
            ("type", Kind::Str),
            ("guildId", Kind::Str),
            ("code", Kind::Int),
            ("reason", Kind::Str),
            ("byRemote", Kind::Bool),
        ],
    );
    assert_eq!(event["type"], "WebSocketClosedEvent");
    assert_eq!(event["code"], 4014);
    let update = next_op(&mut ws, "playerUpdate").await;
    assert_eq!(update["state"]["connected"], false);
    // The same voice state reconnects (the connection is no longer open).
    let again = node.patch(&path, json!({"voice": voice()})).await.json();
    assert_eq!(again["state"]["connected"], true);
}
