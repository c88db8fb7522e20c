//! The bot side of the contract on loopback: emulated Lavalink nodes, the simulated
//! Redis over TCP and a stand-in for the controller's bot API. The test plays the
//! controller's part where one is needed (announcing moves, granting leases) through the
//! store, exactly as the contract describes it.

mod bot_support;

use std::time::Duration;

use bot_support::{
    Controller, Node, PASSWORD, Redis, USER_ID, bot_config, eventually, guild_in, stuck_track,
    track,
};
use switchyard_core::command::DegradedReason;
use switchyard_core::ids::{GuildId, MoveId, NodeId, PlanId, ProcessId, RegionId, ShardId};
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::bot::{
    BotConfig, BotError, BotEvent, BotHandle, BotProcess, PlacementSource, PlayOutcome,
    PlayRequest, PlayerStatus, ShardStatus, SpareConfig, TrackEndReason,
};
use switchyard_runtime::lavalink::wire::{PlayerUpdate, TrackUpdate, VoiceState};
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use switchyard_runtime::ports::store::{ShardGrant, Store};
use switchyard_runtime::ports::websocket::TokioConnector;
use switchyard_runtime::store_schema::{MoveAnnouncement, PlayerSnapshot};
use switchyard_sim::emulator::CloseWebsockets;
use tokio::task::JoinHandle;

/// A running bot; its loop stops when the test ends.
struct Bot {
    handle: BotHandle,
    task: JoinHandle<()>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_bot(config: BotConfig, redis: &Redis) -> Bot {
    let nodes = config.nodes.len();
    let http = ReqwestHttpClient::new().expect("a reqwest client builds");
    let (process, handle) = BotProcess::new(config, http, redis.store.clone(), TokioConnector)
        .expect("a valid bot config");
    let task = tokio::spawn(process.run());
    let state = handle.state().clone();
    eventually("a session on every node and the move stream's end", || {
        let ready = state.session_ids().len() == nodes && state.is_following_moves();
        async move { ready.then_some(()) }
    })
    .await;
    Bot { handle, task }
}

/// The common world: node eu-1, Redis, the controller, and bot-a owning shard 0.
async fn one_node_world() -> (Node, Redis, Controller, Bot) {
    let eu1 = Node::start("eu-1").await;
    let redis = Redis::start().await;
    let controller = Controller::start(redis.store.clone()).await;
    let bot = start_bot(bot_config("bot-a", &[&eu1], &controller.url, &[0]), &redis).await;
    (eu1, redis, controller, bot)
}

fn request(guild: GuildId, tracks: Vec<String>) -> PlayRequest {
    let mut request = PlayRequest::new(guild, PlanId::new("growth"), tracks, "4242".into());
    request.region = Some(RegionId::new("eu"));
    request
}

async fn snapshot(redis: &Redis, guild: GuildId) -> Option<PlayerSnapshot> {
    redis
        .store
        .player_snapshot(guild)
        .await
        .expect("the test store answers")
}

#[tokio::test]
async fn sessions_are_registered_on_every_node_and_again_after_a_reconnect() {
    let (eu1, eu2) = (Node::start("eu-1").await, Node::start("eu-2").await);
    let redis = Redis::start().await;
    let controller = Controller::start(redis.store.clone()).await;
    let bot = start_bot(
        bot_config("bot-a", &[&eu1, &eu2], &controller.url, &[0]),
        &redis,
    )
    .await;
    let process = ProcessId::new("bot-a");

    let registered = eventually("both sessions registered", || async {
        let sessions = redis.store.sessions(&process).await.ok()?;
        (sessions.len() == 2).then_some(sessions)
    })
    .await;
    for node in [&eu1, &eu2] {
        let registration = &registered[&node.name];
        assert_eq!(registration.user_id, USER_ID);
        let truth = node.control.snapshot();
        let session = truth
            .sessions
            .iter()
            .find(|s| s.session_id == registration.session_id)
            .expect("the registered session is open on the node");
        assert_eq!(session.user_id, USER_ID.to_string());
        let client = session.client_name.as_deref().unwrap_or_default();
        assert!(client.starts_with("switchyard-bot/"), "{client}");
        assert_eq!(
            bot.handle.state().session_ids().get(&node.name),
            Some(&registration.session_id)
        );
    }

    let old = registered[&eu1.name].session_id.clone();
    assert_eq!(eu1.control.close_websockets(CloseWebsockets::Abort), 1);
    let renewed = eventually("a new session registered on eu-1", || async {
        let sessions = redis.store.sessions(&process).await.ok()?;
        let id = sessions.get(&eu1.name)?.session_id.clone();
        (id != old).then_some(id)
    })
    .await;
    assert_eq!(
        bot.handle.state().session_ids().get(&eu1.name),
        Some(&renewed)
    );
    assert_eq!(
        redis.store.sessions(&process).await.expect("store")[&eu2.name],
        registered[&eu2.name],
        "the other node's session is untouched"
    );
}

#[tokio::test]
async fn a_player_is_created_where_placement_says_and_its_snapshot_kept_fresh() {
    let (eu1, eu2) = (Node::start("eu-1").await, Node::start("eu-2").await);
    let redis = Redis::start().await;
    let controller = Controller::start(redis.store.clone()).await;
    let bot = start_bot(
        bot_config("bot-a", &[&eu1, &eu2], &controller.url, &[0]),
        &redis,
    )
    .await;
    let guild = guild_in(0, 1);
    controller.place(guild, &eu2.name);
    let mut events = bot.handle.subscribe();

    // A short first track, so the loop to the second one happens within the test.
    let tracks = vec![track("first", 600), track("second", 60_000)];
    let outcome = bot
        .handle
        .play(request(guild, tracks.clone()))
        .await
        .expect("the player is created");
    assert_eq!(
        outcome,
        PlayOutcome::Playing {
            node: eu2.name.clone(),
            source: PlacementSource::Controller
        }
    );
    let asked = controller.log(|log| log.placements.clone());
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].0, guild);
    assert_eq!(asked[0].1["plan"], "growth");
    assert_eq!(asked[0].1["region"], "eu");
    assert!(asked[0].1["residency"].is_null());

    let session = bot.handle.state().session_ids()[&eu2.name].clone();
    let players = eu2.players(guild);
    assert_eq!(players.len(), 1, "one player, on eu-2");
    assert_eq!(players[0].0, session, "in the bot's own session");
    let voice = players[0].1.voice.clone().expect("all four voice fields");
    assert_eq!(voice.channel_id.as_deref(), Some("4242"));
    assert_eq!(voice.session_id, format!("bot-a-{guild}-1"));
    assert!(eu1.players(guild).is_empty());

    let written = snapshot(&redis, guild)
        .await
        .expect("a snapshot on creation");
    assert_eq!(written.node, eu2.name);
    assert_eq!(written.session_id, session);
    assert_eq!(written.owner, ProcessId::new("bot-a"));
    assert_eq!(written.shard, ShardId(0));
    assert_eq!(written.epoch, 0);
    assert_eq!(written.voice.session_id, voice.session_id);
    assert_eq!(written.volume, 100);
    assert!(!written.paused);
    let view = bot
        .handle
        .state()
        .player(guild)
        .expect("the bot knows its player");
    assert_eq!(view.node, Some(eu2.name.clone()));
    assert_eq!(view.status, PlayerStatus::Live);

    // Tracks loop: the first ends, the second starts, and the snapshot says so.
    eventually("the second track in the snapshot", || async {
        let snapshot = snapshot(&redis, guild).await?;
        (snapshot.track.as_ref() == Some(&tracks[1])).then_some(())
    })
    .await;
    let mut ended = false;
    while let Ok(event) = events.try_recv() {
        ended |= event
            == BotEvent::TrackEnded {
                guild,
                reason: TrackEndReason::Finished,
            };
    }
    assert!(ended, "the first track finished");
    let playing = &eu2.players(guild)[0].1;
    assert!(playing.playing && playing.audible, "{playing:?}");

    // Readers extrapolate a playing snapshot's position: it follows the node's without
    // a rewrite per `playerUpdate`. The bot's clock is read off its latest heartbeat
    // (sent every 200 ms), hence the tolerance.
    // A stalled test thread between the reads can age the heartbeat: a few tries, each
    // comparing fresh reads (a snapshot that does not follow the node never agrees).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut compared = Vec::new();
    for _ in 0..5 {
        let written = snapshot(&redis, guild).await.expect("a snapshot");
        assert!(!written.paused);
        let heartbeats = redis.store.heartbeats().await.expect("store");
        let bot_now_ms = heartbeats[&ShardId(0)].at_ms;
        let node_position = eu2.players(guild)[0].1.position_ms;
        let extrapolated = written.position_ms + bot_now_ms.saturating_sub(written.position_at_ms);
        if extrapolated.abs_diff(node_position) < 700 {
            return;
        }
        compared.push((extrapolated, node_position));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("(extrapolated, node) positions never agreed: {compared:?}");
}

#[tokio::test]
async fn a_position_that_strays_from_the_snapshot_is_written_at_once() {
    let (eu1, redis, controller, bot) = one_node_world().await;
    let guild = guild_in(0, 1);
    controller.place(guild, &eu1.name);
    bot.handle
        .play(request(guild, vec![stuck_track("stuck", 600_000, 300)]))
        .await
        .expect("created");
    let created = snapshot(&redis, guild)
        .await
        .expect("a snapshot on creation");

    // The node's position stops at 300 ms while the snapshot implies it plays on; the
    // next reports stray from it, and the bot writes the stalled position long before
    // its 30 s refresh (and before the node gives up on the track at 10 s).
    let stalled = eventually("a snapshot with the stalled position", || async {
        let snapshot = snapshot(&redis, guild).await?;
        (snapshot.updated_at_ms > created.updated_at_ms).then_some(snapshot)
    })
    .await;
    assert!(
        (250..=400).contains(&stalled.position_ms),
        "position {} ms",
        stalled.position_ms
    );
    assert!(
        stalled.updated_at_ms - created.updated_at_ms < 5_000,
        "written {} ms after creation",
        stalled.updated_at_ms - created.updated_at_ms
    );
}

#[tokio::test]
async fn placement_falls_back_to_the_routing_table_when_the_controller_is_away() {
    let eu1 = Node::start("eu-1").await;
    let redis = Redis::start().await;
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("bound"));
    drop(closed);
    let bot = start_bot(bot_config("bot-a", &[&eu1], &url, &[0]), &redis).await;
    let (routed, unrouted) = (guild_in(0, 1), guild_in(0, 2));
    redis
        .store
        .set_routes(&[(routed, eu1.name.clone())])
        .await
        .expect("store");

    let outcome = bot
        .handle
        .play(request(routed, vec![track("t", 60_000)]))
        .await
        .expect("placed from the routing table");
    assert_eq!(
        outcome,
        PlayOutcome::Playing {
            node: eu1.name.clone(),
            source: PlacementSource::RoutingTable
        }
    );
    assert_eq!(eu1.players(routed).len(), 1);

    let refused = bot
        .handle
        .play(request(unrouted, vec![track("t", 60_000)]))
        .await;
    assert!(
        matches!(refused, Err(BotError::Placement(_))),
        "{refused:?}"
    );
    assert!(bot.handle.state().player(unrouted).is_none());
}

#[tokio::test]
async fn a_degraded_guild_asks_again_until_it_gets_a_node() {
    let (eu1, redis, controller, bot) = one_node_world().await;
    let guild = guild_in(0, 1);

    let outcome = bot
        .handle
        .play(request(guild, vec![track("t", 600_000)]))
        .await
        .expect("answered");
    assert!(
        matches!(
            outcome,
            PlayOutcome::Degraded {
                reason: Some(DegradedReason::NoServingNode),
                ..
            }
        ),
        "{outcome:?}"
    );
    let view = bot.handle.state().player(guild).expect("still wanted");
    assert_eq!(view.status, PlayerStatus::Degraded);
    assert!(eu1.players(guild).is_empty());

    controller.place(guild, &eu1.name);
    eventually("placed and created on a later attempt", || async {
        let view = bot.handle.state().player(guild)?;
        (view.status == PlayerStatus::Live && eu1.players(guild).len() == 1).then_some(())
    })
    .await;
    assert!(controller.log(|log| log.placements.len()) >= 2);
    assert!(snapshot(&redis, guild).await.is_some());
}

#[tokio::test]
async fn a_lost_session_recreates_its_players_when_the_node_answers_again() {
    let (eu1, redis, controller, bot) = one_node_world().await;
    let guild = guild_in(0, 1);
    controller.place(guild, &eu1.name);
    bot.handle
        .play(request(guild, vec![track("t", 600_000)]))
        .await
        .expect("created");
    let old = bot.handle.state().session_ids()[&eu1.name].clone();
    // Well past the 300 ms checked below: the bot's position trails the node's by the
    // delivery of its last report, and must not fall under the bound by a millisecond.
    eventually("some playback", || async {
        (eu1.players(guild).first()?.1.position_ms >= 500).then_some(())
    })
    .await;

    // Resuming is off: the node destroys the session's players with the socket.
    eu1.control.close_websockets(CloseWebsockets::Abort);
    let (session, player) = eventually("the player re-created in a new session", || async {
        let players = eu1.players(guild);
        let (session, player) = players.first()?.clone();
        // A PATCH in flight already shows a player, without its track until voice is up.
        (session != old && player.audible).then_some((session, player))
    })
    .await;
    assert_eq!(bot.handle.state().session_ids()[&eu1.name], session);
    assert!(
        player.position_ms >= 300,
        "resumed near where it was, not from the start: {player:?}"
    );
    eventually("a snapshot naming the new session", || async {
        (snapshot(&redis, guild).await?.session_id == session).then_some(())
    })
    .await;
}

fn client(node: &Node) -> LavalinkClient<ReqwestHttpClient> {
    LavalinkClient::new(
        ReqwestHttpClient::new().expect("a reqwest client builds"),
        NodeEndpoint {
            name: node.name.clone(),
            base_url: format!("http://127.0.0.1:{}", node.port),
            password: PASSWORD.to_owned(),
        },
        Duration::from_secs(2),
    )
}

/// Moves a player as the controller does: create it on `to` in the bot's registered
/// session there, route the guild, announce the move.
async fn controller_moves(redis: &Redis, guild: GuildId, from: &Node, to: &Node, token: u64) {
    let snapshot = snapshot(redis, guild)
        .await
        .expect("the bot wrote a snapshot");
    let session = redis.store.sessions(&snapshot.owner).await.expect("store")[&to.name]
        .session_id
        .clone();
    let update = PlayerUpdate {
        track: snapshot
            .track
            .clone()
            .map(|encoded| TrackUpdate { encoded }),
        position: snapshot.position_ms,
        volume: snapshot.volume,
        paused: snapshot.paused,
        filters: snapshot.filters.clone(),
        voice: VoiceState {
            token: snapshot.voice.token.clone(),
            endpoint: snapshot.voice.endpoint.clone(),
            session_id: snapshot.voice.session_id.clone(),
            channel_id: snapshot.voice.channel_id.clone().expect("a channel"),
        },
    };
    client(to)
        .update_player(&session, guild, &update)
        .await
        .expect("the target node creates the player");
    redis
        .store
        .set_routes(&[(guild, to.name.clone())])
        .await
        .expect("store");
    announce(redis, guild, Some(&from.name), &to.name, token).await;
}

async fn announce(redis: &Redis, guild: GuildId, from: Option<&NodeId>, to: &NodeId, token: u64) {
    redis
        .store
        .announce_move(&MoveAnnouncement {
            move_id: MoveId(token),
            guild,
            from: from.cloned(),
            to: to.clone(),
            leader_token: token,
            at_ms: 0,
        })
        .await
        .expect("store");
}

#[tokio::test]
async fn a_move_announcement_is_followed_and_the_old_player_deleted() {
    let (eu1, eu2) = (Node::start("eu-1").await, Node::start("eu-2").await);
    let redis = Redis::start().await;
    let controller = Controller::start(redis.store.clone()).await;
    let bot = start_bot(
        bot_config("bot-a", &[&eu1, &eu2], &controller.url, &[0]),
        &redis,
    )
    .await;
    let guild = guild_in(0, 1);
    controller.place(guild, &eu1.name);
    bot.handle
        .play(request(guild, vec![track("t", 600_000)]))
        .await
        .expect("created");
    // A move the bot must ignore: its guild is not the bot's.
    announce(&redis, guild_in(0, 9), Some(&eu1.name), &eu2.name, 5).await;

    // eu-1 stays reachable here, so the bot deletes the player it left there itself.
    controller_moves(&redis, guild, &eu1, &eu2, 7).await;
    let new_session = bot.handle.state().session_ids()[&eu2.name].clone();
    eventually("the bot follows to eu-2", || async {
        let view = bot.handle.state().player(guild)?;
        (view.node == Some(eu2.name.clone()) && view.session_id == Some(new_session.clone()))
            .then_some(())
    })
    .await;
    eventually("the old player deleted", || async {
        eu1.players(guild).is_empty().then_some(())
    })
    .await;
    assert_eq!(eu2.players(guild).len(), 1);
    eventually("a fresh snapshot naming eu-2", || async {
        let snapshot = snapshot(&redis, guild).await?;
        (snapshot.node == eu2.name && snapshot.session_id == new_session).then_some(())
    })
    .await;

    // A deposed leader's announcement (a lower token) changes nothing.
    announce(&redis, guild, Some(&eu2.name), &eu1.name, 6).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        bot.handle.state().player(guild).and_then(|p| p.node),
        Some(eu2.name.clone())
    );
    assert_eq!(
        snapshot(&redis, guild).await.map(|s| s.node),
        Some(eu2.name.clone())
    );
}

#[tokio::test]
async fn stopping_deletes_the_player_and_snapshot_and_tells_the_controller() {
    let (eu1, redis, controller, bot) = one_node_world().await;
    let guild = guild_in(0, 1);
    controller.place(guild, &eu1.name);
    let identifier = "https://emulator.invalid/t.mp3?length_ms=1000".to_owned();
    let refused = bot.handle.play(request(guild, vec![identifier])).await;
    assert_eq!(refused, Err(BotError::NotEncoded { guild, index: 0 }));
    bot.handle
        .play(request(guild, vec![track("t", 600_000)]))
        .await
        .expect("created");
    assert!(snapshot(&redis, guild).await.is_some());

    bot.handle.stop(guild).await.expect("stopped");
    assert_eq!(controller.log(|log| log.stopped.clone()), vec![guild]);
    assert!(snapshot(&redis, guild).await.is_none());
    eventually("the player deleted", || async {
        eu1.players(guild).is_empty().then_some(())
    })
    .await;
    assert!(bot.handle.state().player(guild).is_none());
    assert_eq!(
        bot.handle.stop(guild).await,
        Err(BotError::NotPlaying(guild))
    );
}

#[tokio::test]
async fn a_fenced_heartbeat_stops_the_bot_acting_for_the_shard() {
    let eu1 = Node::start("eu-1").await;
    let redis = Redis::start().await;
    let controller = Controller::start(redis.store.clone()).await;
    let bot = start_bot(
        bot_config("bot-a", &[&eu1], &controller.url, &[0, 1]),
        &redis,
    )
    .await;
    let (fenced_guild, kept_guild) = (guild_in(0, 1), guild_in(1, 1));
    for guild in [fenced_guild, kept_guild] {
        controller.place(guild, &eu1.name);
        bot.handle
            .play(request(guild, vec![track("t", 600_000)]))
            .await
            .expect("created");
    }
    eventually("both shards confirmed", || async {
        let owned = [0, 1].iter().all(|s| {
            bot.handle.state().shard(ShardId(*s)).map(|v| v.status) == Some(ShardStatus::Owned)
        });
        owned.then_some(())
    })
    .await;

    // The controller hands shard 0 to another process under a higher epoch.
    let other = ProcessId::new("bot-b");
    let grant = redis
        .store
        .grant_shard(ShardId(0), &other, 1, 0)
        .await
        .expect("store");
    assert_eq!(grant, ShardGrant::Granted);
    eventually("the bot fenced for shard 0", || async {
        let view = bot.handle.state().shard(ShardId(0))?;
        (view.status
            == ShardStatus::Fenced {
                owner: other.clone(),
                epoch: 1,
            })
        .then_some(())
    })
    .await;
    assert!(bot.handle.state().player(fenced_guild).is_none());
    assert!(!bot.handle.state().owned_shards().contains_key(&ShardId(0)));
    eventually("its own player there deleted (voice left)", || async {
        eu1.players(fenced_guild).is_empty().then_some(())
    })
    .await;

    // No more writes for shard 0: its snapshot stays as it was, while shard 1's
    // heartbeats go on being accepted.
    let frozen = snapshot(&redis, fenced_guild)
        .await
        .expect("last snapshot stays");
    let beat = |heartbeats: std::collections::BTreeMap<ShardId, _>| {
        heartbeats
            .get(&ShardId(1))
            .map(|h: &switchyard_runtime::store_schema::ShardHeartbeat| h.at_ms)
    };
    let before = beat(redis.store.heartbeats().await.expect("store"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(snapshot(&redis, fenced_guild).await, Some(frozen));
    let after = beat(redis.store.heartbeats().await.expect("store"));
    assert!(after > before, "shard 1 goes on: {before:?} then {after:?}");
    assert_eq!(eu1.players(kept_guild).len(), 1);
    let heartbeats = redis.store.heartbeats().await.expect("store");
    let last = heartbeats
        .get(&ShardId(0))
        .expect("a heartbeat before the fence");
    assert_eq!(
        (last.owner.clone(), last.epoch),
        (ProcessId::new("bot-a"), 0)
    );

    let refused = bot
        .handle
        .play(request(guild_in(0, 3), vec![track("t", 600_000)]))
        .await;
    assert!(
        matches!(refused, Err(BotError::NotOwner { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_spare_adopts_a_shard_its_lease_names_and_repatches_voice() {
    let (eu1, redis, controller, owner) = one_node_world().await;
    let mut spare_config = bot_config("bot-b", &[&eu1], &controller.url, &[]);
    spare_config.spare = Some(SpareConfig {
        region: Some(RegionId::new("eu")),
    });
    let spare = start_bot(spare_config, &redis).await;
    let mut spare_events = spare.handle.subscribe();
    let guild = guild_in(0, 1);
    controller.place(guild, &eu1.name);
    owner
        .handle
        .play(request(guild, vec![track("t", 600_000)]))
        .await
        .expect("created");
    let registered = eventually("the spare registered", || async {
        controller.log(|log| log.spares.first().cloned())
    })
    .await;
    assert_eq!(registered.0, "bot-b");
    assert_eq!(registered.1["region"], "eu");
    eventually("some playback", || async {
        (eu1.players(guild).first()?.1.position_ms >= 300).then_some(())
    })
    .await;

    // The owner stalls; the controller promotes the spare.
    owner.handle.stall();
    assert!(owner.handle.state().is_stalled());
    redis
        .store
        .grant_shard(ShardId(0), &ProcessId::new("bot-b"), 1, 0)
        .await
        .expect("store");

    let spare_session = spare.handle.state().session_ids()[&eu1.name].clone();
    let (session, player) = eventually("the spare's player on eu-1", || async {
        let players = eu1.players(guild);
        let (session, player) = players.first()?.clone();
        let done = players.len() == 1 && session == spare_session && player.audible;
        done.then_some((session, player))
    })
    .await;
    assert_eq!(session, spare_session);
    let voice = player.voice.clone().expect("voice re-established");
    assert_eq!(
        voice.session_id,
        format!("bot-b-{guild}-1"),
        "a new voice session"
    );
    assert_eq!(voice.channel_id.as_deref(), Some("4242"));
    assert!(player.position_ms >= 300, "not restarted: {player:?}");
    assert_eq!(
        spare.handle.state().owned_shards().get(&ShardId(0)),
        Some(&1)
    );
    let mut adopted = false;
    while let Ok(event) = spare_events.try_recv() {
        adopted |= event
            == BotEvent::ShardAdopted {
                shard: ShardId(0),
                epoch: 1,
            };
    }
    assert!(adopted);
    eventually("the spare's snapshot", || async {
        let snapshot = snapshot(&redis, guild).await?;
        (snapshot.owner == ProcessId::new("bot-b")
            && snapshot.epoch == 1
            && snapshot.session_id == spare_session)
            .then_some(())
    })
    .await;

    // The stale owner resumes, is fenced and stays out of the way.
    owner.handle.resume();
    eventually("the old owner fenced", || async {
        let status = owner.handle.state().shard(ShardId(0))?.status;
        matches!(status, ShardStatus::Fenced { .. }).then_some(())
    })
    .await;
    assert!(owner.handle.state().player(guild).is_none());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let players = eu1.players(guild);
    assert_eq!(players.len(), 1, "exactly one live player: {players:?}");
    assert_eq!(players[0].0, spare_session);
    assert_eq!(
        snapshot(&redis, guild).await.map(|s| s.owner),
        Some(ProcessId::new("bot-b"))
    );
}
