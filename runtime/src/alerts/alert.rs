//! The unit of delivery: one alert, normalised once so every format reads the same
//! fields.
//!
//! Most alerts are the core's [`AlertNotice`]s. The delivery engine adds two of its own,
//! so that its failures are reported through the same channels instead of vanishing:
//! a sink's outbox overflowed, and a sink stopped working for good.

use serde_json::{Value, json};
use switchyard_core::alerts::{AlertAction, AlertNotice, AlertSubject, Severity};
use switchyard_core::time::Millis;

/// Where an alert came from; decides how the outbox and the dedup treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A notice the core emitted.
    Controller,
    /// The engine's report that notices were dropped from a full outbox.
    DropReport {
        /// Notices dropped since the previous report.
        dropped: u64,
        /// How many of them were critical.
        dropped_critical: u64,
    },
    /// The engine's report that another sink is gone and no longer used.
    SinkDisabled,
}

/// What an alert names besides its region: a node, a shard or an alert sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `node`, `shard` or `sink`.
    pub kind: &'static str,
    /// Its name (`eu-1`, `3`, `ops-slack`).
    pub name: String,
}

/// One alert, ready to be formatted for any sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Trigger or resolve.
    pub action: AlertAction,
    /// Stable key shared by a trigger and its resolve.
    pub dedup_key: String,
    /// How urgent.
    pub severity: Severity,
    /// One line for people.
    pub summary: String,
    /// When the condition started.
    pub since: Millis,
    /// When this alert was issued.
    pub at: Millis,
    /// The subject's kind in snake case (`node_down`).
    pub class: String,
    /// The node, shard or sink concerned.
    pub component: Option<Component>,
    /// The region concerned.
    pub group: Option<String>,
    /// The subject as JSON: `{"kind": "node_down", "node": "eu-1", "region": "eu"}`.
    pub subject: Value,
    /// Who raised it.
    pub origin: Origin,
}

impl Alert {
    /// Normalises one of the core's notices.
    pub fn from_notice(notice: &AlertNotice) -> Alert {
        // A tagged enum of strings and integers always serialises to a JSON object.
        let subject = serde_json::to_value(&notice.subject).expect("subjects serialise");
        let class = subject
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("alert")
            .to_owned();
        let component = match &notice.subject {
            AlertSubject::ShardWithoutSpare { shard } => Some(Component {
                kind: "shard",
                name: shard.to_string(),
            }),
            other => other.node().map(|node| Component {
                kind: "node",
                name: node.to_string(),
            }),
        };
        Alert {
            action: notice.action,
            dedup_key: notice.dedup_key.clone(),
            severity: notice.severity,
            summary: notice.summary.clone(),
            since: notice.since,
            at: notice.at,
            class,
            component,
            group: notice.subject.region().map(ToString::to_string),
            subject,
            origin: Origin::Controller,
        }
    }

    /// The report that `dropped` notices (`dropped_critical` of them critical) were
    /// dropped from `sink`'s full outbox, the first at `first_drop_at`.
    pub fn drop_report(
        sink: &str,
        dropped: u64,
        dropped_critical: u64,
        first_drop_at: Millis,
        at: Millis,
    ) -> Alert {
        let noun = if dropped == 1 { "alert" } else { "alerts" };
        Alert {
            action: AlertAction::Trigger,
            dedup_key: format!("switchyard/alerts-dropped/{sink}"),
            severity: Severity::Warning,
            summary: format!(
                "{dropped} {noun} ({dropped_critical} critical) dropped for alert sink \
                 {sink}: its outbox was full"
            ),
            since: first_drop_at,
            at,
            class: "alerts_dropped".to_owned(),
            component: Some(Component {
                kind: "sink",
                name: sink.to_owned(),
            }),
            group: None,
            subject: json!({
                "kind": "alerts_dropped",
                "sink": sink,
                "dropped": dropped,
                "dropped_critical": dropped_critical,
            }),
            origin: Origin::DropReport {
                dropped,
                dropped_critical,
            },
        }
    }

    /// The report that `sink` is gone (`reason`) and no longer used.
    pub fn sink_disabled(sink: &str, reason: &str, at: Millis) -> Alert {
        Alert {
            action: AlertAction::Trigger,
            dedup_key: format!("switchyard/alert-sink-disabled/{sink}"),
            severity: Severity::Warning,
            summary: format!("alert sink {sink} is disabled: {reason}"),
            since: at,
            at,
            class: "alert_sink_disabled".to_owned(),
            component: Some(Component {
                kind: "sink",
                name: sink.to_owned(),
            }),
            group: None,
            subject: json!({ "kind": "alert_sink_disabled", "sink": sink, "reason": reason }),
            origin: Origin::SinkDisabled,
        }
    }

    /// Whether the alert is critical: the outbox drops those last.
    pub fn is_critical(&self) -> bool {
        self.severity == Severity::Critical
    }

    /// A short title from the class: `node_down` reads "Node down".
    pub fn title(&self) -> String {
        let words = self.class.replace('_', " ");
        let mut chars = words.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => "Alert".to_owned(),
        }
    }
}

/// The lower-case name of a severity on the wire (`critical`).
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// The lower-case name of an action on the wire (`trigger`).
pub fn action_name(action: AlertAction) -> &'static str {
    match action {
        AlertAction::Trigger => "trigger",
        AlertAction::Resolve => "resolve",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(subject: AlertSubject) -> AlertNotice {
        AlertNotice {
            action: AlertAction::Trigger,
            dedup_key: subject.dedup_key(),
            severity: Severity::Critical,
            subject,
            summary: "s".to_owned(),
            since: Millis(1),
            at: Millis(2),
        }
    }

    #[test]
    fn node_alerts_name_node_and_region() {
        let alert = Alert::from_notice(&notice(AlertSubject::NodeDown {
            node: "eu-1".into(),
            region: "eu".into(),
        }));
        assert_eq!(alert.class, "node_down");
        assert_eq!(alert.title(), "Node down");
        assert_eq!(alert.group.as_deref(), Some("eu"));
        let component = alert.component.expect("a node alert names its node");
        assert_eq!((component.kind, component.name.as_str()), ("node", "eu-1"));
        assert_eq!(
            alert.subject,
            json!({"kind": "node_down", "node": "eu-1", "region": "eu"})
        );
    }

    #[test]
    fn shard_and_global_alerts() {
        let shard = Alert::from_notice(&notice(AlertSubject::ShardWithoutSpare {
            shard: switchyard_core::ids::ShardId(3),
        }));
        assert_eq!(shard.component.map(|c| c.name), Some("3".to_owned()));
        assert_eq!(shard.group, None);
        let isolated = Alert::from_notice(&notice(AlertSubject::ControllerIsolated));
        assert_eq!(isolated.component, None);
        assert_eq!(isolated.title(), "Controller isolated");
    }

    #[test]
    fn drop_report_counts() {
        let report = Alert::drop_report("ops", 3, 1, Millis(5), Millis(9));
        assert_eq!(report.severity, Severity::Warning);
        assert_eq!(
            report.summary,
            "3 alerts (1 critical) dropped for alert sink ops: its outbox was full"
        );
        assert_eq!(report.since, Millis(5));
        assert_eq!(report.subject["dropped"], 3);
    }
}
