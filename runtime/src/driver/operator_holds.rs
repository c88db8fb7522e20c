//! Operator holds shared through the store, so that a drain, a maintenance window or a
//! manual region failover outlives the leader that was told.
//!
//! The leader publishes the holds its core stands under (`switchyard:operator`) after
//! every operator action and in full after a takeover or a store outage. A controller
//! taking over applies the holds it reads before it acts, and lifts those it had itself
//! published in an earlier term that are no longer there (an operator ended them while
//! it stood by).

use std::collections::BTreeMap;

use switchyard_core::InputError;
use switchyard_core::time::Millis;

use super::Driver;
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::store_schema::{OperatorHold, operator_node_field, operator_region_field};

/// Holds by their field in `switchyard:operator`.
pub(super) type Holds = BTreeMap<String, OperatorHold>;

impl<H: HttpClient, S: Store> Driver<H, S> {
    /// The holds the core stands under now (a node in maintenance is also drained; the
    /// window is the hold that says both).
    fn holds_of_core(&self) -> Holds {
        let nodes = self.core.nodes().into_iter().filter_map(|report| {
            let field = operator_node_field(&report.node);
            let node = report.node;
            if report.maintenance {
                Some((field, OperatorHold::Maintenance { node }))
            } else if report.drained {
                Some((field, OperatorHold::Drained { node }))
            } else {
                None
            }
        });
        let regions = self.core.evacuated_regions().map(|region| {
            (
                operator_region_field(region),
                OperatorHold::RegionFailedOver {
                    region: region.clone(),
                },
            )
        });
        nodes.chain(regions).collect()
    }

    /// Writes the holds that changed since the last publication (all of them when
    /// `full`: the store may have lost them), and removes the ones that ended.
    pub(super) fn publish_operator_holds(&mut self, full: bool) {
        if !self.is_acting() {
            return;
        }
        let now_held = self.holds_of_core();
        for (field, hold) in &now_held {
            if full || self.operator_published.get(field) != Some(hold) {
                self.writer.operator_hold(field.clone(), Some(hold.clone()));
            }
        }
        for field in self.operator_published.keys() {
            if !now_held.contains_key(field) {
                self.writer.operator_hold(field.clone(), None);
            }
        }
        self.operator_published = now_held;
    }

    /// Brings the core under the holds read from the store at a takeover. A hold naming
    /// a node or region this controller does not know is left in the store, untouched.
    pub(super) fn apply_operator_holds(&mut self, now: Millis, read: Vec<OperatorHold>) {
        let read: Holds = read.into_iter().map(|h| (h.field(), h)).collect();
        for (field, lifted) in std::mem::take(&mut self.operator_published) {
            if !read.contains_key(&field) {
                let outcome = match &lifted {
                    OperatorHold::Drained { node } | OperatorHold::Maintenance { node } => {
                        self.core.enable_node(now, node)
                    }
                    OperatorHold::RegionFailedOver { region } => {
                        self.core.restore_region(now, region)
                    }
                };
                log_unapplied(&lifted, outcome);
            }
        }
        for hold in read.into_values() {
            let outcome = match &hold {
                OperatorHold::Drained { node } => self.core.drain_node(now, node),
                OperatorHold::Maintenance { node } => self.core.set_maintenance(now, node, true),
                OperatorHold::RegionFailedOver { region } => {
                    self.core.fail_over_region(now, region)
                }
            };
            log_unapplied(&hold, outcome);
        }
        // What the store holds for names unknown here stays; the full publication that
        // follows the takeover writes what the core stands under.
    }
}

fn log_unapplied(hold: &OperatorHold, outcome: Result<(), InputError>) {
    if let Err(error) = outcome {
        tracing::warn!(?hold, %error, "an operator hold from the store does not apply here");
    }
}
