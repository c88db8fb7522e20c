//! The leader lease against a real `redis-server`: one keeper leads, a standby takes
//! over when the leader stops renewing (never before), a deposed leader's writes are
//! refused and depose it at once, a leader rides out a Redis restart, and a released
//! lease passes on at the standby's next attempt.

use std::time::Duration;

use switchyard_core::ids::{GuildId, NodeId};
use switchyard_runtime::adapters::{ProductionRedisStore, RedisStoreConfig};
use switchyard_runtime::driver::store_writer::StoreWriter;
use switchyard_runtime::leader::{ControllerId, LeaderSettings, Leadership, LeaseKeeper, Role};
use switchyard_runtime::ports::store::Store;
use switchyard_tests::redis_server::RedisServer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

fn settings(ttl_ms: u64, renew_ms: u64) -> LeaderSettings {
    LeaderSettings {
        ttl: Duration::from_millis(ttl_ms),
        renew_interval: Duration::from_millis(renew_ms),
    }
}

fn store(redis: &RedisServer) -> ProductionRedisStore {
    ProductionRedisStore::connect(&redis.url(), RedisStoreConfig::default()).expect("valid url")
}

/// A keeper running in its own task, stoppable without releasing (a crash).
struct Controller {
    leadership: Leadership,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Controller {
    fn start(name: &str, redis: &RedisServer, settings: LeaderSettings) -> Self {
        let leadership = Leadership::new(ControllerId {
            instance: name.to_owned(),
            api_url: Some(format!("http://{name}.test:8080")),
            pid: 1,
            started_at_ms: 0,
        });
        let keeper = LeaseKeeper::new(store(redis), leadership.clone(), settings);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(keeper.run(async move {
            let _ = stopped.await;
        }));
        Self {
            leadership,
            stop: Some(stop),
            task,
        }
    }

    fn role(&self) -> Role {
        self.leadership.state().role
    }

    /// Stops renewing without releasing, as a killed process would.
    async fn crash(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("the keeper does not panic");
    }
}

async fn until<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn leader_token(role: Role) -> Option<u64> {
    match role {
        Role::Leader { token } => Some(token),
        Role::Standby => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_leader_stops_renewing_and_not_before() {
    let redis = RedisServer::start();
    // A TTL well past the renewal period: a loaded machine's stall of the leader's task
    // must not let the lease lapse during the wait below.
    let lease = settings(2_000, 150);
    let mut a = Controller::start("a", &redis, lease);
    let first = until("a leads", Duration::from_secs(5), || leader_token(a.role())).await;
    let b = Controller::start("b", &redis, lease);
    // Several of the leader's renewal periods: the standby stays a standby.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(b.role(), Role::Standby, "a live leader keeps its lease");
    let seen = b.leadership.state().leader.expect("b sees who leads");
    assert_eq!(
        seen.id.and_then(|id| id.api_url).as_deref(),
        Some("http://a.test:8080")
    );

    a.crash().await;
    let crashed_at = Instant::now();
    let second = until("b takes over", Duration::from_secs(5), || {
        leader_token(b.role())
    })
    .await;
    let took = crashed_at.elapsed();
    assert!(second > first, "tokens grow: {first} then {second}");
    assert!(
        took >= Duration::from_millis(1_000),
        "b waited for a's lease to lapse, took {took:?}"
    );

    // The crashed leader's late writes are refused, and the refusal deposes it.
    let writer = StoreWriter::start(store(&redis), Duration::from_millis(50));
    writer.attach_leadership(a.leadership.clone());
    assert_eq!(a.role(), Role::Leader { token: first }, "a never heard");
    writer.route(GuildId(7), Some(NodeId::new("eu-1")));
    until("a stands down", Duration::from_secs(5), || {
        (a.role() == Role::Standby).then_some(())
    })
    .await;
    assert!(writer.superseded() >= 1);
    assert_eq!(store(&redis).route(GuildId(7)).await.expect("redis"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_rides_out_a_redis_restart_and_keeps_its_lease() {
    let mut redis = RedisServer::start();
    // Longer than the store's reconnect backoff (2 s at most), as configurations must be.
    let lease = settings(3_000, 300);
    let a = Controller::start("a", &redis, lease);
    let token = until("a leads", Duration::from_secs(5), || leader_token(a.role())).await;
    let b = Controller::start("b", &redis, lease);
    tokio::time::sleep(Duration::from_millis(600)).await;

    redis.kill();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        a.role(),
        Role::Leader { token },
        "nobody can be elected meanwhile"
    );
    assert!(!a.leadership.state().store_reachable);
    redis.restart();
    until("a reaches Redis again", Duration::from_secs(10), || {
        a.leadership.state().store_reachable.then_some(())
    })
    .await;
    // Longer than the standby's hold-off: had a not taken its lease back, b would lead.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(a.role(), Role::Leader { token }, "the same term goes on");
    let held = store(&redis).leader().await.expect("redis").expect("held");
    assert_eq!(held.token, token);
    assert_eq!(held.holder, a.leadership.holder());
    // The standby never led, not even for a moment (its highest token would show it).
    assert_eq!(b.role(), Role::Standby);
    assert_eq!(b.leadership.state().last_token, 0, "b never held a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lease_passes_on_before_it_would_lapse() {
    let redis = RedisServer::start();
    let lease = settings(5_000, 200);
    let a = Controller::start("a", &redis, lease);
    let token = until("a leads", Duration::from_secs(5), || leader_token(a.role())).await;
    let b = Controller::start("b", &redis, lease);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let held = a.leadership.resign().expect("a held the lease");
    assert_eq!(held, token);
    assert!(
        store(&redis)
            .release_leader(a.leadership.holder(), held)
            .await
            .expect("redis")
    );
    let released_at = Instant::now();
    let next = until("b takes over", Duration::from_secs(3), || {
        leader_token(b.role())
    })
    .await;
    assert!(next > token);
    assert!(
        released_at.elapsed() < Duration::from_millis(1_500),
        "well before the 5 s lease would lapse: {:?}",
        released_at.elapsed()
    );
    assert_eq!(a.role(), Role::Standby);
}
