//! A real webhook receiver for the alert tests: an axum server on 127.0.0.1 that records
//! every request and answers from a per-path script.

#![allow(dead_code)] // Each test file uses a different part of this.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use switchyard_core::alerts::{AlertAction, AlertNotice, AlertSubject, Severity};
use switchyard_core::time::Millis;
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::alerts::{
    AlertClock, AlertDispatcher, AlertSettings, AlertSinkConfig, SinkKind, SinkStats,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// 2024-05-01T12:00:00Z: the wall-clock time of `Millis(0)` in these tests.
pub const EPOCH_UNIX_MS: u64 = 1_714_564_800_000;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Script {
    queued: VecDeque<Reply>,
    otherwise: Option<Reply>,
}

#[derive(Default)]
pub struct ReceiverState {
    scripts: BTreeMap<String, Script>,
    received: Vec<Received>,
}

/// A running receiver; stop it with [`Receiver::stop`] to make it go away.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Receiver {
    /// A receiver on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on(
            "127.0.0.1:0".parse().expect("an address"),
            Default::default(),
        )
        .await
    }

    /// A receiver on `addr`, keeping the scripts and records of `state`.
    pub async fn start_on(addr: SocketAddr, state: Arc<Mutex<ReceiverState>>) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().expect("bound");
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&state));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the receiver serves");
        });
        Self {
            addr,
            state,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Stops accepting and closes every connection; returns the state to restart with.
    pub async fn stop(mut self) -> Arc<Mutex<ReceiverState>> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the receiver stops cleanly");
        }
        Arc::clone(&self.state)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next requests to `path` with `replies`, in order.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state)
            .scripts
            .entry(path.to_owned())
            .or_default()
            .queued
            .extend(replies);
    }

    /// Answers `path` with `reply` once its script is used up (default: 200 `ok`).
    pub fn otherwise(&self, path: &str, reply: Option<Reply>) {
        lock(&self.state)
            .scripts
            .entry(path.to_owned())
            .or_default()
            .otherwise = reply;
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        lock(&self.state)
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (real time, bounded) until `path` has received `count` requests.
    pub async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        for _ in 0..500 {
            let received = self.received(path);
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{path} received {:?}", self.received(path));
    }
}

fn lock(state: &Mutex<ReceiverState>) -> MutexGuard<'_, ReceiverState> {
    state.lock().expect("receiver lock")
}

async fn record(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let reply = {
        let mut state = lock(&state);
        state.received.push(Received {
            path: path.clone(),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        let script = state.scripts.entry(path).or_default();
        script
            .queued
            .pop_front()
            .or_else(|| script.otherwise.clone())
            .unwrap_or_else(|| Reply::status(200, "ok"))
    };
    let mut response = (
        StatusCode::from_u16(reply.status).expect("a valid status"),
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("a valid header"),
        );
    }
    response
}

/// A sink with test-sized delays: no pacing, 10 ms backoff capped at 50 ms.
pub fn fast_sink(name: &str, kind: SinkKind, url: String) -> AlertSinkConfig {
    let mut config = AlertSinkConfig::new(name, kind, url);
    config.min_interval_ms = 0;
    config.backoff_initial_ms = 10;
    config.backoff_max_ms = 50;
    config.request_timeout_ms = 2_000;
    config
}

/// Starts the engine with the production reqwest client.
pub fn start(sinks: Vec<AlertSinkConfig>) -> AlertDispatcher {
    let client = ReqwestHttpClient::new().expect("an HTTP client");
    let settings = AlertSettings {
        source: "switchyard-test".to_owned(),
        clock: AlertClock::new(Instant::now(), EPOCH_UNIX_MS),
        seed: 7,
    };
    AlertDispatcher::start(client, sinks, settings).expect("valid sinks")
}

pub fn node_down(action: AlertAction, node: &str, severity: Severity) -> AlertNotice {
    let subject = AlertSubject::NodeDown {
        node: node.into(),
        region: "eu".into(),
    };
    AlertNotice {
        action,
        dedup_key: subject.dedup_key(),
        severity,
        subject,
        summary: format!("node {node} is down"),
        since: Millis(1_000),
        at: Millis(2_000),
    }
}

/// Waits (real time, bounded) until the stats satisfy `done`.
pub async fn wait_stats(dispatcher: &AlertDispatcher, done: impl Fn(&[SinkStats]) -> bool) {
    for _ in 0..500 {
        if done(&dispatcher.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("stats never settled: {:?}", dispatcher.stats());
}
