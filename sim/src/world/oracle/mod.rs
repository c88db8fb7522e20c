//! The oracle: measures the run from the world's ground truth, never the controller's
//! opinion. A guild is served when an emulated node that is running and reachable from
//! Discord has an audible player for it, and its shard has a live, acting owner.
//!
//! What the controller says is used only where an invariant is about what it decided:
//! moves onto nodes it published down, the guilds it reported degraded (a guild nobody
//! serves must at least be reported), and the steps of its restorations.

mod guild_nodes;
mod restoration;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use switchyard_core::command::{Assignment, Command, MoveOrder};
use switchyard_core::config::RestorationConfig;
use switchyard_core::health::NodeStatus;
use switchyard_core::ids::{GuildId, NodeId, PlanId, RegionId, ShardId};

use super::workload::GuildPlan;
pub use guild_nodes::GuildNodes;
pub use restoration::RestorationCheck;

/// The counter of `key`, created at zero the first time. Looks before inserting, so
/// that the common case (the key is there) does not clone the key.
fn counter<'a, K: Ord + Clone>(
    counters: &'a mut BTreeMap<K, Availability>,
    key: &K,
) -> &'a mut Availability {
    if !counters.contains_key(key) {
        counters.insert(key.clone(), Availability::default());
    }
    counters
        .get_mut(key)
        .expect("inserted above if it was missing")
}

/// One sample of the world.
pub struct Sample {
    /// When, in run milliseconds.
    pub at_ms: u64,
    /// Audible players per guild: the nodes they are audible on.
    pub audible: GuildNodes,
    /// Live players per guild (a track loaded, on a running node, audible or not): the
    /// nodes holding them.
    pub players: GuildNodes,
    /// How many live players each running node holds.
    pub players_per_node: BTreeMap<String, u32>,
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

/// One sample's served and demanded guilds, overall and per home region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleCounts {
    /// Over every region.
    pub overall: Availability,
    /// Per home region.
    pub by_region: BTreeMap<RegionId, Availability>,
}

/// What the oracle accumulated.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Overall availability.
    pub overall: Availability,
    /// Per home region.
    pub by_region: BTreeMap<RegionId, Availability>,
    /// Per plan.
    pub by_plan: BTreeMap<PlanId, Availability>,
    /// The latest sample's counts alone, for time series.
    pub last_sample: SampleCounts,
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
    /// The regions each plan allows (empty: plan clamps are not checked).
    plan_regions: BTreeMap<PlanId, Vec<RegionId>>,
    /// Nodes the controller itself last published as down.
    known_down: BTreeSet<NodeId>,
    /// Guilds the controller reported degraded and has not placed or moved since.
    reported_degraded: BTreeSet<GuildId>,
    /// When the controller last placed or moved a guild it had reported degraded: its
    /// time to be served counts from then.
    report_cleared_ms: BTreeMap<GuildId, u64>,
    /// Guilds already reported lost in their current unserved stretch.
    lost: BTreeSet<GuildId>,
    /// Restoration steps against the scenario's settings (unchecked without them).
    restoration: Option<RestorationCheck>,
}

/// Guilds get this long after they start before they count as demanding playback.
pub const START_GRACE_MS: u64 = 10_000;

/// How long a player left behind by a move may outlive the move. Discord silences it at
/// once (one voice connection per guild), but it must be deleted: when the controller
/// cannot reach the old node its bot does so after reading the move announcement, over
/// links that may be slow.
pub const LEFT_BEHIND_PLAYER_BOUND_MS: u64 = 10_000;

/// How long a guild that wants playback may go unserved without the controller having
/// reported it degraded before it counts as lost. It is the recovery objective (RTO
/// < 30 s): by then any incident must have given the guild a player again, so a guild
/// still silent that nobody was told about has been lost track of.
pub const PLAYER_LOST_BOUND_MS: u64 = 30_000;

impl Oracle {
    /// An oracle that also checks the plans' region clamps.
    pub fn with_plans(plan_regions: BTreeMap<PlanId, Vec<RegionId>>) -> Self {
        Self {
            plan_regions,
            ..Self::default()
        }
    }

    /// Also checks restorations against the scenario's restoration settings.
    pub fn with_restoration(mut self, config: &RestorationConfig) -> Self {
        self.restoration = Some(RestorationCheck::new(config));
        self
    }

    /// Checks the controller's commands as they are issued: no move or placement onto a
    /// node the controller itself has published as down, and restorations within their
    /// steps; and notes which guilds it reported degraded. Commands of one instant are one
    /// decision: the health they publish applies to the moves among them whatever their
    /// order (a node coming up publishes its state after the moves its return allowed).
    pub fn observe_commands(&mut self, commands: &[(switchyard_core::time::Millis, Command)]) {
        self.observe_degraded_reports(commands);
        self.observe_restorations(commands);
        for step in commands.chunk_by(|(a, _), (b, _)| a == b) {
            for (_, command) in step {
                if let Command::PublishNodeHealth(report) = command {
                    if report.status == NodeStatus::Down {
                        self.known_down.insert(report.node.clone());
                    } else {
                        self.known_down.remove(&report.node);
                    }
                }
            }
            for (at, command) in step {
                let (guild, node) = match command {
                    Command::MovePlayer(order) => (order.guild, &order.to),
                    Command::AssignPlayer(assignment) => (assignment.guild, &assignment.node),
                    _ => continue,
                };
                if self.known_down.contains(node) {
                    self.violate(
                        at.as_ms(),
                        "no_move_to_down_node",
                        format!("guild {guild} sent to {node}, published down"),
                    );
                }
            }
        }
    }

    /// A guild reported degraded stays so until the controller places or moves it.
    fn observe_degraded_reports(&mut self, commands: &[(switchyard_core::time::Millis, Command)]) {
        for (at, command) in commands {
            match command {
                Command::ReportDegraded { guild, .. } => {
                    self.reported_degraded.insert(*guild);
                }
                Command::AssignPlayer(Assignment { guild, .. })
                | Command::MovePlayer(MoveOrder { guild, .. })
                    if self.reported_degraded.remove(guild) =>
                {
                    self.report_cleared_ms.insert(*guild, at.as_ms());
                }
                _ => {}
            }
        }
    }

    fn observe_restorations(&mut self, commands: &[(switchyard_core::time::Millis, Command)]) {
        let Some(check) = &mut self.restoration else {
            return;
        };
        let mut broken = Vec::new();
        for (at, command) in commands {
            check.observe(at.as_ms(), command, &mut broken);
        }
        for (at_ms, detail) in broken {
            self.violate(at_ms, "restoration_step", detail);
        }
    }

    /// Accounts one sample.
    pub fn observe(&mut self, guilds: &[GuildPlan], sample: &Sample, check_residency: bool) {
        let now = sample.at_ms;
        self.last_sample = SampleCounts::default();
        let (mut audible, mut players) = (sample.audible.reader(), sample.players.reader());
        for guild in guilds {
            if now < guild.start_ms + START_GRACE_MS {
                continue;
            }
            // An iterator, not a vector: this runs for every guild of every sample.
            let live = audible
                .of(guild.guild)
                .filter(|n| sample.reachable_nodes.contains(*n));
            let owned = sample.shard_owners.get(&guild.shard).copied().unwrap_or(0) > 0;
            let served = live.clone().next().is_some() && owned;
            let counters = [
                counter(&mut self.by_region, &guild.home),
                counter(&mut self.by_plan, &guild.plan),
                &mut self.overall,
                counter(&mut self.last_sample.by_region, &guild.home),
                &mut self.last_sample.overall,
            ];
            for counter in counters {
                counter.demanded += 1;
                counter.served += u64::from(served);
            }
            if served {
                if let Some(since) = self.down_since.remove(&guild.guild) {
                    self.outages.push((guild.guild, since, now));
                }
                self.lost.remove(&guild.guild);
                self.report_cleared_ms.remove(&guild.guild);
            } else {
                self.down_since.entry(guild.guild).or_insert(now);
                self.check_not_lost(now, guild.guild);
            }
            self.check_single_player(now, guild.guild, players.of(guild.guild));
            let allowed = self.plan_regions.get(&guild.plan);
            let outside: Vec<String> = live
                .clone()
                .filter(|node| {
                    allowed.is_some_and(|allowed| {
                        sample
                            .node_regions
                            .get(*node)
                            .is_none_or(|region| !allowed.contains(region))
                    })
                })
                .map(ToString::to_string)
                .collect();
            for node in outside {
                self.violate(
                    now,
                    "plan_clamp",
                    format!(
                        "guild {} on plan {} plays on {node}, a region its plan does not allow",
                        guild.guild, guild.plan
                    ),
                );
            }
            if check_residency && let Some(pin) = &guild.residency {
                for node in live {
                    if sample.node_regions.get(node) != Some(pin) {
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
            .filter(|g| sample.players.count(**g) < 2)
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

    /// An unserved guild is served or reported degraded within the bound (counted from
    /// when it became unserved, or from its placement after a report), or it is lost.
    fn check_not_lost(&mut self, now: u64, guild: GuildId) {
        let down_since = self.down_since[&guild];
        let since = self
            .report_cleared_ms
            .get(&guild)
            .map_or(down_since, |cleared| down_since.max(*cleared));
        if now.saturating_sub(since) <= PLAYER_LOST_BOUND_MS
            || self.reported_degraded.contains(&guild)
            || !self.lost.insert(guild)
        {
            return;
        }
        self.violate(
            now,
            "no_player_lost",
            format!(
                "guild {guild} unserved since {} and not reported degraded",
                crate::scenario::format_ms(down_since)
            ),
        );
    }

    /// A guild has at most one live player, beyond the time its bot needs to delete one
    /// a move left behind.
    fn check_single_player<'a>(
        &mut self,
        now: u64,
        guild: GuildId,
        nodes: impl Iterator<Item = &'a NodeId> + Clone,
    ) {
        if nodes.clone().nth(1).is_none() {
            return;
        }
        let nodes: Vec<&NodeId> = nodes.collect();
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

#[cfg(test)]
mod tests {
    //! Each invariant kind, shown to be caught from a world that breaks it.

    use switchyard_core::command::{DegradedReason, NodeHealthReport};
    use switchyard_core::config::RestorationConfig;
    use switchyard_core::time::Millis;

    use super::*;

    fn guild(id: u64, plan: &str, home: &str, residency: Option<&str>) -> GuildPlan {
        GuildPlan {
            guild: GuildId(id),
            shard: ShardId(0),
            plan: PlanId::new(plan),
            region: Some(RegionId::new(home)),
            residency: residency.map(RegionId::new),
            home: RegionId::new(home),
            start_ms: 0,
            track_length_ms: 180_000,
        }
    }

    /// A sample at `at_ms` where each guild plays on the given nodes (all reachable) and
    /// shard 0 has `owners` live owners.
    fn sample(at_ms: u64, playing: &[(u64, &[&str])], owners: usize) -> Sample {
        let node_regions: BTreeMap<NodeId, RegionId> = ["us-1", "us-2", "eu-1", "apac-1"]
            .iter()
            .map(|n| (NodeId::new(n), RegionId::new(n.split('-').next().unwrap())))
            .collect();
        let located: GuildNodes = playing
            .iter()
            .flat_map(|(g, nodes)| nodes.iter().map(|n| (GuildId(*g), NodeId::new(*n))))
            .collect();
        Sample {
            at_ms,
            audible: located.clone(),
            players: located,
            players_per_node: BTreeMap::new(),
            reachable_nodes: node_regions.keys().cloned().collect(),
            node_regions,
            shard_owners: BTreeMap::from([(ShardId(0), owners)]),
        }
    }

    fn plans() -> BTreeMap<PlanId, Vec<RegionId>> {
        BTreeMap::from([
            (
                PlanId::new("free"),
                vec![RegionId::new("us"), RegionId::new("eu")],
            ),
            (
                PlanId::new("growth"),
                vec![
                    RegionId::new("us"),
                    RegionId::new("eu"),
                    RegionId::new("apac"),
                ],
            ),
        ])
    }

    fn kinds(oracle: &Oracle) -> Vec<&str> {
        oracle
            .violations
            .iter()
            .map(|v| v.invariant.as_str())
            .collect()
    }

    #[test]
    fn a_healthy_world_breaks_nothing_and_is_fully_available() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [
            guild(1, "free", "us", None),
            guild(2, "growth", "eu", Some("eu")),
        ];
        for t in 0..40 {
            let at = START_GRACE_MS + t * 500;
            oracle.observe(
                &guilds,
                &sample(at, &[(1, &["us-1"]), (2, &["eu-1"])], 1),
                true,
            );
        }
        assert!(oracle.violations.is_empty(), "{:?}", oracle.violations);
        assert_eq!(oracle.overall.ratio(), 1.0);
    }

    #[test]
    fn a_pinned_guild_outside_its_region_breaks_residency() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [guild(2, "growth", "eu", Some("eu"))];
        oracle.observe(&guilds, &sample(START_GRACE_MS, &[(2, &["us-1"])], 1), true);
        assert_eq!(kinds(&oracle), ["residency"]);
        assert!(oracle.violations[0].detail.contains("us-1"));
    }

    #[test]
    fn a_guild_outside_its_plan_breaks_the_plan_clamp() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [guild(1, "free", "us", None)];
        oracle.observe(
            &guilds,
            &sample(START_GRACE_MS, &[(1, &["apac-1"])], 1),
            true,
        );
        assert_eq!(kinds(&oracle), ["plan_clamp"]);
    }

    #[test]
    fn two_players_beyond_the_cleanup_bound_break_single_player() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [guild(1, "free", "us", None)];
        let doubled: &[(u64, &[&str])] = &[(1, &["us-1", "us-2"])];
        // A move leaves a player behind for a moment: allowed.
        for t in 0..=LEFT_BEHIND_PLAYER_BOUND_MS / 500 {
            oracle.observe(&guilds, &sample(START_GRACE_MS + t * 500, doubled, 1), true);
        }
        assert!(oracle.violations.is_empty());
        // Past the bound it is a violation.
        let late = START_GRACE_MS + LEFT_BEHIND_PLAYER_BOUND_MS + 500;
        oracle.observe(&guilds, &sample(late, doubled, 1), true);
        assert_eq!(kinds(&oracle), ["single_player"]);
    }

    #[test]
    fn two_live_shard_owners_in_a_row_break_single_shard_owner() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [guild(1, "free", "us", None)];
        oracle.observe(&guilds, &sample(START_GRACE_MS, &[(1, &["us-1"])], 2), true);
        assert!(
            oracle.violations.is_empty(),
            "one sample is a hand-over in flight"
        );
        oracle.observe(
            &guilds,
            &sample(START_GRACE_MS + 500, &[(1, &["us-1"])], 2),
            true,
        );
        assert_eq!(kinds(&oracle), ["single_shard_owner"]);
    }

    #[test]
    fn a_move_onto_a_node_published_down_is_caught() {
        let mut oracle = Oracle::with_plans(plans());
        let report = |status| {
            Command::PublishNodeHealth(NodeHealthReport {
                node: NodeId::new("us-1"),
                region: RegionId::new("us"),
                status,
                available: status != NodeStatus::Down,
                players: 0,
                capacity: 100,
                usable_capacity: 100,
                latency_ms: None,
                flapping: false,
                drained: false,
                maintenance: false,
                joining: false,
                leaving: false,
                since: Millis(0),
            })
        };
        let assign = Command::AssignPlayer(Assignment {
            guild: GuildId(1),
            node: NodeId::new("us-1"),
            region: RegionId::new("us"),
            effective_region: RegionId::new("us"),
            clamped: false,
            over_capacity: false,
        });
        let up = [
            (Millis(1), report(NodeStatus::Up)),
            (Millis(2), assign.clone()),
        ];
        oracle.observe_commands(&up);
        assert!(oracle.violations.is_empty());
        // A node coming up publishes its state after the moves of the same instant.
        let same_instant = [
            (Millis(3), report(NodeStatus::Down)),
            (Millis(4), assign.clone()),
            (Millis(4), report(NodeStatus::Up)),
        ];
        oracle.observe_commands(&same_instant);
        assert!(oracle.violations.is_empty(), "{:?}", oracle.violations);
        let down = [(Millis(5), report(NodeStatus::Down)), (Millis(6), assign)];
        oracle.observe_commands(&down);
        assert_eq!(kinds(&oracle), ["no_move_to_down_node"]);
    }

    fn degraded(at_ms: u64, guild: u64) -> (Millis, Command) {
        let reason = DegradedReason::NoServingNode;
        (
            Millis(at_ms),
            Command::ReportDegraded {
                guild: GuildId(guild),
                reason,
            },
        )
    }

    fn assigned(at_ms: u64, guild: u64) -> (Millis, Command) {
        let assignment = Assignment {
            guild: GuildId(guild),
            node: NodeId::new("us-1"),
            region: RegionId::new("us"),
            effective_region: RegionId::new("us"),
            clamped: false,
            over_capacity: false,
        };
        (Millis(at_ms), Command::AssignPlayer(assignment))
    }

    /// Samples every 500 ms over `[from, to]` in which no guild is served.
    fn silence(oracle: &mut Oracle, guilds: &[GuildPlan], from: u64, to: u64) {
        for at in (from..=to).step_by(500) {
            oracle.observe(guilds, &sample(at, &[], 1), true);
        }
    }

    #[test]
    fn a_guild_unserved_past_the_bound_and_never_reported_degraded_is_lost() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [guild(1, "free", "us", None), guild(2, "free", "us", None)];
        // Both go silent at once; the controller reports only guild 2.
        oracle.observe_commands(&[degraded(START_GRACE_MS, 2)]);
        let bound_end = START_GRACE_MS + PLAYER_LOST_BOUND_MS;
        silence(&mut oracle, &guilds, START_GRACE_MS, bound_end);
        assert!(oracle.violations.is_empty(), "{:?}", oracle.violations);
        silence(&mut oracle, &guilds, bound_end + 500, bound_end + 5_000);
        assert_eq!(kinds(&oracle), ["no_player_lost"], "reported once");
        assert!(
            oracle.violations[0]
                .detail
                .starts_with("guild 1 unserved since 10s"),
            "{:?}",
            oracle.violations
        );
        // Served again, then silent again: a new stretch, reported anew past the bound.
        oracle.observe(
            &guilds,
            &sample(bound_end + 5_500, &[(1, &["us-1"])], 1),
            true,
        );
        silence(&mut oracle, &guilds, bound_end + 6_000, bound_end + 40_000);
        assert_eq!(kinds(&oracle), ["no_player_lost", "no_player_lost"]);
    }

    #[test]
    fn a_placement_after_a_degraded_report_restarts_the_bound() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [guild(1, "free", "us", None)];
        oracle.observe_commands(&[degraded(START_GRACE_MS, 1)]);
        // Degraded for a long outage: reported, so not lost.
        let placed_ms = START_GRACE_MS + 4 * PLAYER_LOST_BOUND_MS;
        silence(&mut oracle, &guilds, START_GRACE_MS, placed_ms);
        // Placed again: it has the bound from now to be heard.
        oracle.observe_commands(&[assigned(placed_ms, 1)]);
        silence(
            &mut oracle,
            &guilds,
            placed_ms,
            placed_ms + PLAYER_LOST_BOUND_MS,
        );
        assert!(oracle.violations.is_empty(), "{:?}", oracle.violations);
        silence(
            &mut oracle,
            &guilds,
            placed_ms + PLAYER_LOST_BOUND_MS + 500,
            placed_ms + PLAYER_LOST_BOUND_MS + 500,
        );
        assert_eq!(kinds(&oracle), ["no_player_lost"]);
    }

    #[test]
    fn restoration_steps_are_checked_against_the_scenario_settings() {
        let config = RestorationConfig {
            steps: vec![0.5, 1.0],
            dwell_ms: 10_000,
            ..RestorationConfig::default()
        };
        let mut oracle = Oracle::with_plans(plans()).with_restoration(&config);
        let step = |at_ms: u64, step: u64| {
            let event = switchyard_core::command::AuditEvent {
                at: Millis(at_ms),
                kind: "restoration_step".to_owned(),
                fields: BTreeMap::from([
                    ("node".to_owned(), "us-1".to_owned()),
                    ("step".to_owned(), step.to_string()),
                    ("total".to_owned(), "4".to_owned()),
                ]),
            };
            (Millis(at_ms), Command::Audit(event))
        };
        let back = |at_ms: u64, guild: u64| {
            let order = MoveOrder {
                id: switchyard_core::ids::MoveId(guild),
                guild: GuildId(guild),
                from: Some(NodeId::new("us-2")),
                delete_from: true,
                to: NodeId::new("us-1"),
                position_ms: 0,
                reason: switchyard_core::command::MoveReason::Restoration,
                incident: switchyard_core::ids::IncidentId(1),
            };
            (Millis(at_ms), Command::MovePlayer(order))
        };
        // Half of 4 at the first step, the rest 10 s later: clean.
        oracle.observe_commands(&[step(1_000, 1), back(1_000, 1), back(1_000, 2)]);
        oracle.observe_commands(&[step(11_000, 2), back(11_000, 3), back(11_000, 4)]);
        assert!(oracle.violations.is_empty(), "{:?}", oracle.violations);
        // A new run returning three of four at its first step breaks it.
        oracle.observe_commands(&[
            step(60_000, 1),
            back(60_000, 1),
            back(60_000, 2),
            back(60_000, 3),
        ]);
        assert_eq!(kinds(&oracle), ["restoration_step"]);
        assert!(
            oracle.violations[0]
                .detail
                .contains("step 1 of us-1 returned 3 of 4")
        );
        assert_eq!(oracle.violations[0].at_ms, 60_000);
    }

    #[test]
    fn an_unserved_guild_is_an_outage_until_it_is_served() {
        let mut oracle = Oracle::with_plans(plans());
        let guilds = [guild(1, "free", "us", None)];
        oracle.observe(&guilds, &sample(START_GRACE_MS, &[], 1), true);
        oracle.observe(
            &guilds,
            &sample(START_GRACE_MS + 500, &[(1, &["us-2"])], 1),
            true,
        );
        assert_eq!(
            oracle.outages,
            [(GuildId(1), START_GRACE_MS, START_GRACE_MS + 500)]
        );
        let recovery = oracle.recovery(START_GRACE_MS, START_GRACE_MS + 60_000, 100_000);
        assert_eq!(recovery.rto_ms, Some(500));
        assert_eq!(recovery.slowest_guild, Some(GuildId(1)));
        assert_eq!(oracle.overall.ratio(), 0.5);
    }
}
