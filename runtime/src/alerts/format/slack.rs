//! Slack incoming webhook: a `text` fallback (what notifications show) plus `blocks`.
//!
//! Slack parses `&`, `<` and `>` in mrkdwn as link and mention syntax, so text from
//! operators (summaries, node names) is escaped wherever it is rendered as mrkdwn.

use serde_json::{Value, json};
use switchyard_core::alerts::{AlertAction, Severity};

use super::{FormatContext, truncate_chars};
use crate::alerts::alert::{Alert, severity_name};

/// Slack's limit on a header block's text.
pub const HEADER_MAX_CHARS: usize = 150;
/// Slack's limit on a section block's text.
pub const SECTION_MAX_CHARS: usize = 3000;
/// Slack's limit on a section field's text.
pub const FIELD_MAX_CHARS: usize = 2000;

/// The webhook body for one alert.
pub fn message(alert: &Alert, ctx: &FormatContext<'_>) -> Value {
    let (icon, label) = badge(alert);
    let summary = escape(&alert.summary);
    let mut fields = vec![field("Severity", severity_name(alert.severity))];
    if let Some(region) = &alert.group {
        fields.push(field("Region", &escape(region)));
    }
    if let Some(component) = &alert.component {
        fields.push(field(
            &capitalised(component.kind),
            &escape(&component.name),
        ));
    }
    fields.push(field("Since", &ctx.timestamp(alert.since)));
    json!({
        "text": truncate_chars(&format!("[{label}] {summary}"), SECTION_MAX_CHARS),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": truncate_chars(&format!("{icon} {label}: {}", alert.title()), HEADER_MAX_CHARS),
                    "emoji": true,
                },
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate_chars(&summary, SECTION_MAX_CHARS)},
                "fields": fields,
            },
            {
                "type": "context",
                "elements": [{
                    "type": "mrkdwn",
                    "text": truncate_chars(
                        &format!("`{}` · {}", escape(&alert.dedup_key), escape(ctx.source)),
                        FIELD_MAX_CHARS,
                    ),
                }],
            },
        ],
    })
}

/// The emoji short code and label: a resolve reads RESOLVED whatever its severity.
fn badge(alert: &Alert) -> (&'static str, &'static str) {
    match (alert.action, alert.severity) {
        (AlertAction::Resolve, _) => (":white_check_mark:", "RESOLVED"),
        (AlertAction::Trigger, Severity::Critical) => (":red_circle:", "CRITICAL"),
        (AlertAction::Trigger, Severity::Warning) => (":large_orange_circle:", "WARNING"),
        (AlertAction::Trigger, Severity::Info) => (":large_blue_circle:", "INFO"),
    }
}

fn field(name: &str, value: &str) -> Value {
    json!({
        "type": "mrkdwn",
        "text": truncate_chars(&format!("*{name}*\n{value}"), FIELD_MAX_CHARS),
    })
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Escapes the three characters Slack treats as control characters in mrkdwn.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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

    fn region_down(action: AlertAction, summary: &str) -> Alert {
        let subject = AlertSubject::RegionDown {
            region: "eu".into(),
        };
        Alert::from_notice(&AlertNotice {
            action,
            dedup_key: subject.dedup_key(),
            severity: Severity::Critical,
            subject,
            summary: summary.to_owned(),
            since: Millis(60_000),
            at: Millis(61_000),
        })
    }

    #[test]
    fn trigger_has_fallback_text_and_blocks() {
        let body = message(&region_down(AlertAction::Trigger, "eu is down"), &CTX);
        assert_eq!(
            body,
            json!({
                "text": "[CRITICAL] eu is down",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: CRITICAL: Region down", "emoji": true}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "eu is down"}, "fields": [
                        {"type": "mrkdwn", "text": "*Severity*\ncritical"},
                        {"type": "mrkdwn", "text": "*Region*\neu"},
                        {"type": "mrkdwn", "text": "*Since*\n1970-01-01T00:01:00.000Z"},
                    ]},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": "`switchyard/region-down/eu` · switchyard"}]},
                ],
            })
        );
    }

    #[test]
    fn resolve_reads_resolved_and_text_is_escaped() {
        let body = message(&region_down(AlertAction::Resolve, "a<b> & c"), &CTX);
        assert_eq!(body["text"], "[RESOLVED] a&lt;b&gt; &amp; c");
        assert_eq!(
            body["blocks"][0]["text"]["text"],
            ":white_check_mark: RESOLVED: Region down"
        );
    }
}
