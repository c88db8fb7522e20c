//! Counters and histograms fed by the driver as probes, moves and failovers finish.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use switchyard_core::history::{FailoverOutcome, FailoverRecord, HISTORY_LEN_MAX};
use switchyard_core::ids::{IncidentId, NodeId, RegionId};

use super::Metrics;
use super::labels::{FailoverLabels, NodeLabels, outcome_name, trigger_name};

/// Probe buckets: loopback answers in a millisecond, a distant region in tens, and the
/// probe timeout sits at a few seconds.
const PROBE_BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Failover buckets, dense around the 30 s recovery-time objective.
const FAILOVER_BUCKETS_SECONDS: [f64; 12] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 120.0,
];

fn probe_histogram() -> Histogram {
    Histogram::new(PROBE_BUCKETS_SECONDS)
}

pub(super) struct Events {
    probes: Family<NodeLabels, Counter>,
    probe_failures: Family<NodeLabels, Counter>,
    probe_duration: Family<NodeLabels, Histogram, fn() -> Histogram>,
    moves_attempted: Family<NodeLabels, Counter>,
    moves_succeeded: Family<NodeLabels, Counter>,
    moves_failed: Family<NodeLabels, Counter>,
    failovers: Family<FailoverLabels, Counter>,
    failover_duration: Histogram,
    /// Incidents already counted: the core republishes a record when it changes, and may
    /// publish a finished one again. Bounded like the core's own history.
    finished: Mutex<BTreeSet<IncidentId>>,
}

impl Events {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let events = Self {
            probes: Family::default(),
            probe_failures: Family::default(),
            probe_duration: Family::new_with_constructor(probe_histogram),
            moves_attempted: Family::default(),
            moves_succeeded: Family::default(),
            moves_failed: Family::default(),
            failovers: Family::default(),
            failover_duration: Histogram::new(FAILOVER_BUCKETS_SECONDS),
            finished: Mutex::new(BTreeSet::new()),
        };
        registry.register(
            "probes",
            "Health probes of a node that completed, failed or not",
            events.probes.clone(),
        );
        registry.register(
            "probe_failures",
            "Health probes of a node that failed (timeout, refused, bad answer)",
            events.probe_failures.clone(),
        );
        registry.register_with_unit(
            "probe_duration",
            "Time a successful health probe took (GET /version, then GET /v4/stats)",
            Unit::Seconds,
            events.probe_duration.clone(),
        );
        registry.register(
            "moves_attempted",
            "Player moves started towards a node",
            events.moves_attempted.clone(),
        );
        registry.register(
            "moves_succeeded",
            "Player moves that re-created the player on the target node",
            events.moves_succeeded.clone(),
        );
        registry.register(
            "moves_failed",
            "Player moves that did not re-create the player on the target node",
            events.moves_failed.clone(),
        );
        registry.register(
            "failovers",
            "Failover incidents that finished, by what started them and how they ended",
            events.failovers.clone(),
        );
        registry.register_with_unit(
            "failover_duration",
            "Time from an incident's start until its last planned move finished (incidents that planned at least one move)",
            Unit::Seconds,
            events.failover_duration.clone(),
        );
        events
    }

    fn finish_once(&self, id: IncidentId) -> bool {
        let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        if !finished.insert(id) {
            return false;
        }
        if finished.len() > HISTORY_LEN_MAX {
            // Ids grow; the oldest incident will not be published again.
            finished.pop_first();
        }
        true
    }
}

impl Metrics {
    /// Creates a node's series at zero, so rates and dashboards see it before its first
    /// event.
    pub fn node_known(&self, node: &NodeId, region: &RegionId) {
        let labels = NodeLabels::new(node, region);
        let events = self.events();
        // Creating the series is the point; the read guard is released at once.
        for counters in [
            &events.probes,
            &events.probe_failures,
            &events.moves_attempted,
            &events.moves_succeeded,
            &events.moves_failed,
        ] {
            drop(counters.get_or_create(&labels));
        }
        drop(events.probe_duration.get_or_create(&labels));
    }

    /// A probe of `node` finished after `elapsed`.
    pub fn probe_completed(&self, node: &NodeId, region: &RegionId, elapsed: Duration, ok: bool) {
        let labels = NodeLabels::new(node, region);
        let events = self.events();
        events.probes.get_or_create(&labels).inc();
        if ok {
            events
                .probe_duration
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
        } else {
            events.probe_failures.get_or_create(&labels).inc();
        }
    }

    /// A move towards `to` started.
    pub fn move_started(&self, to: &NodeId, region: &RegionId) {
        let labels = NodeLabels::new(to, region);
        self.events().moves_attempted.get_or_create(&labels).inc();
    }

    /// A move towards `to` ended.
    pub fn move_finished(&self, to: &NodeId, region: &RegionId, ok: bool) {
        let labels = NodeLabels::new(to, region);
        let family = if ok {
            &self.events().moves_succeeded
        } else {
            &self.events().moves_failed
        };
        family.get_or_create(&labels).inc();
    }

    /// The core published an incident record; a finished one is counted once.
    pub fn failover_recorded(&self, record: &FailoverRecord) {
        let Some(finished_at) = record.finished_at else {
            return;
        };
        if record.outcome == FailoverOutcome::InProgress || !self.events().finish_once(record.id) {
            return;
        }
        let labels = FailoverLabels {
            trigger: trigger_name(&record.trigger),
            outcome: outcome_name(record.outcome),
        };
        self.events().failovers.get_or_create(&labels).inc();
        if record.planned > 0 {
            let elapsed_ms = finished_at
                .as_ms()
                .saturating_sub(record.started_at.as_ms());
            #[allow(clippy::cast_precision_loss)] // Milliseconds fit f64 exactly for eons.
            self.events()
                .failover_duration
                .observe(elapsed_ms as f64 / 1_000.0);
        }
    }
}
