//! Guilds that want playback: requests, position reports and placement.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::alerts::{AlertSubject, Severity};
use crate::command::{Assignment, Command, DegradedReason, MoveReason};
use crate::history::FailoverTrigger;
use crate::ids::{GuildId, MoveId, NodeId, PlanId, RegionId};
use crate::time::Millis;
use crate::topology::{NodeIdx, PlanIdx, RegionIdx};

use super::{Controller, InputError, Sabotage};

/// A guild asks for a player (the bot's `play` when it has none yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybackRequest {
    /// The guild.
    pub guild: GuildId,
    /// Its plan; decides which regions it may use.
    pub plan: PlanId,
    /// The region it asked for, if any; clamped to the plan's regions.
    pub region: Option<RegionId>,
    /// A data-residency pin: the guild never plays outside this region.
    pub residency: Option<RegionId>,
}

/// Where a guild's player is, as the controller tracks it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Placement {
    Serving(NodeIdx),
    Moving { id: MoveId, to: NodeIdx },
    Degraded(DegradedReason),
}

/// One tracked guild; kept small because there may be hundreds of thousands.
#[derive(Debug, Clone)]
pub(crate) struct Player {
    pub(crate) plan: PlanIdx,
    /// Effective home region after clamping (the pin, when pinned).
    pub(crate) home: RegionIdx,
    pub(crate) pinned: bool,
    pub(crate) placement: Placement,
    /// The node it last played on, when it played anywhere.
    pub(crate) last_node: Option<NodeIdx>,
    /// The node failover moved it away from, for restoration.
    pub(crate) displaced_from: Option<NodeIdx>,
    pub(crate) position_ms: u64,
    pub(crate) position_at: Millis,
    pub(crate) playing: bool,
    pub(crate) track_length_ms: Option<u64>,
    /// Failed move attempts in a row.
    pub(crate) attempts: u32,
    /// Whether the bot asked for a region its plan does not allow (kept so a later
    /// assignment reports the clamp as the first answer would have).
    pub(crate) clamped: bool,
}

/// What decides where a guild may play; copied out of a player so placement does not
/// hold a borrow of the player map.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Eligibility {
    pub(crate) plan: PlanIdx,
    pub(crate) home: RegionIdx,
    pub(crate) pinned: bool,
}

impl Player {
    pub(crate) fn eligibility(&self) -> Eligibility {
        Eligibility {
            plan: self.plan,
            home: self.home,
            pinned: self.pinned,
        }
    }

    /// Position extrapolated to `at` from the last report (never backwards).
    pub(crate) fn position_at(&self, at: Millis) -> u64 {
        let elapsed = if self.playing {
            at.ms_since(self.position_at)
        } else {
            0
        };
        let position = self.position_ms.saturating_add(elapsed);
        self.track_length_ms
            .map_or(position, |length| position.min(length))
    }

    pub(crate) fn serving_node(&self) -> Option<NodeIdx> {
        match self.placement {
            Placement::Serving(node) => Some(node),
            _ => None,
        }
    }
}

impl Controller {
    /// A guild wants a player. New guilds are placed (or reported degraded); a known guild
    /// whose plan or pin changed is moved if where it plays is no longer allowed.
    pub fn handle_playback_requested(
        &mut self,
        now: Millis,
        request: &PlaybackRequest,
    ) -> Result<(), InputError> {
        let (who, clamped) = self.eligibility_of(request)?;
        let (plan, home) = (who.plan, who.home);
        let pin = who.pinned.then_some(home);
        if let Some(player) = player_mut(&mut self.players, &request.guild) {
            player.plan = plan;
            player.home = home;
            player.pinned = pin.is_some();
            player.clamped = clamped;
            if matches!(player.placement, Placement::Degraded(_)) {
                // The bot asks again for a guild without a node: answer with one now if
                // any can take it (the bot creates the player), rather than leave the
                // guild waiting for a recovery move that has no player to move.
                self.place_degraded(now, request.guild);
            } else {
                self.enforce_policy(now, request.guild);
            }
        } else {
            Arc::make_mut(&mut self.players).insert(
                request.guild,
                Player {
                    plan,
                    home,
                    pinned: pin.is_some(),
                    placement: Placement::Degraded(DegradedReason::NoServingNode),
                    last_node: None,
                    displaced_from: None,
                    position_ms: 0,
                    position_at: now,
                    playing: true,
                    track_length_ms: None,
                    attempts: 0,
                    clamped,
                },
            );
            self.place_new(now, request.guild);
        }
        self.settle(now);
        Ok(())
    }

    pub(super) fn place_new(&mut self, now: Millis, guild: GuildId) {
        let player = &self.players[&guild];
        let (home, clamped) = (player.home, player.clamped);
        match self.choose_node(now, player.eligibility(), &[]) {
            Some((node, over_capacity)) => {
                self.add_assigned(node, 1);
                let node_id = self.node(node).id.clone();
                let region = self.region_name(self.node(node).region).clone();
                let player = player_mut(&mut self.players, &guild).expect("inserted above");
                player.placement = Placement::Serving(node);
                player.last_node = Some(node);
                self.commands.push_back(Command::AssignPlayer(Assignment {
                    guild,
                    node: node_id,
                    region,
                    effective_region: self.region_name(home).clone(),
                    clamped,
                    over_capacity,
                }));
            }
            None => self.mark_degraded(now, guild, DegradedReason::NoServingNode),
        }
    }

    /// Places a degraded guild whose bot asked again, if a node can take it now.
    fn place_degraded(&mut self, now: Millis, guild: GuildId) {
        if self
            .choose_node(now, self.players[&guild].eligibility(), &[])
            .is_none()
        {
            return;
        }
        self.degraded.remove(&guild);
        self.derived_dirty = true;
        player_mut(&mut self.players, &guild)
            .expect("callers pass tracked guilds")
            .attempts = 0;
        self.place_new(now, guild);
    }

    /// Where a guild asking for playback would be placed now, without placing it:
    /// the node and whether it would be filled past its capacity; `None` when no node
    /// could take it (it would be reported degraded).
    pub fn preview_placement(
        &self,
        request: &PlaybackRequest,
    ) -> Result<Option<(NodeId, bool)>, InputError> {
        let (who, _) = self.eligibility_of(request)?;
        Ok(self
            .choose_node(self.now, who, &[])
            .map(|(node, over)| (self.node(node).id.clone(), over)))
    }

    /// Where a request may play: its plan, its effective home (the pin, else the
    /// requested region when the plan allows it, else the plan's default) and whether
    /// the requested region was clamped.
    fn eligibility_of(&self, request: &PlaybackRequest) -> Result<(Eligibility, bool), InputError> {
        let plan = self
            .topology
            .plan(&request.plan)
            .ok_or_else(|| InputError::UnknownPlan(request.plan.clone()))?;
        let requested = request
            .region
            .as_ref()
            .map(|r| self.region_idx(r))
            .transpose()?;
        let pin = request
            .residency
            .as_ref()
            .map(|r| self.region_idx(r))
            .transpose()?
            .filter(|_| !self.sabotaged(Sabotage::IgnoreResidency));
        let plan_entry = self.topology.plan_entry(plan);
        let clamped = requested.is_some_and(|r| !plan_entry.allows(r));
        let unclamped = self.sabotaged(Sabotage::IgnorePlanClamp);
        let home = pin
            .or(requested.filter(|r| unclamped || plan_entry.allows(*r)))
            .unwrap_or_else(|| plan_entry.default_region());
        Ok((
            Eligibility {
                plan,
                home,
                pinned: pin.is_some(),
            },
            clamped,
        ))
    }

    /// The guild no longer wants playback: forget it.
    pub fn handle_playback_stopped(&mut self, now: Millis, guild: GuildId) {
        let tracked = self.players.contains_key(&guild);
        if let Some(player) = tracked
            .then(|| Arc::make_mut(&mut self.players).remove(&guild))
            .flatten()
        {
            match player.placement {
                Placement::Serving(node) => self.add_assigned(node, -1),
                Placement::Moving { id, to } => {
                    self.add_assigned(to, -1);
                    self.cancel_move(now, id);
                }
                Placement::Degraded(_) => {
                    self.degraded.remove(&guild);
                    self.derived_dirty = true;
                }
            }
        }
        self.settle(now);
    }

    /// The player's position as last reported by its node (`playerUpdate`), with whether
    /// it is playing (not paused) and the track's length when known.
    pub fn handle_player_update(
        &mut self,
        now: Millis,
        guild: GuildId,
        position_ms: u64,
        playing: bool,
        track_length_ms: Option<u64>,
    ) {
        if let Some(player) = player_mut(&mut self.players, &guild) {
            player.position_ms = position_ms;
            player.position_at = now;
            player.playing = playing;
            player.track_length_ms = track_length_ms;
        }
    }

    /// Regions a guild may play in, best first: its home, then the other regions its plan
    /// allows by priority. A pinned guild has only its pin.
    pub(super) fn candidate_regions(
        &self,
        player: Eligibility,
    ) -> impl Iterator<Item = RegionIdx> + '_ {
        let others = if player.pinned {
            &[][..]
        } else {
            &self.topology.plan_entry(player.plan).allowed[..]
        };
        let home = player.home;
        std::iter::once(home).chain(others.iter().copied().filter(move |r| *r != home))
    }

    /// Whether a guild may play on a node at all (plan and residency).
    pub(super) fn allowed_on(&self, player: Eligibility, node: NodeIdx) -> bool {
        let region = self.node(node).region;
        if player.pinned {
            region == player.home
        } else {
            region == player.home || self.topology.plan_entry(player.plan).allows(region)
        }
    }

    /// The best node for a guild: the first candidate region with a serving node that has
    /// room, by priority then load; when every allowed node is full, the least loaded one
    /// if overcommit is allowed (the flag says so). `None` when nothing serves.
    pub(super) fn choose_node(
        &self,
        now: Millis,
        player: Eligibility,
        exclude: &[NodeIdx],
    ) -> Option<(NodeIdx, bool)> {
        for region in self.candidate_regions(player) {
            if let Some(node) = self.best_in_region(now, region, exclude, true) {
                return Some((node, false));
            }
        }
        if !self.config.failover.overcommit_when_full {
            return None;
        }
        self.candidate_regions(player)
            .find_map(|region| self.best_in_region(now, region, exclude, false))
            .map(|node| (node, true))
    }

    fn best_in_region(
        &self,
        now: Millis,
        region: RegionIdx,
        exclude: &[NodeIdx],
        need_room: bool,
    ) -> Option<NodeIdx> {
        if self.region_evacuated(region) {
            return None;
        }
        let mut best: Option<(NodeIdx, i32, f64)> = None;
        for &idx in &self.region_nodes[usize::from(region.0)] {
            let node = self.node(idx);
            if self.sabotaged(Sabotage::PlaceOnDownNodes)
                && node.health.status() == crate::health::NodeStatus::Down
                && !exclude.contains(&idx)
            {
                return Some(idx);
            }
            if exclude.contains(&idx) || !node.accepts_players(false) {
                continue;
            }
            if need_room && node.assigned >= node.usable_capacity(now, &self.config.health) {
                continue;
            }
            let score = node.load_score();
            // Highest priority first, then the lowest load, then the name.
            let better = best.is_none_or(|(best_idx, best_priority, best_score)| {
                node.priority > best_priority
                    || (node.priority == best_priority
                        && (score < best_score
                            || (score == best_score && node.id < self.node(best_idx).id)))
            });
            if better {
                best = Some((idx, node.priority, score));
            }
        }
        best.map(|(idx, _, _)| idx)
    }

    /// Reports a guild degraded (once per reason) and remembers to retry it. A lack of
    /// nodes is reported more precisely: as isolation during fail-open, or as the pin that
    /// keeps a guild where nothing serves.
    pub(super) fn mark_degraded(&mut self, now: Millis, guild: GuildId, cause: DegradedReason) {
        let reason = {
            let player = &self.players[&guild];
            if self.fail_open {
                DegradedReason::ControllerIsolated
            } else if player.pinned && cause == DegradedReason::NoServingNode {
                DegradedReason::ResidencyPinned {
                    region: self.region_name(player.home).clone(),
                }
            } else {
                cause
            }
        };
        let player = player_mut(&mut self.players, &guild).expect("callers pass tracked guilds");
        let newly = self.degraded.insert(guild);
        self.derived_dirty = true;
        let changed = !matches!(&player.placement, Placement::Degraded(r) if *r == reason);
        player.placement = Placement::Degraded(reason.clone());
        if newly || changed {
            self.commands
                .push_back(Command::ReportDegraded { guild, reason });
        }
        if self.degraded_retry_at.is_none() {
            self.degraded_retry_at = Some(now.plus_ms(self.config.failover.move_timeout_ms));
        }
    }

    /// Tries to give every degraded guild a player again.
    pub(super) fn retry_degraded(&mut self, now: Millis) {
        if self.fail_open {
            self.degraded_retry_at = Some(now.plus_ms(self.config.failover.move_timeout_ms));
            return;
        }
        let guilds: Vec<GuildId> = self.degraded.iter().copied().collect();
        let mut incident = None;
        for guild in guilds {
            let player = &self.players[&guild];
            if self.choose_node(now, player.eligibility(), &[]).is_none() {
                continue;
            }
            if player.last_node.is_none() {
                // A guild that never played has no player (and no snapshot) to move: it
                // is assigned a node, which its bot learns when it asks again.
                self.place_degraded(now, guild);
                continue;
            }
            let incident =
                *incident.get_or_insert_with(|| self.history.open(now, FailoverTrigger::Recovery));
            self.degraded.remove(&guild);
            player_mut(&mut self.players, &guild)
                .expect("degraded guilds are tracked")
                .attempts = 0;
            self.plan_move(now, guild, None, MoveReason::Recovery, incident);
        }
        if let Some(incident) = incident {
            self.settle_incident(now, incident);
            self.dispatch_moves(now);
        }
        if !self.degraded.is_empty() && self.degraded_retry_at.is_none() {
            self.degraded_retry_at = Some(now.plus_ms(self.config.failover.move_timeout_ms));
        }
    }

    /// Moves a guild whose plan or pin changed if where it plays is no longer allowed.
    pub(super) fn enforce_policy(&mut self, now: Millis, guild: GuildId) {
        let player = &self.players[&guild];
        let Some(node) = player.serving_node() else {
            return;
        };
        if self.allowed_on(player.eligibility(), node) {
            return;
        }
        let incident = self.history.open(now, FailoverTrigger::Policy);
        self.plan_move(now, guild, Some(node), MoveReason::Policy, incident);
        self.settle_incident(now, incident);
        self.dispatch_moves(now);
    }

    /// Fires or clears the residency alert of each region from the degraded set.
    pub(super) fn update_residency_alerts(&mut self, now: Millis) {
        let mut pinned_by_region = vec![0u32; self.topology.regions.len()];
        for guild in &self.degraded {
            let player = &self.players[guild];
            if player.pinned {
                pinned_by_region[usize::from(player.home.0)] += 1;
            }
        }
        for (r, count) in pinned_by_region.into_iter().enumerate() {
            let region = self.topology.regions[r].id.clone();
            let subject = AlertSubject::ResidencyDegraded {
                region: region.clone(),
            };
            if count > 0 {
                self.alerts.fire(
                    now,
                    subject,
                    Severity::Critical,
                    format!("{count} residency-pinned guild(s) in {region} have no serving node; they are kept in {region}, not moved"),
                );
            } else {
                self.alerts.clear(&subject);
            }
        }
    }
}

/// The tracked guild's player, for a change. The table is shared copy-on-write with the
/// views published from it, so it is copied (at most once per view) only when the guild
/// is there: an input about an unknown guild costs no copy.
pub(super) fn player_mut<'a>(
    players: &'a mut Arc<BTreeMap<GuildId, Player>>,
    guild: &GuildId,
) -> Option<&'a mut Player> {
    if !players.contains_key(guild) {
        return None;
    }
    Arc::make_mut(players).get_mut(guild)
}
