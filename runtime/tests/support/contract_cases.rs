//! The store contract's cases, each generic over the server it runs against.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncCommands;
use switchyard_core::command::{AuditEvent, NodeHealthReport};
use switchyard_core::health::NodeStatus;
use switchyard_core::history::{FailoverOutcome, FailoverRecord, FailoverTrigger};
use switchyard_core::ids::{GuildId, MoveId, NodeId, ProcessId, RegionId, ShardId};
use switchyard_core::time::Millis;
use switchyard_runtime::adapters::{RedisStore, RedisStoreConfig};
use switchyard_runtime::ports::store::{
    FencedWrite, LeaderAcquisition, ShardGrant, Store, StoreError,
};
use switchyard_runtime::store_schema::{
    MoveAnnouncement, NodeHealthRecord, PlayerSnapshot, SessionRegistration, VoiceState,
};
use tokio::time::Instant;

use super::{Backend, Harness, config, ok};

pub(crate) fn health(node: &str, players: u32) -> NodeHealthRecord {
    NodeHealthRecord {
        report: NodeHealthReport {
            node: NodeId::new(node),
            region: RegionId::new("us"),
            status: NodeStatus::Up,
            available: true,
            players,
            capacity: 100,
            usable_capacity: 100,
            latency_ms: Some(12),
            flapping: false,
            drained: false,
            maintenance: false,
            joining: false,
            leaving: false,
            since: Millis(1_000),
        },
        updated_at_ms: 2_000,
    }
}

fn snapshot(guild: u64, owner: &str, epoch: u64) -> PlayerSnapshot {
    PlayerSnapshot {
        guild: GuildId(guild),
        shard: ShardId(1),
        owner: ProcessId::new(owner),
        epoch,
        node: NodeId::new("us-1"),
        session_id: "lavalink-session".into(),
        track: Some("QAAAjQIAJVJpY2sgQXN0bGV5".into()),
        position_ms: 61_000,
        position_at_ms: 5_000,
        paused: false,
        volume: 80,
        filters: serde_json::json!({"timescale": {"speed": 1.1}}),
        voice: VoiceState {
            token: "voice-token".into(),
            endpoint: "us-east1.discord.media".into(),
            session_id: "voice-session".into(),
            channel_id: Some("1234".into()),
        },
        updated_at_ms: 5_000,
    }
}

fn audit(at_ms: u64, kind: &str) -> AuditEvent {
    AuditEvent {
        at: Millis(at_ms),
        kind: kind.to_owned(),
        fields: BTreeMap::from([("shard".to_owned(), "3".to_owned())]),
    }
}

fn failover(id: u64, moved: u32, outcome: FailoverOutcome) -> FailoverRecord {
    // Built through serde: the record has fields private to the core.
    serde_json::from_value(serde_json::json!({
        "id": id,
        "trigger": FailoverTrigger::NodeDown { node: NodeId::new("us-1") },
        "started_at": 100 * id,
        "finished_at": null,
        "planned": 10,
        "moved": moved,
        "failed_attempts": 0,
        "degraded": 0,
        "outcome": outcome,
    }))
    .expect("a well-formed failover record")
}

pub async fn missing_keys_read_as_absent<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    ok(store.ping().await);
    let node = NodeId::new("nowhere");
    let process = ProcessId::new("nobody");
    assert_eq!(ok(store.node_health(&node).await), None);
    assert!(ok(store.all_node_health().await).is_empty());
    assert_eq!(ok(store.route(GuildId(1)).await), None);
    assert!(ok(store.all_routes().await).is_empty());
    assert_eq!(ok(store.player_snapshot(GuildId(1)).await), None);
    assert!(ok(store.player_snapshots(&[GuildId(1), GuildId(2)]).await).is_empty());
    assert!(ok(store.player_snapshots(&[]).await).is_empty());
    assert!(ok(store.sessions(&process).await).is_empty());
    assert!(ok(store.all_sessions().await).is_empty());
    assert_eq!(ok(store.shard_lease(ShardId(0)).await), None);
    assert!(ok(store.all_shard_leases().await).is_empty());
    assert!(ok(store.heartbeats().await).is_empty());
    assert!(ok(store.moves_after(None, 10).await).is_empty());
    assert!(ok(store.recent_audit(10).await).is_empty());
    assert!(ok(store.recent_failovers(10).await).is_empty());
    assert_eq!(ok(store.leader().await), None);
    // Deleting what is not there is not an error.
    ok(store.delete_node_health(&node).await);
    ok(store.delete_routes(&[GuildId(1)]).await);
    ok(store.unregister_session(&process, &node).await);
}

pub async fn node_health_round_trips_under_the_runbook_key<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let us1 = health("us-1", 4);
    ok(store.put_node_health(&us1, Duration::from_secs(30)).await);
    ok(store
        .put_node_health(&health("eu-1", 7), Duration::from_secs(30))
        .await);
    assert_eq!(
        ok(store.node_health(&NodeId::new("us-1")).await),
        Some(us1.clone())
    );
    let all = ok(store.all_node_health().await);
    assert_eq!(
        all.keys().map(NodeId::as_str).collect::<Vec<_>>(),
        ["eu-1", "us-1"]
    );

    // The runbook's readers see `lavalink:health:<node>` as JSON with these fields.
    let mut raw = h.raw().await;
    let json: String = raw.get("lavalink:health:us-1").await.expect("key present");
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["status"], "up");
    assert_eq!(value["available"], true);
    assert_eq!(value["players"], 4);
    assert_eq!(value["region"], "us");
    assert_eq!(value["latency_ms"], 12);
    let pttl_ms: i64 = raw.pttl("lavalink:health:us-1").await.expect("PTTL");
    assert!((1..=30_000).contains(&pttl_ms), "ttl {pttl_ms}");

    // Overwrite, then delete.
    ok(store
        .put_node_health(&health("us-1", 9), Duration::from_secs(30))
        .await);
    let us1 = ok(store.node_health(&NodeId::new("us-1")).await).expect("present");
    assert_eq!(us1.report.players, 9);
    ok(store.delete_node_health(&NodeId::new("us-1")).await);
    assert_eq!(ok(store.node_health(&NodeId::new("us-1")).await), None);
    let zero_ttl = store.put_node_health(&health("x", 1), Duration::ZERO).await;
    assert!(
        matches!(zero_ttl, Err(StoreError::Encode { .. })),
        "{zero_ttl:?}"
    );
}

pub async fn node_health_expires_after_its_ttl<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    ok(store
        .put_node_health(&health("short", 1), Duration::from_millis(600))
        .await);
    ok(store
        .put_node_health(&health("long", 1), Duration::from_secs(60))
        .await);
    assert!(ok(store.node_health(&NodeId::new("short")).await).is_some());
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(ok(store.node_health(&NodeId::new("short")).await), None);
    let all = ok(store.all_node_health().await);
    assert_eq!(all.keys().map(NodeId::as_str).collect::<Vec<_>>(), ["long"]);
}

pub async fn foreign_values_are_skipped_or_reported<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    ok(store
        .put_node_health(&health("good", 1), Duration::from_secs(30))
        .await);
    let mut raw = h.raw().await;
    let () = raw
        .set("lavalink:health:legacy", "{\"latency\": 3}")
        .await
        .expect("raw SET");
    // One malformed entry does not hide the others...
    let all = ok(store.all_node_health().await);
    assert_eq!(all.keys().map(NodeId::as_str).collect::<Vec<_>>(), ["good"]);
    // ...but reading it directly says what is wrong and where.
    match store.node_health(&NodeId::new("legacy")).await {
        Err(StoreError::Decode { key, .. }) => assert_eq!(key, "lavalink:health:legacy"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    // A key of the wrong type is the server's refusal, named by operation.
    let () = raw.set("switchyard:routes", "oops").await.expect("raw SET");
    match store.all_routes().await {
        Err(StoreError::Rejected { operation, message }) => {
            assert_eq!(operation, "all_routes");
            assert!(message.contains("WRONGTYPE"), "{message}");
        }
        other => panic!("expected WRONGTYPE, got {other:?}"),
    }
}

pub async fn routes_set_overwrite_and_delete<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let (us1, us2) = (NodeId::new("us-1"), NodeId::new("us-2"));
    ok(store
        .set_routes(&[(GuildId(1), us1.clone()), (GuildId(2), us1.clone())])
        .await);
    ok(store.set_routes(&[(GuildId(2), us2.clone())]).await);
    ok(store.set_routes(&[]).await);
    assert_eq!(ok(store.route(GuildId(2)).await), Some(us2.clone()));
    let all = ok(store.all_routes().await);
    assert_eq!(all, BTreeMap::from([(GuildId(1), us1), (GuildId(2), us2)]));
    ok(store.delete_routes(&[GuildId(1), GuildId(9)]).await);
    assert_eq!(ok(store.all_routes().await).len(), 1);
    // Many guilds at once (more than one batch).
    let many: Vec<(GuildId, NodeId)> = (0..1_200)
        .map(|g| (GuildId(g), NodeId::new("eu-1")))
        .collect();
    ok(store.set_routes(&many).await);
    assert_eq!(ok(store.all_routes().await).len(), 1_200);
}

pub async fn player_snapshots_are_fenced_by_shard_epoch<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let ttl = Duration::from_secs(60);
    let (a, b) = (ProcessId::new("bot-a"), ProcessId::new("bot-b"));
    // No lease stored yet (a store that lost its state): the write is accepted.
    assert_eq!(
        ok(store
            .put_player_snapshot(&snapshot(10, "bot-a", 1), ttl)
            .await),
        FencedWrite::Accepted
    );
    assert_eq!(
        ok(store.grant_shard(ShardId(1), &a, 1, 0).await),
        ShardGrant::Granted
    );
    let first = snapshot(10, "bot-a", 1);
    assert_eq!(
        ok(store.put_player_snapshot(&first, ttl).await),
        FencedWrite::Accepted
    );
    assert_eq!(
        ok(store.player_snapshot(GuildId(10)).await),
        Some(first.clone())
    );
    let many = ok(store.player_snapshots(&[GuildId(10), GuildId(11)]).await);
    assert_eq!(many.keys().copied().collect::<Vec<_>>(), [GuildId(10)]);

    // The shard moves to bot-b at epoch 2: bot-a's writes and deletes are refused.
    assert_eq!(
        ok(store.grant_shard(ShardId(1), &b, 2, 0).await),
        ShardGrant::Granted
    );
    let mut stale = snapshot(10, "bot-a", 1);
    stale.position_ms = 1;
    match ok(store.put_player_snapshot(&stale, ttl).await) {
        FencedWrite::Fenced { current } => {
            assert_eq!((current.owner.as_str(), current.epoch), ("bot-b", 2));
        }
        FencedWrite::Accepted => panic!("a fenced owner wrote a snapshot"),
    }
    let deleted = ok(store
        .delete_player_snapshot(GuildId(10), ShardId(1), &a, 1)
        .await);
    assert!(matches!(deleted, FencedWrite::Fenced { .. }));
    // Same epoch, another owner: fenced too.
    let same_epoch = ok(store
        .put_player_snapshot(&snapshot(10, "bot-a", 2), ttl)
        .await);
    assert!(matches!(same_epoch, FencedWrite::Fenced { .. }));
    assert_eq!(ok(store.player_snapshot(GuildId(10)).await), Some(first));

    let newer = snapshot(10, "bot-b", 2);
    assert_eq!(
        ok(store.put_player_snapshot(&newer, ttl).await),
        FencedWrite::Accepted
    );
    assert_eq!(
        ok(store
            .delete_player_snapshot(GuildId(10), ShardId(1), &b, 2)
            .await),
        FencedWrite::Accepted
    );
    assert_eq!(ok(store.player_snapshot(GuildId(10)).await), None);
}

pub async fn player_snapshots_expire<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let short = snapshot(20, "bot-a", 1);
    ok(store
        .put_player_snapshot(&short, Duration::from_millis(600))
        .await);
    ok(store
        .put_player_snapshot(&snapshot(21, "bot-a", 1), Duration::from_secs(60))
        .await);
    assert!(ok(store.player_snapshot(GuildId(20)).await).is_some());
    tokio::time::sleep(Duration::from_millis(900)).await;
    let left = ok(store.player_snapshots(&[GuildId(20), GuildId(21)]).await);
    assert_eq!(left.keys().copied().collect::<Vec<_>>(), [GuildId(21)]);
}

/// Every snapshot write and delete that lands names its guild on
/// `switchyard:player-changes`, in order; refused writes and heartbeats do not.
pub async fn snapshot_changes_are_listed_in_order<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let (a, b) = (ProcessId::new("bot-a"), ProcessId::new("bot-b"));
    let ttl = Duration::from_secs(60);
    assert_eq!(ok(store.player_changes_newest().await), None);
    assert!(ok(store.player_changes_after(None, 10).await).is_empty());
    assert_eq!(
        ok(store.grant_shard(ShardId(1), &a, 1, 0).await),
        ShardGrant::Granted
    );
    ok(store
        .put_player_snapshot(&snapshot(10, "bot-a", 1), ttl)
        .await);
    ok(store
        .put_player_snapshot(&snapshot(11, "bot-a", 1), ttl)
        .await);
    ok(store.heartbeat(ShardId(1), &a, 1, 100).await);
    ok(store
        .delete_player_snapshot(GuildId(10), ShardId(1), &a, 1)
        .await);

    let changes = ok(store.player_changes_after(None, 10).await);
    let guilds: Vec<u64> = changes.iter().map(|c| c.value.0).collect();
    assert_eq!(guilds, [10, 11, 10], "writes and the delete, in order");
    assert_eq!(
        ok(store.player_changes_newest().await).as_ref(),
        Some(&changes[2].id)
    );
    let after_first = ok(store.player_changes_after(Some(&changes[0].id), 10).await);
    assert_eq!(after_first, changes[1..]);
    assert_eq!(ok(store.player_changes_after(None, 2).await), changes[..2]);
    assert!(ok(store.player_changes_after(Some(&changes[2].id), 10).await).is_empty());

    // A fenced owner's refused write changes nothing, so it is not listed.
    ok(store.grant_shard(ShardId(1), &b, 2, 0).await);
    let refused = ok(store
        .put_player_snapshot(&snapshot(12, "bot-a", 1), ttl)
        .await);
    assert!(matches!(refused, FencedWrite::Fenced { .. }));
    assert!(ok(store.player_changes_after(Some(&changes[2].id), 10).await).is_empty());

    // Bots in other languages read the entries too: only a decimal `guild` field.
    let mut raw = h.raw().await;
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("switchyard:player-changes")
        .arg("-")
        .arg("+")
        .query_async(&mut raw)
        .await
        .expect("XRANGE");
    assert_eq!(entries[1].1, ["guild", "11"]);
}

/// The change stream is capped like the others.
pub async fn snapshot_changes_are_capped<B: Backend>(h: Harness<B>) {
    let cap = 5;
    let store = h.store(RedisStoreConfig {
        player_changes_len_max: cap,
        ..config()
    });
    let a = ProcessId::new("bot-a");
    ok(store.grant_shard(ShardId(1), &a, 1, 0).await);
    for guild in 0..250 {
        ok(store
            .put_player_snapshot(&snapshot(guild, "bot-a", 1), Duration::from_secs(60))
            .await);
    }
    let kept = ok(store.player_changes_after(None, 1_000).await);
    // As `streams_are_capped`: Redis trims whole nodes of 100 entries, the simulation
    // exactly to the cap.
    assert!(
        (cap..=cap + 100).contains(&kept.len()),
        "{} entries",
        kept.len()
    );
    assert_eq!(
        kept.last().map(|c| c.value.0),
        Some(249),
        "the newest is kept"
    );
}

pub async fn sessions_per_process_and_node<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let (a, b) = (ProcessId::new("bot-a"), ProcessId::new("bot-b"));
    let (us1, us2) = (NodeId::new("us-1"), NodeId::new("us-2"));
    let registration = |id: &str| SessionRegistration {
        session_id: id.to_owned(),
        user_id: 42,
        registered_at_ms: 7,
    };
    ok(store.register_session(&a, &us1, &registration("a1")).await);
    ok(store.register_session(&a, &us2, &registration("a2")).await);
    ok(store.register_session(&b, &us1, &registration("b1")).await);
    // A reconnect replaces the session id.
    ok(store
        .register_session(&a, &us1, &registration("a1-new"))
        .await);
    let sessions = ok(store.sessions(&a).await);
    assert_eq!(sessions[&us1].session_id, "a1-new");
    assert_eq!(sessions[&us2].session_id, "a2");
    ok(store.unregister_session(&a, &us2).await);
    let all = ok(store.all_sessions().await);
    assert_eq!(all.len(), 2);
    assert_eq!(all[&a].keys().collect::<Vec<_>>(), [&us1]);
    assert_eq!(all[&b][&us1].session_id, "b1");
    ok(store.unregister_session(&b, &us1).await);
    assert_eq!(
        ok(store.all_sessions().await).keys().collect::<Vec<_>>(),
        [&a]
    );
}

pub async fn shard_epochs_only_grow<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let (a, b) = (ProcessId::new("bot-a"), ProcessId::new("bot-b"));
    let shard = ShardId(4);
    assert_eq!(
        ok(store.grant_shard(shard, &a, 1, 10).await),
        ShardGrant::Granted
    );
    // A retried grant (lost reply) is recognised.
    assert_eq!(
        ok(store.grant_shard(shard, &a, 1, 11).await),
        ShardGrant::AlreadyHeld
    );
    for (owner, epoch) in [(&b, 1), (&b, 0), (&a, 0)] {
        match ok(store.grant_shard(shard, owner, epoch, 12).await) {
            ShardGrant::Rejected { current } => {
                assert_eq!((current.owner.as_str(), current.epoch), ("bot-a", 1));
                assert_eq!(current.granted_at_ms, 10);
            }
            other => panic!("epoch {epoch} for {owner} should be refused, got {other:?}"),
        }
    }
    assert_eq!(
        ok(store.grant_shard(shard, &b, 3, 20).await),
        ShardGrant::Granted
    );
    assert!(matches!(
        ok(store.grant_shard(shard, &a, 2, 21).await),
        ShardGrant::Rejected { .. }
    ));
    let lease = ok(store.shard_lease(shard).await).expect("granted");
    assert_eq!(
        (lease.owner.as_str(), lease.epoch, lease.granted_at_ms),
        ("bot-b", 3, 20)
    );
    ok(store.grant_shard(ShardId(5), &a, 1, 0).await);
    let all = ok(store.all_shard_leases().await);
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        [ShardId(4), ShardId(5)]
    );
    let huge = store.grant_shard(shard, &a, u64::MAX, 0).await;
    assert!(matches!(huge, Err(StoreError::Encode { .. })), "{huge:?}");
}

pub async fn stale_heartbeats_are_fenced<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let (a, b) = (ProcessId::new("bot-a"), ProcessId::new("bot-b"));
    let shard = ShardId(2);
    // No lease at all: accepted (the controller re-grants from memory).
    assert_eq!(
        ok(store.heartbeat(ShardId(9), &a, 1, 1).await),
        FencedWrite::Accepted
    );
    ok(store.grant_shard(shard, &a, 1, 0).await);
    assert_eq!(
        ok(store.heartbeat(shard, &a, 1, 100).await),
        FencedWrite::Accepted
    );
    ok(store.grant_shard(shard, &b, 2, 150).await);
    match ok(store.heartbeat(shard, &a, 1, 200).await) {
        FencedWrite::Fenced { current } => {
            assert_eq!((current.owner.as_str(), current.epoch), ("bot-b", 2));
        }
        FencedWrite::Accepted => panic!("a stale owner's heartbeat was accepted"),
    }
    // The new owner with an old epoch is stale as well.
    assert!(matches!(
        ok(store.heartbeat(shard, &b, 1, 210).await),
        FencedWrite::Fenced { .. }
    ));
    assert_eq!(
        ok(store.heartbeat(shard, &b, 2, 300).await),
        FencedWrite::Accepted
    );
    let beats = ok(store.heartbeats().await);
    let beat = &beats[&shard];
    assert_eq!(
        (beat.owner.as_str(), beat.epoch, beat.at_ms),
        ("bot-b", 2, 300)
    );
    assert_eq!(beats.len(), 2);
}

pub async fn leader_lease_is_held_renewed_and_released_by_holder_only<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let ttl = Duration::from_secs(10);
    let LeaderAcquisition::Acquired { token } = ok(store.acquire_leader("a", ttl, 0).await) else {
        panic!("nobody held the lease");
    };
    match ok(store.acquire_leader("b", ttl, 0).await) {
        LeaderAcquisition::Held(lease) => {
            assert_eq!((lease.holder.as_str(), lease.token), ("a", token));
            assert!((1..=10_000).contains(&lease.ttl_remaining_ms), "{lease:?}");
        }
        other => panic!("the lease is held by a, got {other:?}"),
    }
    assert!(
        !ok(store.renew_leader("b", token, ttl).await),
        "not the holder"
    );
    assert!(
        !ok(store.renew_leader("a", token + 1, ttl).await),
        "wrong token"
    );
    assert!(ok(store
        .renew_leader("a", token, Duration::from_secs(20))
        .await));
    let lease = ok(store.leader().await).expect("held");
    assert!(
        lease.ttl_remaining_ms > 10_000,
        "renewed to 20 s: {lease:?}"
    );
    assert!(!ok(store.release_leader("b", token).await));
    assert!(!ok(store.release_leader("a", token + 1).await));
    assert!(ok(store.release_leader("a", token).await));
    assert_eq!(ok(store.leader().await), None);
    assert!(
        !ok(store.release_leader("a", token).await),
        "released twice"
    );
    let LeaderAcquisition::Acquired { token: next } = ok(store.acquire_leader("b", ttl, 0).await)
    else {
        panic!("the lease was free");
    };
    assert!(next > token, "tokens grow: {token} then {next}");
}

pub async fn leader_lease_expires_and_tokens_stay_monotonic<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let short = Duration::from_millis(500);
    let LeaderAcquisition::Acquired { token: first } =
        ok(store.acquire_leader("a", short, 0).await)
    else {
        panic!("free");
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(ok(store.leader().await), None, "expired");
    let LeaderAcquisition::Acquired { token: second } =
        ok(store.acquire_leader("b", Duration::from_secs(10), 0).await)
    else {
        panic!("free after expiry");
    };
    assert!(second > first);
    assert!(
        !ok(store.renew_leader("a", first, short).await),
        "too late to renew: b took the lease"
    );
    ok(store.release_leader("b", second).await);
    // A store that lost its counter cannot hand out a lower token than one seen.
    let LeaderAcquisition::Acquired { token: third } = ok(store
        .acquire_leader("c", Duration::from_secs(10), 100)
        .await)
    else {
        panic!("free after release");
    };
    assert_eq!(third, 101);
    let lease = ok(store.leader().await).expect("held by c");
    assert_eq!((lease.holder.as_str(), lease.token), ("c", 101));
}

pub async fn move_announcements_page_in_order<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let announce = |n: u64| MoveAnnouncement {
        move_id: MoveId(n),
        guild: GuildId(n),
        from: Some(NodeId::new("us-1")),
        to: NodeId::new("us-2"),
        leader_token: 3,
        at_ms: n,
    };
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(ok(store.announce_move(&announce(n)).await));
    }
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "every entry has its own id");
    let first_page = ok(store.moves_after(None, 2).await);
    assert_eq!(
        first_page
            .iter()
            .map(|e| e.value.move_id.0)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let rest = ok(store.moves_after(Some(&first_page[1].id), 10).await);
    assert_eq!(
        rest.iter().map(|e| e.value.move_id.0).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(rest[2].value, announce(5));
    assert!(ok(store.moves_after(Some(&ids[4]), 10).await).is_empty());
}

pub async fn streams_are_capped<B: Backend>(h: Harness<B>) {
    let cap = 5;
    let store = h.store(RedisStoreConfig {
        audit_len_max: cap,
        moves_len_max: cap,
        failovers_len_max: cap,
        ..config()
    });
    for n in 0..250 {
        ok(store.append_audit(&audit(n, "node_marked_down")).await);
    }
    let events = ok(store.recent_audit(1_000).await);
    // `MAXLEN ~` keeps at least the cap; Redis trims whole nodes of 100 entries, the
    // simulation exactly to the cap.
    assert!(
        (cap..=cap + 100).contains(&events.len()),
        "{} entries",
        events.len()
    );
    let newest: Vec<u64> = events.iter().take(3).map(|e| e.value.at.as_ms()).collect();
    assert_eq!(newest, [249, 248, 247], "newest first");
    assert_eq!(events[0].value, audit(249, "node_marked_down"));
    let few = ok(store.recent_audit(2).await);
    assert_eq!(few.len(), 2);
}

pub async fn failover_history_keeps_the_latest_version<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    ok(store
        .record_failover(&failover(1, 0, FailoverOutcome::InProgress))
        .await);
    ok(store
        .record_failover(&failover(2, 0, FailoverOutcome::InProgress))
        .await);
    ok(store
        .record_failover(&failover(1, 10, FailoverOutcome::Completed))
        .await);
    let records = ok(store.recent_failovers(100).await);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0], failover(1, 10, FailoverOutcome::Completed));
    assert_eq!(records[1], failover(2, 0, FailoverOutcome::InProgress));
}

/// Polls until the store answers again, bounded.
pub(crate) async fn until_answers(store: &impl Store, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match store.ping().await {
            Ok(()) => return start.elapsed(),
            Err(error) => {
                assert!(error.is_transient(), "{error}");
                assert!(
                    start.elapsed() < within,
                    "no recovery within {within:?}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

pub async fn outage_is_a_clear_error_and_recovery_is_automatic<B: Backend>(mut h: Harness<B>) {
    let store = h.store(config());
    ok(store.set_routes(&[(GuildId(1), NodeId::new("us-1"))]).await);
    h.backend.kill().await;
    for _ in 0..3 {
        let start = Instant::now();
        let error = store.all_routes().await.expect_err("redis is down");
        let took = start.elapsed();
        assert!(error.is_transient(), "{error}");
        assert!(
            took < Duration::from_secs(3),
            "failed in {took:?}, not at once"
        );
        let message = error.to_string();
        assert!(
            message.contains("all_routes"),
            "names the operation: {message}"
        );
    }
    h.backend.restart().await;
    let took = until_answers(&store, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "recovered in {took:?}");
    // Redis restarted empty; the store works as before (scripts reload as needed).
    assert!(ok(store.all_routes().await).is_empty());
    assert!(matches!(
        ok(store.acquire_leader("a", Duration::from_secs(5), 0).await),
        LeaderAcquisition::Acquired { .. }
    ));
    assert_eq!(
        ok(store
            .grant_shard(ShardId(1), &ProcessId::new("p"), 1, 0)
            .await),
        ShardGrant::Granted
    );
}

pub async fn store_built_while_redis_is_down_connects_later<B: Backend>(mut h: Harness<B>) {
    h.backend.kill().await;
    let store = h.store(config());
    let error = store.ping().await.expect_err("nothing listens");
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error}");
    h.backend.restart().await;
    until_answers(&store, Duration::from_secs(10)).await;
    ok(store
        .put_node_health(&health("us-1", 1), Duration::from_secs(5))
        .await);
}

pub async fn any_connection_like_works<B: Backend>(h: Harness<B>) {
    // A MultiplexedConnection over a plain stream, as the simulation builds over
    // turmoil's: here over a tokio TcpStream.
    let client = redis::Client::open(h.url()).expect("a valid URL");
    let info = client.get_connection_info().clone();
    let settings = info.redis_settings().clone();
    let addr = info.addr().to_string();
    let stream = tokio::net::TcpStream::connect(addr.as_str())
        .await
        .expect("connect");
    let (connection, driver) = redis::aio::MultiplexedConnection::new_with_config(
        &settings,
        stream,
        redis::AsyncConnectionConfig::new(),
    )
    .await
    .expect("handshake");
    tokio::spawn(driver);
    let store = RedisStore::new(connection, config());
    ok(store.ping().await);
    ok(store
        .grant_shard(ShardId(1), &ProcessId::new("p"), 1, 0)
        .await);
    assert!(ok(store.shard_lease(ShardId(1)).await).is_some());
}
