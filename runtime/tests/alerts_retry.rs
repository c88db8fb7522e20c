//! Retry policy over real HTTP: 429 and 5xx are retried, `Retry-After` is obeyed in
//! every form, other 4xx are not retried, and a deleted Discord webhook is dropped.
//!
//! Real sockets need real time, so delays are tens of milliseconds except where a
//! receiver's `Retry-After` can only say whole seconds.

mod alerts_support;

use std::time::{Duration, SystemTime};

use alerts_support::{Receiver, Reply, fast_sink, node_down, start, wait_stats};
use switchyard_core::alerts::{AlertAction, Severity};
use switchyard_runtime::alerts::SinkKind;

fn trigger(node: &str) -> switchyard_core::alerts::AlertNotice {
    node_down(AlertAction::Trigger, node, Severity::Critical)
}

#[tokio::test]
async fn retries_429_and_5xx_but_never_400() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/a",
        [
            Reply::status(500, "rollup_error"),
            Reply::status(429, "").header("retry-after", "0"),
            Reply::status(502, ""),
        ],
    );
    receiver.script("/b", [Reply::status(400, "invalid_payload")]);
    let dispatcher = start(vec![
        fast_sink("a", SinkKind::Generic, receiver.url("/a")),
        fast_sink("b", SinkKind::Slack, receiver.url("/b")),
    ]);
    dispatcher.submit(&trigger("eu-1"));
    wait_stats(&dispatcher, |s| s[0].sent == 1 && s[1].rejected == 1).await;
    // Longer than the 50 ms backoff cap: a retry of the 400 would have happened by now.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received("/a").len(), 4);
    assert_eq!(receiver.received("/b").len(), 1);
    let stats = dispatcher.stats();
    assert_eq!((stats[0].retried, stats[0].rejected), (3, 0));
    assert_eq!(
        (stats[1].retried, stats[1].sent, stats[1].queued),
        (0, 0, 0)
    );
    // Every attempt carries the same body.
    let bodies: Vec<_> = receiver
        .received("/a")
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
}

#[tokio::test]
async fn slack_refusals_are_counted_not_retried() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/s",
        [
            Reply::status(403, "action_prohibited"),
            Reply::status(404, "channel_not_found"),
            Reply::status(410, "channel_is_archived"),
        ],
    );
    let dispatcher = start(vec![fast_sink("s", SinkKind::Slack, receiver.url("/s"))]);
    for node in ["a", "b", "c", "d"] {
        dispatcher.submit(&trigger(node));
    }
    wait_stats(&dispatcher, |s| s[0].rejected == 3 && s[0].sent == 1).await;
    assert_eq!(receiver.received("/s").len(), 4);
    assert_eq!(
        dispatcher.stats()[0].disabled,
        None,
        "Slack sinks stay in use"
    );
}

#[tokio::test]
async fn retry_after_seconds_is_obeyed() {
    let receiver = Receiver::start().await;
    receiver.script("/s", [Reply::status(429, "").header("retry-after", "1")]);
    let dispatcher = start(vec![fast_sink("s", SinkKind::Slack, receiver.url("/s"))]);
    dispatcher.submit(&trigger("eu-1"));
    let received = receiver.wait_for("/s", 2).await;
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_secs(1), "{gap:?}");
    assert!(gap < Duration::from_secs(3), "{gap:?}");
}

#[tokio::test]
async fn retry_after_http_date_is_read_against_the_servers_date() {
    let receiver = Receiver::start().await;
    // The server's clock says "now"; it asks us back one second later.
    let now = SystemTime::now();
    receiver.script(
        "/g",
        [Reply::status(503, "")
            .header("date", httpdate::fmt_http_date(now))
            .header(
                "retry-after",
                httpdate::fmt_http_date(now + Duration::from_secs(1)),
            )],
    );
    let dispatcher = start(vec![fast_sink("g", SinkKind::Generic, receiver.url("/g"))]);
    dispatcher.submit(&trigger("eu-1"));
    let received = receiver.wait_for("/g", 2).await;
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_secs(1), "{gap:?}");
    assert!(gap < Duration::from_secs(3), "{gap:?}");
}

#[tokio::test]
async fn discord_json_retry_after_is_obeyed() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/d",
        [Reply::status(
            429,
            r#"{"message": "You are being rate limited.", "retry_after": 0.3, "global": false}"#,
        )
        .header("retry-after", "5")],
    );
    receiver.otherwise("/d", Some(Reply::status(204, "")));
    let dispatcher = start(vec![fast_sink("d", SinkKind::Discord, receiver.url("/d"))]);
    dispatcher.submit(&trigger("eu-1"));
    let received = receiver.wait_for("/d", 2).await;
    let gap = received[1].at - received[0].at;
    // The body's 0.3 s, not the header's rounded-up 5 s.
    assert!(gap >= Duration::from_millis(300), "{gap:?}");
    assert!(gap < Duration::from_secs(4), "{gap:?}");
    wait_stats(&dispatcher, |s| s[0].sent == 1 && s[0].retried == 1).await;
}

#[tokio::test]
async fn a_deleted_discord_webhook_is_no_longer_used_and_is_reported() {
    let receiver = Receiver::start().await;
    receiver.otherwise(
        "/d",
        Some(Reply::status(
            404,
            r#"{"message": "Unknown Webhook", "code": 10015}"#,
        )),
    );
    let dispatcher = start(vec![
        fast_sink("d", SinkKind::Discord, receiver.url("/d")),
        fast_sink("g", SinkKind::Generic, receiver.url("/g")),
    ]);
    dispatcher.submit(&trigger("eu-1"));
    let generic = receiver.wait_for("/g", 2).await;
    let report = &generic[1].body;
    assert_eq!(report["severity"], "warning");
    assert_eq!(report["dedup_key"], "switchyard/alert-sink-disabled/d");
    assert_eq!(
        report["subject"],
        serde_json::json!({
            "kind": "alert_sink_disabled",
            "sink": "d",
            "reason": "Discord answered 404: the webhook was deleted",
        })
    );
    dispatcher.submit(&trigger("eu-2"));
    receiver.wait_for("/g", 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received("/d").len(), 1, "never used again");
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.rejected, stats.dropped, stats.sent), (1, 1, 0));
    assert!(stats.disabled.is_some());
}
