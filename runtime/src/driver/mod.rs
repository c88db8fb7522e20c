//! The driver: the loop that runs the core against the world, shared by the daemon and
//! the simulation.
//!
//! It feeds the core inputs stamped with tokio's clock (simulated time under turmoil),
//! drains its commands and carries them out as tasks (probes and moves through the
//! Lavalink client, writes through the [`StoreWriter`], alerts through the dispatcher),
//! and re-arms one timer for the core's next deadline. Outcomes come back as inputs.
//! Nothing here awaits the network inline, so a slow node or a dead Redis never stalls a
//! decision.

mod inputs;
mod leadership;
mod membership;
mod moves;
mod observe;
mod operator_holds;
mod poller;
mod snapshot_feed;
pub mod store_writer;
mod view;

use std::collections::BTreeMap;
use std::time::Duration;

use switchyard_core::Controller;
use switchyard_core::command::Command;
use switchyard_core::ids::{GuildId, NodeId, ProcessId};
use switchyard_core::time::Millis;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub use inputs::{DriverGone, DriverHandle, DriverInput, OperatorAction, PlacementReply};
use leadership::{Acting, Rebuild};
pub use membership::MembershipError;
use moves::MoveOutcome;
use poller::Polled;
use snapshot_feed::SnapshotFeed;
use store_writer::{StoreHealth, StoreWriter};
use view::ViewPublisher;

use crate::alerts::AlertDispatcher;
use crate::lavalink::{LavalinkClient, LavalinkError, ProbeReport};
use crate::leader::{Leadership, LeadershipState, Role};
use crate::metrics::Metrics;
use crate::ports::http::HttpClient;
use crate::ports::store::{Store, StoreError};
use crate::store_schema::{PlayerSnapshot, SessionRegistration};

/// Tunables of the driver (the core's own live in `ControllerConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct DriverSettings {
    /// TTL of the `lavalink:health:<node>` keys.
    pub health_ttl: Duration,
    /// How often bot heartbeats, sessions and the player snapshots that changed are read
    /// from the store.
    pub store_poll_interval: Duration,
    /// How often a poll reads every player snapshot instead of only the changed ones:
    /// it catches a change the capped change stream dropped, or a snapshot that lapsed.
    pub snapshot_full_read_interval: Duration,
    /// Pause between attempts while the store is unreachable.
    pub store_retry_interval: Duration,
    /// Timeout of one Lavalink REST call in a move.
    pub move_request_timeout: Duration,
    /// How long a controller that starts acting waits before it admits nodes that
    /// joined: hot spares register with the acting controller only, and must have had
    /// the time to (bots re-register every `spare_register_interval`, 10 s by default).
    pub node_admission_grace: Duration,
    /// Wall-clock milliseconds (Unix) at the moment the driver starts; bots stamp player
    /// positions with wall-clock time. The daemon reads the system clock once; the
    /// simulation passes its fixed epoch so runs stay byte-identical.
    pub epoch_unix_ms: u64,
}

impl Default for DriverSettings {
    fn default() -> Self {
        Self {
            health_ttl: Duration::from_secs(30),
            store_poll_interval: Duration::from_secs(1),
            snapshot_full_read_interval: Duration::from_secs(30),
            store_retry_interval: Duration::from_secs(1),
            move_request_timeout: Duration::from_secs(5),
            node_admission_grace: Duration::from_secs(15),
            epoch_unix_ms: 0,
        }
    }
}

/// Something that finished outside the loop.
#[derive(Debug)]
enum Completion {
    Probe {
        node: NodeId,
        result: Result<ProbeReport, LavalinkError>,
        elapsed: Duration,
    },
    Move(MoveOutcome),
    Polled(Box<Polled>),
    /// What a controller taking over under `token` read from the store.
    Rebuilt {
        token: u64,
        rebuild: Result<Box<Rebuild>, StoreError>,
    },
}

/// What a driver shares with its observers (the status API, the simulation's trace).
#[derive(Debug, Clone, Default)]
pub struct DriverView {
    /// Whether the store answered last time.
    pub store_available: bool,
    /// Writes owed to the store.
    pub store_owed: usize,
}

/// The driver. Build with [`Driver::new`], run with [`Driver::run`].
pub struct Driver<H: HttpClient, S: Store> {
    core: Controller,
    clients: BTreeMap<NodeId, LavalinkClient<H>>,
    store: S,
    writer: StoreWriter,
    alerts: Option<AlertDispatcher>,
    settings: DriverSettings,
    started: Instant,
    completions_tx: mpsc::UnboundedSender<Completion>,
    completions: mpsc::UnboundedReceiver<Completion>,
    inputs: mpsc::Receiver<DriverInput>,
    /// Latest player snapshots and bot sessions read from the store; moves use them, so a
    /// move still works while the store is away.
    snapshots: BTreeMap<GuildId, PlayerSnapshot>,
    sessions: BTreeMap<ProcessId, BTreeMap<NodeId, SessionRegistration>>,
    /// Latest heartbeat fed to the core per shard, so each is fed once.
    heartbeats_fed: BTreeMap<u32, u64>,
    poll_in_flight: bool,
    /// Where the snapshot reads stand in the player change stream.
    snapshot_feed: SnapshotFeed,
    store_health: watch::Receiver<StoreHealth>,
    /// Every command the core issued, for observers (the simulation's trace).
    trace: Option<mpsc::UnboundedSender<(Millis, Command)>>,
    view: ViewPublisher,
    metrics: Option<Metrics>,
    /// The leader lease this driver acts under, if it shares the store with others.
    leadership: Option<Leadership>,
    acting: Acting,
    /// Moves waiting for their guild's first snapshot, with the store reads left to wait.
    awaiting_snapshot: Vec<(switchyard_core::command::MoveOrder, u8)>,
    /// The operator holds this controller last published to the store.
    operator_published: Option<Vec<crate::store_schema::OperatorHold>>,
    /// Nodes its configuration puts in maintenance: the configuration's to end.
    configured_maintenance: std::collections::BTreeSet<NodeId>,
    /// A client whose transport and timeout clients for joining nodes copy.
    client_template: Option<LavalinkClient<H>>,
    /// Nodes that left and are not yet forgotten (see [`membership`]).
    leaving: std::collections::BTreeSet<NodeId>,
    /// When the players still on leaving nodes are next sent away again.
    leaving_retry_at: Option<Instant>,
    /// From when joined nodes may be admitted; `None` while not acting.
    admission_from: Option<Instant>,
    /// Joined nodes waiting for bot sessions, with the processes last seen missing.
    joining_waits: BTreeMap<NodeId, std::collections::BTreeSet<ProcessId>>,
}

impl<H: HttpClient, S: Store> Driver<H, S> {
    /// A driver for `core`, talking to nodes through `clients`. Returns the driver and the
    /// handle through which the API, bots and operators feed it.
    pub fn new(
        core: Controller,
        clients: Vec<LavalinkClient<H>>,
        store: S,
        alerts: Option<AlertDispatcher>,
        settings: DriverSettings,
    ) -> (Self, DriverHandle) {
        let (completions_tx, completions) = mpsc::unbounded_channel();
        let (inputs_tx, inputs) = mpsc::channel(1_024);
        let writer = StoreWriter::start(store.clone(), settings.store_retry_interval);
        let (view, view_rx) = ViewPublisher::new(&core);
        let configured_maintenance = operator_holds::configured_windows(&core);
        let client_template = clients.first().cloned();
        let admission_from = Some(Instant::now() + settings.node_admission_grace);
        let driver = Self {
            clients: clients
                .into_iter()
                .map(|c| (c.endpoint().name.clone(), c))
                .collect(),
            store_health: writer.health_watch(),
            core,
            store,
            writer,
            alerts,
            settings,
            started: Instant::now(),
            completions_tx,
            completions,
            inputs,
            snapshots: BTreeMap::new(),
            sessions: BTreeMap::new(),
            heartbeats_fed: BTreeMap::new(),
            poll_in_flight: false,
            snapshot_feed: SnapshotFeed::default(),
            trace: None,
            view,
            metrics: None,
            leadership: None,
            acting: Acting::Always,
            awaiting_snapshot: Vec::new(),
            operator_published: None,
            configured_maintenance,
            client_template,
            leaving: std::collections::BTreeSet::new(),
            leaving_retry_at: None,
            admission_from,
            joining_waits: BTreeMap::new(),
        };
        (driver, DriverHandle::new(inputs_tx, view_rx))
    }

    /// Sends every command the core issues, with its instant, to `trace`.
    pub fn with_trace(mut self, trace: mpsc::UnboundedSender<(Millis, Command)>) -> Self {
        self.trace = Some(trace);
        self
    }

    /// The store writer, for status and metrics.
    pub fn writer(&self) -> &StoreWriter {
        &self.writer
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Runs until every input handle is dropped or a shutdown input arrives.
    pub async fn run(mut self) {
        let mut poll = tokio::time::interval(self.settings.store_poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut store_health = self.store_health.clone();
        let mut leadership = self.leadership.as_ref().map(|l| {
            let mut changes = l.subscribe();
            changes.mark_changed();
            changes
        });
        loop {
            self.core.handle_timeout(self.now());
            self.execute_commands();
            self.view.refresh(&self.core, Instant::now());
            let deadline = self
                .core
                .poll_timeout()
                .map(|at| self.started + Duration::from_millis(at.as_ms()));
            let view_due = self.view.due_at();
            let mut woke_for_view = false;
            tokio::select! {
                biased;
                Some(completion) = self.completions.recv() => self.complete(completion),
                input = self.inputs.recv() => match input {
                    Some(DriverInput::Shutdown) | None => break,
                    Some(input) => {
                        self.accept(input);
                        self.view.mark_urgent();
                    }
                },
                _ = poll.tick() => {
                    self.start_poll();
                    // Once a poll period is prompt enough, and spares the move table a
                    // scan on every wake of a large evacuation.
                    self.forget_departed_nodes();
                }
                Ok(()) = store_health.changed() => {
                    let health = store_health.borrow_and_update().clone();
                    tracing::warn!(?health, "store reachability changed");
                    if health == StoreHealth::Available {
                        // Redis may have come back empty: write the players' state again.
                        self.resync();
                    }
                }
                Some(role) = role_changed(&mut leadership) => self.on_leadership_changed(role),
                _ = sleep_until(deadline) => {}
                () = sleep_until(view_due) => woke_for_view = true,
            }
            // Every other wake may have changed the core (a publish wake changes nothing,
            // so an idle loop does not keep itself awake).
            if !woke_for_view {
                self.view.mark_stale();
            }
        }
        self.execute_commands();
        self.view.mark_urgent();
        self.view.refresh(&self.core, Instant::now());
    }

    /// Carries out every command the core has queued.
    fn execute_commands(&mut self) {
        let now = self.now();
        while let Some(command) = self.core.poll_command() {
            if let Some(trace) = &self.trace {
                // An observer that went away only stops observing.
                let _ = trace.send((now, command.clone()));
            }
            // A decision others will see (a health report, a move, an alert) must not
            // show in Redis or at a receiver before the status view has it; a probe
            // request changes nothing anyone sees.
            if !matches!(command, Command::Probe { .. }) {
                self.view.mark_urgent();
            }
            self.execute(now, command);
        }
    }

    fn execute(&mut self, now: Millis, command: Command) {
        use store_writer::StreamWrite;
        if !self.is_acting() && !matches!(command, Command::Probe { .. }) {
            // A standby decides (its view stays warm) but carries out nothing.
            return;
        }
        match command {
            Command::Probe { node } => self.start_probe(node),
            Command::PublishNodeHealth(report) => {
                let record = crate::store_schema::NodeHealthRecord {
                    report,
                    updated_at_ms: now.as_ms(),
                };
                self.writer.health(record, self.settings.health_ttl);
            }
            Command::AssignPlayer(assignment) => {
                self.record_guild(assignment.guild);
                self.writer.route(assignment.guild, Some(assignment.node));
            }
            Command::MovePlayer(order) => {
                self.record_guild(order.guild);
                self.observe_move_started(&order.to);
                self.start_move(now, order);
            }
            Command::ReportDegraded { guild, reason } => {
                tracing::warn!(%guild, ?reason, "guild degraded");
                self.record_guild(guild);
                self.writer.route(guild, None);
            }
            Command::PromoteShard(promotion) => {
                tracing::info!(shard = %promotion.shard, process = %promotion.process, epoch = promotion.epoch, "promoting hot spare");
                self.writer.stream(StreamWrite::Grant {
                    shard: promotion.shard,
                    owner: promotion.process,
                    epoch: promotion.epoch,
                    at_ms: now.as_ms(),
                });
            }
            Command::FenceShardOwner {
                shard,
                process,
                epoch,
            } => {
                // The store refuses the stale owner's writes (its epoch is below `epoch`);
                // this is the controller's record of having seen it speak.
                tracing::info!(%shard, %process, epoch, "stale shard owner fenced");
            }
            Command::Alert(notice) => {
                if let Some(alerts) = &self.alerts {
                    alerts.submit(&notice);
                }
            }
            Command::Audit(event) => self.writer.stream(StreamWrite::Audit(event)),
            Command::RecordFailover(record) => {
                self.observe_failover(&record);
                self.writer.stream(StreamWrite::Failover(record));
            }
        }
    }

    fn start_probe(&self, node: NodeId) {
        let Some(client) = self.clients.get(&node).cloned() else {
            tracing::error!(%node, "probe ordered for a node without a client");
            return;
        };
        let tx = self.completions_tx.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = client.probe().await;
            let elapsed = started.elapsed();
            // The driver stopping is the only way the receiver goes away.
            let _ = tx.send(Completion::Probe {
                node,
                result,
                elapsed,
            });
        });
    }

    fn complete(&mut self, completion: Completion) {
        let now = self.now();
        match completion {
            Completion::Probe {
                node,
                result,
                elapsed,
            } => {
                self.observe_probe(&node, elapsed, result.is_ok());
                let outcome = match result {
                    Ok(report) => self.core.handle_probe_ok(
                        now,
                        &node,
                        report.latency_ms,
                        Some(report.stats.to_core()),
                    ),
                    Err(error) => {
                        tracing::debug!(%error, "probe failed");
                        self.core
                            .handle_probe_failed(now, &node, error.as_probe_failure())
                    }
                };
                if let Err(error) = outcome {
                    tracing::warn!(%error, "probe outcome for a node that left");
                }
            }
            Completion::Move(outcome) => self.finish_move(now, outcome),
            Completion::Polled(polled) => self.absorb_poll(now, *polled),
            Completion::Rebuilt { token, rebuild } => self.finish_rebuild(now, token, rebuild),
        }
    }
}

/// The keeper's next word on the lease; never, without a lease.
async fn role_changed(changes: &mut Option<watch::Receiver<LeadershipState>>) -> Option<Role> {
    match changes {
        Some(changes) => {
            changes.changed().await.ok()?;
            Some(changes.borrow_and_update().role)
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
