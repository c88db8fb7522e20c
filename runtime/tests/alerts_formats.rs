//! Each format, delivered by the production reqwest client to a real loopback receiver:
//! the exact JSON bodies and headers received.

mod alerts_support;

use alerts_support::{Receiver, Reply, fast_sink, node_down, start, wait_stats};
use serde_json::json;
use switchyard_core::alerts::{AlertAction, Severity};
use switchyard_runtime::alerts::{Secret, SinkKind};

const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn every_format_arrives_exactly() {
    let receiver = Receiver::start().await;
    receiver.otherwise(
        "/pd",
        Some(Reply::status(
            202,
            r#"{"status":"success","message":"Event processed","dedup_key":"switchyard/node-down/eu-1"}"#,
        )),
    );
    receiver.otherwise("/slack", Some(Reply::status(200, "ok")));
    receiver.otherwise("/discord", Some(Reply::status(204, "")));
    receiver.otherwise("/generic", Some(Reply::status(200, "")));
    let pagerduty = SinkKind::PagerDuty {
        routing_key: Secret::new(ROUTING_KEY),
    };
    let dispatcher = start(vec![
        fast_sink("pd", pagerduty, receiver.url("/pd")),
        fast_sink("slack", SinkKind::Slack, receiver.url("/slack")),
        fast_sink("discord", SinkKind::Discord, receiver.url("/discord")),
        fast_sink("generic", SinkKind::Generic, receiver.url("/generic")),
    ]);
    dispatcher.submit(&node_down(AlertAction::Trigger, "eu-1", Severity::Critical));
    dispatcher.submit(&node_down(AlertAction::Resolve, "eu-1", Severity::Critical));

    let pd = receiver.wait_for("/pd", 2).await;
    assert_eq!(
        pd[0].body,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "switchyard/node-down/eu-1",
            "payload": {
                "summary": "node eu-1 is down",
                "source": "switchyard-test",
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
    assert_eq!(
        pd[1].body,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": "switchyard/node-down/eu-1",
        })
    );

    let slack = receiver.wait_for("/slack", 2).await;
    assert_eq!(
        slack[0].body,
        json!({
            "text": "[CRITICAL] node eu-1 is down",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: CRITICAL: Node down", "emoji": true}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "node eu-1 is down"}, "fields": [
                    {"type": "mrkdwn", "text": "*Severity*\ncritical"},
                    {"type": "mrkdwn", "text": "*Region*\neu"},
                    {"type": "mrkdwn", "text": "*Node*\neu-1"},
                    {"type": "mrkdwn", "text": "*Since*\n2024-05-01T12:00:01.000Z"},
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "`switchyard/node-down/eu-1` · switchyard-test"}]},
            ],
        })
    );
    assert_eq!(slack[1].body["text"], "[RESOLVED] node eu-1 is down");
    assert_eq!(
        slack[1].body["blocks"][0]["text"]["text"],
        ":white_check_mark: RESOLVED: Node down"
    );

    let discord = receiver.wait_for("/discord", 2).await;
    let embed = |title: &str, colour: u32| {
        json!({
            "title": title,
            "description": "node eu-1 is down",
            "color": colour,
            "fields": [
                {"name": "Severity", "value": "critical", "inline": true},
                {"name": "Region", "value": "eu", "inline": true},
                {"name": "Node", "value": "eu-1", "inline": true},
                {"name": "Since", "value": "2024-05-01T12:00:01.000Z", "inline": true},
            ],
            "footer": {"text": "switchyard/node-down/eu-1 · switchyard-test"},
            "timestamp": "2024-05-01T12:00:02.000Z",
        })
    };
    assert_eq!(
        discord[0].body,
        json!({
            "username": "Switchyard",
            "content": "🔴 CRITICAL: node eu-1 is down",
            "embeds": [embed("Node down", 0xE74C3C)],
            "allowed_mentions": {"parse": []},
        })
    );
    assert_eq!(
        discord[1].body,
        json!({
            "username": "Switchyard",
            "content": "✅ RESOLVED: node eu-1 is down",
            "embeds": [embed("[RESOLVED] Node down", 0x2ECC71)],
            "allowed_mentions": {"parse": []},
        })
    );

    let generic = receiver.wait_for("/generic", 2).await;
    assert_eq!(
        generic[0].body,
        json!({
            "source": "switchyard-test",
            "action": "trigger",
            "dedup_key": "switchyard/node-down/eu-1",
            "severity": "critical",
            "subject": {"kind": "node_down", "node": "eu-1", "region": "eu"},
            "summary": "node eu-1 is down",
            "since": 1000,
            "at": 2000,
            "timestamp": "2024-05-01T12:00:02.000Z",
        })
    );
    assert_eq!(generic[1].body["action"], "resolve");

    for received in [&pd[0], &slack[0], &discord[0], &generic[0]] {
        assert_eq!(received.headers["content-type"], "application/json");
        let agent = received.headers["user-agent"].to_str().expect("ASCII");
        assert!(agent.starts_with("switchyard/"), "{agent}");
    }
    // The receiver records a body before it answers; a sink counts it sent on the answer.
    wait_stats(&dispatcher, |s| s.iter().all(|s| s.sent == 2)).await;
    let stats = dispatcher.stats();
    assert!(stats.iter().all(|s| s.retried == 0), "{stats:?}");
    let report = dispatcher
        .flush(tokio::time::Instant::now() + std::time::Duration::from_secs(1))
        .await;
    assert!(report.is_complete());
}
