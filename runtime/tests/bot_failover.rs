//! Bots and the real controller together on loopback: the shared driver with its API
//! and node watchers, emulated nodes, the simulated Redis over TCP, and `BotProcess`es
//! speaking only the contract. A node dies and the bot follows its players' moves; an
//! owner stalls and a hot spare takes its shard over, voice and all.

mod bot_support;

use std::collections::BTreeMap;
use std::time::Duration;

use bot_support::{Node, PASSWORD, Redis, eventually, fast_timing, track};
use switchyard_core::Controller;
use switchyard_core::config::ControllerConfig;
use switchyard_core::ids::{GuildId, NodeId, PlanId, ProcessId, RegionId, ShardId};
use switchyard_core::time::Millis;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::api::{ApiState, router};
use switchyard_runtime::bot::{
    BotConfig, BotHandle, BotProcess, PlayOutcome, PlayRequest, PlayerStatus, ShardStatus,
    SpareConfig,
};
use switchyard_runtime::driver::{Driver, DriverSettings};
use switchyard_runtime::lavalink::watcher::{WatchTarget, watch_node};
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use switchyard_runtime::ports::store::Store;
use switchyard_runtime::ports::websocket::TokioConnector;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const EPOCH_UNIX_MS: u64 = 1_735_689_600_000;

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

fn controller_config() -> ControllerConfig {
    let mut config = ControllerConfig::default();
    config.health.probe_interval_ms = 200;
    config.health.probe_interval_fast_ms = 50;
    config.health.probe_timeout_ms = 400;
    config.health.slow_start_ms = 1_000;
    config.restoration.hold_ms = 60_000;
    config.shards.stall_after_ms = 1_000;
    config
}

/// Three nodes, Redis, the controller (driver, watchers, API) and the bots' tasks.
struct World {
    nodes: BTreeMap<&'static str, Node>,
    redis: Redis,
    api_url: String,
    tasks: JoinSet<()>,
}

impl World {
    async fn start() -> World {
        let mut nodes = BTreeMap::new();
        for name in ["eu-1", "eu-2", "us-1"] {
            nodes.insert(name, Node::start(name).await);
        }
        let redis = Redis::start().await;
        let http = ReqwestHttpClient::new().expect("a reqwest client builds");
        let clients = nodes
            .values()
            .map(|node| {
                let endpoint = NodeEndpoint {
                    name: node.name.clone(),
                    base_url: format!("http://127.0.0.1:{}", node.port),
                    password: PASSWORD.into(),
                };
                LavalinkClient::new(http.clone(), endpoint, Duration::from_millis(800))
            })
            .collect();
        let core = Controller::new(Millis::ZERO, controller_config(), &topology())
            .expect("a valid topology");
        let settings = DriverSettings {
            store_poll_interval: Duration::from_millis(100),
            store_retry_interval: Duration::from_millis(100),
            epoch_unix_ms: EPOCH_UNIX_MS,
            ..DriverSettings::default()
        };
        let (driver, handle) = Driver::new(core, clients, redis.store.clone(), None, settings);
        let mut tasks = JoinSet::new();
        tasks.spawn(driver.run());
        for node in nodes.values() {
            let target = WatchTarget {
                node: node.name.clone(),
                host: "127.0.0.1".into(),
                port: node.port,
                password: PASSWORD.into(),
                user_id: 2,
            };
            tasks.spawn(watch_node(TokioConnector, target, handle.clone()));
        }
        let api = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("binding a loopback port");
        let api_url = format!("http://{}", api.local_addr().expect("a bound address"));
        let app = router(ApiState::new(handle, None, None));
        tasks.spawn(async move {
            axum::serve(api, app).await.expect("the API serves");
        });
        World {
            nodes,
            redis,
            api_url,
            tasks,
        }
    }

    async fn start_bot(&mut self, process: &str, shards: &[u32], spare: bool) -> BotHandle {
        let mut config = BotConfig::new(
            ProcessId::new(process),
            170_939_974_227_541_168,
            self.nodes.values().map(Node::config).collect(),
            self.api_url.as_str(),
            1,
        );
        config.shards = shards.iter().copied().map(ShardId).collect();
        config.spare = spare.then(|| SpareConfig {
            region: Some(RegionId::new("eu")),
        });
        config.epoch_unix_ms = EPOCH_UNIX_MS;
        config.timing = fast_timing();
        let http = ReqwestHttpClient::new().expect("a reqwest client builds");
        let (bot, handle) = BotProcess::new(config, http, self.redis.store.clone(), TokioConnector)
            .expect("a valid bot config");
        self.tasks.spawn(bot.run());
        let state = handle.state().clone();
        let registered = async || {
            let sessions = self.redis.store.sessions(&ProcessId::new(process)).await;
            let ready = sessions.is_ok_and(|s| s.len() == 3) && state.is_following_moves();
            ready.then_some(())
        };
        eventually("the bot's sessions registered", registered).await;
        handle
    }

    /// Plays `count` guilds through the bot; returns where each was placed.
    async fn play(&self, bot: &BotHandle, count: u64) -> BTreeMap<GuildId, NodeId> {
        let mut placed = BTreeMap::new();
        for n in 1..=count {
            let guild = GuildId((n << 22) + 1);
            let mut request = PlayRequest::new(
                guild,
                PlanId::new("growth"),
                vec![track(&format!("g{n}"), 600_000)],
                format!("{}", 100 + n),
            );
            request.region = Some(RegionId::new("eu"));
            match bot.play(request).await.expect("placed and created") {
                PlayOutcome::Playing { node, .. } => {
                    assert!(node.as_str().starts_with("eu-"), "{guild} on {node}");
                    placed.insert(guild, node);
                }
                other => panic!("{guild}: {other:?}"),
            }
        }
        placed
    }

    /// Every player of `guild` on every node, with the node and session holding it.
    fn players(&self, guild: GuildId) -> Vec<(NodeId, String)> {
        self.nodes
            .values()
            .flat_map(|node| {
                node.players(guild)
                    .into_iter()
                    .map(|(session, _)| (node.name.clone(), session))
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_follows_its_players_off_a_dead_node() {
    let mut world = World::start().await;
    let bot = world.start_bot("bot-a", &[0], false).await;
    let placed = world.play(&bot, 6).await;
    let victim = placed.values().next().expect("six guilds placed").clone();
    let survivor = NodeId::new(if victim.as_str() == "eu-1" {
        "eu-2"
    } else {
        "eu-1"
    });
    let moved: Vec<GuildId> = placed
        .iter()
        .filter(|(_, node)| **node == victim)
        .map(|(guild, _)| *guild)
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    world.nodes[victim.as_str()].control.shutdown();

    let survivor_session = eventually("the bot's session on the survivor", async || {
        bot.state().session_ids().get(&survivor).cloned()
    })
    .await;
    for guild in &moved {
        eventually("the bot follows the move", async || {
            let view = bot.state().player(*guild)?;
            let followed = view.node.as_ref() == Some(&survivor)
                && view.session_id.as_ref() == Some(&survivor_session)
                && view.status == PlayerStatus::Live;
            followed.then_some(())
        })
        .await;
        eventually("a snapshot naming the survivor", async || {
            let snapshot = world.redis.store.player_snapshot(*guild).await.ok()??;
            (snapshot.node == survivor && snapshot.session_id == survivor_session).then_some(())
        })
        .await;
        assert_eq!(
            world.players(*guild),
            vec![(survivor.clone(), survivor_session.clone())],
            "exactly one player, in the bot's own session on the survivor"
        );
    }
    for (guild, node) in placed.iter().filter(|(_, node)| **node != victim) {
        assert_eq!(
            bot.state().player(*guild).and_then(|p| p.node).as_ref(),
            Some(node)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_spare_takes_over_a_stalled_shard() {
    let mut world = World::start().await;
    let owner = world.start_bot("bot-a", &[0], false).await;
    let spare = world.start_bot("bot-b", &[], true).await;
    let placed = world.play(&owner, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    owner.stall();
    eventually("the spare owns the shard", async || {
        (spare.state().owned_shards().get(&ShardId(0)) == Some(&1)).then_some(())
    })
    .await;
    let sessions = spare.state().session_ids();
    for (guild, node) in &placed {
        eventually("the spare's player in the spare's session", async || {
            (world.players(*guild) == vec![(node.clone(), sessions[node].clone())]).then_some(())
        })
        .await;
        let player = world.nodes[node.as_str()].players(*guild)[0].1.clone();
        let voice = player.voice.expect("voice re-established");
        assert_eq!(voice.session_id, format!("bot-b-{guild}-1"));
        eventually("the spare's snapshot", async || {
            let snapshot = world.redis.store.player_snapshot(*guild).await.ok()??;
            (snapshot.owner == ProcessId::new("bot-b") && snapshot.epoch == 1).then_some(())
        })
        .await;
    }

    owner.resume();
    // Fenced, then its players dropped one by one: wait for both.
    eventually("the old owner fenced, its players dropped", async || {
        let status = owner.state().shard(ShardId(0))?.status;
        (matches!(status, ShardStatus::Fenced { .. }) && owner.state().player_nodes().is_empty())
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (guild, node) in &placed {
        assert_eq!(
            world.players(*guild),
            vec![(node.clone(), sessions[node].clone())],
            "still exactly one player"
        );
    }
}
