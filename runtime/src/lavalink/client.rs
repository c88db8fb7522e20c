//! A Lavalink v4 REST client: probes and player moves.
//!
//! The password travels only in the `Authorization` header; it never appears in a URL,
//! an error or a `Debug` print.

use std::fmt;
use std::time::Duration;

use switchyard_core::health::ProbeFailure;
use switchyard_core::ids::{GuildId, NodeId};
use thiserror::Error;

use super::wire::{ErrorBody, Player, PlayerUpdate, Stats};
use crate::ports::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method};

/// Where a node is and how to authenticate.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// Its name.
    pub name: NodeId,
    /// Base URL, e.g. `http://127.0.0.1:2333` (no trailing slash).
    pub base_url: String,
    /// The node's password.
    pub password: String,
}

impl fmt::Debug for NodeEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeEndpoint")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What a successful probe learned.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// Round trip of `GET /version`.
    pub latency_ms: u64,
    /// The version the node reported.
    pub version: String,
    /// `GET /v4/stats`.
    pub stats: Stats,
}

/// Why a Lavalink call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LavalinkError {
    /// The HTTP exchange failed.
    #[error("{node}: {source}")]
    Http {
        /// The node.
        node: NodeId,
        /// The transport error.
        source: HttpError,
    },
    /// The node answered with an error status.
    #[error("{node}: HTTP {status} on {path}: {message}")]
    Status {
        /// The node.
        node: NodeId,
        /// The status.
        status: u16,
        /// The request path.
        path: String,
        /// The v4 error message, or the body's start.
        message: String,
    },
    /// The node answered something that is not a v4 response.
    #[error("{node}: unexpected response to {path}: {reason}")]
    BadResponse {
        /// The node.
        node: NodeId,
        /// The request path.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

impl LavalinkError {
    /// The core's classification of this error as a probe failure.
    pub fn as_probe_failure(&self) -> ProbeFailure {
        match self {
            LavalinkError::Http {
                source: HttpError::Timeout,
                ..
            } => ProbeFailure::Timeout,
            LavalinkError::Http { .. } => ProbeFailure::ConnectionFailed,
            LavalinkError::Status { status, .. } => ProbeFailure::HttpStatus(*status),
            LavalinkError::BadResponse { .. } => ProbeFailure::BadResponse,
        }
    }
}

/// A REST client for one node.
#[derive(Clone)]
pub struct LavalinkClient<H> {
    http: H,
    endpoint: NodeEndpoint,
    timeout: Duration,
}

impl<H: fmt::Debug> fmt::Debug for LavalinkClient<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LavalinkClient")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl<H: HttpClient> LavalinkClient<H> {
    /// A client whose every request must finish within `timeout`.
    pub fn new(http: H, endpoint: NodeEndpoint, timeout: Duration) -> Self {
        Self {
            http,
            endpoint,
            timeout,
        }
    }

    /// A client for another node, over the same transport and with the same timeout.
    pub fn for_node(&self, endpoint: NodeEndpoint) -> Self {
        Self::new(self.http.clone(), endpoint, self.timeout)
    }

    /// The node this client talks to.
    pub fn endpoint(&self) -> &NodeEndpoint {
        &self.endpoint
    }

    fn request(&self, method: Method, path: &str) -> HttpRequest {
        HttpRequest::new(
            method,
            format!("{}{path}", self.endpoint.base_url),
            self.timeout,
        )
        .header("Authorization", self.endpoint.password.clone())
        .header(
            "Client-Name",
            concat!("switchyard/", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn exchange(
        &self,
        request: HttpRequest,
        path: &str,
    ) -> Result<HttpResponse, LavalinkError> {
        let response = self
            .http
            .send(request)
            .await
            .map_err(|source| LavalinkError::Http {
                node: self.endpoint.name.clone(),
                source,
            })?;
        if response.is_success() {
            return Ok(response);
        }
        let message = serde_json::from_slice::<ErrorBody>(&response.body)
            .map(|body| body.message)
            .unwrap_or_else(|_| {
                String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(200)
                    .collect()
            });
        Err(LavalinkError::Status {
            node: self.endpoint.name.clone(),
            status: response.status,
            path: path.to_owned(),
            message,
        })
    }

    fn bad(&self, path: &str, reason: impl Into<String>) -> LavalinkError {
        LavalinkError::BadResponse {
            node: self.endpoint.name.clone(),
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    /// `GET /version`, then `GET /v4/stats`. The latency is the first round trip, timed
    /// with tokio's clock (simulated time under turmoil).
    pub async fn probe(&self) -> Result<ProbeReport, LavalinkError> {
        let started = tokio::time::Instant::now();
        let response = self
            .exchange(self.request(Method::Get, "/version"), "/version")
            .await?;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let version = String::from_utf8(response.body)
            .map_err(|_| self.bad("/version", "not UTF-8"))?
            .trim()
            .to_owned();
        if !version.starts_with('4') {
            return Err(self.bad(
                "/version",
                format!("expected a 4.x version, got {version:?}"),
            ));
        }
        if response
            .headers
            .iter()
            .all(|(n, _)| !n.eq_ignore_ascii_case("lavalink-api-version"))
        {
            // Every v4 response carries it; a proxy or another service answered.
            return Err(self.bad("/version", "missing Lavalink-Api-Version header"));
        }
        let response = self
            .exchange(self.request(Method::Get, "/v4/stats"), "/v4/stats")
            .await?;
        let stats = serde_json::from_slice(&response.body)
            .map_err(|e| self.bad("/v4/stats", e.to_string()))?;
        Ok(ProbeReport {
            latency_ms,
            version,
            stats,
        })
    }

    /// Creates or replaces a guild's player in a session (`noReplace=false`).
    pub async fn update_player(
        &self,
        session_id: &str,
        guild: GuildId,
        update: &PlayerUpdate,
    ) -> Result<(), LavalinkError> {
        let path = format!("/v4/sessions/{session_id}/players/{guild}");
        let request = self
            .request(Method::Patch, &format!("{path}?noReplace=false"))
            .json(update)
            .map_err(|source| LavalinkError::Http {
                node: self.endpoint.name.clone(),
                source,
            })?;
        self.exchange(request, &path).await.map(|_| ())
    }

    /// Destroys a guild's player; a player already gone counts as done.
    pub async fn delete_player(
        &self,
        session_id: &str,
        guild: GuildId,
    ) -> Result<(), LavalinkError> {
        let path = format!("/v4/sessions/{session_id}/players/{guild}");
        match self
            .exchange(self.request(Method::Delete, &path), &path)
            .await
        {
            Err(LavalinkError::Status { status: 404, .. }) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Every player of a session.
    pub async fn players(&self, session_id: &str) -> Result<Vec<Player>, LavalinkError> {
        let path = format!("/v4/sessions/{session_id}/players");
        let response = self
            .exchange(self.request(Method::Get, &path), &path)
            .await?;
        serde_json::from_slice(&response.body).map_err(|e| self.bad(&path, e.to_string()))
    }
}
