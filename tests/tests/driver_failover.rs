//! The shared driver end to end on real loopback TCP: Lavalink v4 emulators, a real
//! `redis-server`, a webhook receiver, the controller's API, and a bot played by the
//! test through the documented contract. A node dies; its players must come back on a
//! healthy node of the same region at the position they had, with the health key, the
//! API and a critical alert telling the story.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_core::Controller;
use switchyard_core::config::ControllerConfig;
use switchyard_core::health::NodeStatus;
use switchyard_core::ids::{GuildId, NodeId, ProcessId};
use switchyard_core::time::Millis;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};
use switchyard_runtime::adapters::redis_store::{RedisStore, RedisStoreConfig};
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::alerts::{
    AlertClock, AlertDispatcher, AlertSettings, AlertSinkConfig, SinkKind,
};
use switchyard_runtime::api::{ApiState, router};
use switchyard_runtime::driver::{Driver, DriverSettings};
use switchyard_runtime::lavalink::watcher::{WatchTarget, watch_node};
use switchyard_runtime::lavalink::wire::{PlayerUpdate, TrackUpdate, VoiceState};
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use switchyard_runtime::ports::http::{HttpClient, HttpRequest, Method};
use switchyard_runtime::ports::store::Store;
use switchyard_runtime::ports::websocket::TokioConnector;
use switchyard_runtime::store_schema::{
    PlayerSnapshot, SessionRegistration, VoiceState as SnapshotVoice,
};
use switchyard_sim::emulator::{
    Emulator, EmulatorConfig, EmulatorControl, TestTrackOptions, test_track_identifier,
};
use switchyard_tests::redis_server::RedisServer;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "youshallnotpass";
const BOT: &str = "bot-0";
const TIMEOUT: Duration = Duration::from_millis(800);
/// The wall clock the driver and the test's bot agree on, at the driver's start.
const EPOCH_UNIX_MS: u64 = 1_700_000_000_000;

struct Node {
    control: EmulatorControl,
    port: u16,
}

async fn start_node(name: &str, region: &str) -> Node {
    let config = EmulatorConfig {
        name: name.to_owned(),
        region: region.to_owned(),
        password: PASSWORD.to_owned(),
        ..EmulatorConfig::default()
    };
    let (emulator, control) = Emulator::new(config).expect("valid emulator config");
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("loopback bind");
    let port = listener.local_addr().expect("bound").port();
    tokio::spawn(async move { emulator.serve(listener).await });
    Node { control, port }
}

fn topology() -> TopologySpec {
    let node = |name: &str, region: &str| NodeSpec {
        name: name.into(),
        region: region.into(),
        priority: 0,
        weight: 1,
        capacity: 100,
        maintenance: false,
    };
    TopologySpec {
        regions: vec![
            RegionSpec {
                name: "eu".into(),
                priority: 10,
            },
            RegionSpec {
                name: "us".into(),
                priority: 5,
            },
        ],
        nodes: vec![node("eu-1", "eu"), node("eu-2", "eu"), node("us-1", "us")],
        plans: vec![PlanSpec {
            name: "growth".into(),
            regions: vec!["eu".into(), "us".into()],
            default_region: None,
        }],
        shard_count: 1,
    }
}

fn config() -> ControllerConfig {
    let mut config = ControllerConfig::default();
    config.health.probe_interval_ms = 200;
    config.health.probe_interval_fast_ms = 50;
    // Generous, so that a loaded test machine's slow answers do not mark a live node
    // down (a killed node refuses at once, so detection stays fast): a node marked
    // down while alive has its players resume at its last good probe, which the
    // position checks below would read as skipped-back audio.
    config.health.probe_timeout_ms = 1_000;
    config.health.slow_start_ms = 1_000;
    config.restoration.hold_ms = 60_000;
    // Pages follow detection by this much (the default 5 s only slows the test down).
    config.alerts.node_down_group_wait_ms = 1_000;
    config
}

/// Records every body POSTed to it.
async fn start_webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("test lock").push(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("loopback bind");
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().expect("bound").port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Opens the bot's Lavalink session on a node and returns its id (keeping the socket).
async fn open_session(port: u16) -> String {
    let mut request = format!("ws://127.0.0.1:{port}/v4/websocket")
        .into_client_request()
        .expect("url");
    request
        .headers_mut()
        .insert("Authorization", PASSWORD.parse().expect("header"));
    request
        .headers_mut()
        .insert("User-Id", "1".parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket opens");
    let ready = socket.next().await.expect("a frame").expect("not an error");
    let ready: Value = serde_json::from_str(&ready.into_text().expect("text")).expect("json");
    assert_eq!(ready["op"], "ready");
    let session = ready["sessionId"].as_str().expect("session id").to_owned();
    tokio::spawn(async move { while socket.next().await.is_some() {} });
    session
}

async fn load_track(http: &ReqwestHttpClient, port: u16, identifier: &str) -> String {
    let url = format!(
        "http://127.0.0.1:{port}/v4/loadtracks?identifier={}",
        identifier
            .replace('&', "%26")
            .replace('?', "%3F")
            .replace('=', "%3D")
    );
    let response = http
        .send(HttpRequest::new(Method::Get, url, TIMEOUT).header("Authorization", PASSWORD))
        .await
        .expect("loadtracks answers");
    let body: Value = serde_json::from_slice(&response.body).expect("json");
    body["data"]["encoded"]
        .as_str()
        .expect("a track")
        .to_owned()
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The world of these tests: three nodes (two in eu, one in us), Redis, a webhook
/// receiver, the driver with its API, and the bot's sessions.
struct Cluster {
    redis: RedisServer,
    store: RedisStore<
        switchyard_runtime::adapters::redis_reconnect::ReconnectingConnection<
            switchyard_runtime::adapters::redis_reconnect::ClientDialer,
        >,
    >,
    nodes: BTreeMap<&'static str, Node>,
    http: ReqwestHttpClient,
    api_url: String,
    alerts_received: Arc<Mutex<Vec<Value>>>,
    sessions: BTreeMap<&'static str, String>,
    driver_started: tokio::time::Instant,
}

impl Cluster {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let store =
            RedisStore::connect(&redis.url(), RedisStoreConfig::default()).expect("valid url");
        let mut nodes = BTreeMap::new();
        for (name, region) in [("eu-1", "eu"), ("eu-2", "eu"), ("us-1", "us")] {
            nodes.insert(name, start_node(name, region).await);
        }
        let http = ReqwestHttpClient::new().expect("client builds");
        let (hook_url, alerts_received) = start_webhook_receiver().await;
        let alerts = AlertDispatcher::start(
            http.clone(),
            vec![AlertSinkConfig::new(
                "ops",
                SinkKind::Generic,
                hook_url.as_str(),
            )],
            AlertSettings {
                source: "test".into(),
                clock: AlertClock::new(tokio::time::Instant::now(), EPOCH_UNIX_MS),
                seed: 1,
            },
        )
        .expect("valid sinks");
        let clients = nodes
            .iter()
            .map(|(name, node)| {
                let endpoint = NodeEndpoint {
                    name: (*name).into(),
                    base_url: format!("http://127.0.0.1:{}", node.port),
                    password: PASSWORD.into(),
                };
                LavalinkClient::new(http.clone(), endpoint, TIMEOUT)
            })
            .collect();
        let core = Controller::new(Millis::ZERO, config(), &topology()).expect("valid topology");
        let settings = DriverSettings {
            store_poll_interval: Duration::from_millis(100),
            store_retry_interval: Duration::from_millis(100),
            epoch_unix_ms: EPOCH_UNIX_MS,
            ..DriverSettings::default()
        };
        let (driver, handle) = Driver::new(core, clients, store.clone(), Some(alerts), settings);
        let driver_started = tokio::time::Instant::now();
        tokio::spawn(driver.run());
        for (name, node) in &nodes {
            let target = WatchTarget {
                node: (*name).into(),
                host: "127.0.0.1".into(),
                port: node.port,
                password: PASSWORD.into(),
                user_id: 2,
            };
            tokio::spawn(watch_node(TokioConnector, target, handle.clone()));
        }
        let api = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("loopback bind");
        let api_url = format!(
            "http://127.0.0.1:{}",
            api.local_addr().expect("bound").port()
        );
        tokio::spawn(
            async move { axum::serve(api, router(ApiState::new(handle, None, None))).await },
        );
        let mut cluster = Self {
            redis,
            store,
            nodes,
            http,
            api_url,
            alerts_received,
            sessions: BTreeMap::new(),
            driver_started,
        };
        cluster.open_sessions().await;
        cluster.wait_all_available().await;
        cluster
    }

    /// The bot: a session on every node, registered in Redis.
    async fn open_sessions(&mut self) {
        for (name, node) in &self.nodes {
            let session = open_session(node.port).await;
            let registration = SessionRegistration {
                session_id: session.clone(),
                user_id: 1,
                registered_at_ms: 0,
            };
            self.store
                .register_session(&ProcessId::new(BOT), &NodeId::new(*name), &registration)
                .await
                .expect("redis answers");
            self.sessions.insert(name, session);
        }
    }

    async fn panel(&self) -> Option<Value> {
        let url = format!("{}/api/control-panel/lavalink/nodes", self.api_url);
        let response = self
            .http
            .send(HttpRequest::new(Method::Get, url, TIMEOUT))
            .await
            .ok()?;
        serde_json::from_slice(&response.body).ok()
    }

    async fn wait_all_available(&self) {
        eventually("every node up", async || {
            let body = self.panel().await?;
            body["nodes"]
                .as_array()?
                .iter()
                .all(|n| n["available"] == true)
                .then_some(())
        })
        .await;
    }

    /// Guilds ask where to play, play there, and publish their snapshots.
    async fn place_guilds(&self, guilds: std::ops::RangeInclusive<u64>) -> BTreeMap<u64, String> {
        let mut placed = BTreeMap::new();
        for guild in guilds {
            let request = HttpRequest::new(
                Method::Post,
                format!("{}/api/bots/players/{guild}", self.api_url),
                TIMEOUT,
            )
            .json(&json!({"plan": "growth", "region": "eu"}))
            .expect("encodes");
            let answer: Value =
                serde_json::from_slice(&self.http.send(request).await.expect("api answers").body)
                    .expect("json");
            let node = answer["node"]
                .as_str()
                .expect("placed on a node")
                .to_owned();
            assert!(node.starts_with("eu-"), "guild {guild} placed on {node}");
            self.play(guild, &node).await;
            placed.insert(guild, node);
        }
        placed
    }

    async fn play(&self, guild: u64, node: &str) {
        let port = self.nodes[node].port;
        let identifier = test_track_identifier(
            &format!("track-{guild}"),
            TestTrackOptions {
                length_ms: Some(600_000),
                ..TestTrackOptions::default()
            },
        );
        let track = load_track(&self.http, port, &identifier).await;
        let voice = VoiceState {
            token: format!("t{guild}"),
            endpoint: "voice.test".into(),
            session_id: format!("v{guild}"),
            channel_id: format!("{}", 100 + guild),
        };
        let endpoint = NodeEndpoint {
            name: node.into(),
            base_url: format!("http://127.0.0.1:{port}"),
            password: PASSWORD.into(),
        };
        let update = PlayerUpdate {
            track: Some(TrackUpdate {
                encoded: track.clone(),
            }),
            position: 0,
            volume: 100,
            paused: false,
            filters: Value::Null,
            voice: voice.clone(),
        };
        LavalinkClient::new(self.http.clone(), endpoint, TIMEOUT)
            .update_player(&self.sessions[node], GuildId(guild), &update)
            .await
            .expect("player created");
        let snapshot = PlayerSnapshot {
            guild: GuildId(guild),
            shard: GuildId(guild).shard(1),
            owner: ProcessId::new(BOT),
            epoch: 0,
            node: node.into(),
            session_id: self.sessions[node].clone(),
            track: Some(track),
            // The track started just now, by the clock the driver reads positions with.
            position_ms: 0,
            position_at_ms: EPOCH_UNIX_MS + self.driver_started.elapsed().as_millis() as u64,
            paused: false,
            volume: 100,
            filters: Value::Null,
            voice: SnapshotVoice {
                token: voice.token,
                endpoint: voice.endpoint,
                session_id: voice.session_id,
                channel_id: Some(voice.channel_id),
            },
            updated_at_ms: 0,
        };
        self.store
            .put_player_snapshot(&snapshot, Duration::from_secs(600))
            .await
            .expect("redis answers");
    }

    /// Positions of the node's players that are heard. A player being created exists
    /// during its voice handshake before its track is set (as on Lavalink, which
    /// answers the `PATCH` only after the handshake), so its position then means nothing.
    fn heard_positions(&self, node: &str) -> BTreeMap<u64, u64> {
        self.nodes[node]
            .control
            .snapshot()
            .players()
            .filter(|(_, p)| p.audible)
            .map(|(_, p)| (p.guild_id, p.position_ms))
            .collect()
    }

    fn player_count(&self, node: &str) -> usize {
        self.nodes[node].control.snapshot().players().count()
    }

    /// Waits until every guild in `guilds` is heard on `node`; returns positions there.
    async fn wait_players_on(&self, node: &str, guilds: &[u64]) -> BTreeMap<u64, u64> {
        eventually("players re-created", async || {
            let players = self.heard_positions(node);
            guilds
                .iter()
                .all(|g| players.contains_key(g))
                .then_some(players)
        })
        .await
    }
}

/// Picks the eu node with the most guilds as the one to kill.
fn victim_and_survivor(placed: &BTreeMap<u64, String>) -> (&'static str, &'static str, Vec<u64>) {
    let victim = if placed.values().filter(|n| *n == "eu-1").count() >= 3 {
        "eu-1"
    } else {
        "eu-2"
    };
    let survivor = if victim == "eu-1" { "eu-2" } else { "eu-1" };
    let moved: Vec<u64> = placed
        .iter()
        .filter(|(_, n)| *n == victim)
        .map(|(g, _)| *g)
        .collect();
    assert!(!moved.is_empty());
    (victim, survivor, moved)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_players_come_back_on_its_region_s_other_node() {
    let cluster = Cluster::start().await;
    let placed = cluster.place_guilds(1..=6).await;
    let (victim, survivor, moved) = victim_and_survivor(&placed);
    tokio::time::sleep(Duration::from_millis(1_500)).await; // tracks play for a while
    let played_ms = cluster.heard_positions(victim);
    cluster.nodes[victim].control.shutdown();

    // Its players come back on the surviving eu node, at about where they were.
    let moved_now = cluster.wait_players_on(survivor, &moved).await;
    for guild in &moved {
        let (before, after) = (played_ms[guild], moved_now[guild]);
        // Resumed where it was when the fault was detected: frozen at the node's last
        // sign of life (at most one probe interval before it died, so a moment may be
        // replayed but nothing unheard is skipped), plus the time since the move.
        let replay_max_ms = config().health.probe_interval_ms + 100;
        assert!(
            after + replay_max_ms >= before,
            "guild {guild} resumed at {after} ms, it had played {before} ms"
        );
        assert!(
            after < before + 3_000,
            "guild {guild} skipped ahead to {after} ms from {before} ms"
        );
    }
    assert_eq!(cluster.player_count("us-1"), 0, "same region first");

    // The runbook's health key, the control panel and a critical alert say so.
    let health = eventually("the health key marks the node down", async || {
        let record = cluster
            .store
            .node_health(&NodeId::new(victim))
            .await
            .ok()??;
        (record.report.status == NodeStatus::Down).then_some(record)
    })
    .await;
    assert!(!health.report.available);
    let panel = cluster.panel().await.expect("api answers");
    let entry = panel["nodes"]
        .as_array()
        .expect("list")
        .iter()
        .find(|n| n["name"] == victim)
        .expect("listed")
        .clone();
    assert_eq!(entry["status"], "down");
    assert_eq!(entry["available"], false);
    let alert = eventually("a critical node-down alert at the receiver", async || {
        let received = cluster.alerts_received.lock().expect("test lock");
        received
            .iter()
            .find(|a| a["dedup_key"] == format!("switchyard/node-down/{victim}"))
            .cloned()
    })
    .await;
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["action"], "trigger");
    // The routing table follows the move (written once its PATCH is answered).
    for guild in &moved {
        eventually("the route follows", async || {
            let route = cluster.store.route(GuildId(*guild)).await.ok()?;
            (route.map(|n| n.to_string()).as_deref() == Some(survivor)).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_changed_after_the_controller_read_it_is_what_the_move_uses() {
    let cluster = Cluster::start().await;
    let placed = cluster.place_guilds(1..=6).await;
    let (victim, survivor, moved) = victim_and_survivor(&placed);
    // The driver has read every snapshot; its next full read is 30 s away, so only the
    // change stream can tell it about what follows.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for guild in &moved {
        let mut snapshot = cluster
            .store
            .player_snapshot(GuildId(*guild))
            .await
            .expect("redis answers")
            .expect("written by play");
        snapshot.volume = 55;
        snapshot.updated_at_ms = 1;
        cluster
            .store
            .put_player_snapshot(&snapshot, Duration::from_secs(600))
            .await
            .expect("redis answers");
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // a few polls
    cluster.nodes[victim].control.shutdown();

    cluster.wait_players_on(survivor, &moved).await;
    let truth = cluster.nodes[survivor].control.snapshot();
    for guild in &moved {
        let (_, player) = truth
            .players()
            .find(|(_, p)| p.guild_id == *guild)
            .expect("re-created");
        assert_eq!(
            player.volume, 55,
            "guild {guild} moved with a stale snapshot"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_goes_on_while_redis_is_down_and_the_state_is_written_back() {
    let mut cluster = Cluster::start().await;
    let placed = cluster.place_guilds(1..=6).await;
    let (victim, survivor, moved) = victim_and_survivor(&placed);
    // Give the driver a poll to cache the snapshots, then take Redis away.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.redis.kill();
    cluster.nodes[victim].control.shutdown();

    // Decisions and moves go on from memory.
    cluster.wait_players_on(survivor, &moved).await;
    let panel = cluster.panel().await.expect("api answers without Redis");
    let entry = panel["nodes"]
        .as_array()
        .expect("list")
        .iter()
        .find(|n| n["name"] == victim)
        .expect("listed")
        .clone();
    assert_eq!(entry["status"], "down");

    // Redis returns empty (no persistence): what the controller owes is written back.
    cluster.redis.restart();
    let health = eventually("the health key written back", async || {
        let record = cluster
            .store
            .node_health(&NodeId::new(victim))
            .await
            .ok()??;
        (record.report.status == NodeStatus::Down).then_some(record)
    })
    .await;
    assert!(!health.report.available);
    for guild in &moved {
        let route = eventually("the route written back", async || {
            cluster.store.route(GuildId(*guild)).await.ok()?
        })
        .await;
        assert_eq!(route.as_str(), survivor);
    }
}
