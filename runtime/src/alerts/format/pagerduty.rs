//! PagerDuty Events API v2 (`POST /v2/enqueue`).
//!
//! A trigger carries the full `payload`; a resolve carries only the routing key, the
//! action and the dedup key, which is all PagerDuty reads from it. PagerDuty dedups on
//! `dedup_key` itself, so retried triggers never open a second incident.

use std::borrow::Cow;

use serde_json::{Value, json};
use switchyard_core::alerts::AlertAction;

use super::{FormatContext, truncate_chars};
use crate::alerts::alert::{Alert, action_name, severity_name};

/// PagerDuty's limit on `dedup_key`.
pub const DEDUP_KEY_MAX_CHARS: usize = 255;
/// PagerDuty's limit on `payload.summary`.
pub const SUMMARY_MAX_CHARS: usize = 1024;

/// The Events v2 body for one alert.
pub fn event(alert: &Alert, routing_key: &str, ctx: &FormatContext<'_>) -> Value {
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": action_name(alert.action),
        "dedup_key": dedup_key(&alert.dedup_key),
    });
    if alert.action == AlertAction::Trigger {
        event["payload"] = payload(alert, ctx);
    }
    event
}

fn payload(alert: &Alert, ctx: &FormatContext<'_>) -> Value {
    let mut payload = json!({
        "summary": truncate_chars(&alert.summary, SUMMARY_MAX_CHARS),
        "source": ctx.source,
        "severity": severity_name(alert.severity),
        // When the condition started: a trigger re-sent after an inhibition ends keeps
        // the time the problem began.
        "timestamp": ctx.timestamp(alert.since),
        "class": alert.class,
        "custom_details": {
            "subject": alert.subject,
            "since": ctx.timestamp(alert.since),
            "notified_at": ctx.timestamp(alert.at),
        },
    });
    if let Some(component) = &alert.component {
        payload["component"] = Value::from(component.name.as_str());
    }
    if let Some(group) = &alert.group {
        payload["group"] = Value::from(group.as_str());
    }
    payload
}

/// The key PagerDuty sees: the alert's own key when it fits, otherwise a stable
/// shortening that keeps distinct keys distinct (a prefix and a hash of the whole key).
pub fn dedup_key(key: &str) -> Cow<'_, str> {
    if key.chars().count() <= DEDUP_KEY_MAX_CHARS {
        return Cow::Borrowed(key);
    }
    let hash = format!("#{:016x}", fnv1a_64(key.as_bytes()));
    let keep = DEDUP_KEY_MAX_CHARS - hash.len();
    let prefix: String = key.chars().take(keep).collect();
    Cow::Owned(prefix + &hash)
}

/// FNV-1a: tiny, stable across versions and platforms, which is all a key needs.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::alerts::{AlertNotice, AlertSubject, Severity};
    use switchyard_core::time::Millis;

    const CTX: FormatContext<'static> = FormatContext {
        source: "switchyard.example",
        epoch_unix_ms: 1_714_564_800_000,
    };

    fn node_down(action: AlertAction) -> Alert {
        let subject = AlertSubject::NodeDown {
            node: "eu-1".into(),
            region: "eu".into(),
        };
        Alert::from_notice(&AlertNotice {
            action,
            dedup_key: subject.dedup_key(),
            severity: Severity::Critical,
            subject,
            summary: "node eu-1 is down".to_owned(),
            since: Millis(1_000),
            at: Millis(2_000),
        })
    }

    #[test]
    fn trigger_carries_the_payload() {
        let body = event(&node_down(AlertAction::Trigger), "R0UT1NGKEY", &CTX);
        assert_eq!(
            body,
            json!({
                "routing_key": "R0UT1NGKEY",
                "event_action": "trigger",
                "dedup_key": "switchyard/node-down/eu-1",
                "payload": {
                    "summary": "node eu-1 is down",
                    "source": "switchyard.example",
                    "severity": "critical",
                    "timestamp": "2024-05-01T12:00:01.000Z",
                    "component": "eu-1",
                    "group": "eu",
                    "class": "node_down",
                    "custom_details": {
                        "subject": {"kind": "node_down", "node": "eu-1", "region": "eu"},
                        "since": "2024-05-01T12:00:01.000Z",
                        "notified_at": "2024-05-01T12:00:02.000Z",
                    },
                },
            })
        );
    }

    #[test]
    fn resolve_is_minimal() {
        let body = event(&node_down(AlertAction::Resolve), "K", &CTX);
        assert_eq!(
            body,
            json!({
                "routing_key": "K",
                "event_action": "resolve",
                "dedup_key": "switchyard/node-down/eu-1",
            })
        );
    }

    #[test]
    fn long_keys_and_summaries_fit_the_limits() {
        let mut alert = node_down(AlertAction::Trigger);
        alert.summary = "x".repeat(5000);
        alert.dedup_key = format!("switchyard/node-down/{}", "n".repeat(400));
        let body = event(&alert, "K", &CTX);
        let key = body["dedup_key"].as_str().expect("a string");
        assert_eq!(key.chars().count(), DEDUP_KEY_MAX_CHARS);
        let summary = body["payload"]["summary"].as_str().expect("a string");
        assert_eq!(summary.chars().count(), SUMMARY_MAX_CHARS);
        // Two long keys differing only at the end stay distinct.
        let other = format!("switchyard/node-down/{}m", "n".repeat(399));
        assert_ne!(dedup_key(&alert.dedup_key), dedup_key(&other));
        assert_eq!(dedup_key("short"), "short");
    }
}
