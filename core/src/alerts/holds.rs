//! Alerts held back for a while before they may be sent.
//!
//! The book keeps two kinds of hold, each a [`Holds`] with its own length:
//! - the **group wait**: a node-down alert waits a moment after it starts firing, so that
//!   when its whole region is going down the region's alert (which follows within a
//!   probe or two) inhibits it, and the operator gets one page, not one per node;
//! - the **recovery grace**: a region's nodes come back a few probes apart, so the first
//!   one back resolves the region-down alert, and each node a probe behind would page
//!   and resolve within a second. The node-down alerts that were firing, unsent
//!   (inhibited by the region alert), when it resolved are held back and sent only if
//!   still firing at the end. Only those: a node that came back and falls again is news.
//!
//! A held alert that stops firing is let go at once: if it fires again, that is a new
//! condition with a hold of its own.

use std::collections::BTreeMap;

use super::AlertSubject;
use crate::time::Millis;

/// Alerts held back, each until its own instant.
#[derive(Debug, Clone, Default)]
pub(super) struct Holds {
    hold_ms: u64,
    /// Each held alert, with the end of its hold.
    held: BTreeMap<AlertSubject, Millis>,
}

impl Holds {
    /// Holds last `hold_ms` (0: nothing is ever held).
    pub(super) fn new(hold_ms: u64) -> Self {
        Self {
            hold_ms,
            held: BTreeMap::new(),
        }
    }

    /// Holds back `subjects` from `now` (a subject already held restarts its hold).
    pub(super) fn hold(&mut self, now: Millis, subjects: impl IntoIterator<Item = AlertSubject>) {
        if self.hold_ms == 0 {
            return;
        }
        let until = now.plus_ms(self.hold_ms);
        for subject in subjects {
            self.held.insert(subject, until);
        }
    }

    pub(super) fn holds(&self, subject: &AlertSubject) -> bool {
        self.held.contains_key(subject)
    }

    /// Lets go of the alerts that stopped firing.
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
