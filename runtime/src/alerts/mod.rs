//! Alert delivery: the core's `Command::Alert` notices, posted to PagerDuty Events v2,
//! Slack and Discord webhooks, or any receiver of a generic JSON body.
//!
//! Layers, each testable alone:
//! - [`format`]: pure functions from an [`Alert`] to each receiver's JSON body;
//! - [`config`]: validated sink settings, with credentials that never print;
//! - [`outbox`]: a sink's bounded queue and its drop-and-report policy;
//! - [`retry`]: what a response means and how long to back off;
//! - [`AlertDispatcher`]: one delivery task per sink, generic over the
//!   [`HttpClient`](crate::ports::http::HttpClient) port so the simulation runs the same
//!   retry and dedup code as production.
//!
//! Usage: `AlertDispatcher::start(client, sinks, settings)?`, then
//! `dispatcher.submit(&notice)` for every `Command::Alert(notice)`,
//! `dispatcher.stats()` for metrics, and `dispatcher.flush(deadline).await` at shutdown.

pub mod alert;
pub mod clock;
pub mod config;
mod dispatcher;
pub mod format;
pub mod outbox;
pub mod retry;
mod sink;
pub mod stats;

#[cfg(test)]
mod tests;

pub use alert::Alert;
pub use clock::AlertClock;
pub use config::{AlertConfigError, AlertSinkConfig, Secret, SinkKind, SinkKindName};
pub use dispatcher::{AlertDispatcher, AlertSettings};
pub use stats::{FlushReport, SinkStats};
