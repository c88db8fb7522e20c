//! The same `BotProcess` in the simulation: turmoil's network, an emulated node host,
//! the simulated Redis host and a stand-in controller host, all on virtual time. The
//! bot registers, plays where it is told, loops its tracks and keeps its snapshot fresh;
//! two runs with one seed produce the same event trace, to the millisecond.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::{Value, json};
use switchyard_core::ids::{GuildId, NodeId, PlanId, ProcessId, ShardId};
use switchyard_runtime::adapters::{ReconnectingConnection, RedisStore, RedisStoreConfig};
use switchyard_runtime::bot::{
    BotConfig, BotProcess, NodeConfig, PlacementSource, PlayOutcome, PlayRequest,
};
use switchyard_runtime::ports::store::Store;
use switchyard_sim::emulator::track::encoded_test_track;
use switchyard_sim::emulator::{Emulator, EmulatorConfig, TurmoilListener};
use switchyard_sim::net::{TurmoilConnector, TurmoilHttpClient};
use switchyard_sim::redis_sim::{RedisSim, TurmoilRedisDialer, turmoil_redis_store};

const PASSWORD: &str = "youshallnotpass";
const LAVALINK_PORT: u16 = 2333;
const REDIS_PORT: u16 = 6379;
const API_PORT: u16 = 8080;
const SHARD_COUNT: u32 = 2;

type SimStore = RedisStore<ReconnectingConnection<TurmoilRedisDialer>>;
type Outcome = Result<(), Box<dyn std::error::Error>>;

fn store() -> SimStore {
    let config = RedisStoreConfig::default();
    turmoil_redis_store(
        TurmoilRedisDialer::new("redis", REDIS_PORT, &config),
        config,
    )
}

/// The controller's bot API, reduced to "play on `node`" plus the route it writes.
fn controller(store: SimStore) -> axum::Router {
    async fn place(
        State(store): State<SimStore>,
        Path(guild): Path<u64>,
        Json(_body): Json<Value>,
    ) -> Json<Value> {
        let node = NodeId::new("node");
        // The route is the routing table's copy; a store outage only loses that copy.
        let _ = store.set_routes(&[(GuildId(guild), node.clone())]).await;
        Json(json!({ "node": node }))
    }
    axum::Router::new()
        .route("/api/bots/players/{guild}", post(place))
        .with_state(store)
}

fn encoded(name: &str, length_ms: u64) -> String {
    encoded_test_track(name, length_ms).expect("test tracks encode")
}

/// Runs the world once; returns the bot's events, each stamped with virtual time.
fn run_world(seed: u64) -> Vec<String> {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(300))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(3))
        .rng_seed(seed)
        .build();
    let config = EmulatorConfig {
        name: "node".to_owned(),
        password: PASSWORD.to_owned(),
        seed,
        player_update_interval: Duration::from_secs(1),
        ..EmulatorConfig::default()
    };
    let (emulator, control) = Emulator::new(config).expect("a valid emulator config");
    sim.host("node", move || {
        let emulator = emulator.clone();
        async move {
            let listener = TurmoilListener::bind(("0.0.0.0", LAVALINK_PORT)).await?;
            emulator.serve(listener).await?;
            Ok(())
        }
    });
    sim.host("redis", || async {
        RedisSim::new()
            .serve(TurmoilListener::bind(("0.0.0.0", REDIS_PORT)).await?)
            .await;
        Ok(())
    });
    sim.host("controller", || async {
        let listener = TurmoilListener::bind(("0.0.0.0", API_PORT)).await?;
        axum::serve(listener, controller(store())).await?;
        Ok(())
    });
    let trace = Arc::new(Mutex::new(Vec::new()));
    let recorded = trace.clone();
    sim.client("bot", async move {
        let guild = GuildId((2 << 22) + 5);
        assert_eq!(guild.shard(SHARD_COUNT), ShardId(0));
        let store = store();
        let mut config = BotConfig::new(
            ProcessId::new("bot-t"),
            1,
            vec![NodeConfig::new("node", "node", LAVALINK_PORT, PASSWORD)],
            format!("http://controller:{API_PORT}"),
            SHARD_COUNT,
        );
        config.shards = vec![ShardId(0)];
        config.epoch_unix_ms = 1_735_689_600_000;
        let (bot, handle) = BotProcess::new(
            config,
            TurmoilHttpClient::new(),
            store.clone(),
            TurmoilConnector,
        )?;
        let started = tokio::time::Instant::now();
        let mut events = handle.subscribe();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                let at_ms = started.elapsed().as_millis();
                let line = format!("{at_ms} {event:?}");
                recorded
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        tokio::spawn(bot.run());
        for _ in 0..100 {
            if !handle.state().session_ids().is_empty() && handle.state().is_following_moves() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let session = handle.state().session_ids()[&NodeId::new("node")].clone();

        let tracks = vec![encoded("short", 5_000), encoded("long", 600_000)];
        let request = PlayRequest::new(guild, PlanId::new("free"), tracks.clone(), "77".into());
        let outcome = handle.play(request).await?;
        assert_eq!(
            outcome,
            PlayOutcome::Playing {
                node: NodeId::new("node"),
                source: PlacementSource::Controller
            }
        );
        tokio::time::sleep(Duration::from_secs(10)).await;

        let registered = store.sessions(&ProcessId::new("bot-t")).await?;
        assert_eq!(registered[&NodeId::new("node")].session_id, session);
        let snapshot = store.player_snapshot(guild).await?.expect("a snapshot");
        assert_eq!(snapshot.session_id, session);
        assert_eq!(
            snapshot.track.as_ref(),
            Some(&tracks[1]),
            "the tracks looped"
        );
        let truth = control.snapshot();
        let (held_by, player) = truth.players().next().expect("one player on the node");
        assert_eq!(held_by, session);
        assert!(player.audible);
        let heartbeats = store.heartbeats().await?;
        assert_eq!(heartbeats[&ShardId(0)].owner, ProcessId::new("bot-t"));
        // The snapshot is not rewritten as the track plays: readers extrapolate it. As
        // of the last heartbeat (the bot's clock, at most one 2 s interval ago) it puts
        // the second track some seconds in, behind the node's position by at most that.
        let bot_now_ms = heartbeats[&ShardId(0)].at_ms;
        let implied_ms = snapshot.position_ms + (bot_now_ms - snapshot.position_at_ms);
        assert!(implied_ms >= 2_000, "{implied_ms} ms: {snapshot:?}");
        assert!(
            player.position_ms.abs_diff(implied_ms) <= 2_100,
            "the node is at {} ms, the snapshot implies {implied_ms} ms",
            player.position_ms
        );
        handle.shutdown().await;
        Ok(())
    });
    let outcome: Outcome = sim.run();
    outcome.expect("the simulation succeeds");
    trace.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[test]
fn the_bot_plays_in_the_simulation_deterministically() {
    let first = run_world(7);
    assert!(
        first.iter().any(|line| line.contains("TrackEnded")),
        "the first track ended: {first:#?}"
    );
    assert!(first.iter().any(|line| line.contains("PlayerCreated")));
    assert_eq!(
        first,
        run_world(7),
        "same seed, same events at the same instants"
    );
}
