//! Discord execute-webhook (`POST /webhooks/{id}/{token}`): a `content` line plus one
//! embed coloured by severity; a resolve is green and titled RESOLVED.
//!
//! `allowed_mentions` is empty so a summary that happens to contain `@everyone` or a
//! role mention never pings anyone.

use serde_json::{Value, json};
use switchyard_core::alerts::{AlertAction, Severity};

use super::{FormatContext, truncate_chars};
use crate::alerts::alert::{Alert, severity_name};

/// Discord's limit on `content`.
pub const CONTENT_MAX_CHARS: usize = 2000;
/// Discord's limit on the number of embeds in one message.
pub const EMBEDS_MAX: usize = 10;
/// Discord's limit on an embed title.
pub const TITLE_MAX_CHARS: usize = 256;
/// Our limit on the description: Discord allows 4096, but all of an embed's text must
/// stay within 6000 characters, so the description and footer share that budget.
pub const DESCRIPTION_MAX_CHARS: usize = 2048;
/// Discord's limit on a field value.
pub const FIELD_VALUE_MAX_CHARS: usize = 1024;
/// Our limit on the footer (Discord allows 2048; see the description).
pub const FOOTER_MAX_CHARS: usize = 512;

/// Embed colour of a critical trigger (red).
pub const COLOUR_CRITICAL: u32 = 0xE7_4C_3C;
/// Embed colour of a warning trigger (orange).
pub const COLOUR_WARNING: u32 = 0xE6_7E_22;
/// Embed colour of an info trigger (blue).
pub const COLOUR_INFO: u32 = 0x34_98_DB;
/// Embed colour of any resolve (green).
pub const COLOUR_RESOLVED: u32 = 0x2E_CC_71;

/// The webhook body for one alert.
pub fn message(alert: &Alert, ctx: &FormatContext<'_>) -> Value {
    let (icon, label, colour) = badge(alert);
    let mut fields = vec![field("Severity", severity_name(alert.severity))];
    if let Some(region) = &alert.group {
        fields.push(field("Region", region));
    }
    if let Some(component) = &alert.component {
        fields.push(field(&capitalised(component.kind), &component.name));
    }
    fields.push(field("Since", &ctx.timestamp(alert.since)));
    let title = match alert.action {
        AlertAction::Resolve => format!("[RESOLVED] {}", alert.title()),
        AlertAction::Trigger => alert.title(),
    };
    let embeds = vec![json!({
        "title": truncate_chars(&title, TITLE_MAX_CHARS),
        "description": truncate_chars(&alert.summary, DESCRIPTION_MAX_CHARS),
        "color": colour,
        "fields": fields,
        "footer": {
            "text": truncate_chars(&format!("{} · {}", alert.dedup_key, ctx.source), FOOTER_MAX_CHARS),
        },
        "timestamp": ctx.timestamp(alert.at),
    })];
    debug_assert!(embeds.len() <= EMBEDS_MAX);
    json!({
        "username": "Switchyard",
        "content": truncate_chars(&format!("{icon} {label}: {}", alert.summary), CONTENT_MAX_CHARS),
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    })
}

fn badge(alert: &Alert) -> (&'static str, &'static str, u32) {
    match (alert.action, alert.severity) {
        (AlertAction::Resolve, _) => ("✅", "RESOLVED", COLOUR_RESOLVED),
        (AlertAction::Trigger, Severity::Critical) => ("🔴", "CRITICAL", COLOUR_CRITICAL),
        (AlertAction::Trigger, Severity::Warning) => ("🟠", "WARNING", COLOUR_WARNING),
        (AlertAction::Trigger, Severity::Info) => ("🔵", "INFO", COLOUR_INFO),
    }
}

fn field(name: &str, value: &str) -> Value {
    json!({
        "name": name,
        "value": truncate_chars(value, FIELD_VALUE_MAX_CHARS),
        "inline": true,
    })
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::alerts::{AlertNotice, AlertSubject};
    use switchyard_core::time::Millis;

    const CTX: FormatContext<'static> = FormatContext {
        source: "switchyard",
        epoch_unix_ms: 0,
    };

    fn degraded(action: AlertAction, summary: String) -> Alert {
        let subject = AlertSubject::NodeDegraded {
            node: "us-2".into(),
            region: "us".into(),
        };
        Alert::from_notice(&AlertNotice {
            action,
            dedup_key: subject.dedup_key(),
            severity: Severity::Warning,
            subject,
            summary,
            since: Millis(1_000),
            at: Millis(3_000),
        })
    }

    #[test]
    fn warning_trigger() {
        let body = message(&degraded(AlertAction::Trigger, "slow".to_owned()), &CTX);
        assert_eq!(
            body,
            json!({
                "username": "Switchyard",
                "content": "🟠 WARNING: slow",
                "embeds": [{
                    "title": "Node degraded",
                    "description": "slow",
                    "color": COLOUR_WARNING,
                    "fields": [
                        {"name": "Severity", "value": "warning", "inline": true},
                        {"name": "Region", "value": "us", "inline": true},
                        {"name": "Node", "value": "us-2", "inline": true},
                        {"name": "Since", "value": "1970-01-01T00:00:01.000Z", "inline": true},
                    ],
                    "footer": {"text": "switchyard/node-degraded/us-2 · switchyard"},
                    "timestamp": "1970-01-01T00:00:03.000Z",
                }],
                "allowed_mentions": {"parse": []},
            })
        );
    }

    #[test]
    fn resolve_is_green_and_labelled() {
        let body = message(&degraded(AlertAction::Resolve, "ok".to_owned()), &CTX);
        assert_eq!(body["content"], "✅ RESOLVED: ok");
        assert_eq!(body["embeds"][0]["title"], "[RESOLVED] Node degraded");
        assert_eq!(body["embeds"][0]["color"], COLOUR_RESOLVED);
    }

    #[test]
    fn long_summaries_fit() {
        let body = message(&degraded(AlertAction::Trigger, "é".repeat(9000)), &CTX);
        let content = body["content"].as_str().expect("a string");
        assert_eq!(content.chars().count(), CONTENT_MAX_CHARS);
        let description = body["embeds"][0]["description"].as_str().expect("a string");
        assert_eq!(description.chars().count(), DESCRIPTION_MAX_CHARS);
    }
}
