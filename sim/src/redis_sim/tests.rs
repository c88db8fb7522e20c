//! The production adapter against the simulated Redis inside turmoil: TTLs on simulated
//! time, scripts, and a crash and restart of the Redis host. The full semantics are the
//! store contract suite's (`runtime/tests/store_contract.rs`), run over real TCP.

use std::time::Duration;

use switchyard_core::ids::{NodeId, ProcessId, ShardId};
use switchyard_runtime::adapters::RedisStoreConfig;
use switchyard_runtime::ports::store::{FencedWrite, LeaderAcquisition, ShardGrant, Store};

use super::{RedisSim, TurmoilRedisDialer, turmoil_redis_store};
use crate::emulator::TurmoilListener;

const PORT: u16 = 6379;

fn sim() -> turmoil::Sim<'static> {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .build();
    sim.host("redis", || async {
        let listener = TurmoilListener::bind(("0.0.0.0", PORT)).await?;
        RedisSim::new().serve(listener).await;
        Ok(())
    });
    sim
}

fn config() -> RedisStoreConfig {
    RedisStoreConfig {
        op_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(300),
        ..RedisStoreConfig::default()
    }
}

#[test]
fn ttl_expiry_follows_simulated_time() {
    let mut sim = sim();
    sim.client("controller", async {
        let store =
            turmoil_redis_store(TurmoilRedisDialer::new("redis", PORT, &config()), config());
        let token = match store
            .acquire_leader("a", Duration::from_secs(10), 0)
            .await?
        {
            LeaderAcquisition::Acquired { token } => token,
            other => panic!("expected to acquire, got {other:?}"),
        };
        assert_eq!(token, 1);
        // Margins cover turmoil's link latency (up to 100 ms per message by default);
        // exact expiry at the deadline is a unit test of the keyspace.
        tokio::time::sleep(Duration::from_millis(9_500)).await;
        let lease = store.leader().await?.expect("not yet expired");
        assert!(lease.ttl_remaining_ms <= 500, "{lease:?}");
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(store.leader().await?, None, "expired on simulated time");
        // Nobody took it since: the holder's renewal takes it back, at its own token.
        assert!(
            store
                .renew_leader("a", token, Duration::from_secs(10))
                .await?
        );
        assert_eq!(store.leader().await?.map(|l| l.token), Some(token));
        Ok(())
    });
    sim.run().expect("simulation passes");
}

#[test]
fn resp3_connections_work_too() {
    let mut sim = sim();
    sim.client("bot", async {
        let dialer = TurmoilRedisDialer::new("redis", PORT, &config()).with_resp3();
        let store = turmoil_redis_store(dialer, config());
        let owner = ProcessId::new("bot-1");
        assert_eq!(
            store.grant_shard(ShardId(3), &owner, 1, 0).await?,
            ShardGrant::Granted
        );
        assert_eq!(
            store.heartbeat(ShardId(3), &owner, 1, 5).await?,
            FencedWrite::Accepted
        );
        assert_eq!(store.heartbeats().await?.len(), 1);
        assert!(store.all_shard_leases().await?.contains_key(&ShardId(3)));
        Ok(())
    });
    sim.run().expect("simulation passes");
}

#[test]
fn a_restarted_redis_is_empty_and_the_store_reconnects() {
    let mut sim = sim();
    sim.client("controller", async {
        let store =
            turmoil_redis_store(TurmoilRedisDialer::new("redis", PORT, &config()), config());
        store
            .set_routes(&[(switchyard_core::ids::GuildId(7), NodeId::new("us-1"))])
            .await?;
        // Outage window: the test body below crashes the host at 1 s, restarts it at 3 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let error = store.all_routes().await.expect_err("redis is down");
        assert!(error.is_transient(), "{error}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        // The first call after the restart may still see the dead connection.
        let mut routes = store.all_routes().await;
        for _ in 0..10 {
            if routes.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            routes = store.all_routes().await;
        }
        assert_eq!(routes?.len(), 0, "state is lost on restart");
        // Scripts were forgotten too: EVALSHA answers NOSCRIPT and redis-rs reloads.
        assert!(matches!(
            store.acquire_leader("a", Duration::from_secs(5), 0).await?,
            LeaderAcquisition::Acquired { .. }
        ));
        Ok(())
    });
    let mut step_count = 0;
    while !sim.step().expect("simulation steps") {
        step_count += 1;
        let elapsed = sim.elapsed();
        let running = sim.is_host_running("redis");
        if elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3) && running {
            sim.crash("redis");
        } else if elapsed >= Duration::from_secs(3) && !running {
            sim.bounce("redis");
        }
        assert!(step_count < 1_000_000, "bounded");
    }
}

#[test]
fn a_partition_never_mixes_up_replies() {
    let mut sim = sim();
    sim.client("controller", async {
        use switchyard_core::ids::GuildId;
        let store =
            turmoil_redis_store(TurmoilRedisDialer::new("redis", PORT, &config()), config());
        let routes: Vec<(GuildId, NodeId)> = (1..=20)
            .map(|g| (GuildId(g), NodeId::new(format!("node-{g}"))))
            .collect();
        store.set_routes(&routes).await?;
        // Partitioned from 1 s to 3 s by the loop below: requests and replies are lost.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        for guild in 1..=3 {
            let error = store.route(GuildId(guild)).await.expect_err("partitioned");
            assert!(error.is_transient(), "{error}");
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        // Every reply after the heal belongs to its own request: a lost request must
        // not shift the replies of a reused connection.
        for _ in 0..3 {
            for guild in 1..=20 {
                let node = store.route(GuildId(guild)).await?;
                assert_eq!(node, Some(NodeId::new(format!("node-{guild}"))));
            }
        }
        Ok(())
    });
    let mut step_count = 0;
    let mut partitioned = false;
    while !sim.step().expect("simulation steps") {
        step_count += 1;
        let elapsed = sim.elapsed();
        if !partitioned && elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3) {
            sim.partition("controller", "redis");
            partitioned = true;
        } else if partitioned && elapsed >= Duration::from_secs(3) {
            sim.repair("controller", "redis");
            partitioned = false;
        }
        assert!(step_count < 1_000_000, "bounded");
    }
}
