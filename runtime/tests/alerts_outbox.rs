//! The bounded outbox over real HTTP: overflow is counted and reported, a receiver
//! that goes away gets the queued alerts when it comes back, and shutdown flushes by
//! its deadline.

mod alerts_support;

use std::time::Duration;

use alerts_support::{Receiver, Reply, fast_sink, node_down, start, wait_stats};
use serde_json::json;
use switchyard_core::alerts::{AlertAction, Severity};
use switchyard_runtime::alerts::SinkKind;
use tokio::time::Instant;

fn summaries(receiver: &Receiver, path: &str) -> Vec<String> {
    receiver
        .received(path)
        .iter()
        .map(|r| r.body["summary"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn overflow_drops_are_counted_and_reported_when_delivery_resumes() {
    let receiver = Receiver::start().await;
    receiver.otherwise("/g", Some(Reply::status(503, "")));
    let mut config = fast_sink("g", SinkKind::Generic, receiver.url("/g"));
    config.outbox_capacity = 2;
    let dispatcher = start(vec![config]);
    dispatcher.submit(&node_down(AlertAction::Trigger, "c0", Severity::Critical));
    // c0 is in flight, failing; now overfill the outbox behind it.
    receiver.wait_for("/g", 1).await;
    dispatcher.submit(&node_down(AlertAction::Trigger, "w1", Severity::Warning));
    dispatcher.submit(&node_down(AlertAction::Trigger, "c2", Severity::Critical));
    dispatcher.submit(&node_down(AlertAction::Trigger, "c3", Severity::Critical));
    dispatcher.submit(&node_down(AlertAction::Trigger, "c4", Severity::Critical));
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.dropped, stats.queued), (2, 3), "{stats:?}");
    assert_eq!(stats.overflowed, 2, "both drops were overflow: {stats:?}");

    receiver.otherwise("/g", None);
    wait_stats(&dispatcher, |s| s[0].sent == 4).await;
    let delivered: Vec<String> = summaries(&receiver, "/g")
        .into_iter()
        .skip_while(|s| s == "node c0 is down")
        .collect();
    assert_eq!(
        delivered,
        [
            "2 alerts (1 critical) dropped for alert sink g: its outbox was full",
            "node c3 is down",
            "node c4 is down",
        ]
    );
    let report = receiver
        .received("/g")
        .into_iter()
        .find(|r| r.body["dedup_key"] == "switchyard/alerts-dropped/g")
        .expect("the drop report");
    assert_eq!(report.body["severity"], "warning");
    assert_eq!(
        report.body["subject"],
        json!({"kind": "alerts_dropped", "sink": "g", "dropped": 2, "dropped_critical": 1})
    );
    assert_eq!(
        dispatcher.stats()[0].dropped,
        2,
        "the report itself is no loss"
    );
}

#[tokio::test]
async fn a_receiver_that_goes_away_gets_the_queued_alerts_when_it_returns() {
    let receiver = Receiver::start().await;
    let addr = receiver.addr;
    let dispatcher = start(vec![fast_sink("g", SinkKind::Generic, receiver.url("/g"))]);
    dispatcher.submit(&node_down(AlertAction::Trigger, "a", Severity::Critical));
    receiver.wait_for("/g", 1).await;
    wait_stats(&dispatcher, |s| s[0].sent == 1).await;

    // Gone: the port refuses connections while alerts keep coming.
    let state = receiver.stop().await;
    for node in ["b", "c", "d"] {
        dispatcher.submit(&node_down(AlertAction::Trigger, node, Severity::Warning));
    }
    wait_stats(&dispatcher, |s| s[0].retried >= 3).await;
    assert_eq!(dispatcher.stats()[0].queued, 3);

    let receiver = Receiver::start_on(addr, state).await;
    wait_stats(&dispatcher, |s| s[0].sent == 4).await;
    assert_eq!(
        summaries(&receiver, "/g"),
        [
            "node a is down",
            "node b is down",
            "node c is down",
            "node d is down"
        ]
    );
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.dropped, stats.queued, stats.rejected), (0, 0, 0));
}

#[tokio::test]
async fn flush_delivers_by_the_deadline_and_counts_the_rest() {
    let receiver = Receiver::start().await;
    let dispatcher = start(vec![fast_sink("g", SinkKind::Generic, receiver.url("/g"))]);
    dispatcher.submit(&node_down(AlertAction::Trigger, "a", Severity::Critical));
    dispatcher.submit(&node_down(AlertAction::Resolve, "a", Severity::Critical));
    let report = dispatcher
        .flush(Instant::now() + Duration::from_secs(2))
        .await;
    assert!(report.is_complete());
    assert_eq!(receiver.received("/g").len(), 2);

    // A receiver that never recovers: the flush returns at its deadline.
    receiver.otherwise("/h", Some(Reply::status(500, "")));
    let dispatcher = start(vec![fast_sink("h", SinkKind::Generic, receiver.url("/h"))]);
    for node in ["a", "b", "c"] {
        dispatcher.submit(&node_down(AlertAction::Trigger, node, Severity::Critical));
    }
    let started = Instant::now();
    let report = dispatcher.flush(started + Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.abandoned, 3);
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.dropped, stats.queued, stats.sent), (3, 0, 0));
    assert_eq!(stats.overflowed, 0, "abandoned at shutdown, not overflow");
}
