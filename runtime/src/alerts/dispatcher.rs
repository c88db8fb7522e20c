//! The alert engine the driver holds: fans the core's notices out to every sink whose
//! severity floor they reach, exposes per-sink stats, and flushes at shutdown.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use switchyard_core::alerts::AlertNotice;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tracing::error;

use super::alert::Alert;
use super::clock::AlertClock;
use super::config::{AlertConfigError, AlertSinkConfig, validate_sinks};
use super::sink::{SinkShared, SinkTask};
use super::stats::{FlushReport, SinkStats};
use crate::ports::http::HttpClient;

/// Time a flush allows a task past the deadline to notice it and exit; tasks watch the
/// deadline themselves, so this only guards against a bug.
const FLUSH_GRACE: Duration = Duration::from_millis(100);

/// What every sink shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// Who sends the alerts (PagerDuty's `source`; shown in Slack and Discord too):
    /// the host or deployment name.
    pub source: String,
    /// Maps the core's instants to tokio's clock and to wall-clock timestamps.
    pub clock: AlertClock,
    /// Seeds the retry jitter; each sink draws from its own stream of it.
    pub seed: u64,
}

/// Delivers alerts to the configured sinks. Cheap to clone; all clones share the sinks.
#[derive(Clone)]
pub struct AlertDispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    sinks: Vec<Arc<SinkShared>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    clock: AlertClock,
}

impl AlertDispatcher {
    /// Validates the sinks and starts one delivery task per sink on the current tokio
    /// runtime.
    pub fn start<C: HttpClient>(
        client: C,
        sinks: Vec<AlertSinkConfig>,
        settings: AlertSettings,
    ) -> Result<Self, AlertConfigError> {
        validate_sinks(&sinks)?;
        let shared: Vec<Arc<SinkShared>> = sinks
            .into_iter()
            .map(|config| Arc::new(SinkShared::new(config)))
            .collect();
        let source: Arc<str> = Arc::from(settings.source.as_str());
        let mut tasks = Vec::with_capacity(shared.len());
        for (index, sink) in shared.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
            // One stream per sink: adding a sink does not change the others' jitter.
            rng.set_stream(index as u64);
            let task = SinkTask {
                shared: Arc::clone(sink),
                siblings: shared
                    .iter()
                    .filter(|other| !Arc::ptr_eq(other, sink))
                    .cloned()
                    .collect(),
                client: client.clone(),
                clock: settings.clock,
                source: Arc::clone(&source),
                rng,
                next_send_at: None,
            };
            tasks.push(tokio::spawn(task.run()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                sinks: shared,
                tasks: Mutex::new(tasks),
                clock: settings.clock,
            }),
        })
    }

    /// Hands one of the core's notices to every sink whose `min_severity` it reaches;
    /// returns how many took it. Never waits: delivery happens in the sinks' tasks.
    pub fn submit(&self, notice: &AlertNotice) -> usize {
        let now = self.inner.clock.now();
        let alert = Alert::from_notice(notice);
        let mut taken = 0;
        for sink in &self.inner.sinks {
            if notice.severity >= sink.config().min_severity {
                sink.submit(alert.clone(), now);
                taken += 1;
            }
        }
        taken
    }

    /// Every sink's counters, in configuration order.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.inner.sinks.iter().map(|sink| sink.stats()).collect()
    }

    /// The sinks' configurations, in configuration order (print them `redacted()`).
    pub fn sinks(&self) -> impl Iterator<Item = &AlertSinkConfig> {
        self.inner.sinks.iter().map(|sink| sink.config())
    }

    /// Delivers what is queued until `deadline`, then stops every sink. Alerts still
    /// undelivered at the deadline are dropped, counted and logged. Alerts submitted
    /// after the flush are dropped and counted the same way.
    pub async fn flush(&self, deadline: Instant) -> FlushReport {
        for sink in &self.inner.sinks {
            sink.close(deadline);
        }
        let tasks = std::mem::take(
            &mut *self
                .inner
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for mut task in tasks {
            if timeout_at(deadline + FLUSH_GRACE, &mut task).await.is_err() {
                error!("alert sink task ignored the flush deadline; aborting it");
                task.abort();
            }
        }
        FlushReport {
            abandoned: self.inner.sinks.iter().map(|sink| sink.abandoned()).sum(),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone without a flush: let the tasks end now (counting and
        // logging what they abandon) rather than wait forever for alerts.
        let now = Instant::now();
        for sink in &self.sinks {
            sink.close(now);
        }
    }
}

impl fmt::Debug for AlertDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertDispatcher")
            .field(
                "sinks",
                &self
                    .inner
                    .sinks
                    .iter()
                    .map(|sink| sink.config().redacted())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
