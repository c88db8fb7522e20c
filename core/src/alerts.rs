//! Alert state: what is firing, what has been sent, and what is inhibited.
//!
//! The controller declares alerts firing or clear; the book turns changes of what should
//! be *notified* into trigger/resolve notices, each under a stable dedup key. A firing
//! region alert inhibits alerts about that region's nodes (Alertmanager's
//! `inhibit_rules`): new ones are not sent while the region alert stands (one already
//! sent stays open until its condition ends). Two holds (see [`holds`]) keep a region
//! outage to one page: a node-down alert waits `controller.alerts.node_down_group_wait_ms`
//! before it is sent, so the region alert that follows can inhibit it; and when the
//! region alert resolves, the down alerts it held back are held a while longer
//! (`controller.alerts.region_recovery_grace_ms`) and sent only if still firing then.

mod holds;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::AlertConfig;
use crate::ids::{NodeId, RegionId, ShardId};
use crate::time::Millis;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Needs attention soon.
    Warning,
    /// Needs someone now.
    Critical,
}

/// What an alert is about; also determines its dedup key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AlertSubject {
    /// A node is down.
    NodeDown {
        /// The node.
        node: NodeId,
        /// Its region.
        region: RegionId,
    },
    /// A node is slow or erroring.
    NodeDegraded {
        /// The node.
        node: NodeId,
        /// Its region.
        region: RegionId,
    },
    /// A node keeps going down and coming back.
    NodeFlapping {
        /// The node.
        node: NodeId,
        /// Its region.
        region: RegionId,
    },
    /// Every node of a region is down.
    RegionDown {
        /// The region.
        region: RegionId,
    },
    /// Residency-pinned guilds of a region have no player.
    ResidencyDegraded {
        /// The region.
        region: RegionId,
    },
    /// Guilds could not be placed or had to overfill nodes.
    CapacityExhausted {
        /// The region the guilds call home.
        region: RegionId,
    },
    /// Most nodes look down at once; the controller froze mass moves.
    ControllerIsolated,
    /// Most shards went silent at once; promotions are frozen.
    ShardPromotionsFrozen,
    /// A shard stalled and had no spare to take it.
    ShardWithoutSpare {
        /// The shard.
        shard: ShardId,
    },
    /// A restoration was rolled back because its node relapsed.
    RestorationRolledBack {
        /// The node.
        node: NodeId,
        /// Its region.
        region: RegionId,
    },
}

impl AlertSubject {
    /// The key under which triggers and resolves of this alert are deduplicated.
    pub fn dedup_key(&self) -> String {
        match self {
            AlertSubject::NodeDown { node, .. } => format!("switchyard/node-down/{node}"),
            AlertSubject::NodeDegraded { node, .. } => format!("switchyard/node-degraded/{node}"),
            AlertSubject::NodeFlapping { node, .. } => format!("switchyard/node-flapping/{node}"),
            AlertSubject::RegionDown { region } => format!("switchyard/region-down/{region}"),
            AlertSubject::ResidencyDegraded { region } => {
                format!("switchyard/residency-degraded/{region}")
            }
            AlertSubject::CapacityExhausted { region } => {
                format!("switchyard/capacity-exhausted/{region}")
            }
            AlertSubject::ControllerIsolated => "switchyard/controller-isolated".to_owned(),
            AlertSubject::ShardPromotionsFrozen => "switchyard/shard-promotions-frozen".to_owned(),
            AlertSubject::ShardWithoutSpare { shard } => {
                format!("switchyard/shard-without-spare/{shard}")
            }
            AlertSubject::RestorationRolledBack { node, .. } => {
                format!("switchyard/restoration-rolled-back/{node}")
            }
        }
    }

    /// The node an alert is about, if it is about one.
    pub fn node(&self) -> Option<&NodeId> {
        match self {
            AlertSubject::NodeDown { node, .. }
            | AlertSubject::NodeDegraded { node, .. }
            | AlertSubject::NodeFlapping { node, .. }
            | AlertSubject::RestorationRolledBack { node, .. } => Some(node),
            _ => None,
        }
    }

    /// The region an alert concerns, if any.
    pub fn region(&self) -> Option<&RegionId> {
        match self {
            AlertSubject::NodeDown { region, .. }
            | AlertSubject::NodeDegraded { region, .. }
            | AlertSubject::NodeFlapping { region, .. }
            | AlertSubject::RestorationRolledBack { region, .. }
            | AlertSubject::RegionDown { region }
            | AlertSubject::ResidencyDegraded { region }
            | AlertSubject::CapacityExhausted { region } => Some(region),
            AlertSubject::ControllerIsolated
            | AlertSubject::ShardPromotionsFrozen
            | AlertSubject::ShardWithoutSpare { .. } => None,
        }
    }
}

/// Trigger or resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    /// The condition started.
    Trigger,
    /// The condition ended.
    Resolve,
}

/// One alert notification for the shell's alert sinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNotice {
    /// Trigger or resolve.
    pub action: AlertAction,
    /// Stable key: a resolve carries the same key as its trigger.
    pub dedup_key: String,
    /// How urgent.
    pub severity: Severity,
    /// What it is about.
    pub subject: AlertSubject,
    /// One line for people.
    pub summary: String,
    /// When the condition started (for a resolve, the original trigger time).
    pub since: Millis,
    /// When this notice was issued.
    pub at: Millis,
}

#[derive(Debug, Clone)]
struct Entry {
    severity: Severity,
    summary: String,
    since: Millis,
    firing: bool,
    notified: bool,
}

/// The set of alerts the controller knows about.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlertBook {
    entries: BTreeMap<AlertSubject, Entry>,
    /// Nodes whose alerts are silenced (maintenance windows).
    silenced_nodes: Vec<NodeId>,
    /// New node-down alerts, waiting to see whether their region's alert follows.
    group_wait: holds::Holds,
    /// Down alerts of a recovered region's nodes, held back a while longer.
    recovery_grace: holds::Holds,
    /// Whether anything changed since the last reconcile.
    dirty: bool,
}

impl AlertBook {
    /// A book holding node-down alerts as `config` says (a default book holds nothing).
    pub(crate) fn new(config: &AlertConfig) -> Self {
        Self {
            group_wait: holds::Holds::new(config.node_down_group_wait_ms),
            recovery_grace: holds::Holds::new(config.region_recovery_grace_ms),
            ..Self::default()
        }
    }

    /// When the earliest hold ends, if an alert is held.
    pub(crate) fn poll_timeout(&self) -> Option<Millis> {
        [self.group_wait.next_end(), self.recovery_grace.next_end()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Ends the holds due at `now`, so the next reconcile sends what they held back.
    pub(crate) fn handle_timeout(&mut self, now: Millis) {
        // Both holds must expire: no short-circuit.
        if self.group_wait.expire(now) | self.recovery_grace.expire(now) {
            self.dirty = true;
        }
    }

    /// Declares an alert firing (idempotent; a new summary replaces the old one).
    pub(crate) fn fire(
        &mut self,
        now: Millis,
        subject: AlertSubject,
        severity: Severity,
        summary: String,
    ) {
        // Only a node-down alert may be held: the clone is made for it alone.
        let waits = matches!(subject, AlertSubject::NodeDown { .. }).then(|| subject.clone());
        let entry = self.entries.entry(subject).or_insert(Entry {
            severity,
            summary: String::new(),
            since: now,
            firing: false,
            notified: false,
        });
        if !entry.firing {
            entry.since = now;
            if let Some(subject) = waits.filter(|_| !entry.notified) {
                self.group_wait.hold(now, [subject]);
            }
        }
        if !entry.firing || entry.severity != severity || entry.summary != summary {
            self.dirty = true;
        }
        entry.firing = true;
        entry.severity = severity;
        entry.summary = summary;
    }

    /// Declares an alert's condition over.
    pub(crate) fn clear(&mut self, subject: &AlertSubject) {
        if let Some(entry) = self.entries.get_mut(subject)
            && entry.firing
        {
            entry.firing = false;
            self.dirty = true;
        }
    }

    pub(crate) fn is_firing(&self, subject: &AlertSubject) -> bool {
        self.entries.get(subject).is_some_and(|e| e.firing)
    }

    pub(crate) fn set_silenced(&mut self, node: &NodeId, silenced: bool) {
        self.dirty = true;
        self.silenced_nodes.retain(|n| n != node);
        if silenced {
            self.silenced_nodes.push(node.clone());
        }
    }

    fn is_inhibited(&self, subject: &AlertSubject) -> bool {
        let Some(node) = subject.node() else {
            return false;
        };
        if self.silenced_nodes.contains(node)
            || self.group_wait.holds(subject)
            || self.recovery_grace.holds(subject)
        {
            return true;
        }
        subject.region().is_some_and(|region| {
            self.is_firing(&AlertSubject::RegionDown {
                region: region.clone(),
            })
        })
    }

    /// Holds back the down alerts of the nodes of every region whose sent alert is about
    /// to resolve that are still firing unsent, and lets go of held ones that cleared.
    fn update_holds(&mut self, now: Millis) {
        let recovered: Vec<&RegionId> = self
            .entries
            .iter()
            .filter(|(_, e)| e.notified && !e.firing)
            .filter_map(|(subject, _)| match subject {
                AlertSubject::RegionDown { region } => Some(region),
                _ => None,
            })
            .collect();
        let still_down: Vec<AlertSubject> = self
            .entries
            .iter()
            .filter(|(subject, e)| {
                e.firing
                    && !e.notified
                    && matches!(subject, AlertSubject::NodeDown { region, .. } if recovered.contains(&region))
            })
            .map(|(subject, _)| subject.clone())
            .collect();
        self.recovery_grace.hold(now, still_down);
        let entries = &self.entries;
        let is_firing = |subject: &AlertSubject| entries.get(subject).is_some_and(|e| e.firing);
        self.recovery_grace.release_cleared(is_firing);
        self.group_wait.release_cleared(is_firing);
    }

    /// Turns every change of what should be notified into a notice, in key order.
    pub(crate) fn reconcile(&mut self, now: Millis, out: &mut impl FnMut(AlertNotice)) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.update_holds(now);
        let wanted: Vec<(AlertSubject, bool)> = self
            .entries
            .iter()
            .map(|(subject, e)| {
                // Inhibition mutes new notifications; it never resolves one already sent
                // while its condition still holds (that would be a false all-clear).
                let wanted = e.firing && (e.notified || !self.is_inhibited(subject));
                (subject.clone(), wanted)
            })
            .filter(|(subject, wanted)| self.entries[subject].notified != *wanted)
            .collect();
        for (subject, wanted) in wanted {
            let entry = self
                .entries
                .get_mut(&subject)
                .expect("collected from the map");
            entry.notified = wanted;
            out(AlertNotice {
                action: if wanted {
                    AlertAction::Trigger
                } else {
                    AlertAction::Resolve
                },
                dedup_key: subject.dedup_key(),
                severity: entry.severity,
                subject: subject.clone(),
                summary: entry.summary.clone(),
                since: entry.since,
                at: now,
            });
        }
        // Forget alerts that are over and already resolved, so the book stays bounded.
        self.entries.retain(|_, e| e.firing || e.notified);
    }

    /// Alerts triggered and not yet resolved, for the status API (one inhibited after it
    /// was sent stays; one held back is not listed until it is sent).
    pub(crate) fn active(&self) -> impl Iterator<Item = (&AlertSubject, Severity, &str, Millis)> {
        self.entries
            .iter()
            .filter(|(_, e)| e.notified)
            .map(|(s, e)| (s, e.severity, e.summary.as_str(), e.since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_down(node: &str) -> AlertSubject {
        AlertSubject::NodeDown {
            node: node.into(),
            region: "eu".into(),
        }
    }

    fn eu_down() -> AlertSubject {
        AlertSubject::RegionDown {
            region: "eu".into(),
        }
    }

    fn fire_at(book: &mut AlertBook, at: u64, subject: AlertSubject) {
        book.fire(Millis(at), subject, Severity::Critical, "down".into());
    }

    /// A book with a 30 s recovery grace, region eu down and `nodes` down with it, all
    /// reconciled at 1 ms.
    fn eu_down_with(nodes: &[&str]) -> AlertBook {
        let mut book = AlertBook::new(&AlertConfig {
            region_recovery_grace_ms: 30_000,
            node_down_group_wait_ms: 0,
        });
        fire_at(&mut book, 1, eu_down());
        for node in nodes {
            fire_at(&mut book, 1, node_down(node));
        }
        drain(&mut book, 1);
        book
    }

    fn drain(book: &mut AlertBook, now: u64) -> Vec<(AlertAction, String)> {
        let mut out = Vec::new();
        book.reconcile(Millis(now), &mut |n| out.push((n.action, n.dedup_key)));
        out
    }

    #[test]
    fn trigger_then_resolve_once_each() {
        let mut book = AlertBook::default();
        fire_at(&mut book, 1, node_down("eu-1"));
        fire_at(&mut book, 2, node_down("eu-1"));
        assert_eq!(
            drain(&mut book, 2),
            [(AlertAction::Trigger, "switchyard/node-down/eu-1".to_owned())]
        );
        assert!(drain(&mut book, 3).is_empty(), "deduplicated");
        book.clear(&node_down("eu-1"));
        assert_eq!(
            drain(&mut book, 4),
            [(AlertAction::Resolve, "switchyard/node-down/eu-1".to_owned())]
        );
        assert!(drain(&mut book, 5).is_empty());
    }

    #[test]
    fn region_alert_inhibits_its_node_alerts() {
        let mut book = AlertBook::default();
        let region = eu_down();
        fire_at(&mut book, 1, region.clone());
        fire_at(&mut book, 1, node_down("eu-1"));
        assert_eq!(
            drain(&mut book, 1),
            [(AlertAction::Trigger, "switchyard/region-down/eu".to_owned())]
        );
        // A node alert already sent is not resolved by the inhibition.
        fire_at(&mut book, 1, node_down("eu-2"));
        book.clear(&region);
        fire_at(&mut book, 1, region.clone());
        assert!(drain(&mut book, 1).is_empty());
        book.clear(&node_down("eu-2"));
        drain(&mut book, 1);
        book.clear(&region);
        // The node is still down once the region alert resolves: it is sent now.
        assert_eq!(
            drain(&mut book, 2),
            [
                (AlertAction::Trigger, "switchyard/node-down/eu-1".to_owned()),
                (AlertAction::Resolve, "switchyard/region-down/eu".to_owned()),
            ]
        );
    }

    #[test]
    fn a_recovered_region_holds_its_node_alerts_back_for_the_grace() {
        let mut book = eu_down_with(&["eu-1", "eu-2"]);
        let region = eu_down();
        assert_eq!(
            book.poll_timeout(),
            None,
            "no grace while the region is down"
        );

        // eu-3 came back: the region alert resolves, but eu-1 and eu-2 are still down.
        book.clear(&region);
        assert_eq!(
            drain(&mut book, 10),
            [(AlertAction::Resolve, "switchyard/region-down/eu".to_owned())],
            "the nodes still down are held back"
        );
        assert_eq!(book.poll_timeout(), Some(Millis(30_010)));
        // eu-2 follows a probe later: it is never sent.
        book.clear(&node_down("eu-2"));
        assert!(drain(&mut book, 900).is_empty());
        // A node that came back and then degrades is news, grace or not.
        let slow = AlertSubject::NodeDegraded {
            node: "eu-3".into(),
            region: "eu".into(),
        };
        fire_at(&mut book, 1_000, slow.clone());
        assert_eq!(
            drain(&mut book, 1_000),
            [(AlertAction::Trigger, slow.dedup_key())]
        );

        book.handle_timeout(Millis(30_009));
        assert!(drain(&mut book, 30_009).is_empty(), "the grace is not over");
        book.handle_timeout(Millis(30_010));
        assert_eq!(book.poll_timeout(), None);
        assert_eq!(
            drain(&mut book, 30_010),
            [(AlertAction::Trigger, "switchyard/node-down/eu-1".to_owned())],
            "still down when the grace ends: sent"
        );
    }

    #[test]
    fn a_node_back_that_falls_again_within_the_grace_is_paged_at_once() {
        let mut book = eu_down_with(&["eu-1", "eu-2"]);
        let region = eu_down();
        // eu-1 comes back and resolves the region; eu-2 is held.
        book.clear(&node_down("eu-1"));
        book.clear(&region);
        drain(&mut book, 10);
        assert_eq!(book.poll_timeout(), Some(Millis(30_010)));
        // eu-1 falls again: a new outage, not the region's return.
        fire_at(&mut book, 5_000, node_down("eu-1"));
        assert_eq!(
            drain(&mut book, 5_000),
            [(AlertAction::Trigger, "switchyard/node-down/eu-1".to_owned())]
        );
        // eu-2 comes back within the grace and falls again: also news.
        book.clear(&node_down("eu-2"));
        drain(&mut book, 6_000);
        assert_eq!(book.poll_timeout(), None, "nothing held any more");
        fire_at(&mut book, 7_000, node_down("eu-2"));
        assert_eq!(
            drain(&mut book, 7_000),
            [(AlertAction::Trigger, "switchyard/node-down/eu-2".to_owned())]
        );
    }

    #[test]
    fn a_region_down_again_within_its_grace_keeps_inhibiting() {
        let mut book = eu_down_with(&["eu-1"]);
        let region = eu_down();
        book.clear(&region);
        drain(&mut book, 10);
        fire_at(&mut book, 20, region.clone());
        assert_eq!(
            drain(&mut book, 20),
            [(AlertAction::Trigger, "switchyard/region-down/eu".to_owned())]
        );
        book.handle_timeout(Millis(30_010));
        assert!(
            drain(&mut book, 30_010).is_empty(),
            "the region is down again: its node alerts stay inhibited"
        );
        // Another recovery starts another grace.
        book.clear(&region);
        drain(&mut book, 40_000);
        assert_eq!(book.poll_timeout(), Some(Millis(70_000)));
    }

    /// A book with a 5 s node-down group wait and no recovery grace.
    fn waiting_book() -> AlertBook {
        AlertBook::new(&AlertConfig {
            region_recovery_grace_ms: 0,
            node_down_group_wait_ms: 5_000,
        })
    }

    #[test]
    fn a_node_down_alert_waits_for_the_group_wait_then_is_sent() {
        let mut book = waiting_book();
        fire_at(&mut book, 100, node_down("eu-1"));
        assert!(drain(&mut book, 100).is_empty(), "waiting");
        assert_eq!(book.poll_timeout(), Some(Millis(5_100)));
        // Other node alerts are news at once: only a region going down is waited for.
        let slow = AlertSubject::NodeDegraded {
            node: "eu-2".into(),
            region: "eu".into(),
        };
        fire_at(&mut book, 200, slow.clone());
        assert_eq!(
            drain(&mut book, 200),
            [(AlertAction::Trigger, slow.dedup_key())]
        );
        book.handle_timeout(Millis(5_099));
        assert!(drain(&mut book, 5_099).is_empty(), "not yet");
        book.handle_timeout(Millis(5_100));
        assert_eq!(book.poll_timeout(), None);
        assert_eq!(
            drain(&mut book, 5_100),
            [(AlertAction::Trigger, "switchyard/node-down/eu-1".to_owned())]
        );
        // Still firing, it is not sent twice; its resolve is not held.
        fire_at(&mut book, 6_000, node_down("eu-1"));
        assert!(drain(&mut book, 6_000).is_empty());
        book.clear(&node_down("eu-1"));
        assert_eq!(
            drain(&mut book, 7_000),
            [(AlertAction::Resolve, "switchyard/node-down/eu-1".to_owned())]
        );
    }

    #[test]
    fn a_region_going_down_within_the_group_wait_pages_once_for_all_its_nodes() {
        let mut book = waiting_book();
        fire_at(&mut book, 100, node_down("eu-1"));
        drain(&mut book, 100);
        fire_at(&mut book, 160, node_down("eu-2"));
        drain(&mut book, 160);
        fire_at(&mut book, 300, node_down("eu-3"));
        fire_at(&mut book, 300, eu_down());
        assert_eq!(
            drain(&mut book, 300),
            [(AlertAction::Trigger, "switchyard/region-down/eu".to_owned())]
        );
        book.handle_timeout(Millis(5_300));
        assert_eq!(book.poll_timeout(), None, "every wait is over");
        assert!(
            drain(&mut book, 5_300).is_empty(),
            "the region alert inhibits its nodes' alerts once their wait is over"
        );
    }

    #[test]
    fn a_node_back_within_the_group_wait_is_never_paged() {
        let mut book = waiting_book();
        fire_at(&mut book, 100, node_down("eu-1"));
        drain(&mut book, 100);
        book.clear(&node_down("eu-1"));
        assert!(drain(&mut book, 2_000).is_empty());
        assert_eq!(book.poll_timeout(), None, "the hold is let go");
        // Down again: a wait of its own, from its new start.
        fire_at(&mut book, 3_000, node_down("eu-1"));
        drain(&mut book, 3_000);
        assert_eq!(book.poll_timeout(), Some(Millis(8_000)));
    }

    #[test]
    fn a_region_outage_and_its_return_page_for_the_region_and_a_node_still_down_only() {
        let mut book = AlertBook::new(&AlertConfig {
            region_recovery_grace_ms: 30_000,
            node_down_group_wait_ms: 5_000,
        });
        fire_at(&mut book, 100, node_down("eu-1"));
        fire_at(&mut book, 160, node_down("eu-2"));
        fire_at(&mut book, 300, eu_down());
        assert_eq!(
            drain(&mut book, 300),
            [(AlertAction::Trigger, "switchyard/region-down/eu".to_owned())]
        );
        book.handle_timeout(Millis(5_300));
        assert!(drain(&mut book, 5_300).is_empty(), "inhibited once waited");
        // eu-1 returns, which ends the region alert; eu-2 is still down.
        book.clear(&node_down("eu-1"));
        book.clear(&eu_down());
        assert_eq!(
            drain(&mut book, 50_000),
            [(AlertAction::Resolve, "switchyard/region-down/eu".to_owned())]
        );
        assert_eq!(book.poll_timeout(), Some(Millis(80_000)), "the grace");
        book.handle_timeout(Millis(80_000));
        assert_eq!(
            drain(&mut book, 80_000),
            [(AlertAction::Trigger, "switchyard/node-down/eu-2".to_owned())]
        );
    }

    #[test]
    fn a_wait_over_during_a_maintenance_window_pages_when_the_window_ends() {
        let mut book = waiting_book();
        book.set_silenced(&"eu-1".into(), true);
        fire_at(&mut book, 100, node_down("eu-1"));
        drain(&mut book, 100);
        book.handle_timeout(Millis(5_100));
        assert!(drain(&mut book, 5_100).is_empty(), "silenced");
        assert_eq!(book.poll_timeout(), None, "the wait is over");
        book.set_silenced(&"eu-1".into(), false);
        assert_eq!(
            drain(&mut book, 6_000),
            [(AlertAction::Trigger, "switchyard/node-down/eu-1".to_owned())],
            "still down when the window ends: paged at once"
        );
    }

    #[test]
    fn silenced_nodes_raise_nothing() {
        let mut book = AlertBook::default();
        book.set_silenced(&"eu-1".into(), true);
        fire_at(&mut book, 1, node_down("eu-1"));
        assert!(drain(&mut book, 1).is_empty());
        book.set_silenced(&"eu-1".into(), false);
        assert_eq!(drain(&mut book, 2).len(), 1);
    }
}
