//! The store contract: every `Store` operation's semantics, run against a real
//! `redis-server` and against the simulated Redis (`switchyard_sim::redis_sim`) over
//! loopback TCP, each in RESP2 and RESP3. The simulation may only stand in for Redis
//! because this same suite passes against both.
//!
//! Each test starts its own server on a free 127.0.0.1 port. A missing `redis-server`
//! fails the real-Redis tests with the command that installs it; nothing is skipped.

mod support;

use std::time::Duration;

use switchyard_runtime::adapters::{ProductionRedisStore, RedisStoreConfig};
use switchyard_runtime::ports::store::StoreError;

use support::{RedisServer, SimRedisServer};

#[path = "support/contract_cases.rs"]
mod cases;
#[path = "support/leader_cases.rs"]
mod leader_cases;

/// A server the suite runs against.
trait Backend: Sized {
    async fn start() -> Self;
    /// `redis://127.0.0.1:<port>/0`.
    fn url(&self) -> String;
    /// Kills the server (an outage): connections close, data is lost.
    async fn kill(&mut self);
    /// Starts it again, empty, on the same port.
    async fn restart(&mut self);
}

impl Backend for RedisServer {
    async fn start() -> Self {
        RedisServer::start()
    }
    fn url(&self) -> String {
        RedisServer::url(self)
    }
    async fn kill(&mut self) {
        RedisServer::kill(self);
    }
    async fn restart(&mut self) {
        RedisServer::restart(self);
    }
}

impl Backend for SimRedisServer {
    async fn start() -> Self {
        SimRedisServer::start().await
    }
    fn url(&self) -> String {
        SimRedisServer::url(self)
    }
    async fn kill(&mut self) {
        SimRedisServer::kill(self).await;
    }
    async fn restart(&mut self) {
        SimRedisServer::restart(self).await;
    }
}

/// One test's server and how to reach it.
struct Harness<B> {
    backend: B,
    resp3: bool,
}

impl<B: Backend> Harness<B> {
    async fn start(resp3: bool) -> Self {
        Self {
            backend: B::start().await,
            resp3,
        }
    }

    fn url(&self) -> String {
        let url = self.backend.url();
        if self.resp3 {
            format!("{url}?protocol=resp3")
        } else {
            url
        }
    }

    /// The production adapter, as the daemon builds it.
    fn store(&self, config: RedisStoreConfig) -> ProductionRedisStore {
        ProductionRedisStore::connect(&self.url(), config).expect("a valid loopback URL")
    }

    /// A plain redis-rs connection, to look at raw keys or plant foreign data.
    async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a valid loopback URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the server is up")
    }
}

/// Timeouts short enough that the outage tests stay fast, long enough for a loaded CI.
fn config() -> RedisStoreConfig {
    RedisStoreConfig {
        op_timeout: Duration::from_millis(1_500),
        connect_timeout: Duration::from_millis(1_000),
        ..RedisStoreConfig::default()
    }
}

/// Unwraps a store result, naming the operation's error on failure.
#[track_caller]
fn ok<T>(result: Result<T, StoreError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("store operation failed: {error}"),
    }
}

/// One test per case, for a backend and protocol.
macro_rules! contract {
    ($module:ident, $backend:ty, $resp3:expr) => {
        mod $module {
            use super::*;

            contract!(@cases cases, $backend, $resp3;
                missing_keys_read_as_absent,
                node_health_round_trips_under_the_runbook_key,
                node_health_expires_after_its_ttl,
                foreign_values_are_skipped_or_reported,
                routes_set_overwrite_and_delete,
                player_snapshots_are_fenced_by_shard_epoch,
                player_snapshots_expire,
                snapshot_changes_are_listed_in_order,
                snapshot_changes_are_capped,
                sessions_per_process_and_node,
                shard_epochs_only_grow,
                stale_heartbeats_are_fenced,
                leader_lease_is_held_renewed_and_released_by_holder_only,
                leader_lease_expires_and_tokens_stay_monotonic,
                move_announcements_page_in_order,
                streams_are_capped,
                failover_history_keeps_the_latest_version,
                outage_is_a_clear_error_and_recovery_is_automatic,
                store_built_while_redis_is_down_connects_later,
                any_connection_like_works,
            );
            contract!(@cases leader_cases, $backend, $resp3;
                guild_records_round_trip,
                operator_holds_are_replaced_whole_and_absent_until_written,
                fenced_writes_go_through_for_the_leader_only,
                a_lapsed_lease_admits_its_holder_until_someone_takes_it,
                a_store_that_lost_its_data_keeps_its_leader,
            );
        }
    };
    (@cases $cases:ident, $backend:ty, $resp3:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let harness = Harness::<$backend>::start($resp3).await;
                $cases::$case(harness).await;
            }
        )*
    };
}

contract!(real_redis_resp2, RedisServer, false);
contract!(real_redis_resp3, RedisServer, true);
contract!(sim_redis_resp2, SimRedisServer, false);
contract!(sim_redis_resp3, SimRedisServer, true);
