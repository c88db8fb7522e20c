//! Validated scenarios: every name resolved, every share summed, every instant in
//! milliseconds inside the run. Later stages (the world, the oracle) consume only these.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use switchyard_core::alerts::AlertSubject;
use switchyard_core::config::ControllerConfig;
use switchyard_core::ids::{NodeId, PlanId, ProcessId, RegionId, ShardId};
use switchyard_core::topology::{NodeSpec, TopologySpec};

/// A checked scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Short name (`region-outage`).
    pub name: String,
    /// One or two sentences for `sim list`.
    pub description: String,
    /// The default seed; `sim run --seed` overrides it.
    pub seed: u64,
    /// Simulated time the run lasts.
    pub duration_ms: u64,
    /// turmoil's tick; the run's duration and every fault instant are multiples of it.
    pub tick_ms: u64,
    /// Regions, nodes and plans; `shard_count` is `shards.count`. Accepted by
    /// `Controller::new` together with `controller`.
    pub topology: TopologySpec,
    /// The controller's configuration, validated.
    pub controller: ControllerConfig,
    /// The guilds and what they ask for.
    pub workload: Workload,
    /// Gateway shards, their owners and hot spares.
    pub shards: Shards,
    /// The faults, in file order.
    pub faults: FaultSchedule,
    /// What must hold for the run to pass.
    pub expect: Expectations,
}

impl Scenario {
    /// The topology's nodes in a region, in file order (joined nodes not included).
    pub fn nodes_in<'a>(&'a self, region: &'a RegionId) -> impl Iterator<Item = &'a NodeSpec> {
        self.topology
            .nodes
            .iter()
            .filter(move |node| node.region == *region)
    }

    /// Nodes that `node_join` faults add, with when they join, in file order.
    pub fn joined_nodes(&self) -> impl Iterator<Item = (u64, &NodeSpec)> {
        self.faults.iter().filter_map(|fault| match &fault.kind {
            FaultKind::NodeJoin { spec } => Some((fault.at_ms, spec)),
            _ => None,
        })
    }

    /// The topology with the nodes that have joined by `now_ms` and without those that
    /// have left: what a controller starting then reads from its configuration (an
    /// operator who adds or removes a node at run time edits the configuration too).
    pub fn topology_at(&self, now_ms: u64) -> TopologySpec {
        let mut topology = self.topology.clone();
        let joined = self
            .joined_nodes()
            .filter(|(at_ms, _)| *at_ms <= now_ms)
            .map(|(_, spec)| spec.clone());
        topology.nodes.extend(joined);
        let left: Vec<&NodeId> = self
            .faults
            .iter()
            .filter(|fault| fault.at_ms <= now_ms)
            .filter_map(|fault| match &fault.kind {
                FaultKind::NodeLeave { node } => Some(node),
                _ => None,
            })
            .collect();
        topology.nodes.retain(|node| !left.contains(&&node.name));
        topology
    }

    /// Every node the run ever has: the topology's, then the joined ones. The world
    /// builds a host for each, and bots know them all from the start (as a bot's
    /// configuration lists the nodes its operators will bring up).
    pub fn all_nodes(&self) -> impl Iterator<Item = &NodeSpec> {
        self.topology
            .nodes
            .iter()
            .chain(self.joined_nodes().map(|(_, spec)| spec))
    }
}

/// The guild population.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// How many guilds exist.
    pub guilds: u32,
    /// Share of guilds that want playback, in [0, 1].
    pub playing: f64,
    /// Guilds start playing spread (seeded) over `[0, start_within_ms]`.
    pub start_within_ms: u64,
    /// Share of guilds on each plan; known plans, summing to 1.
    pub plans: BTreeMap<PlanId, f64>,
    /// Share of guilds requesting each region, summing to 1; empty when guilds request
    /// none (each plan's default region applies).
    pub regions: BTreeMap<RegionId, f64>,
    /// Share of all guilds pinned to each region (data residency); at most 1 in total.
    pub residency: BTreeMap<RegionId, f64>,
    /// Track lengths are drawn from this range; tracks loop.
    pub track_length_ms: TrackLength,
}

/// A closed range of track lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackLength {
    /// Shortest track.
    pub min_ms: u64,
    /// Longest track (at least `min_ms`).
    pub max_ms: u64,
}

/// Shards and the bot processes that own them.
#[derive(Debug, Clone, PartialEq)]
pub struct Shards {
    /// Gateway shards, numbered `0..count`.
    pub count: u32,
    /// Owning processes `bot-0`, `bot-1`, ...; shard `s` starts on `processes[s % len]`.
    pub processes: Vec<ProcessId>,
    /// Hot spares of each region, named `spare-<region>-<n>`.
    pub spares: BTreeMap<RegionId, Vec<ProcessId>>,
    /// How often an owner heartbeats each of its shards.
    pub heartbeat_interval_ms: u64,
}

impl Shards {
    /// The process that owns `shard` at the start of the run (round robin).
    pub fn initial_owner(&self, shard: ShardId) -> &ProcessId {
        let len = self.processes.len();
        // `processes` is validated non-empty; the modulus keeps the index in range.
        &self.processes[usize::try_from(shard.0).unwrap_or(usize::MAX) % len]
    }

    /// The shards `process` owns at the start of the run.
    pub fn initial_shards_of<'a>(
        &'a self,
        process: &'a ProcessId,
    ) -> impl Iterator<Item = ShardId> + 'a {
        (0..self.count)
            .map(ShardId)
            .filter(move |shard| self.initial_owner(*shard) == process)
    }

    /// Every spare, region by region.
    pub fn all_spares(&self) -> impl Iterator<Item = (&RegionId, &ProcessId)> {
        self.spares
            .iter()
            .flat_map(|(region, spares)| spares.iter().map(move |spare| (region, spare)))
    }
}

/// The faults of a scenario, in file order (so `after = 2` in an expectation and
/// `faults[2]` in an error mean the same entry).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSchedule {
    pub(crate) faults: Vec<Fault>,
}

impl FaultSchedule {
    /// Faults in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Fault> {
        self.faults.iter()
    }

    /// The fault written `index`-th (from 0).
    pub fn get(&self, index: usize) -> Option<&Fault> {
        self.faults.get(index)
    }

    /// How many faults there are.
    pub fn len(&self) -> usize {
        self.faults.len()
    }

    /// Whether the scenario injects no fault.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Faults by start time; faults starting together keep file order.
    pub fn by_start(&self) -> Vec<&Fault> {
        let mut sorted: Vec<&Fault> = self.faults.iter().collect();
        sorted.sort_by_key(|fault| fault.at_ms);
        sorted
    }
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Position in the file's `[[faults]]` list, from 0.
    pub index: usize,
    /// When it starts.
    pub at_ms: u64,
    /// When it heals; `None` means it lasts to the end of the run.
    pub until_ms: Option<u64>,
    /// What it does, to what.
    pub kind: FaultKind,
}

impl Fault {
    /// Whether the fault is in force at `t_ms`.
    pub fn is_active_at(&self, t_ms: u64) -> bool {
        t_ms >= self.at_ms && self.until_ms.is_none_or(|until| t_ms < until)
    }
}

/// What a fault does, with its targets resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// The node's process dies (no close frames); it restarts at `until_ms`, if any.
    NodeKill {
        /// The node.
        node: NodeId,
    },
    /// Graceful restart: websockets close with 1001, the node is back at `until_ms`.
    NodeRestart {
        /// The node.
        node: NodeId,
    },
    /// Every node of the region dies; they return at `until_ms`, if any.
    RegionOutage {
        /// The region.
        region: RegionId,
        /// Its nodes (from the topology and any joined before the outage).
        nodes: Vec<NodeId>,
    },
    /// Traffic between the two groups is dropped (from `a` to `b` only when `oneway`).
    Partition {
        /// One side; disjoint from `b`.
        a: Vec<Host>,
        /// The other side.
        b: Vec<Host>,
        /// Drop only what `a` sends to `b`.
        oneway: bool,
    },
    /// Added delay on the targeted links, each message `latency_ms` plus up to
    /// `jitter_ms` (seeded).
    Latency {
        /// Which links.
        target: LinkTarget,
        /// Added delay.
        latency_ms: u64,
        /// Uniform extra delay, at most.
        jitter_ms: u64,
    },
    /// Messages on the targeted links are lost with probability `rate`.
    MessageLoss {
        /// Which links.
        target: LinkTarget,
        /// Probability in (0, 1].
        rate: f64,
    },
    /// The node stays up but is overloaded.
    NodeSlow {
        /// The node.
        node: NodeId,
        /// Reported system CPU load in [0, 1].
        cpu_load: Option<f64>,
        /// Frames missing per minute (Lavalink's `frameStats.deficit`, 0..=3000).
        frame_deficit: Option<u32>,
        /// Added to every response.
        response_latency_ms: Option<u64>,
    },
    /// The node's process dies and restarts every `period_ms`, down for the first
    /// `down_ms` of each period.
    NodeFlapping {
        /// The node.
        node: NodeId,
        /// One down-up cycle.
        period_ms: u64,
        /// How long each cycle the node is down; in (0, `period_ms`).
        down_ms: u64,
    },
    /// The shard's owner stays alive but stops heartbeating it.
    ShardStall {
        /// The shard.
        shard: ShardId,
    },
    /// The process owning the shard at the start of the run dies (with all its shards).
    ShardKill {
        /// The shard.
        shard: ShardId,
        /// Its initial owner, the process that dies.
        owner: ProcessId,
    },
    /// The store is unreachable.
    RedisOutage,
    /// The alert webhook fails.
    WebhookOutage {
        /// How it fails.
        failure: WebhookFailure,
    },
    /// The acting controller dies; the standby must take over.
    ControllerCrash,
    /// An operator drains the node through the API (re-enabled at `until_ms`, if any).
    NodeDrain {
        /// The node.
        node: NodeId,
    },
    /// An operator takes a node out of the configuration at run time: its players
    /// move away and the controller forgets it (its process keeps running).
    NodeLeave {
        /// The node.
        node: NodeId,
    },
    /// A new node joins at run time.
    NodeJoin {
        /// Its description, checked against the topology.
        spec: NodeSpec,
    },
    /// The region's nodes restart gracefully one at a time, `every_ms` apart, each down
    /// for `downtime_ms`.
    RollingRestart {
        /// The region.
        region: RegionId,
        /// Its nodes, in restart order.
        nodes: Vec<NodeId>,
        /// Time between one node's restart and the next's.
        every_ms: u64,
        /// How long each node is down.
        downtime_ms: u64,
    },
}

impl FaultKind {
    /// The kind's name as scenario files write it (`region_outage`).
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::NodeKill { .. } => "node_kill",
            FaultKind::NodeRestart { .. } => "node_restart",
            FaultKind::RegionOutage { .. } => "region_outage",
            FaultKind::Partition { .. } => "partition",
            FaultKind::Latency { .. } => "latency",
            FaultKind::MessageLoss { .. } => "message_loss",
            FaultKind::NodeSlow { .. } => "node_slow",
            FaultKind::NodeFlapping { .. } => "node_flapping",
            FaultKind::ShardStall { .. } => "shard_stall",
            FaultKind::ShardKill { .. } => "shard_kill",
            FaultKind::RedisOutage => "redis_outage",
            FaultKind::WebhookOutage { .. } => "webhook_outage",
            FaultKind::ControllerCrash => "controller_crash",
            FaultKind::NodeDrain { .. } => "node_drain",
            FaultKind::NodeJoin { .. } => "node_join",
            FaultKind::NodeLeave { .. } => "node_leave",
            FaultKind::RollingRestart { .. } => "rolling_restart",
        }
    }
}

/// A host of the simulated world, as partitions and link faults name it (Discord's
/// voice servers are named but not simulated: see `world::discord`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    /// A Lavalink node.
    Node(NodeId),
    /// The controller (the acting one and its standby).
    Controller,
    /// The store.
    Redis,
    /// The alert webhook sink.
    Webhook,
    /// Discord's voice servers, which nodes send audio to.
    Discord,
    /// A bot process: an owner (`bot-0`) or a hot spare (`spare-eu-0`).
    Bot(ProcessId),
}

impl fmt::Display for Host {
    /// The host's name, as scenario files and the simulated world write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Node(node) => write!(f, "{node}"),
            Host::Controller => f.write_str("controller"),
            Host::Redis => f.write_str("redis"),
            Host::Webhook => f.write_str("webhook"),
            Host::Discord => f.write_str("discord"),
            Host::Bot(process) => write!(f, "{process}"),
        }
    }
}

/// The links a latency or loss fault affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// Every link touching any of these hosts.
    Hosts(Vec<Host>),
    /// Exactly these links, both directions.
    Links(Vec<(Host, Host)>),
}

/// How a webhook outage fails deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFailure {
    /// Answers with this HTTP status (4xx or 5xx).
    Status(u16),
    /// Accepts connections and never answers.
    Drop,
    /// Answers 429 with `Retry-After`.
    RateLimited,
}

/// What must hold for the run to pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expectations {
    /// Every incident's recovery time at most this.
    pub rto_max_ms: Option<u64>,
    /// Overall availability at least this, in [0, 1].
    pub availability_min: Option<f64>,
    /// Availability of the guilds homed in each region, at least this.
    pub availability_min_by_region: BTreeMap<RegionId, f64>,
    /// Alerts that must arrive at the webhook sink in time.
    pub alerts: Vec<ExpectedAlert>,
    /// Invariants the oracle checks.
    pub invariants: BTreeSet<Invariant>,
}

/// An alert that must reach the webhook sink within a bound of a fault.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedAlert {
    /// Its dedup key (`switchyard/region-down/eu`).
    pub key: String,
    /// What the key names; `subject.dedup_key() == key`.
    pub subject: AlertSubject,
    /// Index of the fault the bound counts from.
    pub after_fault: usize,
    /// The bound.
    pub within_ms: u64,
    /// `at_ms` of that fault plus `within_ms`; inside the run.
    pub deadline_ms: u64,
}

/// An invariant of DESIGN.md that the oracle checks continuously.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// A residency-pinned guild never plays outside its region.
    Residency,
    /// A guild never plays in a region its plan does not allow.
    PlanClamp,
    /// A guild has at most one live player.
    SinglePlayer,
    /// No shard has two un-fenced owners.
    SingleShardOwner,
    /// No player is moved onto a node known to be down.
    NoMoveToDownNode,
    /// Every guild that wants playback is served or reported degraded.
    NoPlayerLost,
    /// Restoration never returns more players than its current step allows.
    RestorationStep,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 7] = [
        Invariant::Residency,
        Invariant::PlanClamp,
        Invariant::SinglePlayer,
        Invariant::SingleShardOwner,
        Invariant::NoMoveToDownNode,
        Invariant::NoPlayerLost,
        Invariant::RestorationStep,
    ];

    /// The name scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Residency => "residency",
            Invariant::PlanClamp => "plan_clamp",
            Invariant::SinglePlayer => "single_player",
            Invariant::SingleShardOwner => "single_shard_owner",
            Invariant::NoMoveToDownNode => "no_move_to_down_node",
            Invariant::NoPlayerLost => "no_player_lost",
            Invariant::RestorationStep => "restoration_step",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Invariant {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Invariant::ALL
            .into_iter()
            .find(|invariant| invariant.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = Invariant::ALL.iter().map(|i| i.name()).collect();
                format!("unknown invariant {name:?} (known: {})", known.join(", "))
            })
    }
}
