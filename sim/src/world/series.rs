//! What a run looked like over time, sample by sample, for reports and charts.

use std::collections::BTreeMap;

use super::oracle::SampleCounts;

/// Time series of a run, one point per oracle sample (run milliseconds first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Milliseconds between samples.
    pub sample_interval_ms: u64,
    /// Served and demanded guilds per sample.
    pub served_demanded: Vec<(u64, u64, u64)>,
    /// Fraction of demanding guilds served, per home region.
    pub availability_by_region: BTreeMap<String, Vec<(u64, f64)>>,
    /// Live players held by each node.
    pub players_per_node: BTreeMap<String, Vec<(u64, u32)>>,
    /// The controller's latest probe latency of each node; no point while a node does not
    /// answer.
    pub probe_latency_ms_by_node: BTreeMap<String, Vec<(u64, f64)>>,
}

impl Series {
    /// An empty series sampled every `sample_interval_ms`.
    pub fn new(sample_interval_ms: u64) -> Self {
        Self {
            sample_interval_ms,
            ..Self::default()
        }
    }

    /// Records the oracle's counts of one sample.
    pub fn record_counts(&mut self, at_ms: u64, counts: &SampleCounts) {
        self.served_demanded
            .push((at_ms, counts.overall.served, counts.overall.demanded));
        for (region, counts) in &counts.by_region {
            self.availability_by_region
                .entry(region.to_string())
                .or_default()
                .push((at_ms, counts.ratio()));
        }
    }

    /// Records how many players each node holds.
    pub fn record_players(&mut self, at_ms: u64, per_node: &BTreeMap<String, u32>) {
        for (node, players) in per_node {
            self.players_per_node
                .entry(node.clone())
                .or_default()
                .push((at_ms, *players));
        }
    }

    /// Records the controller's probe latency of a node.
    pub fn record_latency(&mut self, at_ms: u64, node: &str, latency_ms: u64) {
        self.probe_latency_ms_by_node
            .entry(node.to_owned())
            .or_default()
            .push((at_ms, latency_ms as f64));
    }
}
