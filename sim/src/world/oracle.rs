//! The oracle: measures the run from the world's ground truth, never the controller's
//! opinion. A guild is served when an emulated node that is running and reachable from
//! Discord has an audible player for it, and its shard has a live, acting owner.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use switchyard_core::ids::{GuildId, NodeId, RegionId, ShardId};

use super::workload::GuildPlan;

/// One sample of the world.
pub struct Sample {
    /// When, in run milliseconds.
    pub at_ms: u64,
    /// Audible players per guild: the nodes they are audible on.
    pub audible: BTreeMap<GuildId, Vec<NodeId>>,
    /// Nodes running and reachable from Discord voice.
    pub reachable_nodes: BTreeSet<NodeId>,
    /// Regions of the nodes.
    pub node_regions: BTreeMap<NodeId, RegionId>,
    /// Shards with at least one live, acting, unstalled owner, and how many.
    pub shard_owners: BTreeMap<ShardId, usize>,
}

/// An invariant violation: when, what, and who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// When, in run milliseconds.
    pub at_ms: u64,
    /// Which invariant.
    pub invariant: String,
    /// What was seen.
    pub detail: String,
}

/// Served and demanded time for one region (or overall).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Availability {
    /// Samples in which a guild wanted playback.
    pub demanded: u64,
    /// Samples in which it was served.
    pub served: u64,
}

impl Availability {
    /// Served / demanded (1 when nothing was demanded).
    pub fn ratio(&self) -> f64 {
        if self.demanded == 0 {
            1.0
        } else {
            self.served as f64 / self.demanded as f64
        }
    }
}

/// What the oracle accumulated.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Overall availability.
    pub overall: Availability,
    /// Per home region.
    pub by_region: BTreeMap<RegionId, Availability>,
    /// Violations, in time order.
    pub violations: Vec<Violation>,
    /// When each guild became unserved, while it is.
    down_since: BTreeMap<GuildId, u64>,
    /// Completed outages: (start, end) per guild.
    pub outages: Vec<(GuildId, u64, u64)>,
    /// Guilds audible on two nodes in the previous sample.
    doubled: BTreeSet<GuildId>,
    /// Shards with two live owners in the previous sample.
    contested: BTreeSet<ShardId>,
}

/// Guilds get this long after they start before they count as demanding playback.
pub const START_GRACE_MS: u64 = 10_000;

impl Oracle {
    /// Accounts one sample.
    pub fn observe(&mut self, guilds: &[GuildPlan], sample: &Sample, check_residency: bool) {
        let now = sample.at_ms;
        let mut doubled = BTreeSet::new();
        for guild in guilds {
            if now < guild.start_ms + START_GRACE_MS {
                continue;
            }
            let nodes = sample
                .audible
                .get(&guild.guild)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let live: Vec<&NodeId> = nodes
                .iter()
                .filter(|n| sample.reachable_nodes.contains(*n))
                .collect();
            let owned = sample.shard_owners.get(&guild.shard).copied().unwrap_or(0) > 0;
            let served = !live.is_empty() && owned;
            let region = self.by_region.entry(guild.home.clone()).or_default();
            region.demanded += 1;
            self.overall.demanded += 1;
            if served {
                region.served += 1;
                self.overall.served += 1;
                if let Some(since) = self.down_since.remove(&guild.guild) {
                    self.outages.push((guild.guild, since, now));
                }
            } else {
                self.down_since.entry(guild.guild).or_insert(now);
            }
            if live.len() > 1 {
                doubled.insert(guild.guild);
                if self.doubled.contains(&guild.guild) {
                    self.violate(
                        now,
                        "single_player",
                        format!("guild {} audible on {live:?}", guild.guild),
                    );
                }
            }
            if check_residency && let Some(pin) = &guild.residency {
                for node in &live {
                    if sample.node_regions.get(*node) != Some(pin) {
                        self.violate(
                            now,
                            "residency",
                            format!("guild {} pinned to {pin} plays on {node}", guild.guild),
                        );
                    }
                }
            }
        }
        self.doubled = doubled;
        let contested: BTreeSet<ShardId> = sample
            .shard_owners
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(s, _)| *s)
            .collect();
        let persisting: Vec<ShardId> = contested.intersection(&self.contested).copied().collect();
        for shard in &persisting {
            self.violate(
                now,
                "single_shard_owner",
                format!(
                    "shard {shard} has {} live owners",
                    sample.shard_owners[shard]
                ),
            );
        }
        self.contested = contested;
    }

    fn violate(&mut self, at_ms: u64, invariant: &str, detail: String) {
        // One report per invariant and subject is enough; keep the list bounded.
        if self.violations.len() < 1_000
            && !self
                .violations
                .iter()
                .any(|v| v.invariant == invariant && v.detail == detail)
        {
            self.violations.push(Violation {
                at_ms,
                invariant: invariant.to_owned(),
                detail,
            });
        }
    }

    /// Ends the run: guilds still unserved count as outages to the end.
    pub fn finish(&mut self, end_ms: u64) {
        for (guild, since) in std::mem::take(&mut self.down_since) {
            self.outages.push((guild, since, end_ms + 1));
        }
    }

    /// Recovery time of the incident that started at `at_ms` and lasted until the next
    /// fault (or the end): the latest recovery of an outage that began in that window,
    /// measured from `at_ms`. `None` when one never recovered.
    pub fn rto_ms(&self, at_ms: u64, window_end_ms: u64, run_end_ms: u64) -> Option<u64> {
        let mut worst = 0;
        for (_, start, end) in &self.outages {
            if *start >= at_ms && *start < window_end_ms {
                if *end > run_end_ms {
                    return None;
                }
                worst = worst.max(end - at_ms);
            }
        }
        Some(worst)
    }
}
