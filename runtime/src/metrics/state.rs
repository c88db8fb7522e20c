//! Gauges and counters read at scrape time from what the driver and the alert
//! dispatcher already share.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use switchyard_core::Controller;
use tokio::sync::watch;

use super::labels::{NODE_STATUSES, status_name};
use crate::alerts::{AlertDispatcher, SinkStats};
use crate::driver::store_writer::{StoreHealth, StoreWriter};

/// What the driver shares.
pub(super) struct DriverSource {
    pub(super) view: watch::Receiver<Arc<Controller>>,
    pub(super) store: StoreWriter,
}

/// The sources, attached after the registry is built (the driver and the dispatcher
/// start later than the metrics).
#[derive(Default)]
pub(super) struct StateCollector {
    driver: Mutex<Option<DriverSource>>,
    alerts: Mutex<Option<AlertDispatcher>>,
}

impl fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateCollector").finish_non_exhaustive()
    }
}

impl StateCollector {
    pub(super) fn set_driver(&self, source: DriverSource) {
        *self.driver.lock().unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    pub(super) fn set_alerts(&self, alerts: AlertDispatcher) {
        *self.alerts.lock().unwrap_or_else(PoisonError::into_inner) = Some(alerts);
    }

    /// The latest view and store figures, taken without holding the lock while encoding.
    fn driver_snapshot(&self) -> Option<(Arc<Controller>, StoreFigures)> {
        let driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
        let source = driver.as_ref()?;
        let view = source.view.borrow().clone();
        let store = StoreFigures {
            available: *source.store.health_watch().borrow() == StoreHealth::Available,
            owed: source.store.owed(),
            dropped: source.store.dropped(),
        };
        Some((view, store))
    }

    fn alert_stats(&self) -> Option<Vec<SinkStats>> {
        let alerts = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        alerts.as_ref().map(AlertDispatcher::stats)
    }
}

struct StoreFigures {
    available: bool,
    owed: usize,
    dropped: u64,
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        if let Some((view, store)) = self.driver_snapshot() {
            encode_nodes(&mut encoder, &view)?;
            encode_controller(&mut encoder, &view)?;
            encode_store(&mut encoder, &store)?;
        }
        if let Some(stats) = self.alert_stats() {
            encode_alerts(&mut encoder, &stats)?;
        }
        Ok(())
    }
}

fn gauge<V: EncodeGaugeValue + fmt::Debug>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: V,
) -> fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

/// One labelled sample per row, under one descriptor.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric_type: MetricType,
    rows: impl IntoIterator<Item = (L, M)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, value) in rows {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn encode_nodes(encoder: &mut DescriptorEncoder, view: &Controller) -> fmt::Result {
    let nodes = view.nodes();
    family(
        encoder,
        "node_status",
        "1 for the node's current health status, 0 for the others",
        MetricType::Gauge,
        nodes.iter().flat_map(|n| {
            NODE_STATUSES.into_iter().map(move |status| {
                let labels = [
                    ("node", n.node.as_str()),
                    ("region", n.region.as_str()),
                    ("status", status_name(status)),
                ];
                (labels, ConstGauge::new(i64::from(n.status == status)))
            })
        }),
    )?;
    let node_labels = |n: &switchyard_core::command::NodeHealthReport| {
        [
            ("node", n.node.to_string()),
            ("region", n.region.to_string()),
        ]
    };
    family(
        encoder,
        "node_available",
        "1 when new players may be placed on the node (serving, not drained, not in maintenance)",
        MetricType::Gauge,
        nodes
            .iter()
            .map(|n| (node_labels(n), ConstGauge::new(i64::from(n.available)))),
    )?;
    family(
        encoder,
        "node_players",
        "Players the controller has assigned to the node",
        MetricType::Gauge,
        nodes
            .iter()
            .map(|n| (node_labels(n), ConstGauge::new(i64::from(n.players)))),
    )
}

fn encode_controller(encoder: &mut DescriptorEncoder, view: &Controller) -> fmt::Result {
    gauge(
        encoder,
        "players",
        "Guilds the controller tracks",
        view.player_count() as u64,
    )?;
    gauge(
        encoder,
        "degraded_guilds",
        "Guilds that want playback and have no player (no allowed node can take them)",
        view.degraded_guilds().count() as u64,
    )?;
    gauge(
        encoder,
        "moves_in_flight",
        "Player moves handed out and not yet finished",
        view.moves_in_flight() as u64,
    )?;
    gauge(
        encoder,
        "fail_open",
        "1 while most nodes look down at once and the controller, suspecting itself, freezes mass moves",
        i64::from(view.is_fail_open()),
    )
}

fn encode_store(encoder: &mut DescriptorEncoder, store: &StoreFigures) -> fmt::Result {
    gauge(
        encoder,
        "store_available",
        "1 when the last write to Redis went through, 0 while writes fail and are kept",
        i64::from(store.available),
    )?;
    gauge(
        encoder,
        "store_owed_writes",
        "Writes the controller owes Redis (health keys, routes, stream entries), waiting to be written",
        store.owed as u64,
    )?;
    let metric = encoder.encode_descriptor(
        "store_dropped_writes",
        "Stream entries dropped, oldest first, because Redis stayed away longer than the owed queue holds",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(store.dropped).encode(metric)
}

/// A per-sink counter: its name, help, and where it is in [`SinkStats`].
type SinkCounter = (&'static str, &'static str, fn(&SinkStats) -> u64);

fn encode_alerts(encoder: &mut DescriptorEncoder, stats: &[SinkStats]) -> fmt::Result {
    let labels = |s: &SinkStats| {
        [
            ("sink", s.sink.clone()),
            ("kind", s.kind.as_str().to_owned()),
        ]
    };
    let counters: [SinkCounter; 6] = [
        ("alerts_sent", "Alerts the receiver accepted", |s| s.sent),
        (
            "alerts_failed",
            "Alerts given up after every retry failed (429, 5xx, network)",
            |s| s.failed,
        ),
        (
            "alerts_rejected",
            "Alerts the receiver refused for good (a 4xx other than 429)",
            |s| s.rejected,
        ),
        (
            "alerts_retried",
            "Delivery attempts repeated after a 429, a 5xx or a network error",
            |s| s.retried,
        ),
        (
            "alerts_dropped",
            "Alerts lost before delivery: outbox overflow, a disabled sink, or still queued at the shutdown deadline",
            |s| s.dropped,
        ),
        (
            "alert_outbox_overflow",
            "Alerts dropped because the sink's outbox was full",
            |s| s.overflowed,
        ),
    ];
    for (name, help, value) in counters {
        family(
            encoder,
            name,
            help,
            MetricType::Counter,
            stats
                .iter()
                .map(|s| (labels(s), ConstCounter::new(value(s)))),
        )?;
    }
    family(
        encoder,
        "alert_outbox_depth",
        "Alerts waiting in the sink's outbox, counting the one being delivered",
        MetricType::Gauge,
        stats.iter().map(|s| (labels(s), ConstGauge::new(s.queued))),
    )
}
