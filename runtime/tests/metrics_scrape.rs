//! `GET /metrics` through the real router and driver: emulated Lavalink nodes on
//! loopback, a real `redis-server`, an alert receiver that keeps failing. Each scrape
//! is parsed strictly (a malformed exposition fails the test) and read for names,
//! types, units, labels and values after probes, moves, a dead node, a Redis outage
//! and an overflowing alert outbox.

mod alerts_support;

use std::collections::BTreeSet;
use std::time::Duration;

use alerts_support::{Receiver, Reply, fast_sink, node_down};
use serde_json::{Value, json};
use switchyard_core::Controller;
use switchyard_core::alerts::{AlertAction, Severity};
use switchyard_core::config::ControllerConfig;
use switchyard_core::time::Millis;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};
use switchyard_runtime::adapters::redis_store::{RedisStore, RedisStoreConfig};
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::alerts::{AlertClock, AlertDispatcher, AlertSettings, SinkKind};
use switchyard_runtime::api::{ApiState, ApiToken, router};
use switchyard_runtime::driver::{Driver, DriverSettings};
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use switchyard_runtime::metrics::{CONTENT_TYPE, Metrics};
use switchyard_runtime::ports::http::{HttpClient, HttpRequest, Method};
use switchyard_sim::emulator::{Emulator, EmulatorConfig, EmulatorControl};
use switchyard_tests::exposition::{Exposition, parse};
use switchyard_tests::redis_server::RedisServer;
use tokio::net::TcpListener;

const PASSWORD: &str = "node-password-never-shown";
const API_TOKEN: &str = "operator-token-never-shown";
const TIMEOUT: Duration = Duration::from_secs(2);

async fn start_node(name: &str, region: &str) -> (EmulatorControl, u16) {
    let config = EmulatorConfig {
        name: name.to_owned(),
        region: region.to_owned(),
        password: PASSWORD.to_owned(),
        ..EmulatorConfig::default()
    };
    let (emulator, control) = Emulator::new(config).expect("valid emulator config");
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let port = listener.local_addr().expect("bound").port();
    tokio::spawn(async move { emulator.serve(listener).await });
    (control, port)
}

fn topology() -> TopologySpec {
    let node = |name: &str, region: &str| NodeSpec {
        name: name.into(),
        region: region.into(),
        priority: 0,
        weight: 1,
        capacity: 100,
        maintenance: false,
    };
    let region = |name: &str, priority| RegionSpec {
        name: name.into(),
        priority,
    };
    TopologySpec {
        regions: vec![region("eu", 10), region("us", 5)],
        nodes: vec![node("eu-1", "eu"), node("eu-2", "eu"), node("us-1", "us")],
        plans: vec![PlanSpec {
            name: "growth".into(),
            regions: vec!["eu".into(), "us".into()],
            default_region: None,
        }],
        shard_count: 1,
    }
}

struct World {
    redis: RedisServer,
    nodes: Vec<(&'static str, EmulatorControl)>,
    alerts: AlertDispatcher,
    receiver: Receiver,
    http: ReqwestHttpClient,
    api_url: String,
}

impl World {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let http = ReqwestHttpClient::new().expect("client");
        let mut nodes = Vec::new();
        let mut clients = Vec::new();
        for (name, region) in [("eu-1", "eu"), ("eu-2", "eu"), ("us-1", "us")] {
            let (control, port) = start_node(name, region).await;
            let endpoint = NodeEndpoint {
                name: name.into(),
                base_url: format!("http://127.0.0.1:{port}"),
                password: PASSWORD.into(),
            };
            clients.push(LavalinkClient::new(http.clone(), endpoint, TIMEOUT));
            nodes.push((name, control));
        }
        // An alert receiver that is down: alerts pile up in a one-slot outbox.
        let receiver = Receiver::start().await;
        receiver.otherwise("/hook", Some(Reply::status(503, "")));
        let mut sink = fast_sink("ops", SinkKind::Generic, receiver.url("/hook"));
        sink.outbox_capacity = 1;
        sink.backoff_initial_ms = 1_000;
        sink.backoff_max_ms = 1_000;
        let alerts = AlertDispatcher::start(
            http.clone(),
            vec![sink],
            AlertSettings {
                source: "metrics-test".into(),
                clock: AlertClock::new(tokio::time::Instant::now(), 1_700_000_000_000),
                seed: 3,
            },
        )
        .expect("valid sink");
        let mut config = ControllerConfig::default();
        config.health.probe_interval_ms = 100;
        config.health.probe_interval_fast_ms = 50;
        config.health.probe_timeout_ms = 400;
        let core = Controller::new(Millis::ZERO, config, &topology()).expect("valid topology");
        let store = RedisStore::connect(&redis.url(), RedisStoreConfig::default()).expect("url");
        let settings = DriverSettings {
            store_poll_interval: Duration::from_millis(100),
            store_retry_interval: Duration::from_millis(100),
            ..DriverSettings::default()
        };
        let metrics = Metrics::new();
        metrics.watch_alerts(alerts.clone());
        let (driver, handle) = Driver::new(core, clients, store, Some(alerts.clone()), settings);
        tokio::spawn(driver.with_metrics(metrics.clone()).run());
        let state = ApiState::new(handle, ApiToken::new(API_TOKEN), None).with_metrics(metrics);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let api_url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        Self {
            redis,
            nodes,
            alerts,
            receiver,
            http,
            api_url,
        }
    }

    async fn scrape(&self) -> Exposition {
        let url = format!("{}/metrics", self.api_url);
        let response = self
            .http
            .send(HttpRequest::new(Method::Get, url, TIMEOUT))
            .await
            .expect("/metrics answers");
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some(CONTENT_TYPE));
        let text = String::from_utf8(response.body).expect("UTF-8");
        for secret in [PASSWORD, API_TOKEN, "127.0.0.1"] {
            assert!(!text.contains(secret), "{secret} in the metrics");
        }
        parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Scrapes until `check` holds (bounded), and returns that scrape.
    async fn scrape_until(&self, what: &str, check: impl Fn(&Exposition) -> bool) -> Exposition {
        for _ in 0..200 {
            let scraped = self.scrape().await;
            if check(&scraped) {
                return scraped;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}:\n{:#?}", self.scrape().await);
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> u16 {
        let request = HttpRequest::new(Method::Post, format!("{}{path}", self.api_url), TIMEOUT)
            .header("Authorization", format!("Bearer {API_TOKEN}"))
            .json(&body)
            .expect("encodes");
        self.http.send(request).await.expect("api answers").status
    }
}

fn node(name: &'static str) -> [(&'static str, &'static str); 1] {
    [("node", name)]
}

fn all_available(scraped: &Exposition) -> bool {
    ["eu-1", "eu-2", "us-1"]
        .iter()
        .all(|n| scraped.value("switchyard_node_available", &[("node", n)]) == Some(1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_nodes_and_moves_show_in_the_scrape_with_their_types_and_labels() {
    let world = World::start().await;
    let scraped = world.scrape_until("every node up", all_available).await;
    for (name, kind) in [
        ("switchyard_probes", "counter"),
        ("switchyard_probe_failures", "counter"),
        ("switchyard_probe_duration_seconds", "histogram"),
        ("switchyard_moves_attempted", "counter"),
        ("switchyard_moves_succeeded", "counter"),
        ("switchyard_moves_failed", "counter"),
        ("switchyard_failover_duration_seconds", "histogram"),
        ("switchyard_node_status", "gauge"),
        ("switchyard_node_available", "gauge"),
        ("switchyard_node_players", "gauge"),
        ("switchyard_players", "gauge"),
        ("switchyard_degraded_guilds", "gauge"),
        ("switchyard_moves_in_flight", "gauge"),
        ("switchyard_fail_open", "gauge"),
        ("switchyard_store_available", "gauge"),
        ("switchyard_store_owed_writes", "gauge"),
        ("switchyard_store_dropped_writes", "counter"),
        ("switchyard_alerts_sent", "counter"),
        ("switchyard_alerts_failed", "counter"),
        ("switchyard_alerts_dropped", "counter"),
        ("switchyard_alert_outbox_overflow", "counter"),
        ("switchyard_alert_outbox_depth", "gauge"),
        ("switchyard_leader", "gauge"),
        ("switchyard_build", "info"),
    ] {
        let family = scraped
            .family(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(family.kind, kind, "{name}");
    }
    // Available is up or degraded: one probe slower than the warning level on a loaded
    // machine makes a node degraded.
    let status_is = |status| {
        let labels = [("node", "eu-1"), ("region", "eu"), ("status", status)];
        scraped.value("switchyard_node_status", &labels) == Some(1.0)
    };
    assert!(status_is("up") || status_is("degraded"), "{scraped:#?}");
    let statuses = scraped.matching("switchyard_node_status", &node("eu-1"));
    assert_eq!(statuses.len(), 5, "one series per status");
    assert_eq!(statuses.iter().map(|s| s.value).sum::<f64>(), 1.0);
    assert!(scraped.value("switchyard_probes_total", &node("us-1")) >= Some(1.0));
    assert!(scraped.value("switchyard_probe_duration_seconds_count", &node("us-1")) >= Some(1.0));
    assert_eq!(
        scraped.value(
            "switchyard_probe_duration_seconds_bucket",
            &[("node", "us-1"), ("le", "+Inf")]
        ),
        scraped.value("switchyard_probe_duration_seconds_count", &node("us-1")),
    );

    // Four guilds on eu; draining their node moves them, and with no bot snapshots in
    // Redis every move fails: attempts and failures both count, per target node.
    for guild in 1..=4 {
        assert_eq!(
            world
                .post(
                    &format!("/api/bots/players/{guild}"),
                    json!({"plan": "growth", "region": "eu"})
                )
                .await,
            200
        );
    }
    let scraped = world
        .scrape_until("the players counted", |s| {
            s.value("switchyard_players", &[]) == Some(4.0)
        })
        .await;
    let on = |n: &'static str| scraped.value("switchyard_node_players", &node(n)).unwrap();
    assert_eq!(on("eu-1") + on("eu-2"), 4.0);
    let drained = if on("eu-1") > 0.0 { "eu-1" } else { "eu-2" };
    assert_eq!(
        world
            .post(&format!("/api/nodes/{drained}/drain"), json!({}))
            .await,
        202
    );
    let scraped = world
        .scrape_until("failed moves", |s| {
            let attempted: f64 = s
                .matching("switchyard_moves_attempted_total", &[])
                .iter()
                .map(|x| x.value)
                .sum();
            let failed: f64 = s
                .matching("switchyard_moves_failed_total", &[])
                .iter()
                .map(|x| x.value)
                .sum();
            failed >= 1.0 && attempted >= failed
        })
        .await;
    let succeeded: f64 = scraped
        .matching("switchyard_moves_succeeded_total", &[])
        .iter()
        .map(|x| x.value)
        .sum();
    assert_eq!(succeeded, 0.0, "no snapshot, no successful move");
    assert_eq!(
        scraped.value("switchyard_node_available", &node(drained)),
        Some(0.0),
        "a drained node takes no new players"
    );

    // A dead node: its probes fail and its status turns down.
    let killed = "us-1";
    world
        .nodes
        .iter()
        .find(|(n, _)| *n == killed)
        .unwrap()
        .1
        .shutdown();
    let down = [("node", killed), ("status", "down")];
    let scraped = world
        .scrape_until("the killed node down", |s| {
            s.value("switchyard_node_status", &down) == Some(1.0)
        })
        .await;
    assert!(scraped.value("switchyard_probe_failures_total", &node(killed)) >= Some(1.0));
    assert_eq!(
        scraped.value("switchyard_node_available", &node(killed)),
        Some(0.0)
    );

    // The drain's incident ends once its moves are given up: counted by trigger.
    let scraped = world
        .scrape_until("the drain's incident finished", |s| {
            !s.matching("switchyard_failovers_total", &[("trigger", "drain")])
                .is_empty()
        })
        .await;
    every_dashboard_metric_is_exported(&scraped);
}

/// Every `switchyard_*` name in the Grafana dashboard's queries is a series of a real
/// scrape, so no panel stays empty for want of a metric that does not exist.
fn every_dashboard_metric_is_exported(scraped: &Exposition) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/switchyard-dashboard.json"
    );
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard exists"))
            .expect("the dashboard is JSON");
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 20, "{queries:?}");
    let exported = scraped.series_names();
    let mut used = BTreeSet::new();
    for query in &queries {
        for (start, _) in query.match_indices("switchyard_") {
            let name: String = query[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    let missing: Vec<&String> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "dashboard queries unexported {missing:?}"
    );
    assert!(used.len() >= 20, "{used:?}");
}

/// Panel `expr`s and template-variable queries.
fn collect_queries(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("expr" | "definition", Value::String(query)) => into.push(query.clone()),
                    _ => collect_queries(child, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_queries(item, into)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_and_an_overflowing_outbox_are_counted() {
    let mut world = World::start().await;
    world.scrape_until("every node up", all_available).await;
    let scraped = world
        .scrape_until("the store written", |s| {
            s.value("switchyard_store_owed_writes", &[]) == Some(0.0)
        })
        .await;
    assert_eq!(scraped.value("switchyard_store_available", &[]), Some(1.0));

    world.redis.kill();
    // Health keys keep being published; they wait in the writer (the gauge reads 0
    // while a retry has the batch in hand, so one scrape may miss them).
    world
        .scrape_until("the store unavailable, writes owed", |s| {
            s.value("switchyard_store_available", &[]) == Some(0.0)
                && s.value("switchyard_store_owed_writes", &[]) >= Some(1.0)
        })
        .await;
    world.redis.restart();
    world
        .scrape_until("the store back and caught up", |s| {
            s.value("switchyard_store_available", &[]) == Some(1.0)
        })
        .await;

    // The receiver answers 503: one alert in flight, one queued, the rest overflow.
    for node in ["a", "b", "c", "d"] {
        world
            .alerts
            .submit(&node_down(AlertAction::Trigger, node, Severity::Critical));
    }
    world.receiver.wait_for("/hook", 1).await;
    let sink = [("sink", "ops"), ("kind", "generic")];
    // The driver may alert meanwhile (counters only grow): bracket the scrape.
    let before = world.alerts.stats()[0].clone();
    let scraped = world.scrape().await;
    let after = world.alerts.stats()[0].clone();
    assert!(before.overflowed >= 2, "{before:?}");
    let overflow = scraped
        .value("switchyard_alert_outbox_overflow_total", &sink)
        .expect("the sink's overflow counter");
    assert!(
        (before.overflowed as f64..=after.overflowed as f64).contains(&overflow),
        "{overflow} outside {before:?}..{after:?}"
    );
    assert!(scraped.value("switchyard_alerts_dropped_total", &sink) >= Some(overflow));
    assert!(scraped.value("switchyard_alert_outbox_depth", &sink) >= Some(1.0));
    assert_eq!(
        scraped.value("switchyard_alerts_sent_total", &sink),
        Some(0.0)
    );
    assert!(
        scraped
            .value("switchyard_alerts_retried_total", &sink)
            .is_some()
    );
}
