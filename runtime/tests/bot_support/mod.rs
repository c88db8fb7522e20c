//! Helpers of the bot tests on loopback: emulated Lavalink nodes, the simulated Redis,
//! a stand-in for the controller's bot API (which records what bots asked and writes
//! routes as the controller does), fast bot timing and a polling `eventually`.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};
use switchyard_runtime::adapters::{ProductionRedisStore, RedisStoreConfig};
use switchyard_runtime::bot::{BotConfig, BotTiming, NodeConfig};
use switchyard_runtime::ports::store::Store;
use switchyard_sim::emulator::track::{
    TestTrackOptions, encoded_test_track, encoded_test_track_with,
};
use switchyard_sim::emulator::{Emulator, EmulatorConfig, EmulatorControl, PlayerSnapshot};
use switchyard_sim::redis_sim::RedisSim;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "youshallnotpass";
pub const USER_ID: u64 = 170_939_974_227_541_168;
/// How long a loopback test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it yields a value, failing the test after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// An emulated node on a loopback port.
pub struct Node {
    pub name: NodeId,
    pub port: u16,
    pub control: EmulatorControl,
    task: JoinHandle<std::io::Result<()>>,
}

impl Node {
    pub async fn start(name: &str) -> Node {
        let config = EmulatorConfig {
            name: name.to_owned(),
            region: "eu".to_owned(),
            password: PASSWORD.to_owned(),
            player_update_interval: Duration::from_millis(200),
            voice_handshake: Duration::from_millis(5),
            ..EmulatorConfig::default()
        };
        let (emulator, control) = Emulator::new(config).expect("a valid emulator config");
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("binding a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let task = tokio::spawn(async move { emulator.serve(listener).await });
        Node {
            name: NodeId::new(name),
            port,
            control,
            task,
        }
    }

    pub fn config(&self) -> NodeConfig {
        NodeConfig::new(self.name.clone(), "127.0.0.1", self.port, PASSWORD)
    }

    /// The node's players for `guild`, with the session holding each.
    pub fn players(&self, guild: GuildId) -> Vec<(String, PlayerSnapshot)> {
        self.control
            .snapshot()
            .players()
            .filter(|(_, player)| player.guild_id == guild.0)
            .map(|(session, player)| (session.to_owned(), player.clone()))
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The simulated Redis on a loopback port, and a store talking to it.
pub struct Redis {
    pub store: ProductionRedisStore,
    task: JoinHandle<()>,
}

impl Redis {
    pub async fn start() -> Redis {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("binding a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let task = tokio::spawn(RedisSim::new().serve(listener));
        let url = format!("redis://127.0.0.1:{port}/0");
        let store = ProductionRedisStore::connect(&url, RedisStoreConfig::default())
            .expect("a valid loopback URL");
        Redis { store, task }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What bots asked the stand-in controller.
#[derive(Debug, Default)]
pub struct ControllerLog {
    /// Placement requests, in order: guild and body.
    pub placements: Vec<(GuildId, Value)>,
    /// Guilds reported stopped.
    pub stopped: Vec<GuildId>,
    /// Spare registrations: process and body.
    pub spares: Vec<(String, Value)>,
}

#[derive(Clone)]
struct ControllerState {
    store: ProductionRedisStore,
    answers: Arc<Mutex<BTreeMap<GuildId, NodeId>>>,
    log: Arc<Mutex<ControllerLog>>,
}

/// A stand-in for the controller's bot API: answers placements from a table (writing
/// the route, as the controller does) and records every call.
pub struct Controller {
    pub url: String,
    answers: Arc<Mutex<BTreeMap<GuildId, NodeId>>>,
    log: Arc<Mutex<ControllerLog>>,
    task: JoinHandle<()>,
}

impl Controller {
    pub async fn start(store: ProductionRedisStore) -> Controller {
        let answers = Arc::new(Mutex::new(BTreeMap::new()));
        let log = Arc::new(Mutex::new(ControllerLog::default()));
        let state = ControllerState {
            store,
            answers: answers.clone(),
            log: log.clone(),
        };
        let router = axum::Router::new()
            .route("/api/bots/players/{guild}", post(place).delete(stop))
            .route("/api/bots/spares/{process}", post(spare))
            .with_state(state);
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("binding a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the stand-in controller serves");
        });
        Controller {
            url: format!("http://127.0.0.1:{port}"),
            answers,
            log,
            task,
        }
    }

    /// Places `guild` on `node` from now on.
    pub fn place(&self, guild: GuildId, node: &NodeId) {
        lock(&self.answers).insert(guild, node.clone());
    }

    /// Reads the log.
    pub fn log<T>(&self, read: impl FnOnce(&ControllerLog) -> T) -> T {
        read(&lock(&self.log))
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn place(
    State(state): State<ControllerState>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let guild = GuildId(guild);
    lock(&state.log).placements.push((guild, body));
    let node = lock(&state.answers).get(&guild).cloned();
    match node {
        Some(node) => {
            state
                .store
                .set_routes(&[(guild, node.clone())])
                .await
                .expect("the test store answers");
            Json(json!({ "node": node }))
        }
        None => Json(json!({ "degraded": { "kind": "no_serving_node" } })),
    }
}

async fn stop(State(state): State<ControllerState>, Path(guild): Path<u64>) -> StatusCode {
    lock(&state.log).stopped.push(GuildId(guild));
    StatusCode::NO_CONTENT
}

async fn spare(
    State(state): State<ControllerState>,
    Path(process): Path<String>,
    Json(body): Json<Value>,
) -> StatusCode {
    lock(&state.log).spares.push((process, body));
    StatusCode::NO_CONTENT
}

/// Bot timing fast enough for loopback tests.
pub fn fast_timing() -> BotTiming {
    BotTiming {
        retry_interval: Duration::from_millis(200),
        // As in production: changes are written at once, the refresh only keeps TTLs.
        snapshot_refresh_interval: Duration::from_secs(30),
        snapshot_ttl: Duration::from_secs(60),
        heartbeat_interval: Duration::from_millis(200),
        // `shard_lease_below` the 1 s stall threshold of the tests' controllers.
        shard_lease: Duration::from_millis(750),
        moves_poll_interval: Duration::from_millis(50),
        lease_poll_interval: Duration::from_millis(100),
        spare_register_interval: Duration::from_millis(200),
        placement_retry_interval: Duration::from_millis(200),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(500),
        ready_timeout: Duration::from_secs(5),
        lavalink_timeout: Duration::from_secs(2),
        controller_timeout: Duration::from_secs(1),
    }
}

/// Shards in the tests' world.
pub const SHARD_COUNT: u32 = 2;

/// A bot process config over `nodes`, owning `shards`.
pub fn bot_config(
    process: &str,
    nodes: &[&Node],
    controller_url: &str,
    shards: &[u32],
) -> BotConfig {
    let mut config = BotConfig::new(
        ProcessId::new(process),
        USER_ID,
        nodes.iter().map(|node| node.config()).collect(),
        controller_url,
        SHARD_COUNT,
    );
    config.shards = shards.iter().copied().map(ShardId).collect();
    config.epoch_unix_ms = 1_735_689_600_000;
    config.timing = fast_timing();
    config
}

/// The `n`th guild of `shard` (Discord's `(guild >> 22) % shard_count`).
pub fn guild_in(shard: u32, n: u64) -> GuildId {
    let guild = GuildId(((n * u64::from(SHARD_COUNT) + u64::from(shard)) << 22) + 7);
    assert_eq!(guild.shard(SHARD_COUNT), ShardId(shard));
    guild
}

/// An encoded emulator test track of `length_ms`.
pub fn track(name: &str, length_ms: u64) -> String {
    encoded_test_track(name, length_ms).expect("test tracks encode")
}

/// An encoded emulator test track whose audio stops at `stuck_at_ms` (the node's
/// position stops there too; `TrackStuckEvent` follows 10 s later).
pub fn stuck_track(name: &str, length_ms: u64, stuck_at_ms: u64) -> String {
    let options = TestTrackOptions {
        length_ms: Some(length_ms),
        stuck_at_ms: Some(stuck_at_ms),
        ..TestTrackOptions::default()
    };
    encoded_test_track_with(name, options).expect("test tracks encode")
}
