//! The grace after a region recovers.
//!
//! A region's nodes come back a few probes apart: the first one back resolves the
//! region-down alert, and each node a probe behind would otherwise page and resolve
//! within a second. So the node-down alerts that were firing, unsent (inhibited by the
//! region alert), when it resolved are held back for a grace and sent only if still
//! firing at its end. Only those: a node that came back and falls again is news.

use std::collections::BTreeMap;

use super::AlertSubject;
use crate::time::Millis;

/// Node-down alerts held back after their region recovered.
#[derive(Debug, Clone, Default)]
pub(super) struct RecoveryGrace {
    grace_ms: u64,
    /// Each held alert, with the end of its hold.
    held: BTreeMap<AlertSubject, Millis>,
}

impl RecoveryGrace {
    /// Holds last `grace_ms` (0: nothing is ever held).
    pub(super) fn new(grace_ms: u64) -> Self {
        Self {
            grace_ms,
            held: BTreeMap::new(),
        }
    }

    /// Holds back `subjects` from `now`: node-down alerts still firing, unsent, as their
    /// region's alert resolves.
    pub(super) fn hold(&mut self, now: Millis, subjects: impl IntoIterator<Item = AlertSubject>) {
        if self.grace_ms == 0 {
            return;
        }
        let until = now.plus_ms(self.grace_ms);
        for subject in subjects {
            self.held.insert(subject, until);
        }
    }

    pub(super) fn holds(&self, subject: &AlertSubject) -> bool {
        self.held.contains_key(subject)
    }

    /// Lets go of the alerts that stopped firing: the node is back, and if it falls
    /// again that is a new outage, paged as any other.
    pub(super) fn release_cleared(&mut self, is_firing: impl Fn(&AlertSubject) -> bool) {
        self.held.retain(|subject, _| is_firing(subject));
    }

    /// When the earliest hold ends, if any is held.
    pub(super) fn next_end(&self) -> Option<Millis> {
        self.held.values().min().copied()
    }

    /// Ends the holds due at `now`; whether any ended.
    pub(super) fn expire(&mut self, now: Millis) -> bool {
        let before = self.held.len();
        self.held.retain(|_, until| *until > now);
        self.held.len() != before
    }
}
