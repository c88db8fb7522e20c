//! The failover history: one record per incident, with its moves counted.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::ids::{IncidentId, NodeId, RegionId};
use crate::time::Millis;

/// Most records kept; older ones are dropped (the shell persists each as it changes).
pub const HISTORY_LEN_MAX: usize = 1_000;

/// What started an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FailoverTrigger {
    /// A node was marked down.
    NodeDown {
        /// The node.
        node: NodeId,
    },
    /// An operator drained a node, put it in maintenance or removed it.
    Drain {
        /// The node.
        node: NodeId,
    },
    /// An operator failed a region over.
    RegionEvacuation {
        /// The region.
        region: RegionId,
    },
    /// Displaced players return to a recovered node.
    Restoration {
        /// The node.
        node: NodeId,
    },
    /// A restoration was rolled back.
    Rollback {
        /// The node.
        node: NodeId,
    },
    /// Guilds moved because their plan or residency changed.
    Policy,
    /// Degraded guilds got a player again.
    Recovery,
}

/// How an incident ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverOutcome {
    /// Moves are still running.
    InProgress,
    /// Every player was moved.
    Completed,
    /// Some players could not be moved and are reported degraded.
    Partial,
    /// Moves were frozen because the controller suspected it was cut off.
    Frozen,
}

/// One failover incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverRecord {
    /// Its id.
    pub id: IncidentId,
    /// What started it.
    pub trigger: FailoverTrigger,
    /// When it started.
    pub started_at: Millis,
    /// When its last move finished.
    pub finished_at: Option<Millis>,
    /// Players it planned to move.
    pub planned: u32,
    /// Players moved.
    pub moved: u32,
    /// Move attempts that failed (a retried move can fail more than once).
    pub failed_attempts: u32,
    /// Players left degraded.
    pub degraded: u32,
    /// How it ended.
    pub outcome: FailoverOutcome,
    /// Kept open while more moves may still be planned (a restoration between steps).
    #[serde(skip)]
    held_open: bool,
}

impl FailoverRecord {
    fn outstanding(&self) -> u32 {
        self.planned.saturating_sub(self.moved + self.degraded)
    }
}

/// The bounded list of incidents.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    records: VecDeque<FailoverRecord>,
    next_id: u64,
}

/// How an incident's counters change.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tally {
    Planned,
    Moved,
    FailedAttempt,
    Degraded,
    Cancelled,
}

impl History {
    pub(crate) fn open(&mut self, now: Millis, trigger: FailoverTrigger) -> IncidentId {
        self.next_id += 1;
        let id = IncidentId(self.next_id);
        if self.records.len() == HISTORY_LEN_MAX {
            self.records.pop_front();
        }
        self.records.push_back(FailoverRecord {
            id,
            trigger,
            started_at: now,
            finished_at: None,
            planned: 0,
            moved: 0,
            failed_attempts: 0,
            degraded: 0,
            outcome: FailoverOutcome::InProgress,
            held_open: false,
        });
        id
    }

    /// Keeps an incident open (or lets it close) regardless of outstanding moves.
    pub(crate) fn hold_open(&mut self, id: IncidentId, held: bool) {
        if let Some(record) = self.get_mut(id) {
            record.held_open = held;
        }
    }

    fn get_mut(&mut self, id: IncidentId) -> Option<&mut FailoverRecord> {
        // Ids are increasing and records in id order: binary search.
        let index = self.records.binary_search_by_key(&id, |r| r.id).ok()?;
        self.records.get_mut(index)
    }

    /// Counts one event; returns the record when it just finished, so it can be published.
    pub(crate) fn tally(
        &mut self,
        now: Millis,
        id: IncidentId,
        tally: Tally,
    ) -> Option<FailoverRecord> {
        let record = self.get_mut(id)?;
        match tally {
            Tally::Planned => record.planned += 1,
            Tally::Moved => record.moved += 1,
            Tally::FailedAttempt => record.failed_attempts += 1,
            Tally::Degraded => record.degraded += 1,
            Tally::Cancelled => record.planned = record.planned.saturating_sub(1),
        }
        if matches!(tally, Tally::Planned) {
            return None;
        }
        Self::finish_if_done(now, record)
    }

    /// Closes an incident that planned nothing, or is frozen; returns it for publishing.
    pub(crate) fn settle(
        &mut self,
        now: Millis,
        id: IncidentId,
        frozen: bool,
    ) -> Option<FailoverRecord> {
        let record = self.get_mut(id)?;
        if frozen && record.outcome == FailoverOutcome::InProgress {
            record.outcome = FailoverOutcome::Frozen;
            record.finished_at = Some(now);
            return Some(record.clone());
        }
        Self::finish_if_done(now, record).or_else(|| {
            // Published when it starts; later changes are published when it finishes.
            (record.planned == 0 || record.started_at == now).then(|| record.clone())
        })
    }

    fn finish_if_done(now: Millis, record: &mut FailoverRecord) -> Option<FailoverRecord> {
        if record.outcome != FailoverOutcome::InProgress
            || record.outstanding() > 0
            || record.held_open
        {
            return None;
        }
        record.finished_at = Some(now);
        record.outcome = if record.degraded > 0 {
            FailoverOutcome::Partial
        } else {
            FailoverOutcome::Completed
        };
        Some(record.clone())
    }

    pub(crate) fn records(&self) -> impl DoubleEndedIterator<Item = &FailoverRecord> {
        self.records.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_completes_when_every_planned_move_is_accounted_for() {
        let mut history = History::default();
        let id = history.open(Millis(1), FailoverTrigger::NodeDown { node: "a".into() });
        history.tally(Millis(1), id, Tally::Planned);
        history.tally(Millis(1), id, Tally::Planned);
        assert!(history.tally(Millis(2), id, Tally::Moved).is_none());
        assert!(history.tally(Millis(3), id, Tally::FailedAttempt).is_none());
        let done = history
            .tally(Millis(4), id, Tally::Degraded)
            .expect("finished");
        assert_eq!(done.outcome, FailoverOutcome::Partial);
        assert_eq!(done.finished_at, Some(Millis(4)));
        assert_eq!((done.moved, done.failed_attempts, done.degraded), (1, 1, 1));
    }

    #[test]
    fn history_is_bounded() {
        let mut history = History::default();
        for t in 0..(HISTORY_LEN_MAX as u64 + 5) {
            history.open(Millis(t), FailoverTrigger::Policy);
        }
        assert_eq!(history.records().count(), HISTORY_LEN_MAX);
        assert_eq!(history.records().next().unwrap().id, IncidentId(6));
    }
}
