//! The turmoil hosts of a run. Each host is a closure, so a crashed host can be bounced
//! and starts afresh (as a restarted process would), re-registering itself in the
//! world's shared registry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::{IntoMakeService, post};
use serde_json::Value;
use switchyard_core::Sabotage;
use switchyard_core::command::Command;
use switchyard_core::ids::{NodeId, ProcessId, RegionId, ShardId};
use switchyard_core::time::Millis;
use switchyard_runtime::adapters::redis_store::RedisStoreConfig;
use switchyard_runtime::alerts::{
    AlertClock, AlertDispatcher, AlertSettings, AlertSinkConfig, SinkKind,
};
use switchyard_runtime::api::{ApiState, ApiToken, router};
use switchyard_runtime::bot::{
    BotConfig, BotHandle, BotProcess, BotTiming, NodeConfig, PlayRequest, SpareConfig,
    shard_lease_below,
};
use switchyard_runtime::driver::{Driver, DriverSettings};
use switchyard_runtime::lavalink::watcher::{WatchTarget, watch_node};
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use tokio::sync::mpsc;

use super::workload::GuildPlan;
use super::{SIM_EPOCH_UNIX_MS, Shared};
use crate::emulator::TurmoilListener;
use crate::emulator::track::encoded_test_track;
use crate::net::{TurmoilConnector, TurmoilHttpClient};
use crate::redis_sim::{RedisSim, TurmoilRedisDialer, turmoil_redis_store};
use crate::scenario::Scenario;

/// Port every simulated Lavalink node listens on.
pub const LAVALINK_PORT: u16 = 2333;
/// Port of the simulated Redis.
pub const REDIS_PORT: u16 = 6379;
/// Port of the controller's API and the webhook receiver.
pub const HTTP_PORT: u16 = 8080;
/// The simulated nodes' password.
pub const PASSWORD: &str = "youshallnotpass";
/// The controller API's operator token, which the world's operator presents.
pub const OPERATOR_TOKEN: &str = "sim-operator-token";

type HostResult = Result<(), Box<dyn std::error::Error>>;

/// Wall-clock milliseconds now, in the simulation's fixed epoch.
pub fn sim_unix_ms() -> u64 {
    let elapsed = turmoil::sim_elapsed().unwrap_or_default();
    SIM_EPOCH_UNIX_MS + u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

fn sim_now() -> Millis {
    Millis(sim_unix_ms() - SIM_EPOCH_UNIX_MS)
}

pub fn add_redis(sim: &mut turmoil::Sim<'static>) {
    sim.host("redis", || async {
        // A restarted Redis starts empty, like one without persistence.
        RedisSim::new()
            .serve(TurmoilListener::bind(("0.0.0.0", REDIS_PORT)).await?)
            .await;
        Ok(())
    });
}

pub fn add_webhook(sim: &mut turmoil::Sim<'static>, shared: Arc<Mutex<Shared>>) {
    sim.host("webhook", move || {
        let shared = shared.clone();
        async move {
            let app = axum::Router::new().route(
                "/hook",
                post(move |Json(body): Json<Value>| {
                    let shared = shared.clone();
                    async move {
                        let mut shared = shared.lock().expect("no panics while locked");
                        if let Some(status) = shared.webhook_failure {
                            return axum::http::StatusCode::from_u16(status)
                                .unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                        }
                        shared.alerts.push((sim_now(), body));
                        axum::http::StatusCode::NO_CONTENT
                    }
                }),
            );
            axum::serve(
                TurmoilListener::bind(("0.0.0.0", HTTP_PORT)).await?,
                cheap_per_connection(app),
            )
            .await?;
            Ok(())
        }
    });
}

/// The router as a make-service that hands each connection a clone of one prepared
/// router. Served as a bare `Router`, axum rebuilds the whole route table for every
/// connection, and many clients (bots' Lavalink and controller calls, operators, and
/// every dial after a connection was lost) open connections often.
fn cheap_per_connection(router: axum::Router) -> IntoMakeService<axum::Router> {
    // Turns every handler into a route once, as axum otherwise does per connection.
    router.with_state(()).into_make_service()
}

fn store_config() -> RedisStoreConfig {
    RedisStoreConfig::default()
}

/// The controller host; `sabotage` breaks its core's policy on purpose (tests only).
pub fn add_controller(
    sim: &mut turmoil::Sim<'static>,
    scenario: &Scenario,
    sabotage: Option<Sabotage>,
    shared: Arc<Mutex<Shared>>,
) {
    let scenario = scenario.clone();
    sim.host("controller", move || {
        let scenario = scenario.clone();
        let shared = shared.clone();
        async move { run_controller(scenario, sabotage, shared).await }
    });
}

async fn run_controller(
    scenario: Scenario,
    sabotage: Option<Sabotage>,
    shared: Arc<Mutex<Shared>>,
) -> HostResult {
    let config = store_config();
    let store = turmoil_redis_store(
        TurmoilRedisDialer::new("redis", REDIS_PORT, &config),
        config,
    );
    let http = TurmoilHttpClient::new();
    let sink = AlertSinkConfig::new(
        "webhook",
        SinkKind::Generic,
        format!("http://webhook:{HTTP_PORT}/hook"),
    );
    let clock = AlertClock::new(tokio::time::Instant::now(), sim_unix_ms());
    let alerts = AlertDispatcher::start(
        http.clone(),
        vec![sink],
        AlertSettings {
            source: "sim".into(),
            clock,
            seed: scenario.seed,
        },
    )?;
    let timeout = Duration::from_millis(scenario.controller.health.probe_timeout_ms);
    // Nodes that join later too: the driver must know a node's client before the core
    // is told the node joined.
    let clients = scenario
        .all_nodes()
        .map(|node| {
            let endpoint = NodeEndpoint {
                name: node.name.clone(),
                base_url: format!("http://{}:{LAVALINK_PORT}", node.name),
                password: PASSWORD.into(),
            };
            LavalinkClient::new(http.clone(), endpoint, timeout)
        })
        .collect();
    let started = sim_now();
    let topology = scenario.topology_at(started.as_ms());
    let mut core =
        switchyard_core::Controller::new(started, scenario.controller.clone(), &topology)?;
    if let Some(sabotage) = sabotage {
        core.sabotage(sabotage);
    }
    let settings = DriverSettings {
        health_ttl: Duration::from_secs(30),
        store_poll_interval: Duration::from_secs(1),
        snapshot_full_read_interval: Duration::from_secs(30),
        store_retry_interval: Duration::from_millis(500),
        move_request_timeout: Duration::from_secs(5),
        node_admission_grace: DriverSettings::default().node_admission_grace,
        epoch_unix_ms: sim_unix_ms(),
    };
    let (trace_tx, mut trace_rx) = mpsc::unbounded_channel::<(Millis, Command)>();
    let (driver, handle) = Driver::new(core, clients, store, Some(alerts), settings);
    let driver = driver.with_trace(trace_tx);
    shared.lock().expect("no panics while locked").controller = Some(handle.clone());
    let trace_shared = shared.clone();
    tokio::spawn(async move {
        while let Some((at, command)) = trace_rx.recv().await {
            // Driver instants count from this controller's start; the trace uses run time.
            let at = Millis(at.as_ms() + started.as_ms());
            trace_shared
                .lock()
                .expect("no panics while locked")
                .trace
                .push((at, command));
        }
    });
    tokio::spawn(driver.run());
    for node in scenario.all_nodes() {
        let target = WatchTarget {
            node: node.name.clone(),
            host: node.name.to_string(),
            port: LAVALINK_PORT,
            password: PASSWORD.into(),
            user_id: 1,
        };
        tokio::spawn(watch_node(TurmoilConnector, target, handle.clone()));
    }
    axum::serve(
        TurmoilListener::bind(("0.0.0.0", HTTP_PORT)).await?,
        cheap_per_connection(router(ApiState::new(
            handle,
            ApiToken::new(OPERATOR_TOKEN),
            None,
        ))),
    )
    .await?;
    Ok(())
}

fn bot_timing(scenario: &Scenario) -> BotTiming {
    let heartbeat_interval = Duration::from_millis(scenario.shards.heartbeat_interval_ms);
    let stall_after = Duration::from_millis(scenario.controller.shards.stall_after_ms);
    BotTiming {
        heartbeat_interval,
        // The bots stop acting for a silent shard before the controller hands it over.
        shard_lease: shard_lease_below(stall_after, heartbeat_interval),
        ..BotTiming::default()
    }
}

/// A bot process owning `shards` (or a spare for `spare_region`), playing its guilds
/// when they start.
pub fn add_bot(
    sim: &mut turmoil::Sim<'static>,
    scenario: &Scenario,
    process: ProcessId,
    shards: Vec<ShardId>,
    spare_region: Option<Option<RegionId>>,
    guilds: Arc<Vec<GuildPlan>>,
    shared: Arc<Mutex<Shared>>,
) {
    let scenario = scenario.clone();
    let name = process.to_string();
    sim.host(name.as_str(), move || {
        let (scenario, process, shards, guilds, shared, spare) = (
            scenario.clone(),
            process.clone(),
            shards.clone(),
            guilds.clone(),
            shared.clone(),
            spare_region.clone(),
        );
        async move { run_bot(scenario, process, shards, spare, guilds, shared).await }
    });
}

async fn run_bot(
    scenario: Scenario,
    process: ProcessId,
    shards: Vec<ShardId>,
    spare: Option<Option<RegionId>>,
    guilds: Arc<Vec<GuildPlan>>,
    shared: Arc<Mutex<Shared>>,
) -> HostResult {
    let config = store_config();
    let store = turmoil_redis_store(
        TurmoilRedisDialer::new("redis", REDIS_PORT, &config),
        config,
    );
    let bot_config = BotConfig {
        process: process.clone(),
        user_id: 1,
        nodes: scenario
            .all_nodes()
            .map(|n| NodeConfig::new(n.name.clone(), n.name.to_string(), LAVALINK_PORT, PASSWORD))
            .collect(),
        controller_url: format!("http://controller:{HTTP_PORT}"),
        shard_count: scenario.topology.shard_count,
        shards: shards.clone(),
        initial_epoch: 1,
        spare: spare.map(|region| SpareConfig { region }),
        epoch_unix_ms: sim_unix_ms(),
        timing: bot_timing(&scenario),
    };
    let (bot, handle) = BotProcess::new(
        bot_config,
        TurmoilHttpClient::new(),
        store,
        TurmoilConnector,
    )?;
    shared
        .lock()
        .expect("no panics while locked")
        .bots
        .insert(process.clone(), handle.clone());
    tokio::spawn(bot.run());
    play_workload(&handle, &shards, &guilds).await;
    std::future::pending::<()>().await;
    Ok(())
}

/// Starts each of the bot's guilds at its start time (at once for those already due,
/// as a restarted process would), each on its own task as a bot serves guilds
/// concurrently.
async fn play_workload(handle: &BotHandle, shards: &[ShardId], guilds: &[GuildPlan]) {
    for guild in guilds.iter().filter(|g| shards.contains(&g.shard)) {
        let Some(track) =
            encoded_test_track(&format!("g{}", guild.guild), guild.track_length_ms).ok()
        else {
            tracing::warn!(guild = %guild.guild, "no test track for this guild");
            continue;
        };
        let request = PlayRequest {
            guild: guild.guild,
            plan: guild.plan.clone(),
            region: guild.region.clone(),
            residency: guild.residency.clone(),
            tracks: vec![track],
            channel_id: format!("{}", guild.guild.0 + 1),
            volume: 100,
            paused: false,
            filters: Value::Null,
        };
        let (handle, start_ms) = (handle.clone(), guild.start_ms);
        tokio::spawn(async move {
            let now = sim_now().as_ms();
            if start_ms > now {
                tokio::time::sleep(Duration::from_millis(start_ms - now)).await;
            }
            if let Err(error) = handle.play(request.clone()).await {
                tracing::debug!(guild = %request.guild, %error, "play failed");
            }
        });
    }
}

/// The emulated node hosts; controls are kept so faults and the oracle can reach them.
pub fn add_nodes(
    sim: &mut turmoil::Sim<'static>,
    scenario: &Scenario,
    shared: &Arc<Mutex<Shared>>,
) -> Result<(), String> {
    for (index, node) in scenario.all_nodes().enumerate() {
        let config = crate::emulator::EmulatorConfig {
            name: node.name.to_string(),
            region: node.region.to_string(),
            password: PASSWORD.into(),
            seed: scenario.seed.wrapping_add(index as u64),
            ..crate::emulator::EmulatorConfig::default()
        };
        let (emulator, control) =
            crate::emulator::Emulator::new(config).map_err(|e| format!("{}: {e}", node.name))?;
        shared
            .lock()
            .expect("no panics while locked")
            .nodes
            .insert(node.name.clone(), control);
        let name: NodeId = node.name.clone();
        sim.host(name.as_str(), move || {
            let emulator = emulator.clone();
            async move {
                emulator
                    .serve(TurmoilListener::bind(("0.0.0.0", LAVALINK_PORT)).await?)
                    .await?;
                Ok(())
            }
        });
    }
    Ok(())
}
