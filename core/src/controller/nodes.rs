//! Node table: probing, health transitions, region state and operator node operations.

use crate::alerts::{AlertSubject, Severity};
use crate::command::{AuditEvent, Command, MoveReason, NodeHealthReport};
use crate::config::HealthConfig;
use crate::health::{NodeHealth, NodeStatus, ProbeFailure, Transition};
use crate::history::FailoverTrigger;
use crate::ids::{NodeId, RegionId};
use crate::penalty::{NodeStats, stats_penalty};
use crate::time::Millis;
use crate::topology::{NodeIdx, NodeSpec, RegionIdx, check_node_spec};

use super::restoration::Restoration;
use super::{Controller, InputError};

#[derive(Debug, Clone)]
pub(crate) struct NodeEntry {
    pub(crate) id: NodeId,
    pub(crate) region: RegionIdx,
    pub(crate) priority: i32,
    pub(crate) weight: u32,
    pub(crate) capacity: u32,
    pub(crate) maintenance: bool,
    pub(crate) drained: bool,
    /// Joined at run time and not admitted yet: probed, but given no players.
    pub(crate) joining: bool,
    /// Removal requested: drained, and forgotten when the shell says so once empty.
    pub(crate) removing: bool,
    /// Removed: a tombstone that keeps indices stable.
    pub(crate) gone: bool,
    pub(crate) health: NodeHealth,
    pub(crate) stats: Option<NodeStats>,
    pub(crate) stats_penalty: f64,
    /// Players serving here plus moves heading here.
    pub(crate) assigned: u32,
    pub(crate) next_probe_at: Option<Millis>,
    /// Set while a probe is out; past it, the probe counts as timed out.
    pub(crate) probe_deadline: Option<Millis>,
    pub(crate) restoration: Option<Restoration>,
}

impl NodeEntry {
    pub(crate) fn next_timer(&self) -> Option<Millis> {
        self.probe_deadline.or(self.next_probe_at)
    }

    /// Whether new players (and moves) may go here, ignoring capacity.
    pub(crate) fn accepts_players(&self, region_evacuated: bool) -> bool {
        self.health.status().is_serving()
            && !self.maintenance
            && !self.drained
            && !self.joining
            && !self.removing
            && !self.gone
            && !region_evacuated
    }

    /// Players it may hold now: its capacity, reduced while in slow start.
    pub(crate) fn usable_capacity(&self, now: Millis, config: &HealthConfig) -> u32 {
        let share = self.health.capacity_share(now, config);
        ((f64::from(self.capacity) * share) as u32).max(1)
    }

    /// The load used to compare nodes: players plus the stats-derived penalty, by weight.
    pub(crate) fn load_score(&self) -> f64 {
        let remote = self.stats.as_ref().map_or(0, |s| s.playing_players);
        (f64::from(self.assigned.max(remote)) + self.stats_penalty) / f64::from(self.weight)
    }

    /// Counts in the fail-open and region census: known to the controller and meant to
    /// be serving (not in a window, not joining or leaving).
    fn counts_for_census(&self) -> bool {
        !self.gone && !self.maintenance && !self.joining && !self.removing
    }

    /// Whether its alerts are held back: in a window, or leaving.
    fn silenced(&self) -> bool {
        self.maintenance || self.removing
    }
}

/// What an operator holds a node under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeHold {
    /// It takes no players.
    Drained,
    /// A maintenance window: drained, and its alerts silenced.
    Maintenance,
}

impl Controller {
    pub(super) fn insert_node(
        &mut self,
        now: Millis,
        field: &str,
        spec: &NodeSpec,
    ) -> Result<NodeIdx, InputError> {
        let region = check_node_spec(field, spec, &self.topology)?;
        if self.node_index.contains_key(&spec.name) {
            return Err(InputError::DuplicateNode(spec.name.clone()));
        }
        let idx = NodeIdx(u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes join"));
        self.nodes.push(NodeEntry {
            id: spec.name.clone(),
            region,
            priority: spec.priority,
            weight: spec.weight,
            capacity: spec.capacity,
            maintenance: spec.maintenance,
            drained: false,
            joining: false,
            removing: false,
            gone: false,
            health: NodeHealth::new(now),
            stats: None,
            stats_penalty: stats_penalty(None),
            assigned: 0,
            next_probe_at: Some(now),
            probe_deadline: None,
            restoration: None,
        });
        self.node_index.insert(spec.name.clone(), idx);
        self.region_nodes[usize::from(region.0)].push(idx);
        self.alerts.set_silenced(&spec.name, spec.maintenance);
        Ok(idx)
    }

    pub(super) fn region_evacuated(&self, region: RegionIdx) -> bool {
        self.evacuated_regions[usize::from(region.0)]
    }

    pub(super) fn accepts_players(&self, idx: NodeIdx) -> bool {
        let node = self.node(idx);
        node.accepts_players(self.region_evacuated(node.region))
    }

    /// A node joins at run time. It is probed at once but takes no players until
    /// [`Controller::admit_node`]: a player can only be created on a node through a bot
    /// process's Lavalink session there, so the shell admits the node once every bot
    /// process holds one.
    ///
    /// A node still leaving (not yet forgotten) joins again in its region: the leave is
    /// called off, and it takes the new priority, weight and capacity (not its drain or
    /// window) and waits for admission like any join.
    pub fn add_node(&mut self, now: Millis, spec: &NodeSpec) -> Result<(), InputError> {
        let idx = match self.rejoin(spec)? {
            Some(idx) => idx,
            None => self.insert_node(now, "node", spec)?,
        };
        // Joining (like leaving) keeps it out of the fail-open census: nothing to update.
        self.node_mut(idx).joining = true;
        self.refresh_silence(idx);
        self.commands.push_back(Command::Audit(
            AuditEvent::new(now, "node_added")
                .with("node", &spec.name)
                .with("region", &spec.region),
        ));
        self.publish(now, idx);
        self.settle(now);
        Ok(())
    }

    /// The leaving node `spec` names, made to stay with `spec`'s policy; `None` when no
    /// node has the name. A node that is not leaving, or in another region, is refused.
    fn rejoin(&mut self, spec: &NodeSpec) -> Result<Option<NodeIdx>, InputError> {
        let Some(&idx) = self.node_index.get(&spec.name) else {
            return Ok(None);
        };
        let region = check_node_spec("node", spec, &self.topology)?;
        let entry = self.node_mut(idx);
        if !entry.removing || entry.region != region {
            return Err(InputError::DuplicateNode(spec.name.clone()));
        }
        entry.removing = false;
        entry.priority = spec.priority;
        entry.weight = spec.weight;
        entry.capacity = spec.capacity;
        // Its drain and window stay as they are: whose they are (an operator's, the
        // configuration's) is the shell's to say.
        self.derived_dirty = true;
        Ok(Some(idx))
    }

    /// Holds back a node's alerts exactly while it is in a window or leaving.
    fn refresh_silence(&mut self, idx: NodeIdx) {
        let entry = self.node(idx);
        let (node, silenced) = (entry.id.clone(), entry.silenced());
        self.alerts.set_silenced(&node, silenced);
    }

    /// Lets a node that joined take players (once up); displaced players waiting for a
    /// node and degraded guilds are placed again. Admitting an admitted node does nothing.
    pub fn admit_node(&mut self, now: Millis, node: &NodeId) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        if self.node(idx).joining && !self.node(idx).removing {
            self.node_mut(idx).joining = false;
            self.update_fail_open(now);
            self.reinstate(now, idx, "node_admitted");
        }
        self.settle(now);
        Ok(())
    }

    /// A node leaves: it takes no more players, its players move away (same region
    /// first) and its alerts are held back. It stays known, and probed, until
    /// [`Controller::forget_node`]: a shell that stops acting forgets its players, and the
    /// node must still be known when it (or another controller) adopts the players left
    /// on it. Asked again, it moves away the players still there that can go somewhere
    /// (a move that landed on it after it began to leave, or one that gave up).
    pub fn remove_node(&mut self, now: Millis, node: &NodeId) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        if self.node(idx).removing {
            // Only when one of them can go somewhere now: a guild with nowhere to go (a
            // residency pin, a plan's only region) stays, and asking again must not
            // record an empty incident each time.
            let movable = self
                .players
                .values()
                .filter(|p| p.serving_node() == Some(idx))
                .any(|p| self.choose_node(now, p.eligibility(), &[idx]).is_some());
            if movable {
                let trigger = FailoverTrigger::Drain { node: node.clone() };
                self.evacuate(now, idx, MoveReason::Drain, trigger);
            }
        } else {
            self.node_mut(idx).removing = true;
            self.refresh_silence(idx);
            self.update_fail_open(now);
            self.withdraw(now, idx, "node_removing");
        }
        self.settle(now);
        Ok(())
    }

    /// Forgets a node that is leaving once no player is on it or moving off it; its
    /// alerts end. Refused (and nothing changes) before then.
    pub fn forget_node(&mut self, now: Millis, node: &NodeId) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        let entry = self.node(idx);
        if !entry.removing {
            return Err(InputError::NodeNotLeaving(node.clone()));
        }
        if entry.assigned > 0 || self.moves.any_from(idx) {
            return Err(InputError::NodeStillHosts(node.clone()));
        }
        let region = entry.region;
        self.node_mut(idx).gone = true;
        self.node_index.remove(node);
        self.region_nodes[usize::from(region.0)].retain(|n| *n != idx);
        let region = self.topology.region_id(region).clone();
        for subject in [
            AlertSubject::NodeDown {
                node: node.clone(),
                region: region.clone(),
            },
            AlertSubject::NodeDegraded {
                node: node.clone(),
                region: region.clone(),
            },
            AlertSubject::NodeFlapping {
                node: node.clone(),
                region: region.clone(),
            },
            AlertSubject::RestorationRolledBack {
                node: node.clone(),
                region,
            },
        ] {
            self.alerts.clear(&subject);
        }
        self.alerts.set_silenced(node, false);
        self.commands.push_back(Command::Audit(
            AuditEvent::new(now, "node_removed").with("node", node),
        ));
        self.derived_dirty = true;
        self.settle(now);
        Ok(())
    }

    /// Stops giving a node players and moves its players away (same region first).
    pub fn drain_node(&mut self, now: Millis, node: &NodeId) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        if !self.node(idx).drained {
            self.node_mut(idx).drained = true;
            self.withdraw(now, idx, "node_drained");
        }
        self.settle(now);
        Ok(())
    }

    /// A node may take players again (`audit` says why): displaced players return to it
    /// gradually and degraded guilds are placed again.
    fn reinstate(&mut self, now: Millis, idx: NodeIdx, audit: &str) {
        let node = self.node(idx).id.clone();
        self.commands.push_back(Command::Audit(
            AuditEvent::new(now, audit).with("node", &node),
        ));
        self.after_node_became_available(now, idx);
        self.publish(now, idx);
    }

    /// A node just stopped taking players (`audit` says why): its restoration ends and
    /// its players move away, same region first.
    fn withdraw(&mut self, now: Millis, idx: NodeIdx, audit: &str) {
        let node = self.node(idx).id.clone();
        self.node_mut(idx).restoration = None;
        self.commands.push_back(Command::Audit(
            AuditEvent::new(now, audit).with("node", &node),
        ));
        self.evacuate(now, idx, MoveReason::Drain, FailoverTrigger::Drain { node });
        self.publish(now, idx);
    }

    /// Undoes a drain and ends a maintenance window; displaced players return gradually.
    pub fn enable_node(&mut self, now: Millis, node: &NodeId) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        let entry = self.node_mut(idx);
        let changed = entry.drained || entry.maintenance;
        entry.drained = false;
        entry.maintenance = false;
        self.refresh_silence(idx);
        if changed {
            self.reinstate(now, idx, "node_enabled");
        }
        self.settle(now);
        Ok(())
    }

    /// Starts or ends a maintenance window: the node is drained and its alerts silenced.
    pub fn set_maintenance(
        &mut self,
        now: Millis,
        node: &NodeId,
        on: bool,
    ) -> Result<(), InputError> {
        if !on {
            return self.enable_node(now, node);
        }
        let idx = self.node_idx(node)?;
        if !self.node(idx).maintenance {
            self.node_mut(idx).maintenance = true;
            self.refresh_silence(idx);
            self.withdraw(now, idx, "node_maintenance_started");
        }
        self.settle(now);
        Ok(())
    }

    /// Puts a node under exactly `hold` (none, a drain or a maintenance window): what a
    /// controller taking over reads from the store. A window ended into a drain keeps
    /// the node empty; ending both is [`Controller::enable_node`].
    pub fn set_node_hold(
        &mut self,
        now: Millis,
        node: &NodeId,
        hold: Option<NodeHold>,
    ) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        match hold {
            None => self.enable_node(now, node),
            Some(NodeHold::Maintenance) => self.set_maintenance(now, node, true),
            Some(NodeHold::Drained) if self.node(idx).maintenance => {
                let entry = self.node_mut(idx);
                entry.maintenance = false;
                entry.drained = true;
                self.refresh_silence(idx);
                self.commands.push_back(Command::Audit(
                    AuditEvent::new(now, "node_maintenance_ended")
                        .with("node", node)
                        .with("drained", "true"),
                ));
                self.publish(now, idx);
                self.settle(now);
                Ok(())
            }
            Some(NodeHold::Drained) => self.drain_node(now, node),
        }
    }

    /// Moves every player out of a region to the other regions their plans allow.
    /// Residency-pinned guilds stay where they are.
    pub fn fail_over_region(&mut self, now: Millis, region: &RegionId) -> Result<(), InputError> {
        let region_idx = self.region_idx(region)?;
        if !std::mem::replace(&mut self.evacuated_regions[usize::from(region_idx.0)], true) {
            self.commands.push_back(Command::Audit(
                AuditEvent::new(now, "region_failover").with("region", region),
            ));
            let nodes = self.region_nodes[usize::from(region_idx.0)].clone();
            for &idx in &nodes {
                self.node_mut(idx).restoration = None;
            }
            self.evacuate_all(
                now,
                &nodes,
                MoveReason::RegionEvacuation,
                FailoverTrigger::RegionEvacuation {
                    region: region.clone(),
                },
            );
            for idx in nodes {
                self.publish(now, idx);
            }
        }
        self.settle(now);
        Ok(())
    }

    /// Ends a manual region failover; its players return gradually.
    pub fn restore_region(&mut self, now: Millis, region: &RegionId) -> Result<(), InputError> {
        let region_idx = self.region_idx(region)?;
        if std::mem::replace(
            &mut self.evacuated_regions[usize::from(region_idx.0)],
            false,
        ) {
            self.commands.push_back(Command::Audit(
                AuditEvent::new(now, "region_restored").with("region", region),
            ));
            for idx in self.region_nodes[usize::from(region_idx.0)].clone() {
                self.after_node_became_available(now, idx);
                self.publish(now, idx);
            }
        }
        self.settle(now);
        Ok(())
    }

    /// A probe answered in time with a Lavalink v4 response.
    pub fn handle_probe_ok(
        &mut self,
        now: Millis,
        node: &NodeId,
        latency_ms: u64,
        stats: Option<NodeStats>,
    ) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        if let Some(stats) = stats {
            self.store_stats(idx, stats);
        }
        let health_config = self.config.health.clone();
        let transition = self
            .node_mut(idx)
            .health
            .handle_probe_ok(now, latency_ms, &health_config);
        self.after_probe(now, idx, transition);
        Ok(())
    }

    /// A probe failed (timed out, refused, an error status, garbage).
    pub fn handle_probe_failed(
        &mut self,
        now: Millis,
        node: &NodeId,
        failure: ProbeFailure,
    ) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        let health_config = self.config.health.clone();
        let transition = self
            .node_mut(idx)
            .health
            .handle_probe_failed(now, &health_config);
        if transition.is_some_and(|t| t.to == NodeStatus::Down) {
            self.commands.push_back(Command::Audit(
                AuditEvent::new(now, "probe_failed")
                    .with("node", node)
                    .with("failure", format!("{failure:?}")),
            ));
        }
        self.after_probe(now, idx, transition);
        Ok(())
    }

    /// The node's own websocket pushed `stats`.
    pub fn handle_node_stats(
        &mut self,
        now: Millis,
        node: &NodeId,
        stats: NodeStats,
    ) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        self.store_stats(idx, stats);
        self.node_mut(idx).health.handle_stats(now);
        Ok(())
    }

    /// The controller's websocket to the node closed: instant suspicion and a probe now.
    pub fn handle_node_socket_closed(
        &mut self,
        now: Millis,
        node: &NodeId,
    ) -> Result<(), InputError> {
        let idx = self.node_idx(node)?;
        let health_config = self.config.health.clone();
        let transition = self
            .node_mut(idx)
            .health
            .handle_socket_closed(now, &health_config);
        let entry = self.node_mut(idx);
        if entry.probe_deadline.is_none() {
            entry.next_probe_at = Some(now);
        }
        if let Some(transition) = transition {
            self.on_transition(now, idx, transition);
        }
        self.settle(now);
        Ok(())
    }

    fn store_stats(&mut self, idx: NodeIdx, stats: NodeStats) {
        let entry = self.node_mut(idx);
        entry.stats_penalty = stats_penalty(Some(&stats));
        entry.stats = Some(stats);
    }

    fn after_probe(&mut self, now: Millis, idx: NodeIdx, transition: Option<Transition>) {
        let interval = {
            let entry = self.node(idx);
            if entry.health.wants_fast_probes(&self.config.health) {
                self.config.health.probe_interval_fast_ms
            } else {
                self.config.health.probe_interval_ms
            }
        };
        let entry = self.node_mut(idx);
        entry.probe_deadline = None;
        entry.next_probe_at = Some(now.plus_ms(interval));
        if let Some(transition) = transition {
            self.on_transition(now, idx, transition);
        }
        // Publishing every probe keeps the health key's TTL and latency fresh.
        self.publish(now, idx);
        self.settle(now);
    }

    pub(super) fn expire_probes(&mut self, now: Millis) {
        let expired: Vec<NodeIdx> = self
            .live_nodes()
            .filter(|(_, n)| n.probe_deadline.is_some_and(|d| d <= now))
            .map(|(idx, _)| idx)
            .collect();
        for idx in expired {
            let node = self.node(idx).id.clone();
            self.handle_probe_failed(now, &node, ProbeFailure::Timeout)
                .expect("the node was just found in the table");
        }
    }

    pub(super) fn send_due_probes(&mut self, now: Millis) {
        // The shell enforces the probe timeout; this later deadline only guards against a
        // shell that never reports back.
        let guard_ms = self.config.health.probe_timeout_ms.saturating_mul(2);
        for idx in 0..self.nodes.len() {
            let entry = &mut self.nodes[idx];
            if entry.gone
                || entry.probe_deadline.is_some()
                || entry.next_probe_at.is_none_or(|t| t > now)
            {
                continue;
            }
            entry.next_probe_at = None;
            entry.probe_deadline = Some(now.plus_ms(guard_ms));
            let node = entry.id.clone();
            self.commands.push_back(Command::Probe { node });
        }
    }

    pub(super) fn live_nodes(&self) -> impl Iterator<Item = (NodeIdx, &NodeEntry)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.gone)
            .map(|(i, n)| (NodeIdx(i as u32), n))
    }

    fn on_transition(&mut self, now: Millis, idx: NodeIdx, transition: Transition) {
        let (node, region) = {
            let entry = self.node(idx);
            (
                entry.id.clone(),
                self.topology.region_id(entry.region).clone(),
            )
        };
        self.commands.push_back(Command::Audit(
            AuditEvent::new(now, "node_health_changed")
                .with("node", &node)
                .with("from", format!("{:?}", transition.from))
                .with("to", format!("{:?}", transition.to)),
        ));
        self.derived_dirty = true;
        self.update_node_alerts(now, idx, transition);
        self.update_fail_open(now);
        if transition.to == NodeStatus::Down {
            let health_config = self.config.health.clone();
            if self.node_mut(idx).health.note_fall(now, &health_config) {
                self.alerts.fire(
                    now,
                    AlertSubject::NodeFlapping {
                        node: node.clone(),
                        region: region.clone(),
                    },
                    Severity::Warning,
                    format!("node {node} ({region}) keeps failing and recovering; held down"),
                );
            }
            self.roll_back_restoration(now, idx, true);
            if !self.fail_open {
                self.evacuate(
                    now,
                    idx,
                    MoveReason::NodeDown,
                    FailoverTrigger::NodeDown { node },
                );
            }
        } else {
            if transition.to == NodeStatus::Degraded && transition.from == NodeStatus::Up {
                self.roll_back_restoration(now, idx, false);
            }
            if transition.to.is_serving() && !transition.from.is_serving() {
                if !self.node(idx).health.is_flapping() {
                    self.alerts.clear(&AlertSubject::NodeFlapping {
                        node: node.clone(),
                        region,
                    });
                }
                if transition.from == NodeStatus::Suspect {
                    // Suspicion cleared: nothing to restore, but degraded guilds may fit.
                    self.retry_degraded(now);
                } else {
                    self.after_node_became_available(now, idx);
                }
            }
        }
    }

    fn update_node_alerts(&mut self, now: Millis, idx: NodeIdx, transition: Transition) {
        let entry = self.node(idx);
        let (node, region) = (
            entry.id.clone(),
            self.topology.region_id(entry.region).clone(),
        );
        let down = AlertSubject::NodeDown {
            node: node.clone(),
            region: region.clone(),
        };
        let degraded = AlertSubject::NodeDegraded {
            node: node.clone(),
            region: region.clone(),
        };
        match transition.to {
            NodeStatus::Down => self.alerts.fire(
                now,
                down,
                Severity::Critical,
                format!("Lavalink node {node} in {region} is down; moving its players"),
            ),
            NodeStatus::Degraded => {
                let latency = entry.health.last_latency_ms().unwrap_or(0);
                let errors = entry.health.error_rate(&self.config.health) * 100.0;
                self.alerts.clear(&down);
                self.alerts.fire(
                    now,
                    degraded,
                    Severity::Warning,
                    format!("Lavalink node {node} in {region} is degraded: latency {latency} ms, {errors:.0} % probe errors"),
                );
            }
            NodeStatus::Up => {
                self.alerts.clear(&down);
                self.alerts.clear(&degraded);
            }
            NodeStatus::Suspect | NodeStatus::Unknown => self.alerts.clear(&degraded),
        }
    }

    /// Enters or leaves fail-open: more than the configured share of nodes look down
    /// (down or suspect) at once. Suspects count because a controller that is cut off sees
    /// every node fail together, and the first to reach `down` must not be evacuated onto
    /// the others.
    fn update_fail_open(&mut self, now: Millis) {
        let (down, total) = self
            .live_nodes()
            .filter(|(_, n)| n.counts_for_census())
            .fold((0u32, 0u32), |(down, total), (_, n)| {
                let looks_down =
                    matches!(n.health.status(), NodeStatus::Down | NodeStatus::Suspect);
                (down + u32::from(looks_down), total + 1)
            });
        let fail_open = total > 1
            && f64::from(down) > self.config.failover.fail_open_fraction * f64::from(total);
        if fail_open == self.fail_open {
            return;
        }
        self.fail_open = fail_open;
        self.commands.push_back(Command::Audit(
            AuditEvent::new(
                now,
                if fail_open {
                    "fail_open_entered"
                } else {
                    "fail_open_left"
                },
            )
            .with("down", down)
            .with("nodes", total),
        ));
        if fail_open {
            self.alerts.fire(
                now,
                AlertSubject::ControllerIsolated,
                Severity::Critical,
                format!("{down} of {total} nodes look down at once; the controller may be the one cut off, so mass moves are frozen"),
            );
            self.freeze_queued_moves(now);
        } else {
            self.alerts.clear(&AlertSubject::ControllerIsolated);
            // Whatever is still down now is believed, and its players move.
            let still_down: Vec<NodeIdx> = self
                .live_nodes()
                .filter(|(_, n)| n.health.status() == NodeStatus::Down)
                .map(|(idx, _)| idx)
                .collect();
            for idx in still_down {
                let node = self.node(idx).id.clone();
                self.evacuate(
                    now,
                    idx,
                    MoveReason::NodeDown,
                    FailoverTrigger::NodeDown { node },
                );
            }
        }
    }

    /// Region-level alerts, recomputed at the end of every input (regions are few).
    pub(super) fn update_region_alerts(&mut self, now: Millis) {
        for (r, nodes) in self.region_nodes.iter().enumerate() {
            let region = self.topology.regions[r].id.clone();
            let census: Vec<&NodeEntry> = nodes
                .iter()
                .map(|idx| &self.nodes[idx.0 as usize])
                .filter(|n| n.counts_for_census())
                .collect();
            let region_down =
                !census.is_empty() && census.iter().all(|n| n.health.status() == NodeStatus::Down);
            let subject = AlertSubject::RegionDown {
                region: region.clone(),
            };
            if region_down {
                self.alerts.fire(
                    now,
                    subject,
                    Severity::Critical,
                    format!("every Lavalink node in {region} is down; failing over to other allowed regions"),
                );
            } else {
                self.alerts.clear(&subject);
            }
            let over_capacity = nodes
                .iter()
                .map(|idx| &self.nodes[idx.0 as usize])
                .filter(|n| n.assigned > n.capacity)
                .count();
            let subject = AlertSubject::CapacityExhausted {
                region: region.clone(),
            };
            if over_capacity > 0 {
                self.alerts.fire(
                    now,
                    subject,
                    Severity::Warning,
                    format!("{over_capacity} node(s) in {region} hold more players than their capacity because every allowed node is full"),
                );
            } else {
                self.alerts.clear(&subject);
            }
        }
        self.update_residency_alerts(now);
    }

    /// Changes a node's player count, noting when it crosses its capacity (which changes
    /// the capacity alert) so `settle` recomputes derived alerts only when needed.
    pub(super) fn add_assigned(&mut self, idx: NodeIdx, delta: i32) {
        let entry = self.node_mut(idx);
        let was_over = entry.assigned > entry.capacity;
        entry.assigned = entry
            .assigned
            .checked_add_signed(delta)
            .expect("a node's player count never goes negative");
        if (entry.assigned > entry.capacity) != was_over {
            self.derived_dirty = true;
        }
    }

    pub(super) fn publish(&mut self, _now: Millis, idx: NodeIdx) {
        self.derived_dirty = true;
        let report = self.node_report(idx);
        self.commands.push_back(Command::PublishNodeHealth(report));
    }

    pub(super) fn node_report(&self, idx: NodeIdx) -> NodeHealthReport {
        let entry = self.node(idx);
        NodeHealthReport {
            node: entry.id.clone(),
            region: self.topology.region_id(entry.region).clone(),
            status: entry.health.status(),
            available: self.accepts_players(idx),
            players: entry.assigned,
            capacity: entry.capacity,
            usable_capacity: entry.usable_capacity(self.now, &self.config.health),
            latency_ms: entry.health.last_latency_ms(),
            flapping: entry.health.is_flapping(),
            drained: entry.drained,
            maintenance: entry.maintenance,
            joining: entry.joining,
            leaving: entry.removing,
            since: entry.health.since(),
        }
    }

    pub(super) fn region_name(&self, idx: RegionIdx) -> &RegionId {
        self.topology.region_id(idx)
    }
}
