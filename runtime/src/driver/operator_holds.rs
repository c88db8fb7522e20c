//! Operator holds shared through the store, so that a drain, a maintenance window or a
//! manual region failover outlives the leader that was told.
//!
//! The leader publishes every hold its core stands under (`switchyard:operator`, one
//! document) after each operator action that changes them, and again after a takeover
//! or a store outage. A controller taking over puts its core under exactly the holds it
//! reads, before it adopts any guild, so adopted players leave held nodes at once and
//! none is moved onto one. When the store has no holds document (no leader wrote one,
//! or Redis restarted empty) it keeps its own.
//!
//! Maintenance windows set in the configuration are not operator holds: they are never
//! published, and a controller taking over always opens them (an `enable` through the
//! API ends one only until the next takeover; remove it from the configuration).

use std::collections::BTreeSet;

use switchyard_core::ids::NodeId;
use switchyard_core::time::Millis;
use switchyard_core::{Controller, InputError, NodeHold};

use super::Driver;
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::store_schema::OperatorHold;

impl<H: HttpClient, S: Store> Driver<H, S> {
    /// Writes the holds in force if they changed since the last publication, or always
    /// when `full` (the store may have lost them).
    pub(super) fn publish_operator_holds(&mut self, full: bool) {
        if !self.is_acting() {
            return;
        }
        let holds = holds_of(&self.core, &self.configured_maintenance);
        if full || self.operator_published.as_ref() != Some(&holds) {
            self.writer.operator_holds(holds.clone());
            self.operator_published = Some(holds);
        }
    }

    /// Puts the core under the holds read from the store at a takeover.
    pub(super) fn apply_operator_holds(&mut self, now: Millis, read: Option<Vec<OperatorHold>>) {
        apply(&mut self.core, now, &self.configured_maintenance, read);
    }
}

/// The nodes `core` holds in maintenance by configuration: read before any operator
/// acts, when the core's windows are the configuration's.
pub(super) fn configured_windows(core: &Controller) -> BTreeSet<NodeId> {
    core.nodes()
        .into_iter()
        .filter(|n| n.maintenance)
        .map(|n| n.node)
        .collect()
}

/// The holds `core` stands under, in a stable order, leaving out the windows the
/// configuration opened (`configured`). A node in maintenance is also drained; the window
/// is the hold that says both.
fn holds_of(core: &Controller, configured: &BTreeSet<NodeId>) -> Vec<OperatorHold> {
    let nodes = core.nodes().into_iter().filter_map(|report| {
        let node = report.node;
        if report.maintenance && configured.contains(&node) {
            None
        } else if report.maintenance {
            Some(OperatorHold::Maintenance { node })
        } else if report.drained {
            Some(OperatorHold::Drained { node })
        } else {
            None
        }
    });
    let regions = core
        .evacuated_regions()
        .map(|region| OperatorHold::RegionFailedOver {
            region: region.clone(),
        });
    let mut holds: Vec<OperatorHold> = nodes.chain(regions).collect();
    holds.sort();
    holds
}

/// Puts `core` under exactly the holds `read` (`None`: the store has none; keep the
/// core's), for every node and region it knows; the windows the configuration opened
/// stay open. A hold naming a node or region unknown here is logged and not kept.
fn apply(
    core: &mut Controller,
    now: Millis,
    configured: &BTreeSet<NodeId>,
    read: Option<Vec<OperatorHold>>,
) {
    let Some(read) = read else {
        tracing::info!("no operator holds in the store: keeping this controller's own");
        return;
    };
    let (nodes, regions): (BTreeSet<_>, BTreeSet<_>) =
        core.nodes().into_iter().map(|r| (r.node, r.region)).unzip();
    for hold in &read {
        let known = match hold {
            OperatorHold::Drained { node } | OperatorHold::Maintenance { node } => {
                nodes.contains(node)
            }
            OperatorHold::RegionFailedOver { region } => regions.contains(region),
        };
        if !known {
            tracing::warn!(
                ?hold,
                "an operator hold in the store names what is not configured here"
            );
        }
    }
    for node in &nodes {
        let hold = if configured.contains(node) {
            Some(NodeHold::Maintenance)
        } else {
            read.iter().find_map(|h| match h {
                OperatorHold::Drained { node: n } if n == node => Some(NodeHold::Drained),
                OperatorHold::Maintenance { node: n } if n == node => Some(NodeHold::Maintenance),
                _ => None,
            })
        };
        log_refusal(core.set_node_hold(now, node, hold));
    }
    let evacuated: BTreeSet<_> = core.evacuated_regions().cloned().collect();
    for region in &regions {
        let wanted = read.contains(&OperatorHold::RegionFailedOver {
            region: region.clone(),
        });
        match (wanted, evacuated.contains(region)) {
            (true, false) => log_refusal(core.fail_over_region(now, region)),
            (false, true) => log_refusal(core.restore_region(now, region)),
            _ => {}
        }
    }
}

fn log_refusal(outcome: Result<(), InputError>) {
    if let Err(error) = outcome {
        tracing::warn!(%error, "the core refused an operator hold from the store");
    }
}

#[cfg(test)]
mod tests {
    use switchyard_core::config::ControllerConfig;
    use switchyard_core::ids::RegionId;
    use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};

    use super::*;

    /// eu-1, eu-2 (in maintenance by configuration, when `eu2_window`) and us-1.
    fn core(eu2_window: bool) -> (Controller, BTreeSet<NodeId>) {
        let node = |name: &str, region: &str, maintenance: bool| NodeSpec {
            name: name.into(),
            region: region.into(),
            priority: 0,
            weight: 1,
            capacity: 100,
            maintenance,
        };
        let topology = TopologySpec {
            regions: vec![
                RegionSpec {
                    name: "eu".into(),
                    priority: 10,
                },
                RegionSpec {
                    name: "us".into(),
                    priority: 0,
                },
            ],
            nodes: vec![
                node("eu-1", "eu", false),
                node("eu-2", "eu", eu2_window),
                node("us-1", "us", false),
            ],
            plans: vec![PlanSpec {
                name: "growth".into(),
                regions: vec!["eu".into(), "us".into()],
                default_region: None,
            }],
            shard_count: 1,
        };
        let core = Controller::new(Millis::ZERO, ControllerConfig::default(), &topology)
            .expect("valid topology");
        let configured = configured_windows(&core);
        (core, configured)
    }

    fn drained(node: &str) -> OperatorHold {
        OperatorHold::Drained {
            node: NodeId::new(node),
        }
    }

    fn window(node: &str) -> OperatorHold {
        OperatorHold::Maintenance {
            node: NodeId::new(node),
        }
    }

    fn failed_over(region: &str) -> OperatorHold {
        OperatorHold::RegionFailedOver {
            region: RegionId::new(region),
        }
    }

    #[test]
    fn the_store_s_holds_replace_the_core_s_exactly() {
        let (mut core, configured) = core(false);
        let now = Millis(10);
        // An earlier term of this controller left eu-1 in a window and us failed over.
        core.set_node_hold(now, &NodeId::new("eu-1"), Some(NodeHold::Maintenance))
            .expect("known");
        core.fail_over_region(now, &RegionId::new("us"))
            .expect("known");
        // Meanwhile an operator ended the window into a drain, restored us and drained
        // us-1; a hold for a node this controller does not know is ignored.
        let read = vec![drained("eu-1"), drained("us-1"), drained("ap-1")];
        apply(&mut core, now, &configured, Some(read));
        assert_eq!(
            holds_of(&core, &configured),
            [drained("eu-1"), drained("us-1")]
        );
        let eu1 = core.node_health(&NodeId::new("eu-1")).expect("known");
        assert!(eu1.drained && !eu1.maintenance);
        // Every hold lifted since: all lifted here too.
        apply(&mut core, now, &configured, Some(Vec::new()));
        assert!(holds_of(&core, &configured).is_empty());
        assert_eq!(core.evacuated_regions().count(), 0);
    }

    #[test]
    fn without_holds_in_the_store_the_core_keeps_its_own() {
        let (mut core, configured) = core(false);
        core.set_node_hold(Millis(1), &NodeId::new("eu-1"), Some(NodeHold::Drained))
            .expect("known");
        apply(&mut core, Millis(2), &configured, None);
        assert_eq!(holds_of(&core, &configured), [drained("eu-1")]);
    }

    #[test]
    fn a_window_the_configuration_opened_is_not_published_and_stays_open() {
        let (mut core, configured) = core(true);
        assert!(
            holds_of(&core, &configured).is_empty(),
            "not an operator hold"
        );
        // The store says nothing of eu-2 (an operator enabled it on the last leader).
        apply(
            &mut core,
            Millis(5),
            &configured,
            Some(vec![window("eu-1"), failed_over("us")]),
        );
        let eu2 = core.node_health(&NodeId::new("eu-2")).expect("known");
        assert!(eu2.maintenance, "the configuration's window is open again");
        assert_eq!(
            holds_of(&core, &configured),
            [window("eu-1"), failed_over("us")]
        );
    }
}
