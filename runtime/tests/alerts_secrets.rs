//! Credentials never print: sink configurations in Debug, Display and their redacted
//! form, validation errors, the engine's Debug, and the HTTP client's errors.

mod alerts_support;

use std::time::Duration;

use serde_json::json;
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::alerts::{AlertSinkConfig, SinkKind};
use switchyard_runtime::ports::http::{HttpClient, HttpError, HttpRequest, Method};

const ROUTING_KEY: &str = "R0UTINGKEYR0UTINGKEYR0UTINGKEY12";
const SLACK_TOKEN: &str = "T0SECRET/B0SECRET/XXSECRETXX";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sinks: Vec<AlertSinkConfig>,
}

fn parse(text: &str) -> Result<Vec<AlertSinkConfig>, String> {
    toml::from_str::<File>(text)
        .map(|file| file.sinks)
        .map_err(|e| e.to_string())
}

fn sample() -> String {
    format!(
        r#"
[[sinks]]
name = "pager"
kind = "pagerduty"
url = "https://events.pagerduty.example/v2/enqueue"
routing_key = "{ROUTING_KEY}"
min_severity = "critical"

[[sinks]]
name = "ops-slack"
kind = "slack"
url = "https://hooks.slack.example/services/{SLACK_TOKEN}"
outbox_capacity = 64
"#
    )
}

#[test]
fn configs_parse_and_never_print_credentials() {
    let sinks = parse(&sample()).expect("a valid file");
    assert!(matches!(sinks[0].kind, SinkKind::PagerDuty { .. }));
    assert_eq!(sinks[1].outbox_capacity, 64);
    assert_eq!(sinks[1].min_interval_ms, 1000, "Slack's pacing by default");
    for sink in &sinks {
        for shown in [
            format!("{sink:?}"),
            format!("{sink:#?}"),
            sink.to_string(),
            serde_json::to_string(&sink.redacted()).expect("serialises"),
            format!("{:?}", sink.redacted()),
        ] {
            assert!(!shown.contains("R0UTINGKEY"), "{shown}");
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }
    assert_eq!(
        serde_json::to_value(sinks[0].redacted()).expect("serialises"),
        json!({
            "name": "pager",
            "kind": "pagerduty",
            "url": "https://events.pagerduty.example/<redacted>",
            "routing_key": "<redacted>",
            "min_severity": "critical",
            "outbox_capacity": 1024,
            "request_timeout_ms": 10000,
            "backoff_initial_ms": 1000,
            "backoff_max_ms": 120000,
            "retry_after_max_ms": 600000,
            "min_interval_ms": 500,
        })
    );
    // The full form round-trips (it is the one that must never be shown).
    let text = toml::to_string(&File2 {
        sinks: sinks.clone(),
    })
    .expect("serialises");
    assert_eq!(parse(&text).expect("re-reads"), sinks);
}

#[derive(serde::Serialize)]
struct File2 {
    sinks: Vec<AlertSinkConfig>,
}

#[test]
fn errors_name_the_field_and_hide_the_value() {
    let unknown = sample().replace("outbox_capacity", "outbox_size");
    let err = parse(&unknown).expect_err("unknown field");
    assert!(err.contains("outbox_size"), "{err}");

    let missing = sample().replace(&format!("routing_key = \"{ROUTING_KEY}\""), "");
    let err = parse(&missing).expect_err("no routing key");
    assert!(err.contains("`routing_key` is required"), "{err}");

    let bad_url = sample().replace("https://hooks.slack.example", "hooks.slack.example");
    let err = parse(&bad_url).expect_err("relative URL");
    assert!(err.contains("\"ops-slack\": field `url`"), "{err}");
    assert!(!err.contains("SECRET"), "{err}");

    let zero = sample().replace("outbox_capacity = 64", "outbox_capacity = 0");
    let err = parse(&zero).expect_err("empty outbox");
    assert!(err.contains("`outbox_capacity`"), "{err}");
}

#[tokio::test]
async fn the_http_client_keeps_urls_out_of_errors_and_maps_timeouts() {
    let client = ReqwestHttpClient::new().expect("a client");
    // A port nobody listens on: bind one, then free it.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("bound");
    let url = format!("http://{closed}/services/{SLACK_TOKEN}");
    let request = HttpRequest::new(Method::Post, url, Duration::from_secs(2));
    match client.send(request).await {
        Err(HttpError::Connect(reason)) => assert!(!reason.contains("SECRET"), "{reason}"),
        other => panic!("expected a connect error, got {other:?}"),
    }

    // A server that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", silent.local_addr().expect("bound"));
    let request = HttpRequest::new(Method::Post, url, Duration::from_millis(200));
    assert_eq!(client.send(request).await, Err(HttpError::Timeout));
    drop(silent);
}

#[tokio::test]
async fn the_engine_debug_output_hides_credentials() {
    let sinks = parse(&sample()).expect("a valid file");
    let dispatcher = alerts_support::start(sinks);
    let shown = format!("{dispatcher:?} {:?}", dispatcher.stats());
    assert!(
        !shown.contains("R0UTINGKEY") && !shown.contains("SECRET"),
        "{shown}"
    );
    assert!(shown.contains("hooks.slack.example"), "{shown}");
}
