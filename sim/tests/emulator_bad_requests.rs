//! Bad requests get Lavalink's documented errors and never take the node down:
//! malformed JSON, wrong types, unknown fields, huge bodies, wrong methods, garbage.

mod emulator_support;

use emulator_support::{Node, PASSWORD, PROMPT, USER_ID, assert_error_body};
use hyper::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// After each abuse the node must still answer normally.
async fn assert_alive(node: &Node) {
    let reply = node.get("/version").await;
    assert_eq!(reply.status, 200);
    assert!(node.control.is_serving());
}

async fn session(node: &Node) -> (emulator_support::Ws<tokio::net::TcpStream>, String) {
    node.session().await
}

#[tokio::test]
async fn malformed_json_gets_400_failed_to_read_request() {
    let node = Node::default().await;
    let (_ws, id) = session(&node).await;
    let player = format!("/v4/sessions/{id}/players/1");
    let session_path = format!("/v4/sessions/{id}");
    for (method, path, body) in [
        (Method::PATCH, player.as_str(), "{\"volume\": 10"),
        (Method::PATCH, player.as_str(), "[1, 2, 3]"),
        (Method::PATCH, player.as_str(), "\u{0}\u{1}binary"),
        (Method::PATCH, session_path.as_str(), "{resuming: true}"),
        (Method::POST, "/v4/decodetracks", "{\"not\": \"an array\"}"),
    ] {
        let reply = node
            .raw(
                method,
                path,
                &[("Authorization", PASSWORD)],
                body.as_bytes().to_vec(),
            )
            .await;
        assert_error_body(&reply, 400, "Failed to read request", path);
        assert_alive(&node).await;
    }
    assert_eq!(
        node.get(&player).await.status,
        404,
        "no player from a bad body"
    );
}

#[tokio::test]
async fn wrong_types_and_nulls_for_non_nullable_fields_get_400() {
    let node = Node::default().await;
    let (_ws, id) = session(&node).await;
    let path = format!("/v4/sessions/{id}/players/1");
    for body in [
        json!({"volume": "loud"}),
        json!({"paused": "yes"}),
        json!({"position": null}),
        json!({"track": null}),
        json!({"track": {"identifier": null}}),
        json!({"filters": {"timescale": {"speed": "fast"}}}),
        json!({"voice": null}),
    ] {
        let reply = node.patch(&path, body.clone()).await;
        assert_error_body(&reply, 400, "Failed to read request", &path);
    }
    let session = node
        .patch(&format!("/v4/sessions/{id}"), json!({"timeout": "long"}))
        .await;
    assert_eq!(session.status, 400);
    assert_alive(&node).await;
}

#[tokio::test]
async fn unknown_fields_are_ignored_as_lavalink_does() {
    let node = Node::default().await;
    let (_ws, id) = session(&node).await;
    let reply = node
        .patch(
            &format!("/v4/sessions/{id}/players/1"),
            json!({"volume": 30, "loudness": 11, "track": {"nonsense": true}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["volume"], 30);
    let session = node
        .patch(
            &format!("/v4/sessions/{id}"),
            json!({"resuming": true, "colour": "blue"}),
        )
        .await;
    assert_eq!(session.json(), json!({"resuming": true, "timeout": 60}));
}

#[tokio::test]
async fn empty_and_huge_bodies_are_refused_without_harm() {
    let node = Node::default().await;
    let (_ws, id) = session(&node).await;
    let path = format!("/v4/sessions/{id}/players/1");
    let empty = node
        .raw(
            Method::PATCH,
            &path,
            &[("Authorization", PASSWORD)],
            Vec::new(),
        )
        .await;
    assert_error_body(&empty, 400, "Required request body is missing", &path);

    let mut huge = b"{\"filters\":{\"pluginFilters\":{\"x\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 4 << 20));
    huge.extend_from_slice(b"\"}}}");
    let reply = node
        .raw(Method::PATCH, &path, &[("Authorization", PASSWORD)], huge)
        .await;
    assert_error_body(&reply, 413, "Maximum upload size exceeded", &path);
    assert_alive(&node).await;
}

#[tokio::test]
async fn wrong_methods_get_405_and_unknown_paths_404() {
    let node = Node::default().await;
    for (method, path) in [
        (Method::POST, "/version"),
        (Method::DELETE, "/v4/info"),
        (Method::POST, "/v4/loadtracks"),
        (Method::GET, "/v4/decodetracks"),
        (Method::PUT, "/v4/sessions/abc/players/1"),
        (Method::POST, "/v4/sessions/abc"),
    ] {
        let reply = node.call(method.clone(), path, None).await;
        assert_error_body(
            &reply,
            405,
            &format!("Request method '{method}' is not supported"),
            path,
        );
    }
    let unknown = node.get("/v3/loadtracks").await;
    assert_error_body(
        &unknown,
        404,
        "No static resource v3/loadtracks.",
        "/v3/loadtracks",
    );
    assert_alive(&node).await;
}

#[tokio::test]
async fn bad_path_and_query_values_get_400() {
    let node = Node::default().await;
    let (_ws, id) = session(&node).await;
    let path = format!("/v4/sessions/{id}/players/not-a-number");
    let reply = node.get(&path).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap_or("")
            .contains("required type 'long'")
    );
    let overflow = node
        .get(&format!(
            "/v4/sessions/{id}/players/99999999999999999999999"
        ))
        .await;
    assert_eq!(overflow.status, 400);
    let flag = node
        .patch(
            &format!("/v4/sessions/{id}/players/1?noReplace=maybe"),
            json!({}),
        )
        .await;
    assert_eq!(flag.status, 400);
    let not_upgrade = node
        .raw(
            Method::GET,
            "/v4/websocket",
            &[("Authorization", PASSWORD), ("User-Id", USER_ID)],
            Vec::new(),
        )
        .await;
    assert_eq!(not_upgrade.status, 400);
    assert_alive(&node).await;
}

#[tokio::test]
async fn garbage_on_the_wire_does_not_crash_the_node() {
    let node = Node::default().await;
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"PATCH /v4/sessions/x/players/1 HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{",
        b"\r\n\r\n\r\n",
    ] {
        let mut stream = node.connect().await;
        stream.write_all(garbage).await.expect("the node reads");
        let _ = stream.shutdown().await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(PROMPT, stream.read_to_end(&mut answer)).await;
        assert_alive(&node).await;
    }
    // A client that connects and vanishes mid-request.
    let mut half = node.connect().await;
    half.write_all(b"GET /v4/info HTTP/1.1\r\nAuthor")
        .await
        .expect("writes");
    drop(half);
    assert_alive(&node).await;
}

#[tokio::test]
async fn decoding_garbage_tracks_fails_cleanly() {
    let node = Node::default().await;
    let (_ws, id) = session(&node).await;
    let path = format!("/v4/sessions/{id}/players/1");
    for encoded in ["", "QAAA", "AAAAAAAAAAAAAAAAAAAA", "@@@"] {
        let reply = node
            .patch(&path, json!({"track": {"encoded": encoded}}))
            .await;
        assert_eq!(reply.status, 500, "{encoded:?}: {}", reply.text());
        assert_eq!(reply.json()["path"], path);
    }
    let reply = node
        .call(Method::POST, "/v4/decodetracks", Some(json!(["QAAA"])))
        .await;
    assert_eq!(reply.status, 500);
    assert_alive(&node).await;
}

#[tokio::test]
async fn extreme_numbers_are_clamped_not_overflowed() {
    let node = Node::default().await;
    let (ws, id) = session(&node).await;
    let reply = node
        .patch(
            &format!("/v4/sessions/{id}"),
            json!({"resuming": true, "timeout": i64::MAX}),
        )
        .await;
    assert_eq!(reply.json()["timeout"], i64::MAX);
    let path = format!("/v4/sessions/{id}/players/1");
    let track = node.encoded("dQw4w9WgXcQ").await;
    let player = node
        .patch(
            &path,
            json!({"track": {"encoded": track}, "position": i64::MAX, "endTime": i64::MAX, "volume": -5}),
        )
        .await;
    assert_eq!(player.status, 200, "{}", player.text());
    assert_eq!(player.json()["volume"], 0);
    let seek = node.patch(&path, json!({"position": -1000})).await;
    assert_eq!(seek.status, 200);
    ws.close().await;
    // The session now waits "forever" for a resume; the node is unharmed.
    for _ in 0..100 {
        if node
            .control
            .snapshot()
            .sessions
            .iter()
            .all(|s| s.players.len() == 1)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_alive(&node).await;
    assert_eq!(node.control.snapshot().sessions.len(), 1);
}
