//! The scenario file as written: serde types that mirror the TOML one to one.
//!
//! Only syntax and shape are checked here (unknown fields, types, duration strings); the
//! [`super::validate`] stage checks meaning and cross-references and produces the
//! types in [`super::model`]. Fields are named as operators write them, without units:
//! every duration is a string that says its own.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use switchyard_core::config::ControllerConfig;
use switchyard_core::topology::TopologySpec;

use super::duration::DurationMs;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    /// The default seed; `--seed` overrides it.
    #[serde(default)]
    pub(crate) seed: u64,
    pub(crate) duration: DurationMs,
    #[serde(default = "default_tick")]
    pub(crate) tick: DurationMs,
    pub(crate) topology: TopologySpec,
    pub(crate) workload: RawWorkload,
    pub(crate) shards: RawShards,
    /// The same section the daemon's configuration file uses.
    #[serde(default)]
    pub(crate) controller: ControllerConfig,
    #[serde(default)]
    pub(crate) faults: Vec<RawFault>,
    #[serde(default)]
    pub(crate) expect: RawExpect,
}

fn default_tick() -> DurationMs {
    DurationMs(10)
}

/// `[workload]`: the guilds and what they ask for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub(crate) guilds: u32,
    #[serde(default = "all")]
    pub(crate) playing: f64,
    #[serde(default)]
    pub(crate) start_within: Option<DurationMs>,
    #[serde(default)]
    pub(crate) plans: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) regions: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) residency: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) track_length: Option<[DurationMs; 2]>,
}

fn all() -> f64 {
    1.0
}

/// `[shards]`: gateway shards, the bot processes owning them, and hot spares.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShards {
    pub(crate) count: u32,
    #[serde(default = "one")]
    pub(crate) processes: u32,
    #[serde(default)]
    pub(crate) spares: BTreeMap<String, u32>,
    #[serde(default = "default_heartbeat")]
    pub(crate) heartbeat_interval: DurationMs,
}

fn one() -> u32 {
    1
}

fn default_heartbeat() -> DurationMs {
    DurationMs(5_000)
}

/// The fault kinds a scenario can schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawFaultKind {
    NodeKill,
    NodeRestart,
    RegionOutage,
    Partition,
    Latency,
    MessageLoss,
    NodeSlow,
    NodeFlapping,
    ShardStall,
    ShardKill,
    RedisOutage,
    WebhookOutage,
    ControllerCrash,
    NodeDrain,
    NodeJoin,
    NodeLeave,
    RollingRestart,
}

impl RawFaultKind {
    /// The name scenario files use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RawFaultKind::NodeKill => "node_kill",
            RawFaultKind::NodeRestart => "node_restart",
            RawFaultKind::RegionOutage => "region_outage",
            RawFaultKind::Partition => "partition",
            RawFaultKind::Latency => "latency",
            RawFaultKind::MessageLoss => "message_loss",
            RawFaultKind::NodeSlow => "node_slow",
            RawFaultKind::NodeFlapping => "node_flapping",
            RawFaultKind::ShardStall => "shard_stall",
            RawFaultKind::ShardKill => "shard_kill",
            RawFaultKind::RedisOutage => "redis_outage",
            RawFaultKind::WebhookOutage => "webhook_outage",
            RawFaultKind::ControllerCrash => "controller_crash",
            RawFaultKind::NodeDrain => "node_drain",
            RawFaultKind::NodeJoin => "node_join",
            RawFaultKind::NodeLeave => "node_leave",
            RawFaultKind::RollingRestart => "rolling_restart",
        }
    }
}

/// One `[[faults]]` entry. Every kind's parameters share one flat table, which reads
/// best in TOML; [`super::validate`] checks that each kind gets exactly its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(crate) at: DurationMs,
    pub(crate) kind: RawFaultKind,
    pub(crate) duration: Option<DurationMs>,
    pub(crate) node: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) a: Option<Vec<String>>,
    pub(crate) b: Option<Vec<String>>,
    pub(crate) oneway: Option<bool>,
    pub(crate) hosts: Option<Vec<String>>,
    pub(crate) links: Option<Vec<[String; 2]>>,
    pub(crate) latency: Option<DurationMs>,
    pub(crate) jitter: Option<DurationMs>,
    pub(crate) rate: Option<f64>,
    pub(crate) cpu_load: Option<f64>,
    pub(crate) deficit: Option<u32>,
    pub(crate) response_latency: Option<DurationMs>,
    pub(crate) period: Option<DurationMs>,
    pub(crate) down: Option<DurationMs>,
    pub(crate) shard: Option<u32>,
    pub(crate) status: Option<RawWebhookStatus>,
    pub(crate) rate_limit: Option<bool>,
    pub(crate) every: Option<DurationMs>,
    pub(crate) downtime: Option<DurationMs>,
    pub(crate) capacity: Option<u32>,
    pub(crate) priority: Option<i32>,
    pub(crate) weight: Option<u32>,
}

impl RawFault {
    /// The optional parameters this entry spells out, by their TOML names.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let flags = [
            ("duration", self.duration.is_some()),
            ("node", self.node.is_some()),
            ("region", self.region.is_some()),
            ("a", self.a.is_some()),
            ("b", self.b.is_some()),
            ("oneway", self.oneway.is_some()),
            ("hosts", self.hosts.is_some()),
            ("links", self.links.is_some()),
            ("latency", self.latency.is_some()),
            ("jitter", self.jitter.is_some()),
            ("rate", self.rate.is_some()),
            ("cpu_load", self.cpu_load.is_some()),
            ("deficit", self.deficit.is_some()),
            ("response_latency", self.response_latency.is_some()),
            ("period", self.period.is_some()),
            ("down", self.down.is_some()),
            ("shard", self.shard.is_some()),
            ("status", self.status.is_some()),
            ("rate_limit", self.rate_limit.is_some()),
            ("every", self.every.is_some()),
            ("downtime", self.downtime.is_some()),
            ("capacity", self.capacity.is_some()),
            ("priority", self.priority.is_some()),
            ("weight", self.weight.is_some()),
        ];
        flags
            .into_iter()
            .filter_map(|(name, given)| given.then_some(name))
            .collect()
    }
}

/// What a failing webhook answers: an HTTP status, or `"drop"` (no answer at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawWebhookStatus {
    Code(i64),
    Word(String),
}

impl<'de> Deserialize<'de> for RawWebhookStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = RawWebhookStatus;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status like 503, or \"drop\"")
            }
            fn visit_i64<E: de::Error>(self, code: i64) -> Result<Self::Value, E> {
                Ok(RawWebhookStatus::Code(code))
            }
            fn visit_str<E: de::Error>(self, word: &str) -> Result<Self::Value, E> {
                Ok(RawWebhookStatus::Word(word.to_owned()))
            }
        }
        deserializer.deserialize_any(StatusVisitor)
    }
}

/// `[expect]`: what must hold for the run to pass.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub(crate) rto_max: Option<DurationMs>,
    pub(crate) availability_min: Option<f64>,
    #[serde(default)]
    pub(crate) availability_min_by_region: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) alerts: Vec<RawAlert>,
    #[serde(default)]
    pub(crate) invariants: Option<RawInvariants>,
}

/// An alert that must reach the webhook sink in time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlert {
    pub(crate) key: String,
    pub(crate) within: DurationMs,
    /// Index of the fault the deadline counts from; the first fault when absent.
    pub(crate) after: Option<u32>,
}

/// `"all"` or a list of invariant names.
#[derive(Debug)]
pub(crate) enum RawInvariants {
    Word(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for RawInvariants {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InvariantsVisitor;
        impl<'de> Visitor<'de> for InvariantsVisitor {
            type Value = RawInvariants;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all\" or a list of invariant names")
            }
            fn visit_str<E: de::Error>(self, word: &str) -> Result<Self::Value, E> {
                Ok(RawInvariants::Word(word.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                // Bounded by the document: the parser already holds every element.
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(RawInvariants::List(names))
            }
        }
        deserializer.deserialize_any(InvariantsVisitor)
    }
}
