//! Resolving the names faults target: nodes (including ones that join at run time),
//! regions, and the hosts of the simulated world.

use std::collections::BTreeMap;

use switchyard_core::ids::{NodeId, ProcessId, RegionId};

use super::{Known, unknown};
use crate::scenario::duration::format_ms;
use crate::scenario::model::{Host, Shards};

/// A node that a `node_join` fault adds.
#[derive(Debug, Clone)]
pub(super) struct Joined {
    pub(super) at_ms: u64,
    pub(super) region: RegionId,
}

/// Everything a fault may name.
pub(super) struct World<'a> {
    pub(super) known: &'a Known,
    pub(super) joined: BTreeMap<NodeId, Joined>,
    pub(super) shards: &'a Shards,
}

/// The fixed hosts, by the names scenario files use.
const SERVICES: [(&str, Host); 4] = [
    ("controller", Host::Controller),
    ("redis", Host::Redis),
    ("webhook", Host::Webhook),
    ("discord", Host::Discord),
];

impl World<'_> {
    /// A node that exists at `at_ms`: in the topology, or joined by then.
    pub(super) fn node(&self, name: &str, at_ms: u64) -> Result<NodeId, String> {
        let id = NodeId::new(name);
        if self.known.nodes.contains_key(&id) {
            return Ok(id);
        }
        match self.joined.get(&id) {
            Some(joined) if joined.at_ms <= at_ms => Ok(id),
            Some(joined) => Err(format!(
                "node {name:?} only joins at {}, after this fault starts ({})",
                format_ms(joined.at_ms),
                format_ms(at_ms)
            )),
            None => Err(self.unknown_node(name)),
        }
    }

    fn unknown_node(&self, name: &str) -> String {
        let names = self.known.node_order.iter().chain(self.joined.keys());
        unknown("node", name, names.map(NodeId::as_str))
    }

    /// The region's nodes that exist at `at_ms`, topology order first; an error when
    /// the region is unknown or has no node to fail.
    pub(super) fn region(&self, name: &str, at_ms: u64) -> Result<(RegionId, Vec<NodeId>), String> {
        let region = self
            .known
            .region(name)
            .ok_or_else(|| self.known.unknown_region(name))?;
        let from_topology = self
            .known
            .node_order
            .iter()
            .filter(|node| self.known.nodes.get(*node) == Some(&region));
        let from_joins = self
            .joined
            .iter()
            .filter(|(_, joined)| joined.region == region && joined.at_ms <= at_ms)
            .map(|(node, _)| node);
        let nodes: Vec<NodeId> = from_topology.chain(from_joins).cloned().collect();
        if nodes.is_empty() {
            return Err(format!(
                "region {name:?} has no nodes at {}",
                format_ms(at_ms)
            ));
        }
        Ok((region, nodes))
    }

    /// The hosts a name stands for at `at_ms`: a node, `region:<name>` (all its nodes),
    /// a bot process, or one of the fixed services.
    pub(super) fn hosts(&self, name: &str, at_ms: u64) -> Result<Vec<Host>, String> {
        if let Some((_, host)) = SERVICES.iter().find(|(service, _)| *service == name) {
            return Ok(vec![host.clone()]);
        }
        if let Some(region) = name.strip_prefix("region:") {
            let (_, nodes) = self.region(region, at_ms)?;
            return Ok(nodes.into_iter().map(Host::Node).collect());
        }
        if let Some(process) = self.process(name) {
            return Ok(vec![Host::Bot(process)]);
        }
        match self.node(name, at_ms) {
            Ok(node) => Ok(vec![Host::Node(node)]),
            Err(message) if self.joined.contains_key(&NodeId::new(name)) => Err(message),
            Err(_) => Err(format!(
                "unknown host {name:?} (hosts are node names, \"region:<name>\", bot processes \
                 bot-0..bot-{} and spare-<region>-<n>, \"controller\", \"redis\", \"webhook\" \
                 or \"discord\")",
                self.shards.processes.len().saturating_sub(1)
            )),
        }
    }

    fn process(&self, name: &str) -> Option<ProcessId> {
        let id = ProcessId::new(name);
        let owner = self.shards.processes.contains(&id);
        let spare = self.shards.all_spares().any(|(_, spare)| *spare == id);
        (owner || spare).then_some(id)
    }
}
