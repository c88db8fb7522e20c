//! One sink's delivery task: takes alerts from the outbox one at a time, oldest first,
//! and retries each until it is delivered, refused, or the shutdown deadline passes.
//!
//! The outbox behind a mutex plus a [`Notify`] is the channel between the driver and
//! the task: unlike an mpsc channel it can apply the drop policy when full, and the
//! driver's `submit` never waits. The mutex is never held across an `.await`.
//!
//! Every wait is a `tokio::time` sleep and every `select!` is `biased`, so under
//! turmoil or a paused clock the same seed gives the same requests at the same instants.

use std::collections::BTreeSet;
use std::future::pending;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use switchyard_core::alerts::AlertAction;
use switchyard_core::time::Millis;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, warn};

use super::alert::{Alert, Origin};
use super::clock::AlertClock;
use super::config::{AlertSinkConfig, SinkKindName};
use super::format::{self, FormatContext};
use super::outbox::Outbox;
use super::retry::{Backoff, Outcome, classify};
use super::stats::SinkStats;
use crate::ports::http::{HttpClient, HttpError, HttpRequest, Method};

/// Sent with every request, so receivers' logs say who called.
const USER_AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// Delivered-and-unresolved triggers remembered for dedup, at most. Past this a
/// duplicate may be posted again, which is the safe side of the trade.
const OPEN_TRIGGERS_MAX: usize = 10_000;

/// The part of a sink shared by the driver (which submits) and the task (which
/// delivers).
#[derive(Debug)]
pub(crate) struct SinkShared {
    config: AlertSinkConfig,
    state: Mutex<SinkState>,
    wake: Notify,
}

#[derive(Debug)]
struct SinkState {
    outbox: Outbox,
    stats: SinkStats,
    in_flight: bool,
    /// Set by a flush: deliver what can be delivered until then, then stop.
    deadline: Option<Instant>,
    /// The task has ended; nothing submitted now can be delivered.
    stopped: bool,
    /// Alerts abandoned at the deadline.
    abandoned: u64,
    /// Slack and Discord: keys of triggers delivered and not resolved since.
    open_triggers: BTreeSet<String>,
}

impl SinkShared {
    pub(crate) fn new(config: AlertSinkConfig) -> Self {
        let stats = SinkStats {
            sink: config.name.clone(),
            kind: config.kind.name(),
            sent: 0,
            retried: 0,
            rejected: 0,
            dropped: 0,
            overflowed: 0,
            failed: 0,
            suppressed: 0,
            queued: 0,
            disabled: None,
        };
        Self {
            state: Mutex::new(SinkState {
                outbox: Outbox::new(config.name.clone(), config.outbox_capacity),
                stats,
                in_flight: false,
                deadline: None,
                stopped: false,
                abandoned: 0,
                open_triggers: BTreeSet::new(),
            }),
            config,
            wake: Notify::new(),
        }
    }

    pub(crate) fn config(&self) -> &AlertSinkConfig {
        &self.config
    }

    /// Queues an alert for delivery; never waits. A drop (full outbox, disabled or
    /// stopped sink) is counted and logged.
    pub(crate) fn submit(&self, alert: Alert, now: Millis) {
        let dropped = {
            let mut state = self.lock();
            if let Some(reason) = state.stats.disabled.clone() {
                state.stats.dropped += 1;
                Some((alert, format!("sink disabled: {reason}")))
            } else if state.stopped {
                state.stats.dropped += 1;
                Some((alert, "sink shut down".to_owned()))
            } else {
                let victim = state.outbox.push(alert, now);
                state.stats.dropped += u64::from(victim.is_some());
                state.stats.overflowed += u64::from(victim.is_some());
                if let Some(victim) = &victim {
                    if victim.action == AlertAction::Resolve {
                        // The channel will not hear this resolve: let the next trigger
                        // for the key through rather than suppress it as a duplicate.
                        state.open_triggers.remove(&victim.dedup_key);
                    }
                }
                victim.map(|victim| (victim, "outbox full".to_owned()))
            }
        };
        if let Some((alert, reason)) = dropped {
            warn!(
                sink = %self.config.name,
                dedup_key = %alert.dedup_key,
                severity = ?alert.severity,
                %reason,
                "alert dropped"
            );
        }
        self.wake.notify_one();
    }

    pub(crate) fn stats(&self) -> SinkStats {
        let state = self.lock();
        let mut stats = state.stats.clone();
        stats.queued = state.outbox.len() as u64 + u64::from(state.in_flight);
        stats
    }

    /// Asks the task to finish by `deadline` (the earliest asked for wins).
    pub(crate) fn close(&self, deadline: Instant) {
        {
            let mut state = self.lock();
            state.deadline = Some(state.deadline.map_or(deadline, |d| d.min(deadline)));
        }
        self.wake.notify_one();
    }

    pub(crate) fn abandoned(&self) -> u64 {
        self.lock().abandoned
    }

    fn deadline(&self) -> Option<Instant> {
        self.lock().deadline
    }

    fn lock(&self) -> MutexGuard<'_, SinkState> {
        // A panic while holding the lock leaves counters and a queue, both still
        // usable: keep alerting rather than propagate the poison.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How one alert's delivery ended.
enum Finished {
    /// Delivered, refused, suppressed or given up: next alert.
    Done,
    /// The webhook is gone: stop using the sink.
    Gone(String),
    /// The shutdown deadline passed first.
    DeadlinePassed,
}

/// The task that delivers one sink's alerts.
pub(crate) struct SinkTask<C> {
    pub(crate) shared: Arc<SinkShared>,
    /// The other sinks, told when this one is disabled.
    pub(crate) siblings: Vec<Arc<SinkShared>>,
    pub(crate) client: C,
    pub(crate) clock: AlertClock,
    pub(crate) source: Arc<str>,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) next_send_at: Option<Instant>,
}

impl<C: HttpClient> SinkTask<C> {
    /// Delivers until the sink is disabled or closed.
    pub(crate) async fn run(mut self) {
        while let Some(alert) = self.next_alert().await {
            match self.deliver(&alert).await {
                Finished::Done => self.shared.lock().in_flight = false,
                Finished::Gone(reason) => {
                    self.disable(&reason);
                    break;
                }
                Finished::DeadlinePassed => {
                    self.abandon(&alert);
                    break;
                }
            }
        }
        self.shared.lock().stopped = true;
    }

    /// The next alert, or `None` once closed and empty.
    async fn next_alert(&self) -> Option<Alert> {
        loop {
            let notified = self.shared.wake.notified();
            {
                let mut state = self.shared.lock();
                if let Some(alert) = state.outbox.pop(self.clock.now()) {
                    state.in_flight = true;
                    return Some(alert);
                }
                if state.deadline.is_some() {
                    return None;
                }
            }
            notified.await;
        }
    }

    async fn deliver(&mut self, alert: &Alert) -> Finished {
        // Borrow the configuration from our own handle so `self` stays free to mutate.
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        if self.is_duplicate_trigger(alert) {
            self.shared.lock().stats.suppressed += 1;
            debug!(sink = %config.name, dedup_key = %alert.dedup_key, "trigger already delivered");
            return Finished::Done;
        }
        let request = match self.request(alert) {
            Ok(request) => request,
            Err(err) => {
                self.shared.lock().stats.rejected += 1;
                error!(sink = %config.name, dedup_key = %alert.dedup_key, %err, "alert not sendable");
                return Finished::Done;
            }
        };
        let backoff = Backoff {
            initial_ms: config.backoff_initial_ms,
            max_ms: config.backoff_max_ms,
        };
        let mut attempts = 0u32;
        loop {
            if let Some(at) = self.next_send_at {
                if !self.wait_until(at).await {
                    return Finished::DeadlinePassed;
                }
            }
            attempts += 1;
            let Some(result) = self.send(request.clone()).await else {
                return Finished::DeadlinePassed;
            };
            self.next_send_at =
                Some(Instant::now() + Duration::from_millis(config.min_interval_ms));
            let retry_after = match classify(config.kind.name(), &result, self.clock.now_unix_ms())
            {
                Outcome::Delivered => {
                    self.record_delivered(alert);
                    return Finished::Done;
                }
                Outcome::Rejected { reason } => {
                    self.shared.lock().stats.rejected += 1;
                    warn!(sink = %config.name, dedup_key = %alert.dedup_key, %reason, "alert rejected");
                    return Finished::Done;
                }
                Outcome::Gone { reason } => {
                    self.shared.lock().stats.rejected += 1;
                    return Finished::Gone(reason);
                }
                Outcome::Retry { after, reason } => {
                    if config.max_attempts.is_some_and(|max| attempts >= max) {
                        self.shared.lock().stats.failed += 1;
                        error!(sink = %config.name, dedup_key = %alert.dedup_key, attempts, %reason, "alert given up");
                        return Finished::Done;
                    }
                    self.shared.lock().stats.retried += 1;
                    warn!(sink = %config.name, dedup_key = %alert.dedup_key, attempts, %reason, "alert delivery failed, will retry");
                    after
                }
            };
            let delay_ms = match retry_after {
                // The receiver said when: obey it exactly, up to our cap.
                Some(after) => u64::try_from(after.as_millis())
                    .unwrap_or(u64::MAX)
                    .min(config.retry_after_max_ms),
                None => backoff.delay_ms(attempts, &mut self.rng),
            };
            if !self
                .wait_until(Instant::now() + Duration::from_millis(delay_ms))
                .await
            {
                return Finished::DeadlinePassed;
            }
        }
    }

    fn request(&self, alert: &Alert) -> Result<HttpRequest, HttpError> {
        let config = &self.shared.config;
        let ctx = FormatContext {
            source: &self.source,
            epoch_unix_ms: self.clock.epoch_unix_ms(),
        };
        let body = format::body(&config.kind, alert, &ctx);
        HttpRequest::new(
            Method::Post,
            config.url.expose(),
            Duration::from_millis(config.request_timeout_ms),
        )
        .header("User-Agent", USER_AGENT)
        .json(&body)
    }

    /// Slack and Discord post every request as a new message; PagerDuty dedups by key
    /// itself, and the engine's own reports are each news.
    fn dedups_locally(&self, alert: &Alert) -> bool {
        matches!(
            self.shared.config.kind.name(),
            SinkKindName::Slack | SinkKindName::Discord
        ) && alert.origin == Origin::Controller
    }

    /// Whether `alert` repeats a trigger already delivered and not resolved. A resolve
    /// closes its key before it is even sent: should it fail to arrive, posting the
    /// next trigger again is the safe side.
    fn is_duplicate_trigger(&self, alert: &Alert) -> bool {
        if !self.dedups_locally(alert) {
            return false;
        }
        let mut state = self.shared.lock();
        match alert.action {
            AlertAction::Trigger => state.open_triggers.contains(&alert.dedup_key),
            AlertAction::Resolve => {
                state.open_triggers.remove(&alert.dedup_key);
                false
            }
        }
    }

    fn record_delivered(&self, alert: &Alert) {
        let mut state = self.shared.lock();
        state.stats.sent += 1;
        if !self.dedups_locally(alert) || alert.action != AlertAction::Trigger {
            return;
        }
        if state.open_triggers.len() < OPEN_TRIGGERS_MAX {
            state.open_triggers.insert(alert.dedup_key.clone());
        } else {
            drop(state);
            warn!(sink = %self.shared.config.name, "too many open alerts to dedup; duplicates may be posted");
        }
    }

    /// Waits until `at`; false when the shutdown deadline comes first.
    async fn wait_until(&self, at: Instant) -> bool {
        loop {
            let notified = self.shared.wake.notified();
            let deadline = self.shared.deadline();
            let now = Instant::now();
            if deadline.is_some_and(|d| d < at && now >= d) {
                return false;
            }
            if now >= at {
                return true;
            }
            let wake_at = deadline.map_or(at, |d| d.min(at));
            // Woken early by a submission or a flush: look at the deadline again.
            tokio::select! {
                biased;
                () = sleep_until(wake_at) => {}
                () = notified => {}
            }
        }
    }

    /// One exchange; `None` when the shutdown deadline passes first.
    async fn send(
        &self,
        request: HttpRequest,
    ) -> Option<Result<crate::ports::http::HttpResponse, HttpError>> {
        let send = self.client.send(request);
        tokio::pin!(send);
        loop {
            let notified = self.shared.wake.notified();
            let deadline = self.shared.deadline();
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            tokio::select! {
                biased;
                result = &mut send => return Some(result),
                () = sleep_until_some(deadline) => return None,
                () = notified => {}
            }
        }
    }

    fn disable(&self, reason: &str) {
        let name = &self.shared.config.name;
        let now = self.clock.now();
        let cleared = {
            let mut state = self.shared.lock();
            state.stats.disabled = Some(reason.to_owned());
            state.in_flight = false;
            let cleared = state.outbox.clear() as u64;
            state.stats.dropped += cleared;
            cleared
        };
        error!(sink = %name, %reason, dropped = cleared, "alert sink disabled and no longer used");
        for sibling in &self.siblings {
            sibling.submit(Alert::sink_disabled(name, reason, now), now);
        }
    }

    fn abandon(&self, in_flight: &Alert) {
        // A drop report's losses were counted when they happened; only real alerts
        // are lost anew.
        let in_flight_lost = !matches!(in_flight.origin, Origin::DropReport { .. });
        let abandoned = {
            let mut state = self.shared.lock();
            let abandoned = state.outbox.clear() as u64 + u64::from(in_flight_lost);
            state.in_flight = false;
            state.stats.dropped += abandoned;
            state.abandoned += abandoned;
            abandoned
        };
        if abandoned > 0 {
            error!(sink = %self.shared.config.name, abandoned, "shutdown deadline passed with alerts undelivered");
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}
