//! The store contract's leader-lease cases beyond acquire/renew/release: renewal taking a
//! lapsed lease back, and controller writes behind the leader fence.

use std::time::Duration;

use switchyard_core::command::AuditEvent;
use switchyard_core::ids::{GuildId, MoveId, NodeId, PlanId, ProcessId, RegionId, ShardId};
use switchyard_core::time::Millis;
use switchyard_runtime::ports::store::{
    LeaderAcquisition, LeaderFence, ShardGrant, Store, StoreError,
};
use switchyard_runtime::store_schema::{GuildRecord, MoveAnnouncement, OperatorHold};

use super::cases::until_answers;
use super::{Backend, Harness, config, ok};

fn acquired(acquisition: LeaderAcquisition) -> u64 {
    match acquisition {
        LeaderAcquisition::Acquired { token } => token,
        LeaderAcquisition::Held(lease) => panic!("the lease was free, but {lease:?}"),
    }
}

fn fence(holder: &str, token: u64) -> Option<LeaderFence> {
    Some(LeaderFence {
        holder: holder.to_owned(),
        token,
    })
}

fn record(guild: u64) -> GuildRecord {
    GuildRecord {
        guild: GuildId(guild),
        plan: PlanId::new("growth"),
        home_region: RegionId::new("eu"),
        pinned: false,
        displaced_from: Some(NodeId::new("eu-1")),
    }
}

fn announcement(guild: u64, token: u64) -> MoveAnnouncement {
    MoveAnnouncement {
        move_id: MoveId(guild),
        guild: GuildId(guild),
        from: Some(NodeId::new("eu-1")),
        to: NodeId::new("eu-2"),
        leader_token: token,
        at_ms: 5,
    }
}

/// Every kind of controller write once, under `store`'s fence (or none).
async fn write_everything(store: &impl Store, guild: u64) -> Result<(), StoreError> {
    let health = super::cases::health("eu-1", 3);
    store
        .put_node_health(&health, Duration::from_secs(60))
        .await?;
    store
        .set_routes(&[(GuildId(guild), NodeId::new("eu-2"))])
        .await?;
    store.set_guild_records(&[record(guild)]).await?;
    store
        .put_operator_holds(&[OperatorHold::Drained {
            node: NodeId::new("eu-1"),
        }])
        .await?;
    store.announce_move(&announcement(guild, 1)).await?;
    store
        .append_audit(&AuditEvent {
            at: Millis(1),
            kind: "leader_acquired".to_owned(),
            fields: Default::default(),
        })
        .await?;
    match store
        .grant_shard(ShardId(0), &ProcessId::new("spare"), guild, 7)
        .await?
    {
        ShardGrant::Granted => {}
        other => panic!("epochs grow with the guild number here: {other:?}"),
    }
    store.delete_routes(&[GuildId(guild + 1_000)]).await?;
    store.delete_guild_records(&[GuildId(guild + 1_000)]).await
}

pub async fn guild_records_round_trip<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    assert!(ok(store.all_guild_records().await).is_empty());
    ok(store.set_guild_records(&[record(1), record(2)]).await);
    let mut replaced = record(2);
    replaced.displaced_from = None;
    ok(store.set_guild_records(&[replaced.clone()]).await);
    let records = ok(store.all_guild_records().await);
    assert_eq!(records.len(), 2);
    assert_eq!(records[&GuildId(2)], replaced);
    assert_eq!(records[&GuildId(1)], record(1));
    ok(store.delete_guild_records(&[GuildId(1)]).await);
    assert_eq!(
        ok(store.all_guild_records().await)
            .keys()
            .collect::<Vec<_>>(),
        [&GuildId(2)]
    );
}

pub async fn operator_holds_are_replaced_whole_and_absent_until_written<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    assert_eq!(ok(store.operator_holds().await), None, "never written");
    let holds = vec![
        OperatorHold::Drained {
            node: NodeId::new("eu-1"),
        },
        OperatorHold::RegionFailedOver {
            region: RegionId::new("us"),
        },
    ];
    ok(store.put_operator_holds(&holds).await);
    assert_eq!(ok(store.operator_holds().await), Some(holds));
    // Every hold lifted: written as none, which is not the same as never written.
    ok(store.put_operator_holds(&[]).await);
    assert_eq!(ok(store.operator_holds().await), Some(Vec::new()));
}

pub async fn fenced_writes_go_through_for_the_leader_only<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let ttl = Duration::from_secs(10);
    let first = acquired(ok(store.acquire_leader("a", ttl, 0).await));
    let a = store.with_leader_fence(fence("a", first));
    ok(write_everything(&a, 1).await);
    assert_eq!(
        ok(store.route(GuildId(1)).await),
        Some(NodeId::new("eu-2")),
        "the leader's writes land"
    );
    assert!(ok(store.release_leader("a", first).await));
    let second = acquired(ok(store.acquire_leader("b", ttl, 0).await));
    // A deposed leader's late writes are refused, whatever they are, and name who leads.
    for attempt in [
        a.set_routes(&[(GuildId(9), NodeId::new("eu-1"))]).await,
        a.set_guild_records(&[record(9)]).await,
        a.put_operator_holds(&[]).await,
        a.announce_move(&announcement(9, first)).await.map(drop),
        a.grant_shard(ShardId(0), &ProcessId::new("stale"), 99, 8)
            .await
            .map(drop),
    ] {
        match attempt {
            Err(StoreError::Superseded { holder, token, .. }) => {
                assert_eq!(holder.as_deref(), Some("b"));
                assert_eq!(token, second);
            }
            other => panic!("a deposed leader's write must be refused: {other:?}"),
        }
    }
    assert_eq!(
        ok(store.route(GuildId(9)).await),
        None,
        "nothing was written"
    );
    assert!(!ok(store.all_guild_records().await).contains_key(&GuildId(9)));
    assert_eq!(
        ok(store.operator_holds().await),
        Some(vec![OperatorHold::Drained {
            node: NodeId::new("eu-1")
        }]),
        "the stale lifting of every hold did not land"
    );
    assert_eq!(
        ok(store.shard_lease(ShardId(0)).await).map(|l| l.owner),
        Some(ProcessId::new("spare")),
        "the stale grant did not land"
    );
    let b = store.with_leader_fence(fence("b", second));
    ok(write_everything(&b, 2).await);
    // Unfenced writes (a single controller, the simulation) are not checked at all.
    ok(store
        .set_routes(&[(GuildId(10), NodeId::new("eu-1"))])
        .await);
}

pub async fn a_lapsed_lease_admits_its_holder_until_someone_takes_it<B: Backend>(h: Harness<B>) {
    let store = h.store(config());
    let short = Duration::from_millis(300);
    let token = acquired(ok(store.acquire_leader("a", short, 0).await));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(ok(store.leader().await), None, "lapsed");
    // Nobody took it: the leader's writes still land, and its renewal takes it back.
    let a = store.with_leader_fence(fence("a", token));
    ok(a.set_routes(&[(GuildId(1), NodeId::new("eu-1"))]).await);
    assert!(ok(store.renew_leader("a", token, short).await));
    let lease = ok(store.leader().await).expect("taken back");
    assert_eq!((lease.holder.as_str(), lease.token), ("a", token));
    // A writer that never held a token is refused once any leader existed.
    let never = store.with_leader_fence(fence("c", 0));
    assert!(matches!(
        never.set_routes(&[(GuildId(2), NodeId::new("eu-1"))]).await,
        Err(StoreError::Superseded { .. })
    ));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let next = acquired(ok(store.acquire_leader("b", short, 0).await));
    assert!(next > token);
    assert!(
        !ok(store.renew_leader("a", token, short).await),
        "b took it: no taking back"
    );
    assert!(matches!(
        a.set_routes(&[(GuildId(1), NodeId::new("eu-2"))]).await,
        Err(StoreError::Superseded { .. })
    ));
}

pub async fn a_store_that_lost_its_data_keeps_its_leader<B: Backend>(mut h: Harness<B>) {
    let store = h.store(config());
    let ttl = Duration::from_secs(10);
    acquired(ok(store.acquire_leader("x", ttl, 0).await));
    ok(store.release_leader("x", 1).await);
    let token = acquired(ok(store.acquire_leader("a", ttl, 0).await));
    assert!(token >= 2);
    assert_eq!(ok(store.newest_leader_token().await), token);
    h.backend.kill().await;
    h.backend.restart().await;
    until_answers(&store, Duration::from_secs(10)).await;
    assert_eq!(
        ok(store.newest_leader_token().await),
        0,
        "the counter is gone: a sign of lost data a standby can read"
    );
    // The restarted store is empty: the leader's writes land and its renewal takes the
    // lease back at its own token, so the counter never goes below a token in use.
    let a = store.with_leader_fence(fence("a", token));
    ok(a.set_routes(&[(GuildId(1), NodeId::new("eu-1"))]).await);
    assert!(ok(store.renew_leader("a", token, ttl).await));
    ok(store.release_leader("a", token).await);
    let next = acquired(ok(store.acquire_leader("b", ttl, 0).await));
    assert_eq!(next, token + 1, "the counter was restored");
}
