//! Prometheus metrics of the daemon, served as OpenMetrics text on `GET /metrics`.
//!
//! Two kinds of figures, kept apart:
//! - **Events** the driver reports as they happen ([`Metrics::probe_completed`],
//!   [`Metrics::move_started`], [`Metrics::move_finished`],
//!   [`Metrics::failover_recorded`]): counters and histograms that only the moment of
//!   the event can produce.
//! - **State** read at scrape time from what the driver already shares (its view of the
//!   core, the store writer, the alert dispatcher): node status, players, degraded
//!   guilds, store and outbox levels. Reading at scrape costs nothing between scrapes
//!   and can never drift from what the status API shows.
//!
//! Every name carries the `switchyard_` prefix and its base unit; counters end in
//! `_total`. Labels are bounded by configuration: `node` and `region` (operators name
//! them), alert `sink` and `kind`, node `status`, failover `trigger` and `outcome`; never
//! a guild, a session or anything secret.
//!
//! Usage: `let metrics = Metrics::new();`, `Driver::new(..).with_metrics(metrics.clone())`,
//! `metrics.watch_alerts(dispatcher)`, `ApiState::new(..).with_metrics(metrics)`; the
//! leader lease calls [`Metrics::set_leader`].

mod events;
mod labels;
mod state;

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use switchyard_core::Controller;
use tokio::sync::watch;

use crate::alerts::AlertDispatcher;
use crate::driver::store_writer::StoreWriter;
use events::Events;
use state::{DriverSource, StateCollector};

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The daemon's metrics. Cheap to clone; every clone feeds and reads the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    events: Events,
    state: Arc<StateCollector>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered and no source attached yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchyard");
        let events = Events::register(&mut registry);
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this daemon holds the leader lease and acts, 0 while it stands by",
            leader.clone(),
        );
        registry.register(
            "build",
            "The running build; the value is always 1",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let state = Arc::new(StateCollector::default());
        registry.register_collector(Box::new(Arc::clone(&state)));
        Self {
            inner: Arc::new(Inner {
                registry,
                events,
                state,
                leader,
            }),
        }
    }

    /// The whole exposition, ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        encode(&mut text, &self.inner.registry)
            .expect("writing to a String cannot fail and every label encodes");
        text
    }

    /// Says whether this daemon currently acts (holds the leader lease).
    pub fn set_leader(&self, leader: bool) {
        self.inner.leader.set(i64::from(leader));
    }

    /// Exposes the alert sinks' delivery counters and outbox levels.
    pub fn watch_alerts(&self, alerts: AlertDispatcher) {
        self.inner.state.set_alerts(alerts);
    }

    /// Exposes the driver's view of the core and its store writer (the driver calls this
    /// from `with_metrics`).
    pub(crate) fn watch_driver(&self, view: watch::Receiver<Arc<Controller>>, store: StoreWriter) {
        self.inner.state.set_driver(DriverSource { view, store });
    }

    fn events(&self) -> &Events {
        &self.inner.events
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
