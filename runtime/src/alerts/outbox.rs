//! A sink's bounded outbox and its overflow policy.
//!
//! When a receiver is down the outbox fills. Rather than grow without bound or refuse
//! new alerts, a full outbox drops its oldest non-critical alert (the new one included,
//! when nothing queued is less urgent), and only when everything is critical the oldest
//! critical one. Every drop is tallied, and the tally comes back out of [`Outbox::pop`]
//! as a synthetic warning before the next queued alert, so losses are reported through
//! the same channel as soon as it delivers again.

use std::collections::VecDeque;

use switchyard_core::time::Millis;

use super::alert::Alert;

/// Drops since the last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropTally {
    /// Alerts dropped.
    pub dropped: u64,
    /// How many of them were critical.
    pub dropped_critical: u64,
    /// When the first of them was dropped.
    pub first_drop_at: Millis,
}

/// Alerts waiting for one sink, oldest first.
#[derive(Debug, Clone)]
pub struct Outbox {
    sink: String,
    capacity: usize,
    items: VecDeque<Alert>,
    tally: Option<DropTally>,
}

impl Outbox {
    /// An empty outbox for `sink` holding at most `capacity` alerts.
    pub fn new(sink: impl Into<String>, capacity: usize) -> Self {
        assert!(capacity > 0, "outbox capacity is validated to be positive");
        Self {
            sink: sink.into(),
            capacity,
            items: VecDeque::with_capacity(capacity.min(64)),
            tally: None,
        }
    }

    /// Queues an alert; when full, drops one by the policy above and returns it.
    pub fn push(&mut self, alert: Alert, now: Millis) -> Option<Alert> {
        if self.items.len() < self.capacity {
            self.items.push_back(alert);
            return None;
        }
        let victim = match self.items.iter().position(|queued| !queued.is_critical()) {
            Some(index) => {
                let victim = self.items.remove(index).expect("index from position");
                self.items.push_back(alert);
                victim
            }
            // Everything queued is critical: the newcomer goes if it is not.
            None if !alert.is_critical() => alert,
            None => {
                let victim = self.items.pop_front().expect("a full outbox is not empty");
                self.items.push_back(alert);
                victim
            }
        };
        self.count_drop(&victim, now);
        debug_assert!(self.items.len() <= self.capacity);
        Some(victim)
    }

    /// The next alert to deliver: the drop report when drops are pending, else the
    /// oldest queued alert.
    pub fn pop(&mut self, now: Millis) -> Option<Alert> {
        if let Some(tally) = self.tally.take() {
            return Some(Alert::drop_report(
                &self.sink,
                tally.dropped,
                tally.dropped_critical,
                tally.first_drop_at,
                now,
            ));
        }
        self.items.pop_front()
    }

    /// Empties the outbox (the sink is gone or shutting down), returning how many
    /// alerts were in it. A pending drop tally is discarded: its drops were already
    /// counted when they happened.
    pub fn clear(&mut self) -> usize {
        self.tally = None;
        let count = self.items.len();
        self.items.clear();
        count
    }

    /// Alerts queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued and no drop report is pending.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.tally.is_none()
    }

    /// Drops not yet reported.
    pub fn pending_drops(&self) -> Option<DropTally> {
        self.tally
    }

    fn count_drop(&mut self, victim: &Alert, now: Millis) {
        let tally = self.tally.get_or_insert(DropTally {
            dropped: 0,
            dropped_critical: 0,
            first_drop_at: now,
        });
        tally.dropped += 1;
        tally.dropped_critical += u64::from(victim.is_critical());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::alerts::{AlertAction, AlertNotice, AlertSubject, Severity};

    fn alert(node: &str, severity: Severity) -> Alert {
        let subject = AlertSubject::NodeDown {
            node: node.into(),
            region: "eu".into(),
        };
        Alert::from_notice(&AlertNotice {
            action: AlertAction::Trigger,
            dedup_key: subject.dedup_key(),
            severity,
            subject,
            summary: node.to_owned(),
            since: Millis(0),
            at: Millis(0),
        })
    }

    fn queued(outbox: &Outbox) -> Vec<String> {
        outbox.items.iter().map(|a| a.summary.clone()).collect()
    }

    #[test]
    fn drops_the_oldest_non_critical_first() {
        let mut outbox = Outbox::new("s", 3);
        assert!(
            outbox
                .push(alert("c1", Severity::Critical), Millis(1))
                .is_none()
        );
        assert!(
            outbox
                .push(alert("w1", Severity::Warning), Millis(1))
                .is_none()
        );
        assert!(
            outbox
                .push(alert("i1", Severity::Info), Millis(1))
                .is_none()
        );
        let victim = outbox.push(alert("c2", Severity::Critical), Millis(2));
        assert_eq!(victim.map(|a| a.summary), Some("w1".to_owned()));
        assert_eq!(queued(&outbox), ["c1", "i1", "c2"]);
        let victim = outbox.push(alert("w2", Severity::Warning), Millis(3));
        assert_eq!(victim.map(|a| a.summary), Some("i1".to_owned()));
        assert_eq!(queued(&outbox), ["c1", "c2", "w2"]);
    }

    #[test]
    fn when_all_are_critical_a_non_critical_newcomer_goes_else_the_oldest() {
        let mut outbox = Outbox::new("s", 2);
        outbox.push(alert("c1", Severity::Critical), Millis(1));
        outbox.push(alert("c2", Severity::Critical), Millis(1));
        let victim = outbox.push(alert("w", Severity::Warning), Millis(2));
        assert_eq!(victim.map(|a| a.summary), Some("w".to_owned()));
        let victim = outbox.push(alert("c3", Severity::Critical), Millis(3));
        assert_eq!(victim.map(|a| a.summary), Some("c1".to_owned()));
        assert_eq!(queued(&outbox), ["c2", "c3"]);
        assert_eq!(
            outbox.pending_drops(),
            Some(DropTally {
                dropped: 2,
                dropped_critical: 1,
                first_drop_at: Millis(2),
            })
        );
    }

    #[test]
    fn the_drop_report_comes_out_first_then_the_queue() {
        let mut outbox = Outbox::new("ops", 1);
        outbox.push(alert("a", Severity::Info), Millis(1));
        outbox.push(alert("b", Severity::Info), Millis(2));
        let report = outbox.pop(Millis(5)).expect("the report");
        assert_eq!(report.class, "alerts_dropped");
        assert_eq!(report.since, Millis(2));
        assert_eq!(report.at, Millis(5));
        assert_eq!(
            outbox.pop(Millis(5)).map(|a| a.summary),
            Some("b".to_owned())
        );
        assert!(outbox.pop(Millis(5)).is_none());
        assert!(outbox.is_empty());
    }
}
