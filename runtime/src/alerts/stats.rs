//! Delivery counters, for the metrics endpoint and the alerts API.

use serde::Serialize;

use super::config::SinkKindName;

/// One sink's delivery so far. Counters only grow; `queued` and `disabled` are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// The sink's name.
    pub sink: String,
    /// Its protocol.
    pub kind: SinkKindName,
    /// Alerts the receiver accepted.
    pub sent: u64,
    /// Attempts repeated after a 429, a 5xx or a network error.
    pub retried: u64,
    /// Alerts the receiver refused for good (a 4xx other than 429).
    pub rejected: u64,
    /// Alerts lost before delivery: outbox overflow, a disabled sink, or still queued
    /// at the shutdown deadline. Each one was also logged, and overflow is reported
    /// through the sink itself once it delivers again.
    pub dropped: u64,
    /// The part of `dropped` lost to a full outbox (the receiver stayed away while
    /// alerts kept coming): the figure that says the outbox is too small.
    pub overflowed: u64,
    /// Alerts given up after `max_attempts` retryable failures.
    pub failed: u64,
    /// Slack and Discord triggers not posted again because the same alert was already
    /// delivered and not yet resolved.
    pub suppressed: u64,
    /// Alerts waiting now, counting the one being delivered.
    pub queued: u64,
    /// Why the sink stopped being used, once it has (a deleted Discord webhook).
    pub disabled: Option<String>,
}

/// What a shutdown flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    /// Alerts still undelivered at the deadline, now dropped (and counted as such).
    pub abandoned: u64,
}

impl FlushReport {
    /// Whether every queued alert was handled before the deadline.
    pub fn is_complete(&self) -> bool {
        self.abandoned == 0
    }
}
