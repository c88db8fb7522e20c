//! A redis-rs connection that reconnects, shared by production and the simulation.
//!
//! redis-rs's `ConnectionManager` can only dial through its own `Client`, so it cannot
//! run over turmoil's simulated network. This wrapper takes any [`Dial`]er instead
//! (a `redis::Client` in production, a turmoil `TcpStream` in the simulation), so both
//! run the same reconnect policy:
//!
//! - A failed command is returned to the caller, never retried here: the driver owns
//!   retries. If the failure means the connection is gone (an I/O error or a response
//!   timeout), or the caller gave up waiting (its future was dropped unanswered), the
//!   connection is retired and the next call dials a fresh one.
//! - After a failed dial, calls fail fast with the last error until a backoff delay has
//!   passed (doubling from `reconnect_delay_min` to `reconnect_delay_max`), so an outage
//!   costs no connect timeouts per call. The delay has no jitter: the simulation must be
//!   deterministic, and one controller does not stampede.
//!
//! Time is read only through `tokio::time`, which turmoil controls.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};
use tokio::sync::Mutex;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// A freshly dialed connection.
pub struct Dialed {
    /// The connection.
    pub connection: MultiplexedConnection,
    /// The task driving it, when the dialer spawned one itself (a connection built with
    /// `MultiplexedConnection::new` over a custom stream); aborted when the connection is
    /// retired, since an unanswered request would otherwise keep it alive forever.
    pub driver: Option<AbortHandle>,
}

/// Opens a fresh multiplexed connection (TCP connect, handshake, driver task spawned).
pub trait Dial: Send + Sync + 'static {
    /// Dials once. Must give up within its own connect timeout.
    fn dial(&self) -> impl Future<Output = RedisResult<Dialed>> + Send;

    /// The database the connections select, for [`ConnectionLike::get_db`].
    fn db(&self) -> i64;
}

/// Production dialer: a `redis::Client` (from a `redis://` URL) with explicit timeouts.
#[derive(Clone)]
pub struct ClientDialer {
    client: redis::Client,
    config: redis::AsyncConnectionConfig,
}

impl ClientDialer {
    /// A dialer whose connections time out connecting after `connect_timeout` and each
    /// response after `response_timeout` (redis-rs's defaults, 1 s and 500 ms, are not
    /// relied upon).
    pub fn new(
        client: redis::Client,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Self {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(response_timeout));
        Self { client, config }
    }
}

impl fmt::Debug for ClientDialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection info may hold a password: show only where it points.
        let info = self.client.get_connection_info();
        f.debug_struct("ClientDialer")
            .field("addr", &info.addr().to_string())
            .field("db", &info.redis_settings().db())
            .finish()
    }
}

impl Dial for ClientDialer {
    fn dial(&self) -> impl Future<Output = RedisResult<Dialed>> + Send {
        let connecting = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config);
        async move {
            // redis-rs owns this connection's driver task and ends it with the last clone.
            Ok(Dialed {
                connection: connecting.await?,
                driver: None,
            })
        }
    }

    fn db(&self) -> i64 {
        self.client.get_connection_info().redis_settings().db()
    }
}

/// Bounds of the reconnect backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Delay after the first failed dial.
    pub reconnect_delay_min: Duration,
    /// The delay doubles per failed dial up to this.
    pub reconnect_delay_max: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            reconnect_delay_min: Duration::from_millis(100),
            reconnect_delay_max: Duration::from_secs(2),
        }
    }
}

impl ReconnectPolicy {
    fn delay_after(&self, failures: u32) -> Duration {
        // Doubling past 2^16 is far beyond any sane maximum; the cap keeps it finite.
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.reconnect_delay_min
            .saturating_mul(factor)
            .min(self.reconnect_delay_max)
    }
}

/// A cloneable connection that dials on demand and redials after the link breaks.
pub struct ReconnectingConnection<D> {
    shared: Arc<Shared<D>>,
}

impl<D> Clone for ReconnectingConnection<D> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<D: fmt::Debug> fmt::Debug for ReconnectingConnection<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingConnection")
            .field("dialer", &self.shared.dialer)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

struct Shared<D> {
    dialer: D,
    policy: ReconnectPolicy,
    db: i64,
    /// The live connection. A plain mutex, never held across an await, so a dropped
    /// request can retire the connection from `Drop`.
    live: StdMutex<Option<Live>>,
    /// Serialises dials: concurrent callers wait for one dial instead of racing several.
    dialing: Mutex<DialState>,
}

struct Live {
    connection: MultiplexedConnection,
    /// Tells a stale failure report from one about the current connection.
    generation: u64,
    driver: Option<AbortHandle>,
}

#[derive(Default)]
struct DialState {
    generation: u64,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: String,
}

impl<D> Shared<D> {
    fn live(&self) -> std::sync::MutexGuard<'_, Option<Live>> {
        // Nothing panics while holding it; if something did, the slot is still valid.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> Option<(MultiplexedConnection, u64)> {
        self.live()
            .as_ref()
            .map(|live| (live.connection.clone(), live.generation))
    }

    /// Drops the connection of `generation` (if still current) so the next call redials.
    fn retire(&self, generation: u64, why: &str) {
        let mut live = self.live();
        if live.as_ref().is_some_and(|l| l.generation == generation) {
            tracing::warn!(generation, why, "retiring the redis connection");
            if let Some(driver) = live.take().and_then(|l| l.driver) {
                driver.abort();
            }
        }
    }
}

impl<D: Dial> ReconnectingConnection<D> {
    /// Wraps a dialer. Nothing is dialed until the first command.
    pub fn new(dialer: D, policy: ReconnectPolicy) -> Self {
        let db = dialer.db();
        Self {
            shared: Arc::new(Shared {
                dialer,
                policy,
                db,
                live: StdMutex::new(None),
                dialing: Mutex::new(DialState::default()),
            }),
        }
    }

    async fn connection(&self) -> RedisResult<(MultiplexedConnection, u64)> {
        if let Some(current) = self.shared.current() {
            return Ok(current);
        }
        let mut dialing = self.shared.dialing.lock().await;
        // Another caller may have dialed while this one waited.
        if let Some(current) = self.shared.current() {
            return Ok(current);
        }
        let now = Instant::now();
        if let Some(retry_at) = dialing.retry_at.filter(|at| now < *at) {
            let wait_ms = retry_at.duration_since(now).as_millis();
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!(
                    "not connected, next attempt in {wait_ms} ms after {} failed; last error: {}",
                    dialing.failures, dialing.last_error
                ),
            )
            .into());
        }
        match self.shared.dialer.dial().await {
            Ok(dialed) => {
                dialing.generation += 1;
                dialing.failures = 0;
                dialing.retry_at = None;
                let generation = dialing.generation;
                if generation > 1 {
                    tracing::info!(generation, "reconnected to redis");
                }
                let connection = dialed.connection.clone();
                *self.shared.live() = Some(Live {
                    connection: dialed.connection,
                    generation,
                    driver: dialed.driver,
                });
                Ok((connection, generation))
            }
            Err(error) => {
                dialing.failures = dialing.failures.saturating_add(1);
                dialing.retry_at = Some(now + self.shared.policy.delay_after(dialing.failures));
                dialing.last_error = error.to_string();
                tracing::warn!(%error, failures = dialing.failures, "redis dial failed");
                Err(error)
            }
        }
    }
}

/// Whether an error means the connection can no longer be trusted. A timed-out request
/// counts: the peer may be gone with no FIN ever arriving (a partition, a crashed host),
/// and on a lossy simulated link a lost request would shift every later reply.
fn breaks_connection(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
}

/// Watches one request: if its future is dropped before the reply (the caller's timeout
/// fired), the connection is retired like after a timeout, for the same reasons.
struct InFlight<'a, D> {
    shared: &'a Shared<D>,
    generation: u64,
    answered: bool,
}

impl<D> Drop for InFlight<'_, D> {
    fn drop(&mut self) {
        if !self.answered {
            self.shared
                .retire(self.generation, "a request was abandoned unanswered");
        }
    }
}

impl<D: Dial> ReconnectingConnection<D> {
    async fn request<T>(
        &self,
        send: impl AsyncFnOnce(&mut MultiplexedConnection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let (mut connection, generation) = self.connection().await?;
        let mut in_flight = InFlight {
            shared: &self.shared,
            generation,
            answered: false,
        };
        let result = send(&mut connection).await;
        in_flight.answered = true;
        if let Err(error) = &result {
            if breaks_connection(error) {
                self.shared.retire(generation, "the connection failed");
            }
        }
        result
    }
}

impl<D: Dial> ConnectionLike for ReconnectingConnection<D> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.request(async move |c| c.req_packed_command(cmd).await))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.request(async move |c| c.req_packed_commands(cmd, offset, count).await))
    }

    fn get_db(&self) -> i64 {
        self.shared.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = ReconnectPolicy {
            reconnect_delay_min: Duration::from_millis(100),
            reconnect_delay_max: Duration::from_millis(750),
        };
        let delays: Vec<u128> = (1..=6).map(|n| policy.delay_after(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 750, 750, 750]);
        assert_eq!(policy.delay_after(u32::MAX).as_millis(), 750);
    }
}
