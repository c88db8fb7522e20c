//! Each fault kind's own parameters.

use std::collections::BTreeMap;

use switchyard_core::ids::NodeId;
use switchyard_core::topology::NodeSpec;

use super::super::hosts::{Joined, World};
use super::super::{Known, RunTime};
use super::{FRAME_DEFICIT_MAX, FaultCheck, Length};
use crate::scenario::duration::format_ms;
use crate::scenario::model::{FaultKind, Host, WebhookFailure};
use crate::scenario::raw::{RawFault, RawFaultKind, RawWebhookStatus};

impl FaultCheck<'_, '_> {
    /// The kind with its targets resolved, and how its length is determined; `None`
    /// when something needed is missing or wrong (and reported).
    pub(super) fn kind(
        &mut self,
        world: &World<'_>,
        raw: &RawFault,
        run: RunTime,
    ) -> Option<(FaultKind, Length)> {
        let given = Length::Given(raw.duration);
        let kind = match raw.kind {
            RawFaultKind::NodeKill => FaultKind::NodeKill {
                node: self.node(world, raw)?,
            },
            RawFaultKind::NodeDrain => FaultKind::NodeDrain {
                node: self.node(world, raw)?,
            },
            RawFaultKind::NodeRestart => {
                let node = self.node(world, raw);
                let downtime = self.need(raw.downtime, "downtime")?;
                let length = Length::Derived {
                    ms: downtime.as_ms(),
                    field: "downtime",
                };
                return Some((FaultKind::NodeRestart { node: node? }, length));
            }
            RawFaultKind::RegionOutage => {
                let (region, nodes) = self.region(world, raw)?;
                FaultKind::RegionOutage { region, nodes }
            }
            RawFaultKind::Partition => self.partition(world, raw)?,
            RawFaultKind::Latency => {
                let target = self.link_target(world, raw);
                let latency = self.need(raw.latency, "latency")?;
                if latency.as_ms() == 0 {
                    self.add("latency", "must be greater than zero");
                }
                FaultKind::Latency {
                    target: target?,
                    latency_ms: latency.as_ms(),
                    jitter_ms: raw.jitter.map_or(0, |jitter| jitter.as_ms()),
                }
            }
            RawFaultKind::MessageLoss => {
                let target = self.link_target(world, raw);
                let rate = self.need(raw.rate, "rate")?;
                if self.fraction("rate", rate) && rate == 0.0 {
                    self.add("rate", "must be greater than zero");
                }
                FaultKind::MessageLoss {
                    target: target?,
                    rate,
                }
            }
            RawFaultKind::NodeSlow => self.node_slow(world, raw)?,
            RawFaultKind::NodeFlapping => self.node_flapping(world, raw, run)?,
            RawFaultKind::ShardStall => FaultKind::ShardStall {
                shard: self.shard(world, raw)?,
            },
            RawFaultKind::ShardKill => {
                let shard = self.shard(world, raw)?;
                let owner = world.shards.initial_owner(shard).clone();
                FaultKind::ShardKill { shard, owner }
            }
            RawFaultKind::RedisOutage => FaultKind::RedisOutage,
            RawFaultKind::ControllerCrash => FaultKind::ControllerCrash,
            RawFaultKind::WebhookOutage => FaultKind::WebhookOutage {
                failure: self.webhook_failure(raw)?,
            },
            RawFaultKind::RollingRestart => return self.rolling_restart(world, raw),
            RawFaultKind::NodeLeave => {
                let node = self.node(world, raw)?;
                return Some((FaultKind::NodeLeave { node }, Length::Instant));
            }
            // Validated in the first pass; `fault` does not come here for it.
            RawFaultKind::NodeJoin => return None,
        };
        Some((kind, given))
    }

    fn partition(&mut self, world: &World<'_>, raw: &RawFault) -> Option<FaultKind> {
        let a_names = self.need(raw.a.as_deref(), "a");
        let b_names = self.need(raw.b.as_deref(), "b");
        let (a_names, b_names) = (a_names?, b_names?);
        let a = self.hosts(world, "a", a_names);
        let mut b = Vec::new();
        for (j, name) in b_names.iter().enumerate() {
            let field = format!("b[{j}]");
            for host in self.host_entry(world, &field, name) {
                if a.contains(&host) {
                    self.add(
                        &field,
                        format!("host {:?} is on both sides", host.to_string()),
                    );
                } else if !b.contains(&host) {
                    b.push(host);
                }
            }
        }
        if b_names.is_empty() {
            self.add("b", "must name at least one host");
        }
        // Only nodes send audio to Discord's voice servers; nothing else talks to them,
        // so cutting anything else from them would silently do nothing.
        for (side, discord_side, other) in [("b", &a, &b), ("a", &b, &a)] {
            let stray = other.iter().find(|host| !matches!(host, Host::Node(_)));
            if discord_side.contains(&Host::Discord)
                && let Some(stray) = stray
            {
                self.add(
                    side,
                    format!(
                        "\"discord\" can only be cut from nodes (only they send it audio), \
                         not from {:?}",
                        stray.to_string()
                    ),
                );
            }
        }
        Some(FaultKind::Partition {
            a,
            b,
            oneway: raw.oneway.unwrap_or(false),
        })
    }

    fn node_slow(&mut self, world: &World<'_>, raw: &RawFault) -> Option<FaultKind> {
        let node = self.node(world, raw)?;
        if let Some(cpu_load) = raw.cpu_load {
            self.fraction("cpu_load", cpu_load);
        }
        if let Some(deficit) = raw.deficit.filter(|d| *d > FRAME_DEFICIT_MAX) {
            self.add(
                "deficit",
                format!(
                    "frames missing per minute: at most {FRAME_DEFICIT_MAX} (50 a second), \
                     got {deficit}"
                ),
            );
        }
        if raw
            .response_latency
            .is_some_and(|latency| latency.as_ms() == 0)
        {
            self.add("response_latency", "must be greater than zero");
        }
        if raw.cpu_load.is_none() && raw.deficit.is_none() && raw.response_latency.is_none() {
            let message =
                "`node_slow` needs at least one of `cpu_load`, `deficit`, `response_latency`";
            self.problems.add(self.field.clone(), message);
        }
        Some(FaultKind::NodeSlow {
            node,
            cpu_load: raw.cpu_load,
            frame_deficit: raw.deficit,
            response_latency_ms: raw.response_latency.map(|latency| latency.as_ms()),
        })
    }

    fn node_flapping(
        &mut self,
        world: &World<'_>,
        raw: &RawFault,
        run: RunTime,
    ) -> Option<FaultKind> {
        let node = self.node(world, raw);
        let period_ms = self.need(raw.period, "period")?.as_ms();
        // A period holds a down phase and an up phase of at least one tick each.
        if period_ms < 2 * run.tick_ms {
            self.add(
                "period",
                format!(
                    "must be at least two ticks ({}), got {}",
                    format_ms(2 * run.tick_ms),
                    format_ms(period_ms)
                ),
            );
            return None;
        }
        run.check_ticks(self.problems, &self.at("period"), period_ms);
        let down_ms = match raw.down {
            // Half the period, rounded down to whole ticks (at least one: see above).
            None => period_ms / 2 / run.tick_ms * run.tick_ms,
            Some(down) if down.as_ms() == 0 || down.as_ms() >= period_ms => {
                let message = format!(
                    "must be greater than zero and shorter than `period` ({}), got {}",
                    format_ms(period_ms),
                    format_ms(down.as_ms())
                );
                self.add("down", message);
                return None;
            }
            Some(down) => {
                run.check_ticks(self.problems, &self.at("down"), down.as_ms());
                down.as_ms()
            }
        };
        Some(FaultKind::NodeFlapping {
            node: node?,
            period_ms,
            down_ms,
        })
    }

    fn webhook_failure(&mut self, raw: &RawFault) -> Option<WebhookFailure> {
        match (&raw.status, raw.rate_limit) {
            (Some(_), Some(true)) => {
                self.add(
                    "rate_limit",
                    "give `status` or `rate_limit = true`, not both",
                );
                None
            }
            (None, Some(true)) => Some(WebhookFailure::RateLimited),
            (None, _) => {
                let message =
                    "`webhook_outage` needs `status` (a code or \"drop\") or `rate_limit = true`";
                self.problems.add(self.field.clone(), message);
                None
            }
            (Some(RawWebhookStatus::Word(word)), _) if word == "drop" => Some(WebhookFailure::Drop),
            (Some(RawWebhookStatus::Code(429)), _) => {
                self.add(
                    "status",
                    "for 429s write `rate_limit = true` (it sends Retry-After)",
                );
                None
            }
            (Some(RawWebhookStatus::Code(code @ 400..=599)), _) => {
                // The match arm bounds the code to 400..=599.
                Some(WebhookFailure::Status(u16::try_from(*code).ok()?))
            }
            (Some(other), _) => {
                let shown = match other {
                    RawWebhookStatus::Code(code) => code.to_string(),
                    RawWebhookStatus::Word(word) => format!("{word:?}"),
                };
                let message = format!("must be a 4xx or 5xx status, or \"drop\", got {shown}");
                self.add("status", message);
                None
            }
        }
    }

    fn rolling_restart(
        &mut self,
        world: &World<'_>,
        raw: &RawFault,
    ) -> Option<(FaultKind, Length)> {
        let region = self.region(world, raw);
        let every = self.need(raw.every, "every");
        let downtime = self.need(raw.downtime, "downtime");
        let ((region, nodes), every_ms, downtime_ms) = (region?, every?.as_ms(), downtime?.as_ms());
        if every_ms == 0 {
            self.add("every", "must be greater than zero");
            return None;
        }
        if downtime_ms > every_ms {
            // Otherwise two nodes of the region would be down at once.
            let message = format!(
                "must not exceed `every` ({}) so one node restarts at a time, got {}",
                format_ms(every_ms),
                format_ms(downtime_ms)
            );
            self.add("downtime", message);
        }
        let restarts = u64::try_from(nodes.len()).unwrap_or(u64::MAX);
        let ms = every_ms
            .saturating_mul(restarts.saturating_sub(1))
            .saturating_add(downtime_ms);
        let kind = FaultKind::RollingRestart {
            region,
            nodes,
            every_ms,
            downtime_ms,
        };
        Some((kind, Length::Derived { ms, field: "every" }))
    }

    /// The node a `node_join` adds, checked like the topology's own nodes.
    pub(super) fn join_spec(
        &mut self,
        known: &Known,
        joined: &BTreeMap<NodeId, Joined>,
        raw: &RawFault,
    ) -> Option<NodeSpec> {
        let name = self.need(raw.node.as_deref(), "node");
        let region = self.need(raw.region.as_deref(), "region");
        let capacity = self.need(raw.capacity, "capacity");
        let (name, region, capacity) = (name?, region?, capacity?);
        let id = NodeId::new(name);
        let mut ok = true;
        if known.nodes.contains_key(&id) || joined.contains_key(&id) {
            self.add("node", format!("node {name:?} already exists"));
            ok = false;
        } else if !is_valid_name(name) {
            let message =
                format!("{name:?} must be 1-64 characters of letters, digits, `-`, `_` or `.`");
            self.add("node", message);
            ok = false;
        }
        let region_id = known.region(region);
        if region_id.is_none() {
            self.add("region", known.unknown_region(region));
        }
        for (parameter, value) in [("capacity", Some(capacity)), ("weight", raw.weight)] {
            if value == Some(0) {
                self.add(parameter, "must be greater than zero");
                ok = false;
            }
        }
        Some(NodeSpec {
            name: id,
            region: region_id.filter(|_| ok)?,
            priority: raw.priority.unwrap_or(0),
            weight: raw.weight.unwrap_or(1),
            capacity,
            maintenance: false,
        })
    }
}

/// The core's rule for node names (it checks the topology's, not joining ones, up front).
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
