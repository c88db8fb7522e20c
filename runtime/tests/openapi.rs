//! `docs/openapi.yaml` against the API it describes: it parses as YAML, lists exactly
//! the router's routes, puts the bearer token on the operator routes, and every answer
//! of a running controller (status, placement, operator actions with no, wrong and
//! right tokens) has a documented status code and a body its schema accepts.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value, json};
use switchyard_core::Controller;
use switchyard_core::config::ControllerConfig;
use switchyard_core::time::Millis;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};
use switchyard_runtime::adapters::redis_store::{RedisStore, RedisStoreConfig};
use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
use switchyard_runtime::api::{ApiState, ApiToken, route_list, router};
use switchyard_runtime::driver::{Driver, DriverSettings};
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use switchyard_runtime::metrics::Metrics;
use switchyard_runtime::ports::http::{HttpClient, HttpRequest, HttpResponse, Method};
use switchyard_tests::redis_server::RedisServer;
use tokio::net::TcpListener;
use yaml_rust2::{Yaml, YamlLoader};

const TOKEN: &str = "operator-token";
const TIMEOUT: Duration = Duration::from_secs(2);

/// The document as JSON, for easy walking.
fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("docs/openapi.yaml exists");
    let docs = YamlLoader::load_from_str(&text).expect("docs/openapi.yaml is valid YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    to_json(&docs[0])
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => panic!("unexpected key {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => json!(r.parse::<f64>().expect("a YAML real")),
        Yaml::Boolean(b) => json!(b),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local references only");
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference}")),
            )
        }
        None => node,
    }
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

fn operator_route(path: &str) -> bool {
    path.starts_with("/api/failover/")
        || path.starts_with("/api/nodes/")
        || path == "/api/control-panel/lavalink/reconcile"
}

#[test]
fn the_document_lists_exactly_the_router_s_routes() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let served: BTreeSet<(String, String)> = route_list()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path.to_owned()))
        .collect();
    let documented = operations(&doc);
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
    assert!(served.contains(&("GET".into(), "/metrics".into())));
}

#[test]
fn operator_routes_require_the_bearer_token_and_say_401_and_403() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["operatorToken"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][&path][method.to_lowercase()];
        let security = operation.get("security").unwrap_or(&doc["security"]);
        let needs_operator = security
            .as_array()
            .expect("a security list")
            .iter()
            .any(|s| s.get("operatorToken").is_some());
        assert_eq!(needs_operator, operator_route(&path), "{method} {path}");
        let responses = &operation["responses"];
        if needs_operator || path.starts_with("/api/bots/") {
            for code in ["401", "403"] {
                assert!(
                    responses.get(code).is_some(),
                    "{method} {path} lacks {code}"
                );
            }
        }
    }
}

/// Checks `value` against the subset of JSON Schema the document uses.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let matched = choices
            .iter()
            .filter(|c| check(doc, c, value, at).is_ok())
            .count();
        return (matched == 1)
            .then_some(())
            .ok_or_else(|| format!("{at}: {matched} oneOf branches match {value}"));
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type in the schema")),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let widened = actual == "integer" && allowed.contains(&"number");
        if !(allowed.contains(&actual) || widened) {
            return Err(format!("{at}: {actual} is not {allowed:?}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} not in {options:?}"));
    }
    if let (Some(minimum), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < minimum
    {
        return Err(format!("{at}: {n} below {minimum}"));
    }
    if let Value::Object(object) = value {
        check_object(doc, schema, object, at)?;
    }
    if let (Some(items), Value::Array(values)) = (schema.get("items"), value) {
        for (i, item) in values.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn check_object(
    doc: &Value,
    schema: &Value,
    object: &Map<String, Value>,
    at: &str,
) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = required.as_str().expect("names");
        if !object.contains_key(name) {
            return Err(format!("{at}: missing {name}"));
        }
    }
    for (name, value) in object {
        match properties.and_then(|p| p.get(name)) {
            Some(property) => check(doc, property, value, &format!("{at}.{name}"))?,
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                return Err(format!("{at}: undocumented field {name}"));
            }
            None => {}
        }
    }
    Ok(())
}

struct Api {
    _redis: RedisServer,
    http: ReqwestHttpClient,
    url: String,
    doc: Value,
    seen: BTreeSet<(String, String, u16)>,
}

impl Api {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let http = ReqwestHttpClient::new().expect("client");
        // Nodes nobody listens on: probes fail, nodes go down, alerts and incidents follow.
        let mut clients = Vec::new();
        for name in ["eu-1", "eu-2"] {
            let port = TcpListener::bind(("127.0.0.1", 0))
                .await
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let endpoint = NodeEndpoint {
                name: name.into(),
                base_url: format!("http://127.0.0.1:{port}"),
                password: "pw".into(),
            };
            clients.push(LavalinkClient::new(http.clone(), endpoint, TIMEOUT));
        }
        let node = |name: &str| NodeSpec {
            name: name.into(),
            region: "eu".into(),
            priority: 0,
            weight: 1,
            capacity: 10,
            maintenance: false,
        };
        let topology = TopologySpec {
            regions: vec![RegionSpec {
                name: "eu".into(),
                priority: 1,
            }],
            nodes: vec![node("eu-1"), node("eu-2")],
            plans: vec![PlanSpec {
                name: "growth".into(),
                regions: vec!["eu".into()],
                default_region: None,
            }],
            shard_count: 2,
        };
        let mut config = ControllerConfig::default();
        config.health.probe_interval_ms = 100;
        config.health.probe_interval_fast_ms = 50;
        config.health.probe_timeout_ms = 200;
        let core = Controller::new(Millis::ZERO, config, &topology).expect("topology");
        let store = RedisStore::connect(&redis.url(), RedisStoreConfig::default()).expect("url");
        let metrics = Metrics::new();
        let (driver, handle) = Driver::new(core, clients, store, None, DriverSettings::default());
        tokio::spawn(driver.with_metrics(metrics.clone()).run());
        let state = ApiState::new(handle, ApiToken::new(TOKEN), None).with_metrics(metrics);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        Self {
            _redis: redis,
            http,
            url,
            doc: document(),
            seen: BTreeSet::new(),
        }
    }

    /// Sends a request and holds the answer to the documented operation `route`.
    async fn call(
        &mut self,
        method: Method,
        route: &str,
        path: &str,
        request: impl FnOnce(HttpRequest) -> HttpRequest,
    ) -> HttpResponse {
        let response = self
            .http
            .send(request(HttpRequest::new(
                method,
                format!("{}{path}", self.url),
                TIMEOUT,
            )))
            .await
            .expect("the API answers");
        let name = method.as_str().to_lowercase();
        let operation = &self.doc["paths"][route][&name];
        assert!(operation.is_object(), "{name} {route} undocumented");
        let code = response.status.to_string();
        let documented = resolve(&self.doc, &operation["responses"][&code]);
        assert!(
            documented.is_object(),
            "{name} {path} answered {code}, undocumented"
        );
        let content_type = response.header("content-type").unwrap_or_default();
        if let Some(content) = documented.get("content").and_then(Value::as_object) {
            let media = content
                .iter()
                .find(|(media, _)| content_type.starts_with(media.split(';').next().unwrap()))
                .unwrap_or_else(|| panic!("{name} {path} {code}: {content_type} undocumented"));
            if media.0 == "application/json" {
                let body: Value = serde_json::from_slice(&response.body).expect("JSON body");
                check(
                    &self.doc,
                    &media.1["schema"],
                    &body,
                    &format!("{name} {path} {code}"),
                )
                .unwrap_or_else(|e| panic!("{e}\n{body:#}"));
            }
        } else {
            assert!(
                response.body.is_empty(),
                "{name} {path} {code}: undocumented body"
            );
        }
        self.seen.insert((name, route.to_owned(), response.status));
        response
    }
}

fn json_body(body: Value) -> impl FnOnce(HttpRequest) -> HttpRequest {
    move |r| r.json(&body).expect("encodes")
}

fn bearer(token: &str) -> impl FnOnce(HttpRequest) -> HttpRequest {
    let value = format!("Bearer {token}");
    move |r| r.header("Authorization", value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_has_a_documented_status_and_a_body_its_schema_accepts() {
    let mut api = Api::start().await;
    for route in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/control-panel/lavalink/nodes",
        "/api/status",
    ] {
        api.call(Method::Get, route, route, |r| r).await;
    }
    let placed = api
        .call(
            Method::Post,
            "/api/bots/players/{guild}",
            "/api/bots/players/1",
            json_body(json!({"plan": "growth", "region": "eu"})),
        )
        .await;
    assert_eq!(placed.status, 200);
    for body in [
        json!({"plan": "nope"}),
        json!({"plan": "growth", "extra": 1}),
    ] {
        let refused = api
            .call(
                Method::Post,
                "/api/bots/players/{guild}",
                "/api/bots/players/2",
                json_body(body),
            )
            .await;
        assert_eq!(refused.status, 422);
    }
    let not_json = api
        .call(
            Method::Post,
            "/api/bots/players/{guild}",
            "/api/bots/players/2",
            |r| r,
        )
        .await;
    assert!(matches!(not_json.status, 400 | 415), "{}", not_json.status);
    api.call(
        Method::Post,
        "/api/bots/spares/{process}",
        "/api/bots/spares/spare-1",
        |r| r,
    )
    .await;
    api.call(
        Method::Post,
        "/api/bots/spares/{process}",
        "/api/bots/spares/spare-2",
        json_body(json!({"region": "eu"})),
    )
    .await;

    // Operator routes: no token, a wrong one, the right one.
    let actions = [
        ("/api/nodes/{name}/drain", "/api/nodes/eu-1/drain"),
        (
            "/api/nodes/{name}/maintenance",
            "/api/nodes/eu-2/maintenance",
        ),
        ("/api/nodes/{name}/enable", "/api/nodes/eu-2/enable"),
        ("/api/failover/{region}", "/api/failover/eu"),
        ("/api/failover/{region}/restore", "/api/failover/eu/restore"),
        (
            "/api/control-panel/lavalink/reconcile",
            "/api/control-panel/lavalink/reconcile",
        ),
    ];
    for (route, path) in actions {
        assert_eq!(
            api.call(Method::Post, route, path, |r| r).await.status,
            401,
            "{path}"
        );
        assert_eq!(
            api.call(Method::Post, route, path, bearer("wrong"))
                .await
                .status,
            403,
            "{path}"
        );
        let done = api.call(Method::Post, route, path, bearer(TOKEN)).await;
        assert!(matches!(done.status, 202 | 422), "{path}: {}", done.status);
    }
    let unknown = api
        .call(
            Method::Post,
            "/api/nodes/{name}/drain",
            "/api/nodes/nope/drain",
            bearer(TOKEN),
        )
        .await;
    assert_eq!(unknown.status, 404);

    // The unreachable nodes go down: alerts and incidents to describe.
    for _ in 0..100 {
        let alerts = api
            .call(Method::Get, "/api/alerts", "/api/alerts", |r| r)
            .await;
        let history = api
            .call(
                Method::Get,
                "/api/failover-history",
                "/api/failover-history",
                |r| r,
            )
            .await;
        let count = |r: &HttpResponse, key: &str| {
            serde_json::from_slice::<Value>(&r.body).unwrap()[key]
                .as_array()
                .map_or(0, Vec::len)
        };
        if count(&alerts, "alerts") > 0 && count(&history, "failovers") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.call(Method::Get, "/api/status", "/api/status", |r| r)
        .await;
    api.call(
        Method::Delete,
        "/api/bots/players/{guild}",
        "/api/bots/players/1",
        |r| r,
    )
    .await;

    let exercised: BTreeSet<(String, String)> = api
        .seen
        .iter()
        .map(|(m, r, _)| (m.to_uppercase(), r.clone()))
        .collect();
    assert_eq!(
        exercised,
        operations(&api.doc),
        "every documented route was called"
    );
}
