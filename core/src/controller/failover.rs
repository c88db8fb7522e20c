//! Failover planning and move execution.
//!
//! Planning picks every displaced player's target at once, reserving capacity as it goes;
//! dispatch hands at most `max_moves_in_flight` moves to the shell, re-checking each
//! target; outcomes (or timeouts) complete, retry or degrade them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::command::{Command, DegradedReason, MoveOrder, MoveReason};
use crate::health::NodeStatus;
use crate::history::{FailoverTrigger, Tally};
use crate::ids::{GuildId, IncidentId, MoveId};
use crate::time::Millis;
use crate::topology::NodeIdx;

use super::players::{Eligibility, Placement, Player, player_mut};
use super::{Controller, Sabotage};

#[derive(Debug, Clone)]
pub(crate) struct Move {
    pub(crate) guild: GuildId,
    pub(crate) from: Option<NodeIdx>,
    pub(crate) to: NodeIdx,
    pub(crate) reason: MoveReason,
    pub(crate) incident: IncidentId,
    /// Fixed at planning when the source failed; otherwise read at dispatch.
    frozen_position_ms: Option<u64>,
    /// Set once dispatched.
    deadline: Option<Millis>,
}

/// Moves planned, queued and in flight.
#[derive(Debug, Clone, Default)]
pub(crate) struct MoveBook {
    next_id: u64,
    moves: BTreeMap<MoveId, Move>,
    queue: VecDeque<MoveId>,
    in_flight: BTreeSet<MoveId>,
}

impl MoveBook {
    pub(crate) fn allocate_id(&mut self) -> MoveId {
        self.next_id += 1;
        MoveId(self.next_id)
    }

    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        self.in_flight
            .iter()
            .filter_map(|id| self.moves[id].deadline)
            .min()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub(crate) fn get(&self, id: MoveId) -> Option<&Move> {
        self.moves.get(&id)
    }

    /// Whether any planned or in-flight move still departs from `node`.
    pub(crate) fn any_from(&self, node: NodeIdx) -> bool {
        self.moves.values().any(|m| m.from == Some(node))
    }

    /// Queued (not yet dispatched) moves heading to `node` for `reason`.
    pub(crate) fn queued_to(&self, node: NodeIdx, reason: MoveReason) -> Vec<MoveId> {
        self.queue
            .iter()
            .copied()
            .filter(|id| self.moves[id].to == node && self.moves[id].reason == reason)
            .collect()
    }

    fn take(&mut self, id: MoveId) -> Option<Move> {
        let taken = self.moves.remove(&id)?;
        if !self.in_flight.remove(&id) {
            self.queue.retain(|queued| *queued != id);
        }
        Some(taken)
    }
}

/// Where a player should resume after its node failed: its last report, extrapolated no
/// further than the node's last sign of life (audio stopped then) nor past `now`.
fn fault_position(now: Millis, player: &Player, node_alive_at: Option<Millis>) -> u64 {
    let cutoff = node_alive_at
        .map_or(player.position_at, |a| a.max(player.position_at))
        .min(now);
    player.position_at(cutoff)
}

/// Whether a move's source node is still alive, so a failed move can fall back to it.
fn source_alive(reason: MoveReason) -> bool {
    !matches!(reason, MoveReason::NodeDown | MoveReason::Recovery)
}

impl Controller {
    /// Plans moves for every player serving on `node`.
    pub(super) fn evacuate(
        &mut self,
        now: Millis,
        node: NodeIdx,
        reason: MoveReason,
        trigger: FailoverTrigger,
    ) {
        self.evacuate_all(now, &[node], reason, trigger);
    }

    /// Plans moves for every player serving on any of `nodes`, in one pass over the
    /// players (a region may hold hundreds of thousands).
    pub(super) fn evacuate_all(
        &mut self,
        now: Millis,
        nodes: &[NodeIdx],
        reason: MoveReason,
        trigger: FailoverTrigger,
    ) {
        let guilds: Vec<(GuildId, NodeIdx, Eligibility)> = self
            .players
            .iter()
            .filter_map(|(guild, p)| {
                let node = p.serving_node().filter(|n| nodes.contains(n))?;
                Some((*guild, node, p.eligibility()))
            })
            .collect();
        if guilds.is_empty() || self.sabotaged(Sabotage::NeverFailOver) {
            return;
        }
        let incident = self.history.open(now, trigger);
        for (guild, node, who) in guilds {
            self.plan_move_inner(now, guild, who, Some(node), None, reason, incident, false);
        }
        self.settle_incident(now, incident);
        self.dispatch_moves(now);
    }

    /// Plans one guild's move from `from` (or from nowhere, for a degraded guild).
    pub(super) fn plan_move(
        &mut self,
        now: Millis,
        guild: GuildId,
        from: Option<NodeIdx>,
        reason: MoveReason,
        incident: IncidentId,
    ) {
        let who = self.players[&guild].eligibility();
        self.plan_move_inner(now, guild, who, from, None, reason, incident, false);
    }

    /// `avoid` is a node that just failed this guild; `retry` means the incident already
    /// counts this guild as planned.
    #[allow(clippy::too_many_arguments)]
    fn plan_move_inner(
        &mut self,
        now: Millis,
        guild: GuildId,
        who: Eligibility,
        from: Option<NodeIdx>,
        avoid: Option<NodeIdx>,
        reason: MoveReason,
        incident: IncidentId,
        retry: bool,
    ) {
        let exclude: Vec<NodeIdx> = from.into_iter().chain(avoid).collect();
        let Some((to, _over_capacity)) = self.choose_node(now, who, &exclude) else {
            self.no_target(now, guild, from, reason, incident, retry);
            return;
        };
        self.enqueue_move(now, guild, from, to, reason, incident, retry);
    }

    /// Reserves room on `to` and queues the move.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn enqueue_move(
        &mut self,
        now: Millis,
        guild: GuildId,
        from: Option<NodeIdx>,
        to: NodeIdx,
        reason: MoveReason,
        incident: IncidentId,
        retry: bool,
    ) {
        if let Some(from) = from {
            self.add_assigned(from, -1);
        }
        self.add_assigned(to, 1);
        let id = self.moves.allocate_id();
        // One lookup: the node table and the player map are disjoint fields.
        let nodes = &self.nodes;
        let player = player_mut(&mut self.players, &guild).expect("callers pass tracked guilds");
        let frozen_position_ms = (!source_alive(reason)).then(|| {
            let last = from.or(player.last_node);
            let alive = last.and_then(|n| nodes[n.0 as usize].health.last_alive_at());
            fault_position(now, player, alive)
        });
        player.placement = Placement::Moving { id, to };
        if from.is_some() {
            player.last_node = from;
        }
        match reason {
            MoveReason::NodeDown
            | MoveReason::Drain
            | MoveReason::RegionEvacuation
            | MoveReason::Rollback => {
                // Remember the original node only: a twice-displaced player returns home.
                player.displaced_from = player.displaced_from.or(from);
            }
            MoveReason::Restoration | MoveReason::Recovery | MoveReason::Policy => {}
        }
        self.moves.moves.insert(
            id,
            Move {
                guild,
                from,
                to,
                reason,
                incident,
                frozen_position_ms,
                deadline: None,
            },
        );
        self.moves.queue.push_back(id);
        if !retry {
            self.history.tally(now, incident, Tally::Planned);
        }
    }

    /// No node can take the guild: a failed source degrades it, a live one keeps it.
    fn no_target(
        &mut self,
        now: Millis,
        guild: GuildId,
        from: Option<NodeIdx>,
        reason: MoveReason,
        incident: IncidentId,
        retry: bool,
    ) {
        if source_alive(reason) {
            // It still plays where it is; nothing is lost by leaving it there.
            if retry && let Some(record) = self.history.tally(now, incident, Tally::Cancelled) {
                self.commands.push_back(Command::RecordFailover(record));
            }
            return;
        }
        if !retry {
            self.history.tally(now, incident, Tally::Planned);
        }
        if let Some(from) = from {
            self.add_assigned(from, -1);
            let player =
                player_mut(&mut self.players, &guild).expect("callers pass tracked guilds");
            player.last_node = Some(from);
            player.displaced_from = player.displaced_from.or(Some(from));
        }
        self.mark_degraded(now, guild, DegradedReason::NoServingNode);
        if let Some(record) = self.history.tally(now, incident, Tally::Degraded) {
            self.commands.push_back(Command::RecordFailover(record));
        }
    }

    pub(super) fn settle_incident(&mut self, now: Millis, incident: IncidentId) {
        if let Some(record) = self.history.settle(now, incident, false) {
            self.commands.push_back(Command::RecordFailover(record));
        }
    }

    /// Hands queued moves to the shell, up to the in-flight limit.
    pub(super) fn dispatch_moves(&mut self, now: Millis) {
        let limit = self.config.failover.max_moves_in_flight as usize;
        while self.moves.in_flight() < limit {
            let Some(id) = self.moves.queue.pop_front() else {
                break;
            };
            let (target, reason) = {
                let m = &self.moves.moves[&id];
                (m.to, m.reason)
            };
            if !self.accepts_players(target) {
                // A restoration only ever returns players to its own node.
                let resolved = if reason == MoveReason::Restoration {
                    self.abandon_move(now, id);
                    false
                } else {
                    self.retarget(now, id)
                };
                if !resolved {
                    continue;
                }
            }
            let m = &self.moves.moves[&id];
            let player = &self.players[&m.guild];
            let position_ms = m
                .frozen_position_ms
                .unwrap_or_else(|| player.position_at(now));
            let delete_from = !self.sabotaged(Sabotage::KeepLeftBehindPlayers)
                && m.from.is_some_and(|n| {
                    let node = self.node(n);
                    !node.gone && node.health.status() != NodeStatus::Down
                });
            let order = MoveOrder {
                id,
                guild: m.guild,
                from: m.from.map(|n| self.node(n).id.clone()),
                delete_from,
                to: self.node(m.to).id.clone(),
                position_ms,
                reason: m.reason,
                incident: m.incident,
            };
            let deadline = now.plus_ms(self.config.failover.move_timeout_ms);
            self.moves.moves.get_mut(&id).expect("just read").deadline = Some(deadline);
            self.moves.in_flight.insert(id);
            self.commands.push_back(Command::MovePlayer(order));
        }
    }

    /// The planned target stopped accepting players before dispatch: pick another.
    /// Returns false when the move was resolved otherwise (fell back or degraded).
    fn retarget(&mut self, now: Millis, id: MoveId) -> bool {
        let (guild, from, old_to) = {
            let m = &self.moves.moves[&id];
            (m.guild, m.from, m.to)
        };
        self.add_assigned(old_to, -1);
        let exclude: Vec<NodeIdx> = from.into_iter().chain([old_to]).collect();
        match self.choose_node(now, self.players[&guild].eligibility(), &exclude) {
            Some((to, _)) => {
                self.add_assigned(to, 1);
                self.moves
                    .moves
                    .get_mut(&id)
                    .expect("queued moves are in the book")
                    .to = to;
                player_mut(&mut self.players, &guild)
                    .expect("moving guilds are tracked")
                    .placement = Placement::Moving { id, to };
                true
            }
            None => {
                // Undo the reservation swap: abandon counts it back off the target.
                self.add_assigned(old_to, 1);
                self.abandon_move(now, id);
                false
            }
        }
    }

    /// The shell re-created the player on the target node.
    pub fn handle_move_succeeded(&mut self, now: Millis, id: MoveId) {
        // A removing node may just have lost its last departing player.
        self.derived_dirty = true;
        let Some(m) = self.moves.take(id) else {
            return; // Cancelled meanwhile, or already timed out: nothing to do.
        };
        if let Some(player) = player_mut(&mut self.players, &m.guild)
            && matches!(player.placement, Placement::Moving { id: current, .. } if current == id)
        {
            player.placement = Placement::Serving(m.to);
            player.last_node = Some(m.to);
            player.attempts = 0;
            if player.displaced_from == Some(m.to) || m.reason == MoveReason::Restoration {
                player.displaced_from = None;
            }
            if m.reason == MoveReason::Restoration {
                self.note_restored(m.to, m.guild);
            }
        }
        if let Some(record) = self.history.tally(now, m.incident, Tally::Moved) {
            self.commands.push_back(Command::RecordFailover(record));
        }
        self.dispatch_moves(now);
        self.settle(now);
    }

    /// The shell could not re-create the player on the target node.
    pub fn handle_move_failed(&mut self, now: Millis, id: MoveId) {
        self.derived_dirty = true;
        self.fail_move(now, id);
        self.dispatch_moves(now);
        self.settle(now);
    }

    /// Fails in-flight moves whose deadline passed.
    pub(super) fn expire_moves(&mut self, now: Millis) {
        let expired: Vec<MoveId> = self
            .moves
            .in_flight
            .iter()
            .filter(|id| self.moves.moves[*id].deadline.is_some_and(|d| d <= now))
            .copied()
            .collect();
        for id in expired {
            self.fail_move(now, id);
        }
        self.dispatch_moves(now);
    }

    /// A failed move is retried elsewhere while attempts remain; then the guild falls back
    /// to its source if that still plays, or is reported degraded. A restoration is not
    /// retried: it returns a player to the node it was displaced from, and elsewhere
    /// would only move a player that plays well where it is.
    fn fail_move(&mut self, now: Millis, id: MoveId) {
        let Some(m) = self.moves.take(id) else {
            return;
        };
        self.add_assigned(m.to, -1);
        self.history.tally(now, m.incident, Tally::FailedAttempt);
        let Some(player) = player_mut(&mut self.players, &m.guild) else {
            return;
        };
        player.attempts += 1;
        let retry = player.attempts < self.config.failover.move_attempts_max
            && m.reason != MoveReason::Restoration;
        // Back where it was, so a retry or a fallback starts from a consistent state.
        if let Some(from) = m.from {
            player.placement = Placement::Serving(from);
            self.add_assigned(from, 1);
        }
        let avoid = [m.from, Some(m.to)];
        let avoid: Vec<NodeIdx> = avoid.into_iter().flatten().collect();
        if retry
            && self
                .choose_node(now, self.players[&m.guild].eligibility(), &avoid)
                .is_some()
        {
            let who = self.players[&m.guild].eligibility();
            self.plan_move_inner(
                now,
                m.guild,
                who,
                m.from,
                Some(m.to),
                m.reason,
                m.incident,
                true,
            );
        } else {
            self.give_up_move(now, &m);
        }
    }

    fn give_up_move(&mut self, now: Millis, m: &Move) {
        let source_plays = m.from.is_some_and(|n| {
            let node = self.node(n);
            !node.gone && node.health.status() != NodeStatus::Down
        });
        let tally = if source_alive(m.reason) && source_plays {
            Tally::Cancelled
        } else {
            if let Some(from) = m.from {
                self.add_assigned(from, -1);
            }
            self.mark_degraded(now, m.guild, DegradedReason::MovesFailed);
            Tally::Degraded
        };
        if let Some(record) = self.history.tally(now, m.incident, tally) {
            self.commands.push_back(Command::RecordFailover(record));
        }
    }

    /// Cancels a move because its guild stopped playing.
    pub(super) fn cancel_move(&mut self, now: Millis, id: MoveId) {
        if let Some(m) = self.moves.take(id)
            && let Some(record) = self.history.tally(now, m.incident, Tally::Cancelled)
        {
            self.commands.push_back(Command::RecordFailover(record));
        }
    }

    /// Entering fail-open: moves not yet handed out whose source "failed" are undone, since
    /// the controller no longer trusts that it failed. The guilds stay where they were.
    pub(super) fn freeze_queued_moves(&mut self, now: Millis) {
        let queued: Vec<MoveId> = self
            .moves
            .queue
            .iter()
            .copied()
            .filter(|id| !source_alive(self.moves.moves[id].reason))
            .collect();
        let mut incidents = BTreeSet::new();
        for id in queued {
            let m = self.moves.take(id).expect("collected from the queue");
            self.add_assigned(m.to, -1);
            incidents.insert(m.incident);
            self.history.tally(now, m.incident, Tally::Cancelled);
            match m.from {
                Some(from) => {
                    self.add_assigned(from, 1);
                    let player =
                        player_mut(&mut self.players, &m.guild).expect("moving guilds are tracked");
                    player.placement = Placement::Serving(from);
                }
                None => self.mark_degraded(now, m.guild, DegradedReason::ControllerIsolated),
            }
        }
        for incident in incidents {
            if let Some(record) = self.history.settle(now, incident, true) {
                self.commands.push_back(Command::RecordFailover(record));
            }
        }
    }

    /// Abandons a queued move whose target went away and for which no other target exists.
    pub(super) fn abandon_move(&mut self, now: Millis, id: MoveId) {
        let m = self
            .moves
            .take(id)
            .expect("only queued moves are abandoned");
        self.add_assigned(m.to, -1);
        if let Some(from) = m.from {
            self.add_assigned(from, 1);
            player_mut(&mut self.players, &m.guild)
                .expect("moving guilds are tracked")
                .placement = Placement::Serving(from);
        }
        self.give_up_move(now, &m);
    }
}
