//! The read-only copy of the core that the status API, the metrics and the simulation's
//! observers read.
//!
//! A copy is a clone of the core. Its player table is shared copy-on-write: the copy
//! itself shares it, and the core pays one copy of the table at its first change to a
//! player after a view was published; the rest (nodes, moves, alerts, shards) is copied
//! each time. So it is not made
//! on every turn of the loop: while only probe results, polls and timers change the core
//! it is refreshed at most every [`VIEW_REFRESH_PERIOD`], and always within that period
//! of the last change. An input (an API call, an operator action) or a decision the core
//! makes visible elsewhere (a health report, a move, an alert) refreshes it on the same
//! turn, so the view never lags what the caller, Redis, the bots or the alert receivers
//! were just told.

use std::sync::Arc;
use std::time::Duration;

use switchyard_core::Controller;
use tokio::sync::watch;
use tokio::time::Instant;

/// Longest a change waits before observers see it, when no input asked for it sooner.
pub(super) const VIEW_REFRESH_PERIOD: Duration = Duration::from_millis(100);

/// Publishes copies of the core to the `watch` channel observers hold.
#[derive(Debug)]
pub(super) struct ViewPublisher {
    tx: watch::Sender<Arc<Controller>>,
    published_at: Instant,
    /// The core may have changed since the last copy.
    stale: bool,
    /// An input was handled or a decision made: copy on this turn, not after the period.
    urgent: bool,
}

impl ViewPublisher {
    /// A publisher whose first copy is `core` as it is now.
    pub(super) fn new(core: &Controller) -> (Self, watch::Receiver<Arc<Controller>>) {
        let (tx, rx) = watch::channel(Arc::new(core.clone()));
        let publisher = Self {
            tx,
            published_at: Instant::now(),
            // The loop's first turn may change the core before anything marks it.
            stale: true,
            urgent: false,
        };
        (publisher, rx)
    }

    /// Another receiver of the copies.
    pub(super) fn subscribe(&self) -> watch::Receiver<Arc<Controller>> {
        self.tx.subscribe()
    }

    /// The core may have changed.
    pub(super) fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// An input was handled or a decision made: observers should see it at once.
    pub(super) fn mark_urgent(&mut self) {
        self.stale = true;
        self.urgent = true;
    }

    /// Copies the core if it may have changed and a copy is due.
    pub(super) fn refresh(&mut self, core: &Controller, now: Instant) {
        if !self.stale || !(self.urgent || now >= self.published_at + VIEW_REFRESH_PERIOD) {
            return;
        }
        self.tx.send_replace(Arc::new(core.clone()));
        self.published_at = now;
        self.stale = false;
        self.urgent = false;
    }

    /// When the pending copy is due, if one is pending.
    pub(super) fn due_at(&self) -> Option<Instant> {
        self.stale.then(|| self.published_at + VIEW_REFRESH_PERIOD)
    }
}

#[cfg(test)]
mod tests {
    use switchyard_core::config::ControllerConfig;
    use switchyard_core::time::Millis;
    use switchyard_core::topology::TopologySpec;

    use super::*;

    fn core() -> Controller {
        let topology: TopologySpec = toml::from_str(
            "[[regions]]\nname = \"eu\"\n[[nodes]]\nname = \"eu-1\"\nregion = \"eu\"\ncapacity = 10\n",
        )
        .expect("a valid topology");
        Controller::new(Millis::ZERO, ControllerConfig::default(), &topology).expect("valid")
    }

    #[tokio::test(start_paused = true)]
    async fn changes_wait_for_the_period_and_inputs_do_not() {
        let core = core();
        let (mut view, mut rx) = ViewPublisher::new(&core);
        rx.mark_unchanged();
        let start = Instant::now();
        assert_eq!(view.due_at(), Some(start + VIEW_REFRESH_PERIOD));
        view.refresh(&core, start);
        assert!(
            !rx.has_changed().expect("open"),
            "within the period: no copy"
        );

        view.refresh(&core, start + VIEW_REFRESH_PERIOD);
        assert!(
            rx.has_changed().expect("open"),
            "the period is over: copied"
        );
        rx.mark_unchanged();
        assert_eq!(view.due_at(), None, "nothing pending");
        view.refresh(&core, start + 3 * VIEW_REFRESH_PERIOD);
        assert!(!rx.has_changed().expect("open"), "nothing changed: no copy");

        let soon = start + VIEW_REFRESH_PERIOD + Duration::from_millis(1);
        view.mark_urgent();
        view.refresh(&core, soon);
        assert!(rx.has_changed().expect("open"), "an input: copied at once");
    }
}
