//! Asking the controller where to play, over its HTTP API, with the routing table in the
//! store as the fallback while the controller is unreachable.
//!
//! - `POST /api/bots/players/{guild}` `{"plan", "region", "residency"}` answers 200
//!   `{"node": "eu-1"}` or 200 `{"degraded": {...}}`, or 4xx `{"error": "..."}`.
//! - `DELETE /api/bots/players/{guild}` (204): the guild stopped playing.
//! - `POST /api/bots/spares/{process}` `{"region"}` (204): a hot spare offers itself.
//!
//! A 4xx with an error body (or a 401/403 for the bot token) is the controller's answer
//! and is final. Anything else that
//! is not a success (no connection, a timeout, a 5xx, a standby's refusal) means the
//! controller is away: placement then reads `switchyard:routes`, as the contract says.
//!
//! Several controllers may share the store (one leads, the others stand by). The client
//! is given all their URLs and asks the one that last answered first; a standby's 503
//! names the leader in `Switchyard-Leader`, which is asked next when it is one of the
//! given URLs (a header never sends the bot anywhere it was not configured to go).
//! Each controller is asked at most once per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use switchyard_core::command::DegradedReason;
use switchyard_core::ids::{GuildId, NodeId, PlanId, ProcessId, RegionId};
use thiserror::Error;

use crate::ports::http::{HttpClient, HttpRequest, HttpResponse, Method};
use crate::ports::store::Store;

/// What a guild asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlacementRequest {
    /// Its plan.
    pub plan: PlanId,
    /// The region it asked for, if any.
    pub region: Option<RegionId>,
    /// Its data-residency pin, if any.
    pub residency: Option<RegionId>,
}

/// Where the answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementSource {
    /// The controller decided.
    Controller,
    /// The controller was away; the routing table named the node.
    RoutingTable,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Play on this node.
    Node {
        /// The node.
        node: NodeId,
        /// Who said so.
        source: PlacementSource,
    },
    /// No node can take the guild now.
    Degraded {
        /// The reason, when the controller's answer is one this bot knows.
        reason: Option<DegradedReason>,
        /// The controller's `degraded` value as sent.
        detail: serde_json::Value,
    },
}

/// Why no placement was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlacementError {
    /// The controller refused the request (unknown plan or region, ...).
    #[error("the controller refused with HTTP {status}: {message}")]
    Rejected {
        /// The status.
        status: u16,
        /// Its `error` message.
        message: String,
    },
    /// The controller answered 2xx with something this bot cannot read.
    #[error("unreadable controller answer: {0}")]
    BadResponse(String),
    /// The controller is away and the routing table has no entry for the guild.
    #[error("the controller is unreachable ({controller}) and the routing table has no route")]
    NoRoute {
        /// What went wrong with the controller.
        controller: String,
    },
    /// Neither the controller nor the store answered.
    #[error("the controller ({controller}) and the store ({store}) are unreachable")]
    Unavailable {
        /// What went wrong with the controller.
        controller: String,
        /// What went wrong with the store.
        store: String,
    },
}

/// The header in which a standby names the leader's API URL.
const LEADER_HEADER: &str = "switchyard-leader";

/// The client side of the controller's bot API.
#[derive(Clone)]
pub struct PlacementClient<H, S> {
    http: H,
    store: S,
    /// Every controller's base URL.
    base_urls: Arc<[String]>,
    /// The index of the controller that answered last: asked first.
    preferred: Arc<AtomicUsize>,
    timeout: std::time::Duration,
    /// The API's bot token, sent as `Authorization: Bearer`.
    token: Option<String>,
}

impl<H, S> std::fmt::Debug for PlacementClient<H, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacementClient")
            .field("base_urls", &self.base_urls)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    node: Option<NodeId>,
    #[serde(default)]
    degraded: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
}

#[derive(Serialize)]
struct SpareBody<'a> {
    region: Option<&'a RegionId>,
}

/// What one call to the controller came to.
enum Reply {
    Success(HttpResponse),
    /// The controller's own refusal.
    Refused {
        status: u16,
        message: String,
    },
    /// The controller is away (with what happened).
    Away(String),
}

/// What asking one controller came to.
enum Attempt {
    /// It answered for itself (success or refusal).
    Answered(Reply),
    /// It does not act; it may have named the leader.
    Standby { leader: Option<String> },
    /// No usable answer.
    Away(String),
}

impl<H: HttpClient, S: Store> PlacementClient<H, S> {
    /// A client for the API at `base_url` (`http://controller:8080`), or at each of
    /// several comma-separated URLs (every controller sharing the store), each call
    /// bounded by `timeout`.
    pub fn new(http: H, store: S, base_url: &str, timeout: std::time::Duration) -> Self {
        Self {
            http,
            store,
            base_urls: controller_urls(base_url).into(),
            preferred: Arc::new(AtomicUsize::new(0)),
            timeout,
            token: None,
        }
    }

    /// Presents `token` (the API's bot token) on every call.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// A request for `path`; [`PlacementClient::call`] prefixes each controller's URL.
    fn request(&self, method: Method, path: &str) -> HttpRequest {
        let request = HttpRequest::new(method, path, self.timeout);
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// Where `guild` should play.
    pub async fn place(
        &self,
        guild: GuildId,
        request: &PlacementRequest,
    ) -> Result<Placement, PlacementError> {
        let call = self
            .request(Method::Post, &format!("/api/bots/players/{guild}"))
            .json(request);
        let reply = match call {
            Ok(call) => self.call(call).await,
            Err(error) => return Err(PlacementError::BadResponse(error.to_string())),
        };
        match reply {
            Reply::Success(response) => decode(&response),
            Reply::Refused { status, message } => Err(PlacementError::Rejected { status, message }),
            Reply::Away(controller) => self.routed(guild, controller).await,
        }
    }

    /// Tells the controller `guild` stopped playing. A controller that is away learns
    /// it from the missing snapshot instead, so this is best effort.
    pub async fn release(&self, guild: GuildId) -> Result<(), PlacementError> {
        let path = format!("/api/bots/players/{guild}");
        self.expect_success(self.request(Method::Delete, &path))
            .await
    }

    /// Offers `process` as a hot spare.
    pub async fn register_spare(
        &self,
        process: &ProcessId,
        region: Option<&RegionId>,
    ) -> Result<(), PlacementError> {
        let path = format!("/api/bots/spares/{}", encode_path_segment(process.as_str()));
        let call = self
            .request(Method::Post, &path)
            .json(&SpareBody { region })
            .map_err(|error| PlacementError::BadResponse(error.to_string()))?;
        self.expect_success(call).await
    }

    async fn expect_success(&self, request: HttpRequest) -> Result<(), PlacementError> {
        match self.call(request).await {
            Reply::Success(_) => Ok(()),
            Reply::Refused { status, message } => Err(PlacementError::Rejected { status, message }),
            Reply::Away(controller) => Err(PlacementError::Unavailable {
                controller,
                store: "not consulted".to_owned(),
            }),
        }
    }

    /// Asks the controllers in turn (the last to answer first, then a leader a standby
    /// names, then the rest) until one answers for itself.
    async fn call(&self, request: HttpRequest) -> Reply {
        let count = self.base_urls.len();
        let mut tried = vec![false; count];
        let mut next = Some(self.preferred.load(Ordering::Relaxed) % count.max(1));
        let mut away = Vec::new();
        for _ in 0..count {
            let Some(index) = next
                .filter(|i| !tried[*i])
                .or_else(|| tried.iter().position(|t| !t))
            else {
                break;
            };
            tried[index] = true;
            let base = &self.base_urls[index];
            let attempt = HttpRequest {
                url: format!("{base}{}", request.url),
                ..request.clone()
            };
            match self.call_one(attempt).await {
                Attempt::Answered(reply) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return reply;
                }
                Attempt::Standby { leader } => {
                    away.push(format!("{base}: standing by"));
                    next = leader.and_then(|url| self.index_of(&url));
                }
                Attempt::Away(reason) => {
                    away.push(format!("{base}: {reason}"));
                    next = None;
                }
            }
        }
        Reply::Away(away.join("; "))
    }

    fn index_of(&self, url: &str) -> Option<usize> {
        let url = url.trim().trim_end_matches('/');
        self.base_urls.iter().position(|base| base == url)
    }

    async fn call_one(&self, request: HttpRequest) -> Attempt {
        let response = match self.http.send(request).await {
            Ok(response) => response,
            Err(error) => return Attempt::Away(error.to_string()),
        };
        if response.is_success() {
            return Attempt::Answered(Reply::Success(response));
        }
        let status = response.status;
        if status == 401 || status == 403 {
            // A wrong or missing bot token: the routing table would only hide it.
            return Attempt::Answered(Reply::Refused {
                status,
                message: "the controller refused the bot token".to_owned(),
            });
        }
        if status == 503 {
            let leader = response.header(LEADER_HEADER).map(str::to_owned);
            return Attempt::Standby { leader };
        }
        let refusal = (400..500)
            .contains(&status)
            .then(|| serde_json::from_slice::<ErrorAnswer>(&response.body).ok())
            .flatten();
        match refusal {
            Some(answer) => Attempt::Answered(Reply::Refused {
                status,
                message: answer.error,
            }),
            None => Attempt::Away(format!("HTTP {status}")),
        }
    }

    async fn routed(
        &self,
        guild: GuildId,
        controller: String,
    ) -> Result<Placement, PlacementError> {
        match self.store.route(guild).await {
            Ok(Some(node)) => Ok(Placement::Node {
                node,
                source: PlacementSource::RoutingTable,
            }),
            Ok(None) => Err(PlacementError::NoRoute { controller }),
            Err(error) => Err(PlacementError::Unavailable {
                controller,
                store: error.to_string(),
            }),
        }
    }
}

fn decode(response: &HttpResponse) -> Result<Placement, PlacementError> {
    let answer: Answer = serde_json::from_slice(&response.body)
        .map_err(|error| PlacementError::BadResponse(error.to_string()))?;
    match (answer.node, answer.degraded) {
        (Some(node), None) => Ok(Placement::Node {
            node,
            source: PlacementSource::Controller,
        }),
        (None, Some(detail)) => Ok(Placement::Degraded {
            reason: serde_json::from_value(detail.clone()).ok(),
            detail,
        }),
        _ => Err(PlacementError::BadResponse(
            "expected exactly one of node and degraded".to_owned(),
        )),
    }
}

/// The controllers' base URLs in a `controller_url` setting: one, or several separated
/// by commas; without trailing slashes.
pub(crate) fn controller_urls(setting: &str) -> Vec<String> {
    setting
        .split(',')
        .map(|url| url.trim().trim_end_matches('/'))
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn decodes_a_node_or_a_known_degradation() {
        assert_eq!(
            decode(&response(200, r#"{"node":"eu-1"}"#)),
            Ok(Placement::Node {
                node: NodeId::new("eu-1"),
                source: PlacementSource::Controller
            })
        );
        let degraded = decode(&response(
            200,
            r#"{"degraded":{"kind":"residency_pinned","region":"eu"}}"#,
        ));
        assert!(matches!(
            degraded,
            Ok(Placement::Degraded {
                reason: Some(DegradedReason::ResidencyPinned { .. }),
                ..
            })
        ));
        let unknown = decode(&response(200, r#"{"degraded":"residency_pinned"}"#));
        assert!(matches!(
            unknown,
            Ok(Placement::Degraded { reason: None, .. })
        ));
        assert!(decode(&response(200, "{}")).is_err());
    }

    /// Answers as three controllers would: `a` stands by naming `leader`, `c` leads, `b`
    /// is unreachable. Records every URL asked.
    #[derive(Clone)]
    struct Controllers {
        leader: &'static str,
        asked: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl crate::ports::http::HttpClient for Controllers {
        async fn send(
            &self,
            request: HttpRequest,
        ) -> Result<HttpResponse, crate::ports::http::HttpError> {
            self.asked.lock().unwrap().push(request.url.clone());
            if request.url.starts_with("http://a:1/") {
                let mut refusal = response(503, r#"{"error":"standby"}"#);
                refusal
                    .headers
                    .push((LEADER_HEADER.to_owned(), self.leader.to_owned()));
                Ok(refusal)
            } else if request.url.starts_with("http://c:1/") {
                Ok(response(200, r#"{"node":"eu-1"}"#))
            } else {
                Err(crate::ports::http::HttpError::Connect("refused".into()))
            }
        }
    }

    fn client(
        leader: &'static str,
    ) -> (
        PlacementClient<Controllers, crate::adapters::ProductionRedisStore>,
        Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let http = Controllers {
            leader,
            asked: asked.clone(),
        };
        // Never dialed: every call here is answered by a controller.
        let store = crate::adapters::ProductionRedisStore::connect(
            "redis://127.0.0.1:1/0",
            crate::adapters::RedisStoreConfig::default(),
        )
        .unwrap();
        let urls = "http://a:1,http://b:1,http://c:1";
        (
            PlacementClient::new(http, store, urls, std::time::Duration::from_secs(1)),
            asked,
        )
    }

    fn request() -> PlacementRequest {
        PlacementRequest {
            plan: PlanId::new("growth"),
            region: None,
            residency: None,
        }
    }

    #[tokio::test]
    async fn a_standby_s_leader_header_is_followed_and_remembered() {
        let (client, asked) = client("http://c:1/");
        let placed = client.place(GuildId(1), &request()).await;
        assert!(matches!(placed, Ok(Placement::Node { .. })), "{placed:?}");
        assert_eq!(
            *asked.lock().unwrap(),
            [
                "http://a:1/api/bots/players/1",
                "http://c:1/api/bots/players/1"
            ],
            "b is skipped: the standby named c"
        );
        asked.lock().unwrap().clear();
        client.place(GuildId(2), &request()).await.unwrap();
        assert_eq!(*asked.lock().unwrap(), ["http://c:1/api/bots/players/2"]);
    }

    #[tokio::test]
    async fn a_header_naming_an_unlisted_url_is_not_followed() {
        let (client, asked) = client("http://elsewhere:1");
        client.place(GuildId(1), &request()).await.unwrap();
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 3, "{asked:?}");
        assert!(asked.iter().all(|url| !url.contains("elsewhere")));
    }

    #[test]
    fn several_controllers_are_listed_with_commas() {
        assert_eq!(
            controller_urls(" http://a:8080/, http://b:8080 ,"),
            ["http://a:8080", "http://b:8080"]
        );
        assert_eq!(controller_urls("http://a:8080"), ["http://a:8080"]);
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(encode_path_segment("bot-1"), "bot-1");
        assert_eq!(encode_path_segment("a/b c"), "a%2Fb%20c");
    }
}
