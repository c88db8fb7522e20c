//! The world of the process-level tests, all real processes on 127.0.0.1: a
//! `redis-server`, four `sim node` Lavalink emulators in two regions (eu-1, eu-2, us-1,
//! us-2) with their admin endpoints as ground truth, a webhook receiver recording what
//! it is sent, two `switchyard run` daemons sharing the Redis (configured by a TOML file
//! plus the runbook's environment variables), and a bot (`BotProcess`, in the test)
//! that knows both daemons' URLs.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::post;
use serde_json::Value;
use switchyard_core::ids::{GuildId, NodeId, PlanId, ProcessId, RegionId, ShardId};
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::adapters::{ProductionRedisStore, RedisStoreConfig};
use switchyard_runtime::bot::{
    BotConfig, BotHandle, BotProcess, BotTiming, NodeConfig, PlayOutcome, PlayRequest,
};
use switchyard_runtime::ports::http::{HttpClient, HttpRequest, HttpResponse, Method};
use switchyard_runtime::ports::store::Store;
use switchyard_runtime::ports::websocket::TokioConnector;
use switchyard_runtime::store_schema::{MoveAnnouncement, StreamEntry};
use switchyard_sim::emulator::track::encoded_test_track;
use switchyard_tests::processes::{ChildProcess, binary};
use switchyard_tests::redis_server::{RedisServer, free_port};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub const PASSWORD: &str = "youshallnotpass";
pub const OPERATOR_TOKEN: &str = "operator-secret-7";
pub const BOT_PROCESS: &str = "bot-0";
/// The regions' nodes, in the order they are listed to the daemons.
pub const NODES: [(&str, &str); 4] = [
    ("eu-1", "eu"),
    ("eu-2", "eu"),
    ("us-1", "us"),
    ("us-2", "us"),
];

// The daemons' timing (also written into their configuration below).
pub const PROBE_INTERVAL_MS: u64 = 200;
pub const PROBE_INTERVAL_FAST_MS: u64 = 50;
pub const PROBE_TIMEOUT_MS: u64 = 400;
pub const FALL: u64 = 3;
pub const LEASE_TTL_MS: u64 = 3_000;
pub const RENEW_INTERVAL_MS: u64 = 250;
pub const RESTORATION_HOLD_MS: u64 = 1_500;
pub const RESTORATION_DWELL_MS: u64 = 1_500;
/// How long a daemon that starts acting waits before admitting joined nodes.
pub const ADMISSION_GRACE_MS: u64 = 1_000;

/// The longest a dead node may take to be marked down: the next probe is due within an
/// interval, then `fall` failed probes, each at most a timeout after the last (the
/// websocket's close makes it quicker), plus time to write and to observe.
pub fn node_down_bound() -> Duration {
    Duration::from_millis(
        PROBE_INTERVAL_MS + FALL * (PROBE_INTERVAL_FAST_MS + PROBE_TIMEOUT_MS) + 500,
    )
}

/// How long a test waits for what should happen soon.
pub const PATIENCE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(25);

/// Polls `check` until it yields a value; fails the test after `within`.
pub async fn eventually_within<T>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually_within`] with the default patience.
pub async fn eventually<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    eventually_within(what, PATIENCE, check).await
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A scratch directory for configs and logs; kept when the test fails (or
/// `SWITCHYARD_TEST_KEEP_LOGS` is set), for reading.
pub struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "switchyard-{test}-{}-{}",
            std::process::id(),
            unix_ms()
        ));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SWITCHYARD_TEST_KEEP_LOGS").is_some() {
            eprintln!("logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A `sim node` process and its admin endpoint.
pub struct NodeProcess {
    pub name: &'static str,
    pub region: &'static str,
    pub port: u16,
    pub admin_port: u16,
    log: PathBuf,
    process: ChildProcess,
}

impl NodeProcess {
    fn spawn(name: &'static str, region: &'static str, port: u16, admin: u16, log: &Path) -> Self {
        let process = ChildProcess::spawn(name, node_command(name, region, port, admin), log);
        Self {
            name,
            region,
            port,
            admin_port: admin,
            log: log.to_owned(),
            process,
        }
    }

    /// Kills the node (SIGKILL): its sockets close, its players die with it.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts it again on the same ports, with no players.
    pub fn restart(&mut self) {
        self.process.kill();
        let command = node_command(self.name, self.region, self.port, self.admin_port);
        self.process = ChildProcess::spawn(self.name, command, &self.log);
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ground truth: the node's players (guild -> position now, or `None` while it is
    /// not heard: being made, or without voice), or `None` when the node does not answer.
    pub async fn players(&self, http: &ReqwestHttpClient) -> Option<BTreeMap<u64, Option<u64>>> {
        let url = format!("http://127.0.0.1:{}/state", self.admin_port);
        let state = get_json(http, &url).await?.1;
        let mut players = BTreeMap::new();
        for session in state["sessions"].as_array()? {
            for player in session["players"].as_array()? {
                let heard = player["audible"] == true;
                let position = player["position_ms"].as_u64().filter(|_| heard);
                players.insert(player["guild_id"].as_u64()?, position);
            }
        }
        Some(players)
    }

    /// The positions of the node's players that are heard.
    pub async fn positions(&self, http: &ReqwestHttpClient) -> Option<BTreeMap<u64, u64>> {
        let players = self.players(http).await?;
        Some(
            players
                .into_iter()
                .filter_map(|(guild, position)| Some((guild, position?)))
                .collect(),
        )
    }
}

fn node_command(name: &str, region: &str, port: u16, admin: u16) -> Command {
    let mut command = Command::new(binary("switchyard-sim", "sim"));
    command
        .args(["node", "--name", name, "--region", region])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--password", PASSWORD])
        .args(["--player-update-interval-ms", "200"])
        .args(["--stats-interval-ms", "1000"])
        .args(["--voice-handshake-ms", "5"])
        .env("RUST_LOG", "warn");
    command
}

/// A `switchyard run` process.
pub struct DaemonProcess {
    pub name: &'static str,
    pub port: u16,
    config: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    process: ChildProcess,
}

impl DaemonProcess {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL): no shutdown, the lease is left to lapse.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM; answers whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        self.process.terminate()
    }

    /// Starts it again: a new process with the same configuration.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process = spawn_daemon(self.name, &self.config, &self.env, &self.log);
    }

    pub fn log_tail(&self) -> String {
        self.process.log_tail(40)
    }

    /// Whether its whole log so far contains `text`.
    pub fn log_contains(&self, text: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains(text))
    }

    /// SIGHUP (`systemctl reload`): it reads its configuration again.
    pub fn hang_up(&self) {
        let pid = self.process.pid().expect("the daemon runs");
        let sent = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "SIGHUP reaches {}", self.name);
    }
}

fn spawn_daemon(name: &str, config: &Path, env: &[(String, String)], log: &Path) -> ChildProcess {
    let mut command = Command::new(binary("switchyard-runtime", "switchyard"));
    command.arg("run").arg("--config").arg(config).env_clear();
    for (key, value) in env {
        command.env(key, value);
    }
    ChildProcess::spawn(name, command, log)
}

fn daemon_config(name: &str, port: u16) -> String {
    format!(
        r#"[daemon]
listen = "127.0.0.1:{port}"
source = "ha-test"
health_ttl_ms = 5000
store_poll_interval_ms = 100
node_admission_grace_ms = {ADMISSION_GRACE_MS}

[leader]
instance = "{name}"
lease_ttl_ms = {LEASE_TTL_MS}
renew_interval_ms = {RENEW_INTERVAL_MS}

[[topology.regions]]
name = "eu"
priority = 10

[[topology.regions]]
name = "us"
priority = 5

[[topology.plans]]
name = "growth"
regions = ["eu", "us"]

[controller.health]
probe_interval_ms = {PROBE_INTERVAL_MS}
probe_interval_fast_ms = {PROBE_INTERVAL_FAST_MS}
probe_timeout_ms = {PROBE_TIMEOUT_MS}
fall = {FALL}
slow_start_ms = 1000

[controller.restoration]
hold_ms = {RESTORATION_HOLD_MS}
steps = [0.5, 1.0]
dwell_ms = {RESTORATION_DWELL_MS}
"#
    )
}

/// Records every JSON body POSTed to `/hook`.
pub struct Receiver {
    pub url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start(tasks: &mut JoinSet<()>) -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |Json(body): Json<Value>| {
                let sink = sink.clone();
                async move {
                    sink.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(body);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("bound"));
        tasks.spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the receiver serves");
        });
        Self { url, bodies }
    }

    /// How many bodies arrived with this dedup key and action.
    pub fn count(&self, dedup_key: &str, action: &str) -> usize {
        let bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        bodies
            .iter()
            .filter(|b| b["dedup_key"] == dedup_key && b["action"] == action)
            .count()
    }

    /// The first body received with this dedup key and action.
    pub fn find(&self, dedup_key: &str, action: &str) -> Option<Value> {
        let bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        bodies
            .iter()
            .find(|b| b["dedup_key"] == dedup_key && b["action"] == action)
            .cloned()
    }
}

/// The whole world of one test.
pub struct Cluster {
    pub scratch: Scratch,
    pub redis: RedisServer,
    pub store: ProductionRedisStore,
    pub http: ReqwestHttpClient,
    pub nodes: BTreeMap<&'static str, NodeProcess>,
    pub daemons: BTreeMap<&'static str, DaemonProcess>,
    pub receiver: Receiver,
    pub bot: BotHandle,
    tasks: JoinSet<()>,
}

/// Where the daemons learn their nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeListing {
    /// `LAVALINK_NODES`, as the runbook's deployments do (fixed for the process's life).
    Environment,
    /// `[[topology.nodes]]` and `[[lavalink]]` in the configuration file (reloadable).
    ConfigFile,
}

/// A daemon configuration's node sections for `nodes` (name, region, URL).
fn node_sections(nodes: &[(&str, &str, String)]) -> String {
    nodes
        .iter()
        .map(|(name, region, url)| {
            format!(
                "\n[[topology.nodes]]\nname = \"{name}\"\nregion = \"{region}\"\ncapacity = 1000\n\
                 \n[[lavalink]]\nname = \"{name}\"\nurl = \"{url}\"\npassword = \"{PASSWORD}\"\n"
            )
        })
        .collect()
}

impl Cluster {
    /// Starts everything and waits until one daemon acts, every node is up and the bot
    /// holds a session on every node.
    pub async fn start(test: &str) -> Self {
        Self::start_with(test, NodeListing::Environment, &[]).await
    }

    /// [`Cluster::start`], the daemons learning their nodes as `listing` says, with
    /// `bot_only` nodes running that the bot knows (and holds sessions on) but the
    /// daemons are not told of.
    pub async fn start_with(
        test: &str,
        listing: NodeListing,
        bot_only: &[(&'static str, &'static str)],
    ) -> Self {
        let scratch = Scratch::new(test);
        let redis = RedisServer::start();
        let store = ProductionRedisStore::connect(&redis.url(), RedisStoreConfig::default())
            .expect("a valid url");
        let http = ReqwestHttpClient::new().expect("a client builds");
        let mut tasks = JoinSet::new();
        let receiver = Receiver::start(&mut tasks).await;
        let mut nodes = BTreeMap::new();
        for &(name, region) in NODES.iter().chain(bot_only) {
            let log = scratch.path(&format!("{name}.log"));
            let node = NodeProcess::spawn(name, region, free_port(), free_port(), &log);
            nodes.insert(name, node);
        }
        let lavalink_nodes = NODES
            .iter()
            .map(|(name, region)| format!("{region}:{name}:{}", nodes[name].base_url()))
            .collect::<Vec<_>>()
            .join(",");
        let mut daemons = BTreeMap::new();
        for name in ["ctl-a", "ctl-b"] {
            let port = free_port();
            let config = scratch.path(&format!("{name}.toml"));
            let mut text = daemon_config(name, port);
            if listing == NodeListing::ConfigFile {
                let listed: Vec<_> = NODES
                    .iter()
                    .map(|(node, region)| (*node, *region, nodes[node].base_url()))
                    .collect();
                text.push_str(&node_sections(&listed));
            }
            std::fs::write(&config, text).expect("config written");
            let env: Vec<(String, String)> = [
                ("LAVALINK_NODES", lavalink_nodes.as_str()),
                ("LAVALINK_PASSWORD", PASSWORD),
                ("LAVALINK_HEALTH_WEBHOOK", receiver.url.as_str()),
                ("QUEUE_REDIS_URL", redis.url().as_str()),
                ("SWITCHYARD_API_TOKEN", OPERATOR_TOKEN),
                ("RUST_LOG", "info"),
            ]
            .into_iter()
            .filter(|(k, _)| listing == NodeListing::Environment || *k != "LAVALINK_NODES")
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            let log = scratch.path(&format!("{name}.log"));
            let process = spawn_daemon(name, &config, &env, &log);
            daemons.insert(
                name,
                DaemonProcess {
                    name,
                    port,
                    config,
                    env,
                    log,
                    process,
                },
            );
        }
        let bot = start_bot(&mut tasks, &nodes, &daemons, &store).await;
        let cluster = Self {
            scratch,
            redis,
            store,
            http,
            nodes,
            daemons,
            receiver,
            bot,
            tasks,
        };
        cluster.wait_settled().await;
        cluster
    }

    async fn wait_settled(&self) {
        let leader = self.acting_daemon().await;
        eventually("every node up on the leader", async || {
            let nodes = self.panel(leader).await?;
            nodes.iter().all(|n| n["available"] == true).then_some(())
        })
        .await;
        let store = self.store.clone();
        eventually("the bot's sessions on every node", async || {
            let sessions = store.sessions(&ProcessId::new(BOT_PROCESS)).await.ok()?;
            let following = self.bot.state().is_following_moves();
            (sessions.len() == self.nodes.len() && following).then_some(())
        })
        .await;
    }

    /// Starts one more node process, which neither the daemons nor the bot know.
    pub async fn spawn_node(&mut self, name: &'static str, region: &'static str) {
        let log = self.scratch.path(&format!("{name}.log"));
        let node = NodeProcess::spawn(name, region, free_port(), free_port(), &log);
        eventually(&format!("{name} up"), async || {
            node.players(&self.http).await.map(drop)
        })
        .await;
        self.nodes.insert(name, node);
    }

    /// Rewrites every daemon's configuration file to list exactly `listed` (node
    /// processes of this cluster), for a reload to pick up.
    pub fn list_nodes_in_configs(&self, listed: &[&str]) {
        let nodes: Vec<_> = listed
            .iter()
            .map(|name| {
                let node = &self.nodes[name];
                (node.name, node.region, node.base_url())
            })
            .collect();
        for daemon in self.daemons.values() {
            let text = daemon_config(daemon.name, daemon.port) + &node_sections(&nodes);
            std::fs::write(&daemon.config, text).expect("config written");
        }
    }

    /// The daemon that acts, once one does.
    pub async fn acting_daemon(&self) -> &'static str {
        eventually("a daemon acting as the leader", async || {
            for name in self.daemons.keys() {
                if self.role(name).await.as_deref() == Some("acting") {
                    return Some(*name);
                }
            }
            None
        })
        .await
    }

    /// The other daemon.
    pub fn other(&self, daemon: &str) -> &'static str {
        self.daemons
            .keys()
            .copied()
            .find(|name| *name != daemon)
            .expect("two daemons")
    }

    /// A daemon's `/api/status`.
    pub async fn status(&self, daemon: &str) -> Option<Value> {
        let url = format!("{}/api/status", self.daemons[daemon].url());
        get_json(&self.http, &url).await.map(|(_, body)| body)
    }

    /// A daemon's leadership role, as its status reports it.
    pub async fn role(&self, daemon: &str) -> Option<String> {
        let status = self.status(daemon).await?;
        status["leadership"]["role"].as_str().map(str::to_owned)
    }

    /// A daemon's control-panel node list.
    pub async fn panel(&self, daemon: &str) -> Option<Vec<Value>> {
        let url = format!(
            "{}/api/control-panel/lavalink/nodes",
            self.daemons[daemon].url()
        );
        let body = get_json(&self.http, &url).await?.1;
        body["nodes"].as_array().cloned()
    }

    /// A node's status as a daemon's control panel shows it.
    pub async fn panel_status(&self, daemon: &str, node: &str) -> Option<String> {
        let nodes = self.panel(daemon).await?;
        let entry = nodes.iter().find(|n| n["name"] == node)?;
        entry["status"].as_str().map(str::to_owned)
    }

    /// A node's status in its `lavalink:health:<node>` key.
    pub async fn health_status(&self, node: &str) -> Option<String> {
        let record = self.store.node_health(&NodeId::new(node)).await.ok()??;
        let json = serde_json::to_value(record.report.status).ok()?;
        json.as_str().map(str::to_owned)
    }

    /// Every player of every guild, by guild: the nodes holding one, with its position
    /// when it is heard. Nodes that do not answer are left out.
    pub async fn ground_truth(&self) -> BTreeMap<u64, Vec<(&'static str, Option<u64>)>> {
        let mut truth: BTreeMap<u64, Vec<(&'static str, Option<u64>)>> = BTreeMap::new();
        for node in self.nodes.values() {
            if let Some(players) = node.players(&self.http).await {
                for (guild, position) in players {
                    truth.entry(guild).or_default().push((node.name, position));
                }
            }
        }
        truth
    }

    /// Waits until every guild in `guilds` has exactly one player, heard, on one of `on`;
    /// answers where and at which position.
    pub async fn wait_playing_on(
        &self,
        guilds: &[u64],
        on: &[&str],
    ) -> BTreeMap<u64, (&'static str, u64)> {
        eventually("the players re-created", async || {
            let truth = self.ground_truth().await;
            guilds
                .iter()
                .map(|guild| match truth.get(guild).map(Vec::as_slice) {
                    Some([(node, Some(position))]) if on.contains(node) => {
                        Some((*guild, (*node, *position)))
                    }
                    _ => None,
                })
                .collect()
        })
        .await
    }

    /// Guilds start playing through the bot, asking for `region`; answers where each
    /// was placed.
    pub async fn play(
        &self,
        guilds: std::ops::RangeInclusive<u64>,
        region: &str,
    ) -> BTreeMap<u64, String> {
        let mut placed = BTreeMap::new();
        for n in guilds {
            let guild = GuildId((n << 22) + 1);
            let mut request = PlayRequest::new(
                guild,
                PlanId::new("growth"),
                vec![track(&format!("g{n}"), 600_000)],
                format!("{}", 100 + n),
            );
            request.region = Some(RegionId::new(region));
            let outcome = self.bot.play(request).await;
            match outcome.unwrap_or_else(|e| panic!("{guild} placed and created: {e}")) {
                PlayOutcome::Playing { node, .. } => {
                    placed.insert(guild.0, node.to_string());
                }
                other => panic!("{guild}: {other:?}"),
            }
        }
        placed
    }

    /// Every move announced so far, oldest first.
    pub async fn moves(&self) -> Vec<StreamEntry<MoveAnnouncement>> {
        self.store
            .moves_after(None, 10_000)
            .await
            .expect("redis answers")
    }

    /// Sends `method path` to a daemon with an optional bearer token.
    pub async fn call(
        &self,
        daemon: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> HttpResponse {
        let url = format!("{}{path}", self.daemons[daemon].url());
        let mut request = HttpRequest::new(method, url, Duration::from_secs(2));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        self.http.send(request).await.expect("the daemon answers")
    }

    /// The logs of both daemons, for failure messages.
    pub fn daemon_logs(&self) -> String {
        self.daemons
            .values()
            .map(|d| format!("--- {} ---\n{}", d.name, d.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn start_bot(
    tasks: &mut JoinSet<()>,
    nodes: &BTreeMap<&'static str, NodeProcess>,
    daemons: &BTreeMap<&'static str, DaemonProcess>,
    store: &ProductionRedisStore,
) -> BotHandle {
    let http = ReqwestHttpClient::new().expect("a client builds");
    for node in nodes.values() {
        eventually(&format!("{} up", node.name), async || {
            node.players(&http).await.map(drop)
        })
        .await;
    }
    // Both controllers, the standby-to-be first as often as not: the bot finds the
    // leader by the standby's header.
    let controllers = daemons
        .values()
        .map(DaemonProcess::url)
        .collect::<Vec<_>>()
        .join(",");
    let mut config = BotConfig::new(
        ProcessId::new(BOT_PROCESS),
        170_939_974_227_541_168,
        nodes
            .values()
            .map(|n| NodeConfig::new(n.name, "127.0.0.1", n.port, PASSWORD))
            .collect(),
        controllers,
        1,
    );
    config.shards = vec![ShardId(0)];
    config.epoch_unix_ms = unix_ms();
    config.timing = fast_timing();
    let (bot, handle) =
        BotProcess::new(config, http, store.clone(), TokioConnector).expect("a valid bot config");
    tasks.spawn(bot.run());
    handle
}

fn fast_timing() -> BotTiming {
    BotTiming {
        retry_interval: Duration::from_millis(200),
        // As in production: changes are written at once, the refresh only keeps TTLs.
        snapshot_refresh_interval: Duration::from_secs(30),
        snapshot_ttl: Duration::from_secs(60),
        heartbeat_interval: Duration::from_millis(200),
        // Below the controller's default stall threshold (15 s).
        shard_lease: Duration::from_secs(10),
        moves_poll_interval: Duration::from_millis(50),
        lease_poll_interval: Duration::from_millis(100),
        spare_register_interval: Duration::from_millis(200),
        placement_retry_interval: Duration::from_millis(200),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(500),
        ready_timeout: Duration::from_secs(5),
        lavalink_timeout: Duration::from_secs(2),
        controller_timeout: Duration::from_secs(2),
    }
}

/// An encoded emulator test track of `length_ms`.
fn track(name: &str, length_ms: u64) -> String {
    encoded_test_track(name, length_ms).expect("test tracks encode")
}

/// GET `url`; the status and JSON body, or `None` when nothing (or no JSON) answers.
pub async fn get_json(http: &ReqwestHttpClient, url: &str) -> Option<(u16, Value)> {
    let request = HttpRequest::new(Method::Get, url, Duration::from_secs(2));
    let response = http.send(request).await.ok()?;
    let body = serde_json::from_slice(&response.body).ok()?;
    Some((response.status, body))
}
