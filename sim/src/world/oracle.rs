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
    /// Live players per guild (a track loaded, on a running node, audible or not): the
    /// nodes holding them.
    pub players: BTreeMap<GuildId, Vec<NodeId>>,
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
    /// Since when each guild has had live players on two or more nodes.
    doubled_since: BTreeMap<GuildId, u64>,
    /// Shards with two live owners in the previous sample.
    contested: BTreeSet<ShardId>,
}

/// Guilds get this long after they start before they count as demanding playback.
pub const START_GRACE_MS: u64 = 10_000;

/// How long a player left behind by a move may outlive the move. Discord silences it at
/// once (one voice connection per guild), but it must be deleted: when the controller
/// cannot reach the old node its bot does so after reading the move announcement, over
/// links that may be slow.
pub const LEFT_BEHIND_PLAYER_BOUND_MS: u64 = 10_000;

impl Oracle {
    /// Accounts one sample.
    pub fn observe(&mut self, guilds: &[GuildPlan], sample: &Sample, check_residency: bool) {
        let now = sample.at_ms;
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
            self.check_single_player(now, guild.guild, sample);
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
        let gone: Vec<GuildId> = self
            .doubled_since
            .keys()
            .filter(|g| sample.players.get(g).is_none_or(|nodes| nodes.len() < 2))
            .copied()
            .collect();
        for guild in gone {
            self.doubled_since.remove(&guild);
        }
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

    /// A guild has at most one live player, beyond the time its bot needs to delete one
    /// a move left behind.
    fn check_single_player(&mut self, now: u64, guild: GuildId, sample: &Sample) {
        let Some(nodes) = sample.players.get(&guild).filter(|n| n.len() > 1) else {
            return;
        };
        let since = *self.doubled_since.entry(guild).or_insert(now);
        if now - since > LEFT_BEHIND_PLAYER_BOUND_MS {
            self.violate(
                now,
                "single_player",
                format!(
                    "guild {guild} has players on {nodes:?} since {}",
                    crate::scenario::format_ms(since)
                ),
            );
        }
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

    /// How the incident injected at `at_ms` recovered: the outages that began in
    /// `[at_ms, window_end_ms)` are the ones it caused.
    pub fn recovery(&self, at_ms: u64, window_end_ms: u64, run_end_ms: u64) -> Recovery {
        let mut recovery = Recovery::default();
        let mut unrecovered = false;
        for (guild, start, end) in &self.outages {
            if *start < at_ms || *start >= window_end_ms {
                continue;
            }
            recovery.interrupted += 1;
            if *end > run_end_ms {
                unrecovered = true;
                recovery.slowest_guild = Some(*guild);
                continue;
            }
            recovery.first_recovery_ms =
                Some(recovery.first_recovery_ms.map_or(*end, |f| f.min(*end)));
            if !unrecovered && recovery.last_recovery_ms.is_none_or(|last| *end > last) {
                recovery.slowest_guild = Some(*guild);
            }
            recovery.last_recovery_ms =
                Some(recovery.last_recovery_ms.map_or(*end, |l| l.max(*end)));
        }
        recovery.rto_ms = if unrecovered {
            None
        } else {
            Some(recovery.last_recovery_ms.map_or(0, |last| last - at_ms))
        };
        recovery
    }
}

/// How one incident's interruptions ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Guilds whose service broke within the incident's attribution window.
    pub interrupted: usize,
    /// When the first of them was served again.
    pub first_recovery_ms: Option<u64>,
    /// When the last of them was served again.
    pub last_recovery_ms: Option<u64>,
    /// From injection until every interrupted guild was served again; `None` when one
    /// never was (0 when none was interrupted).
    pub rto_ms: Option<u64>,
    /// The guild that recovered last (or never), to start an investigation from.
    pub slowest_guild: Option<GuildId>,
}
