//! Gradual restoration: displaced players return to their recovered node in steps.
//!
//! Once a node has been up for `hold_ms`, the players failover moved off it return in
//! cumulative shares (`steps`, e.g. 10 % -> 50 % -> all) with `dwell_ms` between steps.
//! If the node degrades during the dwell, the players already returned are moved away
//! again (rolled back); if it goes down, failover takes them as usual.

use crate::alerts::{AlertSubject, Severity};
use crate::command::{AuditEvent, Command, MoveReason};
use crate::health::NodeStatus;
use crate::history::FailoverTrigger;
use crate::ids::{GuildId, IncidentId};
use crate::time::Millis;
use crate::topology::NodeIdx;

use super::{Controller, Sabotage};

#[derive(Debug, Clone)]
pub(crate) struct Restoration {
    phase: Phase,
    incident: Option<IncidentId>,
    /// Guilds returned by this run, for rollback.
    returned: Vec<GuildId>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Holding {
        until: Millis,
    },
    Stepping {
        step: usize,
        at: Millis,
        total: u32,
        issued: u32,
    },
}

impl Restoration {
    pub(crate) fn timer(&self) -> Millis {
        match self.phase {
            Phase::Holding { until } => until,
            Phase::Stepping { at, .. } => at,
        }
    }
}

impl super::nodes::NodeEntry {
    pub(crate) fn restoration_timer(&self) -> Option<Millis> {
        self.restoration.as_ref().map(Restoration::timer)
    }
}

/// Cumulative players a step may have returned: `ceil(share * total)`, at most `total`.
pub(crate) fn step_quota(share: f64, total: u32) -> u32 {
    ((share * f64::from(total)).ceil() as u32).min(total)
}

impl Controller {
    /// A node can take players again: degraded guilds get another chance, and the
    /// players displaced from it are scheduled to return.
    pub(super) fn after_node_became_available(&mut self, now: Millis, idx: NodeIdx) {
        self.retry_degraded(now);
        if !self.config.restoration.enabled || !self.accepts_players(idx) {
            return;
        }
        let displaced = self.players.values().any(|p| p.displaced_from == Some(idx));
        if displaced && self.node(idx).restoration.is_none() {
            let until = now.plus_ms(self.config.restoration.hold_ms);
            self.node_mut(idx).restoration = Some(Restoration {
                phase: Phase::Holding { until },
                incident: None,
                returned: Vec::new(),
            });
        }
    }

    pub(super) fn note_restored(&mut self, node: NodeIdx, guild: GuildId) {
        if let Some(restoration) = &mut self.node_mut(node).restoration {
            restoration.returned.push(guild);
        }
    }

    pub(super) fn advance_restorations(&mut self, now: Millis) {
        let due: Vec<NodeIdx> = self
            .live_nodes()
            .filter(|(_, n)| n.restoration_timer().is_some_and(|t| t <= now))
            .map(|(idx, _)| idx)
            .collect();
        for idx in due {
            self.advance_restoration(now, idx);
        }
    }

    fn advance_restoration(&mut self, now: Millis, idx: NodeIdx) {
        let Some(mut restoration) = self.node_mut(idx).restoration.take() else {
            return;
        };
        if !self.accepts_players(idx)
            || self.node(idx).health.status() != NodeStatus::Up
            || self.fail_open
        {
            // Not settled (suspect, degraded, frozen): wait rather than push players there.
            let wait_ms = self.config.health.probe_interval_fast_ms;
            restoration.phase = match restoration.phase {
                Phase::Holding { .. } => Phase::Holding {
                    until: now.plus_ms(wait_ms),
                },
                Phase::Stepping {
                    step,
                    total,
                    issued,
                    ..
                } => Phase::Stepping {
                    step,
                    at: now.plus_ms(wait_ms),
                    total,
                    issued,
                },
            };
            self.node_mut(idx).restoration = Some(restoration);
            return;
        }
        let (step, total, issued) = match restoration.phase {
            Phase::Holding { .. } => {
                let total = self.displaced_from(idx).len() as u32;
                if total == 0 {
                    return;
                }
                (0, total, 0)
            }
            Phase::Stepping {
                step,
                total,
                issued,
                ..
            } => (step, total, issued),
        };
        let incident = *restoration.incident.get_or_insert_with(|| {
            let id = self.history.open(
                now,
                FailoverTrigger::Restoration {
                    node: self.node(idx).id.clone(),
                },
            );
            // Open until the last step, even while no return is outstanding.
            self.history.hold_open(id, true);
            id
        });
        let share = if self.sabotaged(Sabotage::RushRestoration) {
            1.0
        } else {
            self.config.restoration.steps[step]
        };
        let quota = step_quota(share, total).saturating_sub(issued);
        let moved = self.return_players(now, idx, quota, incident);
        let issued = issued + moved;
        let node = self.node(idx).id.clone();
        self.commands.push_back(Command::Audit(
            AuditEvent::new(now, "restoration_step")
                .with("node", &node)
                .with("step", step + 1)
                .with("moved", moved)
                .with("returned", issued)
                .with("total", total),
        ));
        let last_step = step + 1 == self.config.restoration.steps.len();
        if last_step {
            self.history.hold_open(incident, false);
        }
        self.settle_incident(now, incident);
        self.dispatch_moves(now);
        if !last_step {
            restoration.phase = Phase::Stepping {
                step: step + 1,
                at: now.plus_ms(self.config.restoration.dwell_ms),
                total,
                issued,
            };
            self.node_mut(idx).restoration = Some(restoration);
        } else {
            let region = self.region_name(self.node(idx).region).clone();
            self.alerts
                .clear(&AlertSubject::RestorationRolledBack { node, region });
        }
    }

    /// Guilds displaced from `idx` that play elsewhere and may return there.
    fn displaced_from(&self, idx: NodeIdx) -> Vec<GuildId> {
        self.players
            .iter()
            .filter(|(_, p)| p.displaced_from == Some(idx))
            .filter(|(_, p)| {
                p.serving_node().is_some_and(|n| n != idx) && self.allowed_on(p.eligibility(), idx)
            })
            .map(|(guild, _)| *guild)
            .collect()
    }

    /// Queues up to `quota` returns to `idx`, within its usable capacity.
    fn return_players(
        &mut self,
        now: Millis,
        idx: NodeIdx,
        quota: u32,
        incident: IncidentId,
    ) -> u32 {
        let mut moved = 0;
        for guild in self.displaced_from(idx) {
            let node = self.node(idx);
            if moved == quota || node.assigned >= node.usable_capacity(now, &self.config.health) {
                break;
            }
            let from = self.players[&guild].serving_node();
            self.enqueue_move(
                now,
                guild,
                from,
                idx,
                MoveReason::Restoration,
                incident,
                false,
            );
            moved += 1;
        }
        moved
    }

    /// The node relapsed during restoration. Queued returns are cancelled; when it only
    /// degraded, the players already returned are moved away again.
    pub(super) fn roll_back_restoration(&mut self, now: Millis, idx: NodeIdx, node_down: bool) {
        let Some(restoration) = self.node_mut(idx).restoration.take() else {
            return;
        };
        if matches!(restoration.phase, Phase::Holding { .. }) {
            return;
        }
        for id in self.moves.queued_to(idx, MoveReason::Restoration) {
            self.abandon_move(now, id);
        }
        if let Some(incident) = restoration.incident {
            self.history.hold_open(incident, false);
            self.settle_incident(now, incident);
        }
        let node = self.node(idx).id.clone();
        let region = self.region_name(self.node(idx).region).clone();
        self.alerts.fire(
            now,
            AlertSubject::RestorationRolledBack {
                node: node.clone(),
                region,
            },
            Severity::Warning,
            format!(
                "node {node} relapsed while its players were returning; restoration rolled back"
            ),
        );
        self.commands.push_back(Command::Audit(
            AuditEvent::new(now, "restoration_rolled_back")
                .with("node", &node)
                .with("returned", restoration.returned.len()),
        ));
        if node_down {
            return; // Failover moves everything off a down node, returned players included.
        }
        let incident = self.history.open(now, FailoverTrigger::Rollback { node });
        for guild in restoration.returned {
            if self.players.get(&guild).and_then(|p| p.serving_node()) == Some(idx) {
                self.plan_move(now, guild, Some(idx), MoveReason::Rollback, incident);
            }
        }
        self.settle_incident(now, incident);
        self.dispatch_moves(now);
    }
}

#[cfg(test)]
mod tests {
    use super::step_quota;

    #[test]
    fn quotas_round_up_and_cap() {
        assert_eq!(step_quota(0.1, 95), 10);
        assert_eq!(step_quota(0.5, 95), 48);
        assert_eq!(step_quota(1.0, 95), 95);
        assert_eq!(step_quota(0.1, 1), 1);
        assert_eq!(step_quota(0.1, 0), 0);
    }
}
