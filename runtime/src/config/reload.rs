//! What reloading the configuration changes: the nodes that joined and the nodes that
//! left. Nothing else is applied on a reload (restart the daemon for the rest), and a
//! node whose policy or address changed keeps its running one, with a warning: it is
//! removed and added under a new name, or the daemon restarted.

use std::collections::BTreeMap;

use switchyard_core::ids::NodeId;
use switchyard_core::topology::NodeSpec;

use super::DaemonConfig;
use crate::lavalink::NodeEndpoint;

/// The nodes a configuration lists, by name.
pub type NodeTable = BTreeMap<NodeId, (NodeSpec, NodeEndpoint)>;

/// Every node `config` lists, with its address.
pub fn node_table(config: &DaemonConfig) -> NodeTable {
    config
        .topology
        .nodes
        .iter()
        .filter_map(|spec| {
            let endpoint = config.endpoints.iter().find(|e| e.name == spec.name)?;
            Some((spec.name.clone(), (spec.clone(), endpoint.clone())))
        })
        .collect()
}

/// How the running nodes differ from a reloaded configuration's.
#[derive(Debug, Default, PartialEq)]
pub struct NodeChanges {
    /// Listed now, not before: to add.
    pub joined: Vec<(NodeSpec, NodeEndpoint)>,
    /// Listed before, not now: to remove.
    pub left: Vec<NodeId>,
    /// Listed in both with another policy or address: not applied.
    pub edited: Vec<NodeId>,
}

impl NodeChanges {
    /// What it takes to go from `running` to `reloaded`.
    pub fn between(running: &NodeTable, reloaded: &NodeTable) -> Self {
        let mut changes = Self::default();
        for (name, entry) in reloaded {
            match running.get(name) {
                None => changes.joined.push(entry.clone()),
                Some(current) if current != entry => changes.edited.push(name.clone()),
                Some(_) => {}
            }
        }
        changes.left = running
            .keys()
            .filter(|name| !reloaded.contains_key(*name))
            .cloned()
            .collect();
        changes
    }

    /// Whether nothing is to be done.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty() && self.edited.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, region: &str, port: u16) -> (NodeId, (NodeSpec, NodeEndpoint)) {
        let spec = NodeSpec {
            name: name.into(),
            region: region.into(),
            priority: 0,
            weight: 1,
            capacity: 100,
            maintenance: false,
        };
        let endpoint = NodeEndpoint {
            name: name.into(),
            base_url: format!("http://127.0.0.1:{port}"),
            password: "pw".into(),
        };
        (name.into(), (spec, endpoint))
    }

    #[test]
    fn joined_left_and_edited_nodes_are_told_apart() {
        let running: NodeTable = [
            entry("eu-1", "eu", 1),
            entry("eu-2", "eu", 2),
            entry("us-1", "us", 3),
        ]
        .into_iter()
        .collect();
        let reloaded: NodeTable = [
            entry("eu-2", "eu", 2),
            entry("us-1", "us", 30),
            entry("us-2", "us", 4),
        ]
        .into_iter()
        .collect();
        let changes = NodeChanges::between(&running, &reloaded);
        assert_eq!(changes.joined, [entry("us-2", "us", 4).1]);
        assert_eq!(changes.left, [NodeId::new("eu-1")]);
        assert_eq!(changes.edited, [NodeId::new("us-1")], "a new address");
        assert!(NodeChanges::between(&running, &running).is_empty());
    }
}
