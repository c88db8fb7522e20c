//! Read-only views of the controller's state, for the status API, reports and tests.

use serde::{Deserialize, Serialize};

use crate::alerts::{AlertSubject, Severity};
use crate::command::{DegradedReason, NodeHealthReport};
use crate::history::FailoverRecord;
use crate::ids::{GuildId, NodeId, PlanId, ProcessId, RegionId};
use crate::shards::ShardView;
use crate::time::Millis;

use super::Controller;
use super::players::{Placement, Player};

/// Where a guild's player is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PlayerPlacement {
    /// Playing on a node.
    Serving {
        /// The node.
        node: NodeId,
    },
    /// Being re-created on another node.
    Moving {
        /// Where it played (or `None` when it had no player).
        from: Option<NodeId>,
        /// The node it moves to.
        to: NodeId,
    },
    /// No player, and the reason was reported.
    Degraded {
        /// Why.
        reason: DegradedReason,
    },
}

/// One guild as the controller tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerView {
    /// The guild.
    pub guild: GuildId,
    /// Its plan.
    pub plan: PlanId,
    /// Its effective home region.
    pub home_region: RegionId,
    /// Whether its home region is a residency pin.
    pub pinned: bool,
    /// Where its player is.
    pub placement: PlayerPlacement,
    /// The node it was displaced from and will return to.
    pub displaced_from: Option<NodeId>,
}

/// An alert currently notified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    /// Its dedup key.
    pub dedup_key: String,
    /// What it is about.
    pub subject: AlertSubject,
    /// How urgent.
    pub severity: Severity,
    /// One line for people.
    pub summary: String,
    /// When it started.
    pub since: Millis,
}

impl Controller {
    /// Every node's health, in the order nodes joined.
    pub fn nodes(&self) -> Vec<NodeHealthReport> {
        self.live_nodes()
            .map(|(idx, _)| self.node_report(idx))
            .collect()
    }

    /// One node's health.
    pub fn node_health(&self, node: &NodeId) -> Option<NodeHealthReport> {
        let idx = self.node_index.get(node)?;
        Some(self.node_report(*idx))
    }

    /// One guild's player.
    pub fn player(&self, guild: GuildId) -> Option<PlayerView> {
        self.players.get(&guild).map(|p| self.player_view(guild, p))
    }

    /// Every tracked guild, by guild id.
    pub fn players(&self) -> impl Iterator<Item = PlayerView> + '_ {
        self.players
            .iter()
            .map(|(guild, p)| self.player_view(*guild, p))
    }

    /// Every tracked guild's id, in order (without building each player's view).
    pub fn guilds(&self) -> impl Iterator<Item = GuildId> + '_ {
        self.players.keys().copied()
    }

    /// How many guilds are tracked.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// Guilds without a player, by guild id.
    pub fn degraded_guilds(&self) -> impl Iterator<Item = GuildId> + '_ {
        self.degraded.iter().copied()
    }

    /// Moves handed to the shell and not yet reported back.
    pub fn moves_in_flight(&self) -> usize {
        self.moves.in_flight()
    }

    /// The failover history, oldest first.
    pub fn failover_history(&self) -> impl DoubleEndedIterator<Item = &FailoverRecord> {
        self.history.records()
    }

    /// Alerts currently notified, by dedup key order of their subjects.
    pub fn active_alerts(&self) -> Vec<ActiveAlert> {
        self.alerts
            .active()
            .map(|(subject, severity, summary, since)| ActiveAlert {
                dedup_key: subject.dedup_key(),
                subject: subject.clone(),
                severity,
                summary: summary.to_owned(),
                since,
            })
            .collect()
    }

    /// Every shard's ownership.
    pub fn shards(&self) -> Vec<ShardView> {
        self.shards.views().collect()
    }

    /// Registered hot spares.
    pub fn spares(&self) -> Vec<ProcessId> {
        self.shards.spares().cloned().collect()
    }

    /// Whether shard promotions are frozen because most shards went silent at once.
    pub fn shard_promotions_frozen(&self) -> bool {
        self.shards.is_frozen()
    }

    /// Regions an operator failed over.
    pub fn evacuated_regions(&self) -> impl Iterator<Item = &RegionId> {
        self.evacuated_regions
            .iter()
            .enumerate()
            .filter(|(_, evacuated)| **evacuated)
            .map(|(r, _)| &self.topology.regions[r].id)
    }

    fn player_view(&self, guild: GuildId, player: &Player) -> PlayerView {
        let name = |idx: crate::topology::NodeIdx| self.node(idx).id.clone();
        let placement = match &player.placement {
            Placement::Serving(node) => PlayerPlacement::Serving { node: name(*node) },
            Placement::Moving { id, to } => PlayerPlacement::Moving {
                from: self.moves.get(*id).and_then(|m| m.from).map(name),
                to: name(*to),
            },
            Placement::Degraded(reason) => PlayerPlacement::Degraded {
                reason: reason.clone(),
            },
        };
        PlayerView {
            guild,
            plan: self.topology.plan_entry(player.plan).id.clone(),
            home_region: self.region_name(player.home).clone(),
            pinned: player.pinned,
            placement,
            displaced_from: player.displaced_from.map(name),
        }
    }
}
