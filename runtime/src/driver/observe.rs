//! The driver's reports to [`Metrics`]: one call where each event completes, and nothing
//! at all when no metrics are attached (the simulation).

use std::time::Duration;

use switchyard_core::history::FailoverRecord;
use switchyard_core::ids::{NodeId, RegionId};

use super::Driver;
use crate::metrics::Metrics;
use crate::ports::http::HttpClient;
use crate::ports::store::Store;

impl<H: HttpClient, S: Store> Driver<H, S> {
    /// Reports to `metrics`: events as they finish, and the driver's view and store
    /// writer for the figures read at scrape time. Every node's series starts at zero.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        metrics.watch_driver(self.view.subscribe(), self.writer.clone());
        for node in self.core.nodes() {
            metrics.node_known(&node.node, &node.region);
        }
        self.metrics = Some(metrics);
        self
    }

    /// The metrics and the node's region, when metrics are attached and the node known.
    fn metrics_for(&self, node: &NodeId) -> Option<(&Metrics, RegionId)> {
        let metrics = self.metrics.as_ref()?;
        let region = self.core.node_health(node)?.region;
        Some((metrics, region))
    }

    pub(super) fn observe_probe(&self, node: &NodeId, elapsed: Duration, ok: bool) {
        if let Some((metrics, region)) = self.metrics_for(node) {
            metrics.probe_completed(node, &region, elapsed, ok);
        }
    }

    pub(super) fn observe_move_started(&self, to: &NodeId) {
        if let Some((metrics, region)) = self.metrics_for(to) {
            metrics.move_started(to, &region);
        }
    }

    pub(super) fn observe_move_finished(&self, to: &NodeId, ok: bool) {
        if let Some((metrics, region)) = self.metrics_for(to) {
            metrics.move_finished(to, &region, ok);
        }
    }

    pub(super) fn observe_failover(&self, record: &FailoverRecord) {
        if let Some(metrics) = &self.metrics {
            metrics.failover_recorded(record);
        }
    }
}
