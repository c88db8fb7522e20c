//! Nodes joining and leaving at run time: on SIGHUP (`systemctl reload`) the daemon reads
//! its configuration again, from the same file and environment, and applies the nodes
//! that joined or left. Nothing else is applied; a configuration that does not load
//! changes nothing, and the log says why.

use std::collections::BTreeMap;

use switchyard_core::ids::NodeId;
use tokio::task::JoinHandle;

use super::{DaemonError, watch_target};
use crate::config::reload::{NodeChanges, NodeTable, node_table};
use crate::config::{ConfigLoadError, DaemonConfig};
use crate::driver::{DriverGone, DriverHandle};
use crate::lavalink::watcher::{WatchTarget, watch_node};
use crate::ports::websocket::TokioConnector;

/// Reads the configuration again, as at start.
pub type Reloader = Box<dyn Fn() -> Result<DaemonConfig, ConfigLoadError> + Send + Sync>;

/// SIGHUP, listened for from the daemon's first moment: a reload sent while it starts
/// waits for it instead of ending the process (the signal's default action).
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts listening. Must run inside the runtime (entered), first thing.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .inspect_err(|error| {
                    tracing::warn!(%error, "cannot watch SIGHUP; nodes change only on restart");
                })
                .ok();
            Self { signal }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGHUP; never, where there is none.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// The nodes this daemon runs with and their websocket watchers.
pub(super) struct RunningNodes {
    table: NodeTable,
    watchers: BTreeMap<NodeId, JoinHandle<()>>,
    handle: DriverHandle,
}

impl RunningNodes {
    /// Starts a watcher for every node `config` lists.
    pub(super) fn start(config: &DaemonConfig, handle: DriverHandle) -> Result<Self, DaemonError> {
        let mut running = Self {
            table: node_table(config),
            watchers: BTreeMap::new(),
            handle,
        };
        let targets = running
            .table
            .values()
            .map(|(_, endpoint)| watch_target(endpoint))
            .collect::<Result<Vec<_>, _>>()?;
        for target in targets {
            running.watch(target);
        }
        Ok(running)
    }

    fn watch(&mut self, target: WatchTarget) {
        let node = target.node.clone();
        let task = tokio::spawn(watch_node(TokioConnector, target, self.handle.clone()));
        self.watchers.insert(node, task);
    }

    /// Applies the nodes that joined or left in `reloaded`; a change the driver refuses
    /// is logged and not recorded, so the next reload tries it again.
    async fn apply(&mut self, reloaded: &DaemonConfig) -> Result<(), DriverGone> {
        let changes = NodeChanges::between(&self.table, &node_table(reloaded));
        if changes.is_empty() {
            tracing::info!("configuration reloaded: no node joined or left");
            return Ok(());
        }
        for node in &changes.edited {
            tracing::warn!(
                %node,
                "configuration reloaded: a node's region, policy or address changed; not \
                 applied (restart the daemon, or list it under a new name)"
            );
        }
        for (spec, endpoint) in changes.joined {
            // The URL is checked before the driver hears of the node.
            let target = match watch_target(&endpoint) {
                Ok(target) => target,
                Err(error) => {
                    tracing::warn!(node = %spec.name, %error, "node not added");
                    continue;
                }
            };
            match self
                .handle
                .join_node(spec.clone(), endpoint.clone())
                .await?
            {
                Ok(()) => {
                    self.watch(target);
                    self.table.insert(spec.name.clone(), (spec, endpoint));
                }
                Err(error) => tracing::warn!(node = %spec.name, %error, "node not added"),
            }
        }
        for node in changes.left {
            match self.handle.leave_node(node.clone()).await? {
                Ok(()) => {
                    if let Some(watcher) = self.watchers.remove(&node) {
                        watcher.abort();
                    }
                    self.table.remove(&node);
                }
                Err(error) => tracing::warn!(%node, %error, "node not removed"),
            }
        }
        Ok(())
    }
}

/// Applies a reload on every SIGHUP, until the driver stops.
pub(super) async fn on_hangup(mut hangups: Hangups, mut running: RunningNodes, reload: Reloader) {
    loop {
        hangups.next().await;
        let outcome = match reload() {
            Ok(config) => running.apply(&config).await,
            Err(error) => {
                tracing::error!(%error, "configuration reload refused; nothing changed");
                Ok(())
            }
        };
        if outcome.is_err() {
            return; // The driver stopped: the daemon is shutting down.
        }
    }
}
