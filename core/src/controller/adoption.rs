//! Guilds a controller learns from the shared state when it takes over from another
//! controller (the leader died or stepped down): they already play somewhere, so they
//! are adopted where they are rather than placed anew.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::command::{DegradedReason, MoveReason};
use crate::health::NodeStatus;
use crate::history::FailoverTrigger;
use crate::ids::{GuildId, NodeId, PlanId, RegionId};
use crate::time::Millis;
use crate::topology::{NodeIdx, RegionIdx};

use super::players::{Placement, Player};
use super::{Controller, InputError};

/// A guild that already plays, as the previous leader left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerAdoption {
    /// The guild.
    pub guild: GuildId,
    /// Its plan.
    pub plan: PlanId,
    /// Its effective home region (the pin, when pinned).
    pub home_region: RegionId,
    /// Whether the home region is a residency pin.
    pub pinned: bool,
    /// The node its player lives on; `None` when it has none (it is then placed as a new
    /// request would be).
    pub node: Option<NodeId>,
    /// The node failover displaced it from, to which restoration returns it. A node
    /// that is no longer in the topology is forgotten.
    pub displaced_from: Option<NodeId>,
    /// Its playback position at `position_at`.
    pub position_ms: u64,
    /// When that position was true; may lie before the adoption.
    pub position_at: Millis,
    /// Whether it plays (not paused).
    pub playing: bool,
}

impl Controller {
    /// Adopts guilds that already play. A guild this controller already tracks keeps
    /// its own record. Players found on a node that is down move at once (one incident
    /// per node, unless the controller is fail-open), players displaced from a node that
    /// serves again start its restoration, and guilds without a node are placed.
    ///
    /// Returns the adoptions refused because they name an unknown plan, region or node.
    pub fn handle_players_adopted(
        &mut self,
        now: Millis,
        adoptions: &[PlayerAdoption],
    ) -> Vec<(GuildId, InputError)> {
        let mut refused = Vec::new();
        let mut hosting = BTreeSet::new();
        let mut displaced_to = BTreeSet::new();
        let mut adopted = Vec::new();
        for adoption in adoptions {
            if self.players.contains_key(&adoption.guild) {
                continue;
            }
            match self.adopt_one(now, adoption) {
                Ok((node, displaced)) => {
                    hosting.extend(node);
                    displaced_to.extend(displaced);
                    adopted.push(adoption.guild);
                }
                Err(error) => refused.push((adoption.guild, error)),
            }
        }
        self.derived_dirty = true;
        self.evacuate_unfit_hosts(now, &hosting);
        for guild in adopted {
            self.enforce_policy(now, guild);
        }
        for idx in displaced_to {
            if self.node(idx).health.status().is_serving() {
                self.after_node_became_available(now, idx);
            }
        }
        self.settle(now);
        refused
    }

    /// Inserts one guild; answers the node hosting it and the node it was displaced
    /// from, when any.
    fn adopt_one(
        &mut self,
        now: Millis,
        adoption: &PlayerAdoption,
    ) -> Result<(Option<NodeIdx>, Option<NodeIdx>), InputError> {
        let plan = self
            .topology
            .plan(&adoption.plan)
            .ok_or_else(|| InputError::UnknownPlan(adoption.plan.clone()))?;
        let home = self.region_idx(&adoption.home_region)?;
        let node = adoption
            .node
            .as_ref()
            .map(|n| self.node_idx(n))
            .transpose()?
            .filter(|idx| !self.node(*idx).gone);
        let displaced_from = adoption
            .displaced_from
            .as_ref()
            .and_then(|n| self.node_idx(n).ok())
            .filter(|idx| !self.node(*idx).gone && Some(*idx) != node);
        let placement = match node {
            Some(idx) => Placement::Serving(idx),
            None => Placement::Degraded(DegradedReason::NoServingNode),
        };
        Arc::make_mut(&mut self.players).insert(
            adoption.guild,
            Player {
                plan,
                home,
                pinned: adoption.pinned,
                placement,
                last_node: node,
                displaced_from,
                position_ms: adoption.position_ms,
                position_at: adoption.position_at,
                playing: adoption.playing,
                track_length_ms: None,
                attempts: 0,
                clamped: false,
            },
        );
        match node {
            Some(idx) => self.add_assigned(idx, 1),
            // Placed exactly as a new request would be (or reported degraded).
            None => self.place_new(now, adoption.guild),
        }
        Ok((node, displaced_from))
    }

    /// Moves the players of adopted hosts that may not keep them: hosts that died while
    /// no controller was acting (nobody moved their players), and hosts under an
    /// operator's hold (a drain, a window, a failed-over region) that the controller
    /// taking over stands under, and hosts that are leaving.
    fn evacuate_unfit_hosts(&mut self, now: Millis, hosts: &BTreeSet<NodeIdx>) {
        // A failed-over region's hosts leave together, as one incident, as they did when
        // the operator failed it over.
        let mut by_region: BTreeMap<RegionIdx, Vec<NodeIdx>> = BTreeMap::new();
        for &idx in hosts {
            let node = self.node(idx);
            let id = node.id.clone();
            if node.health.status() == NodeStatus::Down {
                if !self.fail_open {
                    let trigger = FailoverTrigger::NodeDown { node: id };
                    self.evacuate(now, idx, MoveReason::NodeDown, trigger);
                }
            } else if node.drained || node.maintenance || node.removing {
                let trigger = FailoverTrigger::Drain { node: id };
                self.evacuate(now, idx, MoveReason::Drain, trigger);
            } else if self.region_evacuated(node.region) {
                by_region.entry(node.region).or_default().push(idx);
            }
        }
        for (region, nodes) in by_region {
            let region = self.topology.regions[usize::from(region.0)].id.clone();
            let trigger = FailoverTrigger::RegionEvacuation { region };
            self.evacuate_all(now, &nodes, MoveReason::RegionEvacuation, trigger);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::config::ControllerConfig;
    use crate::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};
    use crate::{NodeHold, PlayerPlacement, health::ProbeFailure};

    fn topology() -> TopologySpec {
        let node = |name: &str, region: &str| NodeSpec {
            name: name.into(),
            region: region.into(),
            priority: 0,
            weight: 1,
            capacity: 100,
            maintenance: false,
        };
        TopologySpec {
            regions: vec![
                RegionSpec {
                    name: "eu".into(),
                    priority: 10,
                },
                RegionSpec {
                    name: "us".into(),
                    priority: 0,
                },
            ],
            nodes: vec![node("eu-1", "eu"), node("eu-2", "eu"), node("us-1", "us")],
            plans: vec![PlanSpec {
                name: "growth".into(),
                regions: vec!["eu".into(), "us".into()],
                default_region: None,
            }],
            shard_count: 1,
        }
    }

    /// A controller whose nodes all answered their probes `rise` times.
    fn warm() -> (Controller, Millis) {
        let mut core = Controller::new(Millis::ZERO, ControllerConfig::default(), &topology())
            .expect("valid topology");
        let mut now = Millis::ZERO;
        for _ in 0..core.config().health.rise + 1 {
            core.handle_timeout(now);
            while core.poll_command().is_some() {}
            for node in ["eu-1", "eu-2", "us-1"] {
                core.handle_probe_ok(now, &NodeId::new(node), 5, None)
                    .expect("known node");
            }
            now = now.plus_ms(core.config().health.probe_interval_ms);
        }
        while core.poll_command().is_some() {}
        (core, now)
    }

    fn adoption(guild: u64, node: Option<&str>) -> PlayerAdoption {
        PlayerAdoption {
            guild: GuildId(guild),
            plan: PlanId::new("growth"),
            home_region: RegionId::new("eu"),
            pinned: false,
            node: node.map(NodeId::new),
            displaced_from: None,
            position_ms: 1_000,
            position_at: Millis::ZERO,
            playing: true,
        }
    }

    fn drain(core: &mut Controller) -> Vec<Command> {
        std::iter::from_fn(|| core.poll_command()).collect()
    }

    #[test]
    fn adopted_players_stay_where_they_play_without_commands_to_move_them() {
        let (mut core, now) = warm();
        let refused = core
            .handle_players_adopted(now, &[adoption(1, Some("eu-2")), adoption(2, Some("eu-2"))]);
        assert!(refused.is_empty(), "{refused:?}");
        let commands = drain(&mut core);
        assert!(
            !commands
                .iter()
                .any(|c| matches!(c, Command::MovePlayer(_) | Command::AssignPlayer(_))),
            "{commands:?}"
        );
        assert_eq!(
            core.player(GuildId(1)).map(|p| p.placement),
            Some(PlayerPlacement::Serving {
                node: NodeId::new("eu-2")
            })
        );
        let eu2 = core.node_health(&NodeId::new("eu-2")).expect("known");
        assert_eq!(eu2.players, 2);
    }

    /// Where each move ordered by `commands` goes, by guild.
    fn move_targets(commands: &[Command]) -> Vec<(u64, String)> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::MovePlayer(order) => Some((order.guild.0, order.to.to_string())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn players_adopted_on_held_hosts_move_off_them_and_none_moves_onto_one() {
        // A controller taking over stands under the operator's holds before it adopts.
        let (mut core, now) = warm();
        core.set_node_hold(now, &NodeId::new("eu-2"), Some(NodeHold::Drained))
            .expect("known node");
        core.fail_over_region(now, &RegionId::new("us"))
            .expect("known region");
        drain(&mut core);
        core.handle_players_adopted(
            now,
            &[
                adoption(1, Some("eu-2")),
                adoption(2, Some("us-1")),
                adoption(3, Some("eu-1")),
                adoption(4, None),
            ],
        );
        let commands = drain(&mut core);
        assert_eq!(
            move_targets(&commands),
            [(1, "eu-1".to_owned()), (2, "eu-1".to_owned())],
            "{commands:?}"
        );
        assert!(commands.iter().any(
            |c| matches!(c, Command::AssignPlayer(a) if a.guild == GuildId(4) && a.node.as_str() == "eu-1")
        ));
    }

    #[test]
    fn players_adopted_on_a_leaving_node_move_off_it_before_it_is_forgotten() {
        // A standby was told eu-2 left: with no players it keeps eu-2 known, leaving.
        let (mut core, now) = warm();
        let eu2 = NodeId::new("eu-2");
        core.remove_node(now, &eu2).expect("known node");
        drain(&mut core);
        assert!(core.node_health(&eu2).is_some_and(|r| r.leaving));
        let refused =
            core.handle_players_adopted(now, &[adoption(1, Some("eu-2")), adoption(2, None)]);
        assert!(refused.is_empty(), "{refused:?}");
        let commands = drain(&mut core);
        assert_eq!(
            move_targets(&commands),
            [(1, "eu-1".to_owned())],
            "{commands:?}"
        );
        assert!(commands.iter().any(
            |c| matches!(c, Command::AssignPlayer(a) if a.guild == GuildId(2) && a.node.as_str() == "eu-1")
        ));
        assert_eq!(
            core.forget_node(now, &eu2),
            Err(InputError::NodeStillHosts(eu2.clone())),
            "its player is still moving off"
        );
    }

    #[test]
    fn a_window_ended_into_a_drain_keeps_the_node_empty() {
        let (mut core, now) = warm();
        let eu2 = NodeId::new("eu-2");
        core.set_node_hold(now, &eu2, Some(NodeHold::Maintenance))
            .expect("known node");
        let report = core.node_health(&eu2).expect("known");
        assert!(report.maintenance && !report.available);
        core.set_node_hold(now, &eu2, Some(NodeHold::Drained))
            .expect("known node");
        let report = core.node_health(&eu2).expect("known");
        assert!(report.drained && !report.maintenance && !report.available);
        core.set_node_hold(now, &eu2, None).expect("known node");
        let report = core.node_health(&eu2).expect("known");
        assert!(!report.drained && !report.maintenance && report.available);
        assert!(
            core.set_node_hold(now, &NodeId::new("ap-9"), None).is_err(),
            "an unknown node is an error"
        );
    }

    #[test]
    fn a_copy_of_the_core_keeps_the_players_it_was_taken_with() {
        // Views are copies that share the player table until the core changes it.
        let (mut core, now) = warm();
        core.handle_players_adopted(now, &[adoption(1, Some("eu-2"))]);
        let before = core.clone();
        core.handle_players_adopted(now, &[adoption(2, Some("eu-1"))]);
        core.handle_playback_stopped(now, GuildId(1));
        assert_eq!(core.player_count(), 1);
        assert!(core.player(GuildId(1)).is_none());
        assert_eq!(
            before.player_count(),
            1,
            "the copy does not see later players"
        );
        assert_eq!(
            before.player(GuildId(1)).map(|p| p.placement),
            Some(PlayerPlacement::Serving {
                node: NodeId::new("eu-2")
            }),
            "the copy keeps a player the core forgot"
        );
        let copy = core.clone();
        let mut now = now;
        for _ in 0..core.config().health.fall {
            core.handle_probe_failed(now, &NodeId::new("eu-1"), ProbeFailure::ConnectionFailed)
                .expect("known node");
            now = now.plus_ms(10);
        }
        assert!(
            matches!(
                core.player(GuildId(2)).map(|p| p.placement),
                Some(PlayerPlacement::Moving { .. })
            ),
            "eu-1 died: its player moves"
        );
        assert_eq!(
            copy.player(GuildId(2)).map(|p| p.placement),
            Some(PlayerPlacement::Serving {
                node: NodeId::new("eu-1")
            }),
            "a change to a player both share is not seen by the copy"
        );
    }

    #[test]
    fn players_of_a_node_that_died_meanwhile_move_in_their_region_once() {
        let (mut core, mut now) = warm();
        let fall = core.config().health.fall;
        for _ in 0..fall {
            core.handle_probe_failed(now, &NodeId::new("eu-1"), ProbeFailure::ConnectionFailed)
                .expect("known node");
            now = now.plus_ms(10);
        }
        drain(&mut core);
        core.handle_players_adopted(now, &[adoption(1, Some("eu-1")), adoption(2, Some("eu-1"))]);
        let moves: Vec<_> = drain(&mut core)
            .into_iter()
            .filter_map(|c| match c {
                Command::MovePlayer(order) => Some(order),
                _ => None,
            })
            .collect();
        assert_eq!(moves.len(), 2, "{moves:?}");
        assert!(moves.iter().all(|m| m.to == NodeId::new("eu-2")));
        assert_eq!(
            core.failover_history().count(),
            1,
            "one incident for the node"
        );
    }

    #[test]
    fn unknown_names_are_refused_and_tracked_guilds_keep_their_record() {
        let (mut core, now) = warm();
        let mut unknown_plan = adoption(1, Some("eu-1"));
        unknown_plan.plan = PlanId::new("nope");
        let refused = core.handle_players_adopted(
            now,
            &[
                unknown_plan,
                adoption(2, Some("mars-1")),
                adoption(3, Some("eu-1")),
            ],
        );
        assert_eq!(refused.len(), 2, "{refused:?}");
        core.handle_players_adopted(now, &[adoption(3, Some("eu-2"))]);
        assert_eq!(
            core.player(GuildId(3)).map(|p| p.placement),
            Some(PlayerPlacement::Serving {
                node: NodeId::new("eu-1")
            }),
            "the first record stands"
        );
    }

    #[test]
    fn a_guild_without_a_node_is_placed_and_a_displaced_one_is_restored_later() {
        let (mut core, now) = warm();
        let mut displaced = adoption(2, Some("eu-2"));
        displaced.displaced_from = Some(NodeId::new("eu-1"));
        core.handle_players_adopted(now, &[adoption(1, None), displaced]);
        let commands = drain(&mut core);
        assert!(
            commands
                .iter()
                .any(|c| matches!(c, Command::AssignPlayer(a) if a.guild == GuildId(1))),
            "{commands:?}"
        );
        assert_eq!(
            core.player(GuildId(2)).and_then(|p| p.displaced_from),
            Some(NodeId::new("eu-1"))
        );
        let hold_ms = core.config().restoration.hold_ms;
        let mut at = now;
        let mut restored = false;
        for _ in 0..200 {
            at = at.plus_ms(hold_ms / 50);
            core.handle_timeout(at);
            for command in drain(&mut core) {
                match command {
                    Command::Probe { node } => {
                        core.handle_probe_ok(at, &node, 5, None).expect("known");
                    }
                    Command::MovePlayer(order) if order.guild == GuildId(2) => {
                        assert_eq!(order.to, NodeId::new("eu-1"));
                        assert!(at >= now.plus_ms(hold_ms), "restoration waits its hold");
                        restored = true;
                    }
                    _ => {}
                }
            }
            if restored {
                break;
            }
        }
        assert!(restored, "the displaced guild returns to eu-1");
    }
}
