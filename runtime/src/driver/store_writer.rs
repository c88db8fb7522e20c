//! Writes the controller's state to the store without ever blocking its decisions.
//!
//! The driver hands every write to this task and moves on. Writes that supersede each
//! other are coalesced (the latest health per node, the latest route per guild); streams
//! (audit, moves, failovers) and shard grants keep their order. When the store fails the
//! writes are kept, the outage is reported through a watch channel, and everything owed
//! is written once the store answers again. Queues are bounded; stream entries that do not
//! fit are dropped oldest first and counted, never silently.
//!
//! With [`Leadership`] attached, every batch is written behind the leader fence under the
//! controller's latest token. A refusal means another controller leads: what is owed is
//! dropped (it belongs to a term that is over) and the controller stands down at once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use switchyard_core::command::AuditEvent;
use switchyard_core::history::FailoverRecord;
use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};
use tokio::sync::{Notify, watch};

use crate::leader::Leadership;
use crate::ports::store::{Store, StoreError};
use crate::store_schema::{GuildRecord, MoveAnnouncement, NodeHealthRecord, OperatorHold};

/// Stream entries kept while the store is away, at most.
pub const OWED_STREAM_ENTRIES_MAX: usize = 10_000;

/// One ordered write.
#[derive(Debug, Clone)]
pub enum StreamWrite {
    /// An audit event.
    Audit(AuditEvent),
    /// A failover record.
    Failover(FailoverRecord),
    /// A move announcement for the bots.
    Move(MoveAnnouncement),
    /// A shard granted to a new owner.
    Grant {
        /// The shard.
        shard: ShardId,
        /// The new owner.
        owner: ProcessId,
        /// Its epoch.
        epoch: u64,
        /// When it was granted (controller time).
        at_ms: u64,
    },
}

#[derive(Debug, Default)]
struct Owed {
    /// The latest health per node, or `None` to delete it (the node left).
    health: BTreeMap<NodeId, Option<(NodeHealthRecord, Duration)>>,
    routes: BTreeMap<GuildId, Option<NodeId>>,
    guilds: BTreeMap<GuildId, Option<GuildRecord>>,
    /// Every operator hold in force, when changed.
    operator: Option<Vec<OperatorHold>>,
    stream: VecDeque<StreamWrite>,
}

impl Owed {
    fn is_empty(&self) -> bool {
        self.health.is_empty()
            && self.routes.is_empty()
            && self.guilds.is_empty()
            && self.operator.is_none()
            && self.stream.is_empty()
    }

    fn len(&self) -> usize {
        self.health.len()
            + self.routes.len()
            + self.guilds.len()
            + usize::from(self.operator.is_some())
            + self.stream.len()
    }
}

/// Whether the store is reachable, as last observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    /// Writes go through.
    Available,
    /// Writes fail; they are kept and retried.
    Unavailable {
        /// The last error.
        reason: String,
    },
}

/// The handle the driver writes through. Cheap to clone.
#[derive(Clone)]
pub struct StoreWriter {
    owed: Arc<std::sync::Mutex<Owed>>,
    wake: Arc<Notify>,
    dropped: Arc<AtomicU64>,
    /// Writes dropped because another controller took over before they were made.
    superseded: Arc<AtomicU64>,
    /// A batch is being written (it is no longer counted as owed).
    writing: Arc<AtomicBool>,
    /// Off while the controller stands by: new writes are not taken.
    accepting: Arc<AtomicBool>,
    leadership: Arc<OnceLock<Leadership>>,
    health: watch::Receiver<StoreHealth>,
}

impl StoreWriter {
    /// Starts the writer task on the current runtime.
    pub fn start<S: Store>(store: S, retry_interval: Duration) -> Self {
        let (health_tx, health) = watch::channel(StoreHealth::Available);
        let writer = Self {
            owed: Arc::default(),
            wake: Arc::new(Notify::new()),
            dropped: Arc::new(AtomicU64::new(0)),
            superseded: Arc::new(AtomicU64::new(0)),
            writing: Arc::new(AtomicBool::new(false)),
            accepting: Arc::new(AtomicBool::new(true)),
            leadership: Arc::new(OnceLock::new()),
            health,
        };
        let task = writer.clone();
        tokio::spawn(async move { task.run(store, retry_interval, health_tx).await });
        writer
    }

    fn with_owed(&self, f: impl FnOnce(&mut Owed)) {
        if !self.accepting.load(Ordering::Acquire) {
            return; // A standby writes nothing; what a past term owes stays queued.
        }
        // The lock is held only for in-memory edits, never across an await.
        let mut owed = self
            .owed
            .lock()
            .expect("no code panics while holding this lock");
        f(&mut owed);
        drop(owed);
        self.wake.notify_one();
    }

    /// Publishes a node's health with a TTL (superseding an unwritten older one).
    pub fn health(&self, record: NodeHealthRecord, ttl: Duration) {
        self.with_owed(|owed| {
            owed.health
                .insert(record.report.node.clone(), Some((record, ttl)));
        });
    }

    /// Deletes a node's health (the node left), superseding unwritten health.
    pub fn forget_health(&self, node: NodeId) {
        self.with_owed(|owed| {
            owed.health.insert(node, None);
        });
    }

    /// Sets (or, with `None`, deletes) a guild's route.
    pub fn route(&self, guild: GuildId, node: Option<NodeId>) {
        self.with_owed(|owed| {
            owed.routes.insert(guild, node);
        });
    }

    /// Records (or, with `None`, forgets) what the controller knows of a guild.
    pub fn guild(&self, guild: GuildId, record: Option<GuildRecord>) {
        self.with_owed(|owed| {
            owed.guilds.insert(guild, record);
        });
    }

    /// Replaces the operator holds in force (superseding an unwritten older set).
    pub fn operator_holds(&self, holds: Vec<OperatorHold>) {
        self.with_owed(|owed| owed.operator = Some(holds));
    }

    /// Drops unwritten operator holds: they belong to a term that is over, and a later
    /// term of this controller must not write them under its new token.
    pub(crate) fn forget_operator_holds(&self) {
        let mut owed = self
            .owed
            .lock()
            .expect("no code panics while holding this lock");
        owed.operator = None;
    }

    /// Writes from now on go behind `leadership`'s fence. Set once, before writing.
    pub fn attach_leadership(&self, leadership: Leadership) {
        if self.leadership.set(leadership).is_err() {
            tracing::error!("the store writer already has a leadership; keeping the first");
        }
    }

    /// Takes new writes (the controller acts) or ignores them (it stands by).
    pub(crate) fn set_accepting(&self, accepting: bool) {
        self.accepting.store(accepting, Ordering::Release);
    }

    /// Writes dropped because another controller took over first.
    pub fn superseded(&self) -> u64 {
        self.superseded.load(Ordering::Relaxed)
    }

    /// Waits until everything owed is written, or `deadline`. Answers whether it was.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> bool {
        // Bounded by the deadline; polling keeps the writer task free of waiters.
        loop {
            if self.owed() == 0 && !self.writing.load(Ordering::Acquire) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Appends an ordered write.
    pub fn stream(&self, write: StreamWrite) {
        let dropped = &self.dropped;
        self.with_owed(|owed| {
            if owed.stream.len() == OWED_STREAM_ENTRIES_MAX {
                owed.stream.pop_front();
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            owed.stream.push_back(write);
        });
    }

    /// Stream entries dropped because the store stayed away too long.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes not yet made.
    pub fn owed(&self) -> usize {
        let owed = self
            .owed
            .lock()
            .expect("no code panics while holding this lock");
        owed.len()
    }

    /// The store's reachability as the writer last saw it.
    pub fn health_watch(&self) -> watch::Receiver<StoreHealth> {
        self.health.clone()
    }

    async fn run<S: Store>(
        self,
        store: S,
        retry_interval: Duration,
        health: watch::Sender<StoreHealth>,
    ) {
        loop {
            let taken = {
                let mut owed = self
                    .owed
                    .lock()
                    .expect("no code panics while holding this lock");
                self.writing.store(!owed.is_empty(), Ordering::Release);
                std::mem::take(&mut *owed)
            };
            if taken.is_empty() {
                self.wake.notified().await;
                continue;
            }
            let fence = self.leadership.get().map(Leadership::fence);
            let fenced_store = store.with_leader_fence(fence.clone());
            let written = write_all(&fenced_store, taken).await;
            self.writing.store(false, Ordering::Release);
            match written {
                Err((error @ StoreError::Superseded { .. }, rest)) => {
                    let lost = u64::try_from(rest.len()).unwrap_or(u64::MAX);
                    self.superseded.fetch_add(lost, Ordering::Relaxed);
                    tracing::warn!(%error, lost, "writes refused: another controller leads");
                    if let (Some(leadership), Some(fence)) = (self.leadership.get(), fence) {
                        leadership.superseded(fence.token);
                    }
                }
                Ok(()) => {
                    health.send_if_modified(|h| {
                        std::mem::replace(h, StoreHealth::Available) != StoreHealth::Available
                    });
                }
                Err((error, rest)) => {
                    self.give_back(rest);
                    let reason = error.to_string();
                    health.send_if_modified(|h| {
                        let changed = !matches!(h, StoreHealth::Unavailable { .. });
                        *h = StoreHealth::Unavailable { reason };
                        changed
                    });
                    tokio::time::sleep(retry_interval).await;
                }
            }
        }
    }

    /// Puts unwritten work back in front of anything queued meanwhile (newer health and
    /// routes win over the returned ones).
    fn give_back(&self, mut rest: Owed) {
        let mut owed = self
            .owed
            .lock()
            .expect("no code panics while holding this lock");
        for (node, entry) in std::mem::take(&mut owed.health) {
            rest.health.insert(node, entry);
        }
        for (guild, route) in std::mem::take(&mut owed.routes) {
            rest.routes.insert(guild, route);
        }
        for (guild, record) in std::mem::take(&mut owed.guilds) {
            rest.guilds.insert(guild, record);
        }
        if let Some(holds) = owed.operator.take() {
            rest.operator = Some(holds);
        }
        rest.stream.extend(owed.stream.drain(..));
        while rest.stream.len() > OWED_STREAM_ENTRIES_MAX {
            rest.stream.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        *owed = rest;
    }
}

/// Writes everything; on the first failure returns what is left (including the failed
/// write) so it can be retried.
async fn write_all<S: Store>(store: &S, mut owed: Owed) -> Result<(), (StoreError, Owed)> {
    while let Some((node, health)) = owed.health.pop_first() {
        let written = match &health {
            Some((record, ttl)) => store.put_node_health(record, *ttl).await,
            None => store.delete_node_health(&node).await,
        };
        if let Err(error) = written {
            owed.health.insert(node, health);
            return Err((error, owed));
        }
    }
    let (set, delete): (Vec<_>, Vec<_>) = std::mem::take(&mut owed.routes)
        .into_iter()
        .partition(|(_, node)| node.is_some());
    let set: Vec<(GuildId, NodeId)> = set
        .into_iter()
        .filter_map(|(g, n)| n.map(|n| (g, n)))
        .collect();
    let delete: Vec<GuildId> = delete.into_iter().map(|(g, _)| g).collect();
    if !set.is_empty()
        && let Err(error) = store.set_routes(&set).await
    {
        owed.routes
            .extend(set.into_iter().map(|(g, n)| (g, Some(n))));
        owed.routes.extend(delete.into_iter().map(|g| (g, None)));
        return Err((error, owed));
    }
    if !delete.is_empty()
        && let Err(error) = store.delete_routes(&delete).await
    {
        owed.routes.extend(delete.into_iter().map(|g| (g, None)));
        return Err((error, owed));
    }
    let (set, delete): (Vec<_>, Vec<_>) = std::mem::take(&mut owed.guilds)
        .into_iter()
        .partition(|(_, record)| record.is_some());
    let set: Vec<GuildRecord> = set.into_iter().filter_map(|(_, r)| r).collect();
    let delete: Vec<GuildId> = delete.into_iter().map(|(g, _)| g).collect();
    if !set.is_empty()
        && let Err(error) = store.set_guild_records(&set).await
    {
        owed.guilds
            .extend(set.into_iter().map(|r| (r.guild, Some(r))));
        owed.guilds.extend(delete.into_iter().map(|g| (g, None)));
        return Err((error, owed));
    }
    if !delete.is_empty()
        && let Err(error) = store.delete_guild_records(&delete).await
    {
        owed.guilds.extend(delete.into_iter().map(|g| (g, None)));
        return Err((error, owed));
    }
    if let Some(holds) = owed.operator.take()
        && let Err(error) = store.put_operator_holds(&holds).await
    {
        owed.operator = Some(holds);
        return Err((error, owed));
    }
    while let Some(write) = owed.stream.pop_front() {
        let result = match &write {
            StreamWrite::Audit(event) => store.append_audit(event).await.map(drop),
            StreamWrite::Failover(record) => store.record_failover(record).await.map(drop),
            StreamWrite::Move(announcement) => store.announce_move(announcement).await.map(drop),
            StreamWrite::Grant {
                shard,
                owner,
                epoch,
                at_ms,
            } => store
                .grant_shard(*shard, owner, *epoch, *at_ms)
                .await
                .map(drop),
        };
        if let Err(error) = result {
            owed.stream.push_front(write);
            return Err((error, owed));
        }
    }
    Ok(())
}
