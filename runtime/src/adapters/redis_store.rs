//! [`RedisStore`]: the [`Store`] port over redis-rs.
//!
//! It runs over any `redis::aio::ConnectionLike`: in production a
//! [`ReconnectingConnection`] dialing a `redis://` URL ([`RedisStore::connect`]), in the
//! simulation the same wrapper dialing turmoil's network, or a plain
//! `MultiplexedConnection` over any stream. Every operation is bounded by
//! [`RedisStoreConfig::op_timeout`] measured on `tokio::time`, so a dead Redis yields a
//! [`StoreError`] in bounded time, never a hang.
//!
//! Compare-and-set operations run as Lua scripts ([`ScriptKind`]); everything else is one
//! plain command (or a bounded `SCAN` loop). The key layout is in
//! [`crate::store_schema::keys`] and `docs/redis-schema.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{RedisError, Value};
use switchyard_core::command::AuditEvent;
use switchyard_core::history::FailoverRecord;
use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};

use crate::adapters::redis_codec::{
    RawEntry, decode_changes, decode_entries, decode_or_skip, exact_number, from_json, to_json,
    ttl_ms,
};
use crate::adapters::redis_reconnect::{ClientDialer, ReconnectPolicy, ReconnectingConnection};
use crate::adapters::redis_scripts::ScriptKind;
use crate::ports::store::{
    FencedWrite, LeaderAcquisition, LeaderFence, ShardGrant, Store, StoreError,
};
use crate::store_schema::{
    GuildRecord, LeaderLease, MoveAnnouncement, NodeHealthRecord, OperatorHold, PlayerSnapshot,
    SessionRegistration, ShardHeartbeat, ShardLease, StreamEntry, StreamId, keys, stream_fields,
};

/// Most `SCAN` rounds one listing may take; past it the listing fails rather than spin.
const SCAN_ROUNDS_MAX: usize = 10_000;
/// Most keys or fields per `MGET`/`HSET`/`HDEL`, so one command stays small.
const BATCH_LEN_MAX: usize = 500;

/// Tuning of a [`RedisStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStoreConfig {
    /// Each operation (including any reconnect and script load) fails after this long.
    pub op_timeout: Duration,
    /// A connection attempt gives up after this long.
    pub connect_timeout: Duration,
    /// Backoff between failed connection attempts.
    pub reconnect: ReconnectPolicy,
    /// Approximate cap (`MAXLEN ~`) of the move announcement stream.
    pub moves_len_max: usize,
    /// Approximate cap of the player snapshot change stream: enough for the changes of
    /// many seconds, so a reader polling every second never falls behind the trim.
    pub player_changes_len_max: usize,
    /// Approximate cap of the audit stream.
    pub audit_len_max: usize,
    /// Approximate cap of the failover history stream.
    pub failovers_len_max: usize,
    /// `COUNT` hint of each `SCAN` round.
    pub scan_count: usize,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        Self {
            op_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(500),
            reconnect: ReconnectPolicy::default(),
            moves_len_max: 10_000,
            player_changes_len_max: 100_000,
            audit_len_max: 10_000,
            failovers_len_max: switchyard_core::history::HISTORY_LEN_MAX,
            scan_count: 200,
        }
    }
}

/// The store over redis-rs. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct RedisStore<C> {
    connection: C,
    config: Arc<RedisStoreConfig>,
    scripts: Arc<Scripts>,
    /// When set, controller writes go through the leader fence.
    fence: Option<Arc<LeaderFence>>,
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection is left out: its URL may carry a password.
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .field("fence", &self.fence)
            .finish_non_exhaustive()
    }
}

/// The scripts, hashed once.
struct Scripts {
    grant_shard: redis::Script,
    fenced_write: redis::Script,
    leader_acquire: redis::Script,
    leader_renew: redis::Script,
    leader_release: redis::Script,
    leader_read: redis::Script,
    leader_fenced: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            grant_shard: ScriptKind::GrantShard.script(),
            fenced_write: ScriptKind::FencedWrite.script(),
            leader_acquire: ScriptKind::LeaderAcquire.script(),
            leader_renew: ScriptKind::LeaderRenew.script(),
            leader_release: ScriptKind::LeaderRelease.script(),
            leader_read: ScriptKind::LeaderRead.script(),
            leader_fenced: ScriptKind::LeaderFenced.script(),
        }
    }
}

/// The production store: a reconnecting connection to a `redis://` URL.
pub type ProductionRedisStore = RedisStore<ReconnectingConnection<ClientDialer>>;

impl ProductionRedisStore {
    /// A store for `url` (`redis://[:password@]127.0.0.1:6379/0`, the runbook's
    /// `QUEUE_REDIS_URL`). Nothing is dialed yet: Redis being down at start-up is an
    /// error of the first operation, not of construction, because Redis is soft state.
    pub fn connect(url: &str, config: RedisStoreConfig) -> Result<Self, StoreError> {
        // The URL may hold a password, so the message names only the problem.
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Config(format!("invalid Redis URL ({:?})", e.kind())))?;
        let dialer = ClientDialer::new(client, config.connect_timeout, config.op_timeout);
        let connection = ReconnectingConnection::new(dialer, config.reconnect);
        Ok(RedisStore::new(connection, config))
    }
}

/// A failure inside an operation, before it is named.
enum OpError {
    Redis(RedisError),
    Store(StoreError),
    Reply(String),
}

impl From<RedisError> for OpError {
    fn from(error: RedisError) -> Self {
        OpError::Redis(error)
    }
}

impl From<StoreError> for OpError {
    fn from(error: StoreError) -> Self {
        OpError::Store(error)
    }
}

impl From<redis::ParsingError> for OpError {
    fn from(error: redis::ParsingError) -> Self {
        OpError::Reply(error.to_string())
    }
}

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A store over an established or reconnecting connection.
    pub fn new(connection: C, config: RedisStoreConfig) -> Self {
        Self {
            connection,
            config: Arc::new(config),
            scripts: Arc::new(Scripts::new()),
            fence: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RedisStoreConfig {
        &self.config
    }

    fn conn(&self) -> C {
        self.connection.clone()
    }

    /// Runs one operation under the operation timeout and names its failure.
    async fn run<T>(
        &self,
        operation: &'static str,
        body: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, StoreError> {
        let timeout = self.config.op_timeout;
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        match tokio::time::timeout(timeout, body).await {
            Err(_) => Err(StoreError::Timeout {
                operation,
                timeout_ms,
            }),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(OpError::Store(error))) => Err(error),
            Ok(Err(OpError::Reply(message))) => Err(StoreError::Rejected {
                operation,
                message: format!("unexpected reply: {message}"),
            }),
            Ok(Err(OpError::Redis(error))) => Err(name_redis_error(operation, timeout_ms, error)),
        }
    }

    /// Every key matching `pattern`, sorted and deduplicated (SCAN may repeat keys).
    async fn scan_keys(&self, conn: &mut C, pattern: &str) -> Result<Vec<String>, OpError> {
        let mut found = std::collections::BTreeSet::new();
        let mut cursor: u64 = 0;
        for _ in 0..SCAN_ROUNDS_MAX {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(self.config.scan_count)
                .query_async(conn)
                .await?;
            found.extend(batch);
            if next == 0 {
                return Ok(found.into_iter().collect());
            }
            cursor = next;
        }
        Err(OpError::Reply(format!(
            "SCAN {pattern} did not finish within {SCAN_ROUNDS_MAX} rounds"
        )))
    }

    /// `MGET` in batches; absent keys come back as `None`, in order.
    async fn mget(&self, conn: &mut C, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let mut values = Vec::with_capacity(keys.len());
        for batch in keys.chunks(BATCH_LEN_MAX) {
            let part: Vec<Option<Vec<u8>>> =
                redis::cmd("MGET").arg(batch).query_async(conn).await?;
            values.extend(part);
        }
        Ok(values)
    }

    /// Appends to a capped stream (a controller write).
    async fn xadd(
        &self,
        operation: &'static str,
        stream: &str,
        len_max: usize,
        fields: &[(&str, String)],
    ) -> Result<StreamId, OpError> {
        let mut args = vec![
            "MAXLEN".to_owned(),
            "~".to_owned(),
            len_max.to_string(),
            "*".to_owned(),
        ];
        for (field, value) in fields {
            args.push((*field).to_owned());
            args.push(value.clone());
        }
        let reply = self
            .controller_write(operation, "XADD", stream, args)
            .await?;
        Ok(StreamId(redis::from_redis_value(reply)?))
    }

    /// Up to `count` raw entries of a stream after `after` (from its start when `None`),
    /// oldest first.
    async fn entries_after(
        &self,
        stream: &str,
        after: Option<&StreamId>,
        count: usize,
    ) -> Result<Vec<RawEntry>, OpError> {
        // `(id` is an exclusive start (Redis >= 6.2).
        let start = after.map_or_else(|| "-".to_owned(), |id| format!("({id}"));
        Ok(redis::cmd("XRANGE")
            .arg(stream)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn())
            .await?)
    }

    /// The newest `count` raw entries of a stream, newest first.
    async fn newest(&self, stream: &str, count: usize) -> Result<Vec<RawEntry>, OpError> {
        Ok(redis::cmd("XREVRANGE")
            .arg(stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn())
            .await?)
    }

    /// Runs the fenced-write script for a bot; a write of a player snapshot also
    /// announces its guild on the change stream (`changed`).
    async fn fenced_write(
        &self,
        target_key: &str,
        shard: ShardId,
        owner: &ProcessId,
        epoch: u64,
        op: [&str; 3],
        changed: Option<GuildId>,
    ) -> Result<FencedWrite, OpError> {
        let epoch = exact_number("epoch", epoch)?;
        let mut invocation = self.scripts.fenced_write.key(keys::SHARD_LEASES);
        invocation
            .key(target_key)
            .arg(shard.0)
            .arg(owner.as_str())
            .arg(epoch)
            .arg(op[0])
            .arg(op[1])
            .arg(op[2]);
        if let Some(guild) = changed {
            invocation
                .key(keys::PLAYER_CHANGES)
                .arg(self.config.player_changes_len_max)
                .arg(guild.0);
        }
        let reply: Vec<Value> = invocation.invoke_async(&mut self.conn()).await?;
        match reply.as_slice() {
            [code] if redis::from_redis_value_ref::<i64>(code)? == 1 => Ok(FencedWrite::Accepted),
            [code, lease] if redis::from_redis_value_ref::<i64>(code)? == 0 => {
                let lease: Vec<u8> = redis::from_redis_value_ref(lease)?;
                let current = from_json(keys::SHARD_LEASES, &lease)?;
                Ok(FencedWrite::Fenced { current })
            }
            other => Err(OpError::Reply(format!("fenced write replied {other:?}"))),
        }
    }
}

/// Names a redis-rs error: unreachable, slow, or refused.
fn name_redis_error(operation: &'static str, timeout_ms: u64, error: RedisError) -> StoreError {
    if error.is_timeout() {
        StoreError::Timeout {
            operation,
            timeout_ms,
        }
    } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
    {
        StoreError::Unavailable {
            operation,
            reason: error.to_string(),
        }
    } else {
        StoreError::Rejected {
            operation,
            message: error.to_string(),
        }
    }
}

fn parse_leader(holder: Vec<u8>, token: i64, pttl_ms: i64) -> Result<LeaderLease, OpError> {
    let holder = String::from_utf8(holder)
        .map_err(|_| OpError::Reply("leader holder is not UTF-8".to_owned()))?;
    let token = u64::try_from(token)
        .map_err(|_| OpError::Reply(format!("leader token {token} is negative")))?;
    Ok(LeaderLease {
        holder,
        token,
        // PTTL answers -1 (no expiry) and -2 (gone) as negatives; both mean no time left.
        ttl_remaining_ms: u64::try_from(pttl_ms).unwrap_or(0),
    })
}

fn parse_shard(key: &str, field: &str) -> Option<ShardId> {
    match field.parse::<u32>() {
        Ok(shard) => Some(ShardId(shard)),
        Err(_) => {
            tracing::warn!(key, field, "skipping a field that is not a shard number");
            None
        }
    }
}

mod leader_fence;
mod store_impl;
