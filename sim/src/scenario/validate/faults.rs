//! `[[faults]]`: each kind gets exactly its own parameters, every target resolves, and
//! every fault starts and heals inside the run.

use std::collections::BTreeMap;

use switchyard_core::ids::{NodeId, RegionId, ShardId};
use switchyard_core::topology::NodeSpec;

use super::hosts::{Joined, World};
use super::{Known, RunTime, check_fraction};
use crate::scenario::duration::{DurationMs, format_ms};
use crate::scenario::error::Problems;
use crate::scenario::model::{Fault, FaultKind, FaultSchedule, Host, LinkTarget, Shards};
use crate::scenario::raw::{RawFault, RawFaultKind};

mod kinds;

/// Lavalink sends 50 frames a second: a deficit past 3,000 a minute is impossible.
const FRAME_DEFICIT_MAX: u32 = 3_000;

/// The validated faults and what later sections need to know about them.
pub(super) struct CheckedFaults {
    pub(super) schedule: FaultSchedule,
    /// Nodes that join at run time, and their regions.
    pub(super) joined: BTreeMap<NodeId, RegionId>,
    /// Every fault's start as written (also the invalid ones), by index, so
    /// expectations referring to a fault are checked even when that fault is bad.
    pub(super) starts_ms: Vec<u64>,
}

pub(super) fn validate(
    problems: &mut Problems<'_>,
    raw: &[RawFault],
    known: &Known,
    shards: &Shards,
    run: RunTime,
) -> CheckedFaults {
    let (joined, join_specs) = joins(problems, raw, known);
    let world = World {
        known,
        joined,
        shards,
    };
    let mut faults = Vec::new();
    for (index, fault) in raw.iter().enumerate() {
        let mut check = FaultCheck {
            problems: &mut *problems,
            field: format!("faults[{index}]"),
            kind_name: fault.kind.name(),
            at_ms: fault.at.as_ms(),
        };
        if let Some(fault) = check.fault(&world, &join_specs, index, fault, run) {
            faults.push(fault);
        }
    }
    CheckedFaults {
        schedule: FaultSchedule { faults },
        joined: world
            .joined
            .into_iter()
            .map(|(node, joined)| (node, joined.region))
            .collect(),
        starts_ms: raw.iter().map(|fault| fault.at.as_ms()).collect(),
    }
}

/// The parameters each kind takes (beyond `at` and `kind`).
fn parameters(kind: RawFaultKind) -> &'static [&'static str] {
    match kind {
        RawFaultKind::NodeKill | RawFaultKind::NodeDrain => &["node", "duration"],
        RawFaultKind::NodeRestart => &["node", "downtime"],
        RawFaultKind::RegionOutage => &["region", "duration"],
        RawFaultKind::Partition => &["a", "b", "oneway", "duration"],
        RawFaultKind::Latency => &["hosts", "links", "latency", "jitter", "duration"],
        RawFaultKind::MessageLoss => &["hosts", "links", "rate", "duration"],
        RawFaultKind::NodeSlow => &[
            "node",
            "cpu_load",
            "deficit",
            "response_latency",
            "duration",
        ],
        RawFaultKind::NodeFlapping => &["node", "period", "down", "duration"],
        RawFaultKind::ShardStall | RawFaultKind::ShardKill => &["shard", "duration"],
        RawFaultKind::RedisOutage | RawFaultKind::ControllerCrash => &["duration"],
        RawFaultKind::WebhookOutage => &["status", "rate_limit", "duration"],
        RawFaultKind::NodeJoin => &["node", "region", "capacity", "priority", "weight"],
        RawFaultKind::NodeLeave => &["node"],
        RawFaultKind::RollingRestart => &["region", "every", "downtime"],
    }
}

/// Network faults must heal within the run, or the run measures nothing but the fault.
fn needs_duration(kind: RawFaultKind) -> bool {
    matches!(
        kind,
        RawFaultKind::Partition | RawFaultKind::Latency | RawFaultKind::MessageLoss
    )
}

/// How long a fault lasts, once its kind is known.
enum Length {
    /// From `duration`: absent means to the end of the run.
    Given(Option<DurationMs>),
    /// Computed from other parameters, reported at that parameter.
    Derived { ms: u64, field: &'static str },
    /// An instant event (a node joining).
    Instant,
}

/// Validation of one fault entry.
struct FaultCheck<'p, 'd> {
    problems: &'p mut Problems<'d>,
    /// `faults[i]`.
    field: String,
    kind_name: &'static str,
    at_ms: u64,
}

impl FaultCheck<'_, '_> {
    fn fault(
        &mut self,
        world: &World<'_>,
        join_specs: &BTreeMap<usize, NodeSpec>,
        index: usize,
        raw: &RawFault,
        run: RunTime,
    ) -> Option<Fault> {
        let before = self.problems.count();
        self.check_parameters(raw);
        self.check_start(run);
        let (kind, length) = match raw.kind {
            RawFaultKind::NodeJoin => (
                FaultKind::NodeJoin {
                    spec: join_specs.get(&index)?.clone(),
                },
                Length::Instant,
            ),
            _ => self.kind(world, raw, run)?,
        };
        let until_ms = self.until(raw, length, run);
        (self.problems.count() == before).then_some(Fault {
            index,
            at_ms: self.at_ms,
            until_ms,
            kind,
        })
    }

    fn at(&self, parameter: &str) -> String {
        format!("{}.{parameter}", self.field)
    }

    fn add(&mut self, parameter: &str, message: impl Into<String>) {
        let field = self.at(parameter);
        self.problems.add(field, message);
    }

    /// A required parameter, reported at the fault itself when missing.
    fn need<T>(&mut self, value: Option<T>, parameter: &str) -> Option<T> {
        if value.is_none() {
            let message = format!("`{}` needs `{parameter}`", self.kind_name);
            self.problems.add(self.field.clone(), message);
        }
        value
    }

    fn check_parameters(&mut self, raw: &RawFault) {
        let allowed = parameters(raw.kind);
        for parameter in raw.given() {
            if !allowed.contains(&parameter) {
                let message = format!(
                    "`{}` takes no `{parameter}` (it takes: {})",
                    self.kind_name,
                    allowed.join(", ")
                );
                self.add(parameter, message);
            }
        }
    }

    fn check_start(&mut self, run: RunTime) {
        if self.at_ms >= run.duration_ms {
            let message = format!(
                "starts at {}, when the run ({}) is over",
                format_ms(self.at_ms),
                format_ms(run.duration_ms)
            );
            self.add("at", message);
        } else {
            run.check_ticks(self.problems, &self.at("at"), self.at_ms);
        }
    }

    /// When the fault heals; reports lengths that are zero, off-tick or past the run.
    fn until(&mut self, raw: &RawFault, length: Length, run: RunTime) -> Option<u64> {
        let (length_ms, field) = match length {
            Length::Instant => return None,
            Length::Given(None) => {
                if needs_duration(raw.kind) {
                    let message = format!("`{}` needs `duration`: it must heal", self.kind_name);
                    self.problems.add(self.field.clone(), message);
                }
                return None;
            }
            Length::Given(Some(duration)) => (duration.as_ms(), "duration"),
            Length::Derived { ms, field } => (ms, field),
        };
        if length_ms == 0 {
            self.add(field, "must be greater than zero");
            return None;
        }
        run.check_ticks(self.problems, &self.at(field), length_ms);
        let until_ms = self.at_ms.saturating_add(length_ms);
        if until_ms > run.duration_ms {
            let message = format!(
                "the fault lasts until {}, past the end of the run ({})",
                format_ms(until_ms),
                format_ms(run.duration_ms)
            );
            self.add(field, message);
        }
        Some(until_ms)
    }

    fn node(&mut self, world: &World<'_>, raw: &RawFault) -> Option<NodeId> {
        let name = self.need(raw.node.as_deref(), "node")?;
        world
            .node(name, self.at_ms)
            .map_err(|message| self.add("node", message))
            .ok()
    }

    fn region(&mut self, world: &World<'_>, raw: &RawFault) -> Option<(RegionId, Vec<NodeId>)> {
        let name = self.need(raw.region.as_deref(), "region")?;
        world
            .region(name, self.at_ms)
            .map_err(|message| self.add("region", message))
            .ok()
    }

    fn shard(&mut self, world: &World<'_>, raw: &RawFault) -> Option<ShardId> {
        let shard = self.need(raw.shard, "shard")?;
        let count = world.shards.count;
        if shard >= count {
            let message = format!(
                "shard {shard} is out of range (the bot runs {count} shards, 0..={})",
                count.saturating_sub(1)
            );
            self.add("shard", message);
            return None;
        }
        Some(ShardId(shard))
    }

    /// The hosts a list names, deduplicated in order; each bad entry reported at its index.
    fn hosts(&mut self, world: &World<'_>, parameter: &str, names: &[String]) -> Vec<Host> {
        if names.is_empty() {
            self.add(parameter, "must name at least one host");
        }
        let mut hosts = Vec::new();
        for (j, name) in names.iter().enumerate() {
            for host in self.host_entry(world, &format!("{parameter}[{j}]"), name) {
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
        hosts
    }

    /// The hosts one entry stands for (several for `region:<name>`), reported at
    /// `parameter` when it names nothing.
    fn host_entry(&mut self, world: &World<'_>, parameter: &str, name: &str) -> Vec<Host> {
        world
            .hosts(name, self.at_ms)
            .map_err(|message| self.add(parameter, message))
            .unwrap_or_default()
    }

    fn link_target(&mut self, world: &World<'_>, raw: &RawFault) -> Option<LinkTarget> {
        match (&raw.hosts, &raw.links) {
            (Some(_), Some(_)) => {
                self.add("links", "give `hosts` or `links`, not both");
                None
            }
            (None, None) => {
                let message = format!("`{}` needs `hosts` or `links`", self.kind_name);
                self.problems.add(self.field.clone(), message);
                None
            }
            (Some(names), None) => Some(LinkTarget::Hosts(self.hosts(world, "hosts", names))),
            (None, Some(links)) => self.links(world, links).map(LinkTarget::Links),
        }
    }

    /// `[[a, b], ...]`: each end may stand for several hosts (`region:eu`); a link is
    /// every pairing of the two ends.
    fn links(&mut self, world: &World<'_>, links: &[[String; 2]]) -> Option<Vec<(Host, Host)>> {
        if links.is_empty() {
            self.add("links", "must name at least one link");
            return None;
        }
        let mut pairs = Vec::new();
        for (j, [from, to]) in links.iter().enumerate() {
            let from = self.host_entry(world, &format!("links[{j}][0]"), from);
            let to = self.host_entry(world, &format!("links[{j}][1]"), to);
            for a in &from {
                for b in &to {
                    if a == b {
                        self.add(&format!("links[{j}]"), "a link joins two different hosts");
                    } else if !pairs.contains(&(a.clone(), b.clone())) {
                        pairs.push((a.clone(), b.clone()));
                    }
                }
            }
        }
        Some(pairs)
    }

    fn fraction(&mut self, parameter: &str, value: f64) -> bool {
        let field = self.at(parameter);
        check_fraction(self.problems, &field, value)
    }
}

/// First pass: nodes that join at run time, so other faults may target them.
fn joins(
    problems: &mut Problems<'_>,
    raw: &[RawFault],
    known: &Known,
) -> (BTreeMap<NodeId, Joined>, BTreeMap<usize, NodeSpec>) {
    let mut joined = BTreeMap::new();
    let mut specs = BTreeMap::new();
    for (index, fault) in raw.iter().enumerate() {
        if fault.kind != RawFaultKind::NodeJoin {
            continue;
        }
        let mut check = FaultCheck {
            problems: &mut *problems,
            field: format!("faults[{index}]"),
            kind_name: fault.kind.name(),
            at_ms: fault.at.as_ms(),
        };
        if let Some(spec) = check.join_spec(known, &joined, fault) {
            let region = spec.region.clone();
            let at_ms = fault.at.as_ms();
            joined.insert(spec.name.clone(), Joined { at_ms, region });
            specs.insert(index, spec);
        }
    }
    (joined, specs)
}
