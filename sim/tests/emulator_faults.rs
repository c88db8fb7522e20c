//! The fault knobs, through the control handle and through the admin endpoint.
//! Real loopback time: each assertion allows generous slack on the slow side.

mod emulator_support;

use std::time::Duration;

use emulator_support::{Node, PASSWORD, PROMPT, request_on, voice};
use futures_util::{SinkExt, StreamExt};
use hyper::Method;
use serde_json::{Value, json};
use switchyard_sim::emulator::{EmulatorConfig, Faults, serve_admin};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn added_latency_delays_every_response() {
    let node = Node::default().await;
    node.control
        .set_latency(Duration::from_millis(800), Duration::from_millis(50))
        .expect("valid latency");
    let started = Instant::now();
    assert_eq!(node.get("/version").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(800));
    node.control
        .set_latency(Duration::ZERO, Duration::ZERO)
        .expect("valid latency");
    let started = Instant::now();
    node.get("/version").await;
    assert!(started.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn the_error_rate_answers_with_the_chosen_5xx() {
    let node = Node::default().await;
    node.control.set_error_rate(1.0, 503).expect("valid rate");
    for path in ["/version", "/v4/info", "/v4/stats"] {
        let reply = node.get(path).await;
        assert_eq!(reply.status, 503, "{path}");
        assert_eq!(reply.json()["path"], path);
        assert_eq!(reply.header("lavalink-api-version"), Some("4"));
    }
    node.control.set_error_rate(0.0, 500).expect("valid rate");
    assert_eq!(node.get("/version").await.status, 200);
    assert!(node.control.set_error_rate(2.0, 500).is_err());
    assert!(node.control.set_error_rate(0.5, 404).is_err());
}

#[tokio::test]
async fn a_hung_node_accepts_but_answers_only_after_release() {
    let node = Node::default().await;
    node.control.set_hang(true).expect("valid");
    let io = node.connect().await;
    let pending = tokio::spawn(request_on(
        io,
        Method::GET,
        "/version",
        &[("Authorization", PASSWORD)],
        Vec::new(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "a hung node does not answer");
    node.control.set_hang(false).expect("valid");
    let reply = tokio::time::timeout(PROMPT, pending)
        .await
        .expect("released requests complete")
        .expect("the task ran")
        .expect("HTTP works");
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_hung_node_goes_silent_on_open_websockets() {
    let node = Node::start(EmulatorConfig {
        stats_interval: Duration::from_millis(50),
        ..EmulatorConfig::default()
    })
    .await;
    let (mut ws, _) = node.session().await;
    node.control.set_hang(true).expect("valid");
    // Whatever was already in flight may arrive (a few messages at most); then nothing.
    let mut quiet = false;
    for _ in 0..5 {
        match tokio::time::timeout(Duration::from_millis(300), ws.next_json()).await {
            Err(_) => {
                quiet = true;
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
        }
    }
    assert!(quiet, "the socket stays open but silent");
    node.control.set_hang(false).expect("valid");
    let stats = tokio::time::timeout(PROMPT, ws.next_json())
        .await
        .expect("messages resume")
        .expect("still open");
    assert_eq!(stats["op"], "stats");
}

#[tokio::test]
async fn a_hung_node_answers_no_websocket_ping_until_released() {
    let node = Node::default().await;
    let (mut ws, _) = node.session().await;
    node.control.set_hang(true).expect("valid");
    ws.stream
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .expect("the socket is open");
    let silence = tokio::time::timeout(Duration::from_millis(300), ws.stream.next()).await;
    assert!(silence.is_err(), "no pong from a hung node: {silence:?}");
    node.control.set_hang(false).expect("valid");
    let answer = tokio::time::timeout(PROMPT, ws.stream.next())
        .await
        .expect("the node answers once released");
    assert!(matches!(answer, Some(Ok(Message::Pong(_)))), "{answer:?}");
}

#[tokio::test]
async fn refused_connections_get_no_answer_until_cleared() {
    let node = Node::default().await;
    node.control.set_refuse_connections(true).expect("valid");
    let io = node.connect().await;
    let result = tokio::time::timeout(
        PROMPT,
        request_on(
            io,
            Method::GET,
            "/version",
            &[("Authorization", PASSWORD)],
            Vec::new(),
        ),
    )
    .await
    .expect("a refused connection fails fast");
    assert!(
        result.is_err(),
        "the connection is closed before any response"
    );
    node.control.set_refuse_connections(false).expect("valid");
    assert_eq!(node.get("/version").await.status, 200);
}

#[tokio::test]
async fn reported_cpu_load_follows_the_knob() {
    let node = Node::start(EmulatorConfig {
        faults: Faults {
            cpu_load: Some(0.93),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let stats = node.get("/v4/stats").await.json();
    assert_eq!(stats["cpu"]["systemLoad"], 0.93);
    assert!(stats["cpu"]["lavalinkLoad"].as_f64().unwrap_or(1.0) <= 0.93);
}

#[tokio::test]
async fn failed_voice_handshakes_get_500_and_stay_disconnected() {
    let node = Node::default().await;
    let (_ws, session) = node.session().await;
    node.control.set_voice_connect_fail(true).expect("valid");
    let path = format!("/v4/sessions/{session}/players/1");
    let reply = node.patch(&path, json!({"voice": voice()})).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["message"], "Failed to connect to voice server");
    assert_eq!(node.get(&path).await.json()["state"]["connected"], false);
    node.control.set_voice_connect_fail(false).expect("valid");
    let reply = node.patch(&path, json!({"voice": voice()})).await;
    assert_eq!(reply.json()["state"]["connected"], true);
}

async fn admin(node: &Node) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the admin port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(serve_admin(node.control.clone(), listener));
    addr
}

async fn admin_call(
    addr: std::net::SocketAddr,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let io = tokio::net::TcpStream::connect(addr)
        .await
        .expect("admin accepts");
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let reply = request_on(io, method, path, &[], body)
        .await
        .expect("admin speaks HTTP");
    let json = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, json)
}

#[tokio::test]
async fn the_admin_endpoint_sets_knobs_and_reports_ground_truth() {
    let node = Node::default().await;
    let addr = admin(&node).await;

    let (status, faults) = admin_call(addr, Method::GET, "/faults", None).await;
    assert_eq!(status, 200);
    assert_eq!(faults["hang"], false);

    let (status, faults) = admin_call(
        addr,
        Method::PATCH,
        "/faults",
        Some(json!({"error_rate": 1.0, "error_status": 502, "cpu_load": 0.5})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(faults["error_status"], 502);
    assert_eq!(node.get("/version").await.status, 502);
    assert_eq!(node.control.faults().cpu_load, Some(0.5));

    let (status, error) =
        admin_call(addr, Method::PATCH, "/faults", Some(json!({"hnag": true}))).await;
    assert_eq!(status, 400, "typos are rejected");
    assert!(error["error"].is_string());
    let (status, _) = admin_call(
        addr,
        Method::PATCH,
        "/faults",
        Some(json!({"error_rate": 7})),
    )
    .await;
    assert_eq!(status, 400, "invalid values are rejected");

    let (status, _) = admin_call(addr, Method::PUT, "/faults", Some(json!({}))).await;
    assert_eq!(status, 200, "PUT resets to a healthy node");
    assert_eq!(node.control.faults(), Faults::default());

    let (ws, session) = node.session().await;
    node.patch(
        &format!("/v4/sessions/{session}/players/77"),
        json!({"voice": voice(), "track": {"identifier": "dQw4w9WgXcQ"}}),
    )
    .await;
    let (status, state) = admin_call(addr, Method::GET, "/state", None).await;
    assert_eq!(status, 200);
    assert_eq!(state["serving"], true);
    assert_eq!(state["sessions"][0]["session_id"], session.as_str());
    let player = &state["sessions"][0]["players"][0];
    assert_eq!(player["guild_id"], 77);
    assert_eq!(player["audible"], true);
    assert_eq!(player["track"]["identifier"], "dQw4w9WgXcQ");

    let (status, closed) = admin_call(
        addr,
        Method::POST,
        "/voice/close",
        Some(json!({"guild_id": "77", "code": 4006})),
    )
    .await;
    assert_eq!((status, closed["closed"].as_u64()), (200, Some(1)));
    let (_, closed) = admin_call(
        addr,
        Method::POST,
        "/websockets/close",
        Some(json!({"code": 4001, "reason": "admin"})),
    )
    .await;
    assert_eq!(closed["closed"], 1);
    drop(ws);

    let (status, _) = admin_call(addr, Method::POST, "/shutdown", None).await;
    assert_eq!(status, 202);
    let served = tokio::time::timeout(PROMPT, node.server)
        .await
        .expect("the node stops");
    assert!(matches!(served, Ok(Ok(()))));
}
