//! The delivery engine against a scripted in-memory client on a paused clock: exact
//! timings of backoff, `Retry-After`, pacing and shutdown, with no sockets.
//! (`runtime/tests/alerts_*.rs` repeats the essentials over real HTTP.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use switchyard_core::alerts::{AlertAction, AlertNotice, AlertSubject, Severity};
use switchyard_core::time::Millis;
use tokio::time::{Instant, sleep};

use super::*;
use crate::ports::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

#[derive(Clone, Debug)]
enum Reply {
    Status(u16, Vec<(&'static str, &'static str)>, &'static str),
    Fail(HttpError),
}

#[derive(Default)]
struct FakeState {
    script: VecDeque<Reply>,
    /// Answer once the script runs out; `None` means 200 ok.
    otherwise: Option<Reply>,
    sent: Vec<(Instant, HttpRequest)>,
}

#[derive(Clone, Default)]
struct FakeClient(Arc<Mutex<FakeState>>);

impl FakeClient {
    fn scripted(replies: Vec<Reply>) -> Self {
        let client = Self::default();
        client.state().script = replies.into();
        client
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().expect("test lock")
    }

    fn sent_at_ms(&self, start: Instant) -> Vec<u64> {
        self.state()
            .sent
            .iter()
            .map(|(at, _)| (*at - start).as_millis() as u64)
            .collect()
    }

    fn bodies(&self) -> Vec<Value> {
        self.state()
            .sent
            .iter()
            .map(|(_, r)| serde_json::from_slice(&r.body).expect("JSON bodies"))
            .collect()
    }
}

impl HttpClient for FakeClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let reply = {
            let mut state = self.state();
            state.sent.push((Instant::now(), request));
            let next = state.script.pop_front();
            next.or_else(|| state.otherwise.clone())
                .unwrap_or(Reply::Status(200, vec![], "ok"))
        };
        match reply {
            Reply::Status(status, headers, body) => Ok(HttpResponse {
                status,
                headers: headers
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                body: body.as_bytes().to_vec(),
            }),
            Reply::Fail(error) => Err(error),
        }
    }
}

fn sink(name: &str, kind: SinkKind) -> AlertSinkConfig {
    let mut config = AlertSinkConfig::new(name, kind, "http://127.0.0.1:9/hook/SECRET");
    config.min_interval_ms = 0;
    config
}

fn start(client: &FakeClient, sinks: Vec<AlertSinkConfig>) -> (AlertDispatcher, Instant) {
    let epoch = Instant::now();
    let settings = AlertSettings {
        source: "test".to_owned(),
        clock: AlertClock::new(epoch, 0),
        seed: 42,
    };
    let dispatcher = AlertDispatcher::start(client.clone(), sinks, settings).expect("valid sinks");
    (dispatcher, epoch)
}

fn notice(action: AlertAction, node: &str, severity: Severity) -> AlertNotice {
    let subject = AlertSubject::NodeDown {
        node: node.into(),
        region: "eu".into(),
    };
    AlertNotice {
        action,
        dedup_key: subject.dedup_key(),
        severity,
        subject,
        summary: format!("{node} is down"),
        since: Millis(0),
        at: Millis(0),
    }
}

fn trigger(node: &str) -> AlertNotice {
    notice(AlertAction::Trigger, node, Severity::Critical)
}

/// Lets the paused clock run until `done` holds (bounded, so a bug fails, not hangs).
async fn run_until(dispatcher: &AlertDispatcher, done: impl Fn(&[SinkStats]) -> bool) {
    for _ in 0..10_000 {
        if done(&dispatcher.stats()) {
            return;
        }
        sleep(Duration::from_millis(100)).await;
    }
    panic!("never settled: {:?}", dispatcher.stats());
}

#[tokio::test(start_paused = true)]
async fn backoff_is_exponential_jittered_and_seeded() {
    let replies = vec![
        Reply::Status(500, vec![], "boom"),
        Reply::Fail(HttpError::Timeout),
        Reply::Fail(HttpError::Connect("refused".to_owned())),
        Reply::Status(202, vec![], ""),
    ];
    let mut runs = Vec::new();
    for _ in 0..2 {
        let client = FakeClient::scripted(replies.clone());
        let (dispatcher, epoch) = start(&client, vec![sink("g", SinkKind::Generic)]);
        dispatcher.submit(&trigger("eu-1"));
        run_until(&dispatcher, |s| s[0].sent == 1).await;
        assert_eq!(dispatcher.stats()[0].retried, 3);
        runs.push(client.sent_at_ms(epoch));
    }
    assert_eq!(runs[0], runs[1], "same seed, same schedule");
    let at = &runs[0];
    // Nominal delays 1 s, 2 s, 4 s; equal jitter keeps each within [half, full].
    for (retry, nominal_ms) in [1_000u64, 2_000, 4_000].into_iter().enumerate() {
        let gap_ms = at[retry + 1] - at[retry];
        assert!(
            (nominal_ms / 2..=nominal_ms + 1).contains(&gap_ms),
            "{at:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_obeyed_exactly_and_capped() {
    let client = FakeClient::scripted(vec![
        Reply::Status(429, vec![("retry-after", "120")], ""),
        Reply::Status(503, vec![("retry-after", "99999")], ""),
    ]);
    let mut config = sink("s", SinkKind::Slack);
    config.retry_after_max_ms = 300_000;
    let (dispatcher, epoch) = start(&client, vec![config]);
    dispatcher.submit(&trigger("eu-1"));
    run_until(&dispatcher, |s| s[0].sent == 1).await;
    assert_eq!(client.sent_at_ms(epoch), [0, 120_000, 420_000]);
}

#[tokio::test(start_paused = true)]
async fn discord_json_retry_after_wins_over_the_header() {
    let client = FakeClient::scripted(vec![Reply::Status(
        429,
        vec![("retry-after", "2")],
        r#"{"message": "You are being rate limited.", "retry_after": 0.75, "global": false}"#,
    )]);
    let (dispatcher, epoch) = start(&client, vec![sink("d", SinkKind::Discord)]);
    dispatcher.submit(&trigger("eu-1"));
    run_until(&dispatcher, |s| s[0].sent == 1).await;
    assert_eq!(client.sent_at_ms(epoch), [0, 750]);
}

#[tokio::test(start_paused = true)]
async fn other_4xx_are_rejected_without_retry() {
    let client = FakeClient::scripted(vec![
        Reply::Status(400, vec![], "invalid_payload"),
        Reply::Status(410, vec![], "channel_is_archived"),
    ]);
    let (dispatcher, _) = start(&client, vec![sink("s", SinkKind::Slack)]);
    dispatcher.submit(&trigger("eu-1"));
    dispatcher.submit(&trigger("eu-2"));
    dispatcher.submit(&trigger("eu-3"));
    run_until(&dispatcher, |s| s[0].sent == 1).await;
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.rejected, stats.retried, stats.queued), (2, 0, 0));
    assert_eq!(client.state().sent.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn slack_and_discord_suppress_repeated_open_triggers_pagerduty_does_not() {
    let client = FakeClient::default();
    let pd = SinkKind::PagerDuty {
        routing_key: Secret::new("0123456789abcdef0123456789abcdef"),
    };
    let (dispatcher, _) = start(
        &client,
        vec![
            sink("s", SinkKind::Slack),
            sink("d", SinkKind::Discord),
            sink("pd", pd),
        ],
    );
    for notice in [
        trigger("eu-1"),
        trigger("eu-1"),
        notice(AlertAction::Resolve, "eu-1", Severity::Critical),
        trigger("eu-1"),
    ] {
        dispatcher.submit(&notice);
    }
    run_until(&dispatcher, |s| s.iter().all(|s| s.queued == 0)).await;
    let stats = dispatcher.stats();
    assert_eq!((stats[0].sent, stats[0].suppressed), (3, 1));
    assert_eq!((stats[1].sent, stats[1].suppressed), (3, 1));
    assert_eq!((stats[2].sent, stats[2].suppressed), (4, 0));
}

#[tokio::test(start_paused = true)]
async fn a_resolve_that_never_arrives_does_not_suppress_the_next_trigger() {
    let client = FakeClient::default();
    let mut config = sink("s", SinkKind::Slack);
    config.outbox_capacity = 1;
    let (dispatcher, _) = start(&client, vec![config]);
    dispatcher.submit(&trigger("eu-1"));
    run_until(&dispatcher, |s| s[0].sent == 1).await;
    client.state().otherwise = Some(Reply::Status(503, vec![], ""));
    dispatcher.submit(&trigger("eu-2"));
    sleep(Duration::from_millis(10)).await;
    // eu-2 is in flight; the resolve of eu-1 waits, then the full outbox drops it.
    dispatcher.submit(&notice(AlertAction::Resolve, "eu-1", Severity::Critical));
    dispatcher.submit(&trigger("eu-3"));
    assert_eq!(dispatcher.stats()[0].dropped, 1);
    client.state().otherwise = None;
    run_until(&dispatcher, |s| s[0].queued == 0).await;
    dispatcher.submit(&trigger("eu-1"));
    run_until(&dispatcher, |s| s[0].queued == 0).await;
    let stats = &dispatcher.stats()[0];
    // eu-1, eu-2, the drop report, eu-3 and eu-1 again.
    assert_eq!((stats.sent, stats.suppressed), (5, 0), "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn min_severity_filters_per_sink() {
    let client = FakeClient::default();
    let mut pager = sink("pager", SinkKind::Generic);
    pager.min_severity = Severity::Critical;
    let (dispatcher, _) = start(&client, vec![pager, sink("chat", SinkKind::Generic)]);
    assert_eq!(
        dispatcher.submit(&notice(AlertAction::Trigger, "eu-1", Severity::Warning)),
        1
    );
    assert_eq!(dispatcher.submit(&trigger("eu-2")), 2);
    run_until(&dispatcher, |s| s[0].sent == 1 && s[1].sent == 2).await;
}

#[tokio::test(start_paused = true)]
async fn slack_is_paced_to_its_rate_limit() {
    let client = FakeClient::default();
    let (dispatcher, epoch) = start(
        &client,
        vec![AlertSinkConfig::new(
            "s",
            SinkKind::Slack,
            "http://127.0.0.1:9/x",
        )],
    );
    for node in ["a", "b", "c"] {
        dispatcher.submit(&trigger(node));
    }
    run_until(&dispatcher, |s| s[0].sent == 3).await;
    assert_eq!(client.sent_at_ms(epoch), [0, 1_000, 2_000]);
}

#[tokio::test(start_paused = true)]
async fn overflow_drops_are_counted_and_reported_when_delivery_resumes() {
    let client = FakeClient::default();
    client.state().otherwise = Some(Reply::Status(503, vec![], "down"));
    let mut config = sink("g", SinkKind::Generic);
    config.outbox_capacity = 2;
    config.backoff_max_ms = 1_000;
    let (dispatcher, _) = start(&client, vec![config]);
    dispatcher.submit(&trigger("c0"));
    // Let c0 go in flight, then fill the outbox past its bound.
    sleep(Duration::from_millis(10)).await;
    dispatcher.submit(&notice(AlertAction::Trigger, "w1", Severity::Warning));
    dispatcher.submit(&trigger("c2"));
    dispatcher.submit(&trigger("c3"));
    dispatcher.submit(&trigger("c4"));
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.dropped, stats.queued), (2, 3), "{stats:?}");
    client.state().otherwise = None;
    run_until(&dispatcher, |s| s[0].queued == 0).await;
    let summaries: Vec<String> = client
        .bodies()
        .iter()
        .map(|b| b["summary"].as_str().unwrap_or_default().to_owned())
        .collect();
    let delivered: Vec<&str> = summaries
        .iter()
        .map(String::as_str)
        .skip_while(|s| *s == "c0 is down")
        .collect();
    assert_eq!(
        delivered,
        [
            "2 alerts (1 critical) dropped for alert sink g: its outbox was full",
            "c3 is down",
            "c4 is down",
        ]
    );
    assert_eq!(dispatcher.stats()[0].sent, 4);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_discord_webhook_is_disabled_and_reported_elsewhere() {
    let client = FakeClient::scripted(vec![Reply::Status(404, vec![], r#"{"code": 10015}"#)]);
    let (dispatcher, _) = start(
        &client,
        vec![sink("d", SinkKind::Discord), sink("g", SinkKind::Generic)],
    );
    dispatcher.submit(&trigger("eu-1"));
    run_until(&dispatcher, |s| s[0].disabled.is_some() && s[1].sent == 2).await;
    dispatcher.submit(&trigger("eu-2"));
    run_until(&dispatcher, |s| s[1].sent == 3).await;
    let stats = dispatcher.stats();
    assert_eq!(
        (stats[0].rejected, stats[0].dropped, stats[0].sent),
        (1, 1, 0)
    );
    let reported = client
        .bodies()
        .into_iter()
        .any(|b| b["subject"]["kind"] == "alert_sink_disabled" && b["subject"]["sink"] == "d");
    assert!(reported, "{:?}", client.bodies());
}

#[tokio::test(start_paused = true)]
async fn max_attempts_gives_up_and_counts_failed() {
    let client = FakeClient::default();
    client.state().otherwise = Some(Reply::Status(500, vec![], ""));
    let mut config = sink("g", SinkKind::Generic);
    config.max_attempts = Some(3);
    let (dispatcher, _) = start(&client, vec![config]);
    dispatcher.submit(&trigger("eu-1"));
    run_until(&dispatcher, |s| s[0].failed == 1).await;
    assert_eq!(dispatcher.stats()[0].retried, 2);
    assert_eq!(client.state().sent.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn flush_delivers_what_it_can_then_abandons_by_the_deadline() {
    let client = FakeClient::default();
    let (dispatcher, _) = start(&client, vec![sink("g", SinkKind::Generic)]);
    dispatcher.submit(&trigger("a"));
    dispatcher.submit(&trigger("b"));
    let report = dispatcher
        .flush(Instant::now() + Duration::from_secs(5))
        .await;
    assert!(report.is_complete());
    assert_eq!(dispatcher.stats()[0].sent, 2);
    // After the flush nothing is accepted silently.
    dispatcher.submit(&trigger("late"));
    assert_eq!(dispatcher.stats()[0].dropped, 1);

    let down = FakeClient::default();
    down.state().otherwise = Some(Reply::Fail(HttpError::Connect("refused".to_owned())));
    let (dispatcher, _) = start(&down, vec![sink("g", SinkKind::Generic)]);
    for node in ["a", "b", "c"] {
        dispatcher.submit(&trigger(node));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = dispatcher.flush(deadline).await;
    assert_eq!(
        Instant::now(),
        deadline,
        "returns at the deadline, not later"
    );
    assert_eq!(report.abandoned, 3);
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.dropped, stats.queued), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn debug_output_hides_credentials() {
    let client = FakeClient::default();
    let pd = SinkKind::PagerDuty {
        routing_key: Secret::new("R0UTINGKEYR0UTINGKEYR0UTINGKEY12"),
    };
    let (dispatcher, _) = start(&client, vec![sink("pd", pd), sink("s", SinkKind::Slack)]);
    let shown = format!("{dispatcher:?} {:?}", dispatcher.stats());
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(!shown.contains("R0UTINGKEY"), "{shown}");
    assert!(shown.contains("127.0.0.1:9"), "{shown}");
}
