//! Nodes joining and leaving at run time: on SIGHUP the daemon reads its configuration
//! again (the same file and environment) and applies the nodes that joined or left. A
//! configuration that does not load changes nothing, and says why.

use std::collections::{BTreeMap, BTreeSet};

use switchyard_core::ids::NodeId;
use tokio::task::JoinHandle;

use super::{DaemonError, watch_target};
use crate::config::reload::{NodeChanges, NodeTable, node_table};
use crate::config::{ConfigLoadError, DaemonConfig};
use crate::driver::{DriverHandle, DriverInput};
use crate::lavalink::NodeEndpoint;
use crate::lavalink::watcher::watch_node;
use crate::ports::websocket::TokioConnector;

/// Reads the configuration again, as at start.
pub type Reloader = Box<dyn Fn() -> Result<DaemonConfig, ConfigLoadError> + Send + Sync>;

/// The running nodes and their websocket watchers.
pub(super) struct RunningNodes {
    table: NodeTable,
    watchers: BTreeMap<NodeId, JoinHandle<()>>,
    /// Nodes removed since start: the core keeps their names until the daemon restarts.
    departed: BTreeSet<NodeId>,
    handle: DriverHandle,
}

impl RunningNodes {
    /// Starts a watcher for every node `config` lists.
    pub(super) fn start(config: &DaemonConfig, handle: DriverHandle) -> Result<Self, DaemonError> {
        let mut running = Self {
            table: node_table(config),
            watchers: BTreeMap::new(),
            departed: BTreeSet::new(),
            handle,
        };
        let endpoints: Vec<NodeEndpoint> = running.table.values().map(|(_, e)| e.clone()).collect();
        for endpoint in endpoints {
            running.watch(endpoint)?;
        }
        Ok(running)
    }

    fn watch(&mut self, endpoint: NodeEndpoint) -> Result<(), DaemonError> {
        let target = watch_target(&endpoint)?;
        let task = tokio::spawn(watch_node(TokioConnector, target, self.handle.clone()));
        self.watchers.insert(endpoint.name, task);
        Ok(())
    }

    /// Applies the nodes that joined or left in `reloaded`.
    async fn apply(&mut self, reloaded: &DaemonConfig) {
        let changes = NodeChanges::between(&self.table, &node_table(reloaded));
        if changes.is_empty() {
            tracing::info!("configuration reloaded: no node joined or left");
            return;
        }
        for node in &changes.edited {
            tracing::warn!(
                %node,
                "configuration reloaded: a node's policy or address changed; not applied \
                 (restart the daemon, or list it under a new name)"
            );
        }
        for (spec, endpoint) in changes.joined {
            if self.departed.contains(&spec.name) {
                tracing::warn!(
                    node = %spec.name,
                    "configuration reloaded: a removed node's name joins again only after \
                     a restart; not added"
                );
                continue;
            }
            if let Err(error) = self.watch(endpoint.clone()) {
                tracing::warn!(node = %spec.name, %error, "cannot watch the node; not added");
                continue;
            }
            self.table
                .insert(spec.name.clone(), (spec.clone(), endpoint.clone()));
            let joined = DriverInput::NodeJoined { spec, endpoint };
            if self.handle.send(joined).await.is_err() {
                return; // The driver stopped: the daemon is shutting down.
            }
        }
        for node in changes.left {
            if let Some(watcher) = self.watchers.remove(&node) {
                watcher.abort();
            }
            self.table.remove(&node);
            self.departed.insert(node.clone());
            if self.handle.send(DriverInput::NodeLeft(node)).await.is_err() {
                return;
            }
        }
    }
}

/// Applies a reload on every SIGHUP, until the process ends.
pub(super) async fn on_hangup(mut running: RunningNodes, reload: Reloader) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGHUP; nodes change only on restart");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match reload() {
                Ok(config) => running.apply(&config).await,
                Err(error) => {
                    tracing::error!(%error, "configuration reload refused; nothing changed");
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (&mut running, reload);
    }
}
