//! Pure formatters: one alert in, one JSON body out, one module per receiver.
//!
//! Each formatter enforces its receiver's documented limits itself (by truncating, never
//! by failing), so a long node name or summary can never turn an alert into a 400.

use std::borrow::Cow;

use serde_json::Value;
use switchyard_core::time::Millis;

use super::alert::Alert;
use super::clock::iso8601_utc;
use super::config::SinkKind;

pub mod discord;
pub mod generic;
pub mod pagerduty;
pub mod slack;

/// What every formatter needs besides the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatContext<'a> {
    /// Who sends the alert (PagerDuty's `source`): a host name or deployment name.
    pub source: &'a str,
    /// The wall-clock time of `Millis(0)`, in Unix milliseconds.
    pub epoch_unix_ms: u64,
}

impl FormatContext<'_> {
    /// The ISO-8601 UTC timestamp of a core instant.
    pub fn timestamp(&self, at: Millis) -> String {
        iso8601_utc(self.epoch_unix_ms.saturating_add(at.as_ms()))
    }
}

/// The body a sink of `kind` receives for `alert`.
pub fn body(kind: &SinkKind, alert: &Alert, ctx: &FormatContext<'_>) -> Value {
    match kind {
        SinkKind::PagerDuty { routing_key } => pagerduty::event(alert, routing_key.expose(), ctx),
        SinkKind::Slack => slack::message(alert, ctx),
        SinkKind::Discord => discord::message(alert, ctx),
        SinkKind::Generic => generic::body(alert, ctx),
    }
}

/// `text` cut to at most `max_chars` characters, ending in an ellipsis when cut.
///
/// Receivers count characters, not bytes, so this never splits a character.
pub fn truncate_chars(text: &str, max_chars: usize) -> Cow<'_, str> {
    if max_chars == 0 {
        return Cow::Borrowed("");
    }
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some(_) => {
            // Keep room for the ellipsis within the limit.
            let keep: String = text.chars().take(max_chars - 1).collect();
            Cow::Owned(keep + "…")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ééééé", 4), "ééé…");
        assert_eq!(truncate_chars("ééééé", 4).chars().count(), 4);
        assert_eq!(truncate_chars("x", 0), "");
    }

    #[test]
    fn timestamps_are_offset_by_the_epoch() {
        let ctx = FormatContext {
            source: "s",
            epoch_unix_ms: 1_714_564_800_000,
        };
        assert_eq!(ctx.timestamp(Millis(1_500)), "2024-05-01T12:00:01.500Z");
    }
}
