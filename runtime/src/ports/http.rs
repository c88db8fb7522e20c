//! A minimal HTTP client port.
//!
//! reqwest cannot dial through turmoil's simulated network, so the driver talks HTTP
//! through this trait: production implements it with reqwest, the simulation with hyper
//! over turmoil's `TcpStream`. Requests carry their own timeout so the shared code decides
//! timeouts, not the adapter.

use std::future::Future;
use std::time::Duration;

use thiserror::Error;

/// An HTTP method the driver uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// Absolute URL (`http://127.0.0.1:2333/v4/stats`).
    pub url: String,
    /// Header names and values, sent in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
    /// The whole exchange must finish within this long.
    pub timeout: Duration,
}

impl HttpRequest {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(mut self, body: &impl serde::Serialize) -> Result<Self, HttpError> {
        self.body = serde_json::to_vec(body).map_err(|e| HttpError::Encode(e.to_string()))?;
        Ok(self.header("Content-Type", "application/json"))
    }
}

/// One response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why an exchange produced no response.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HttpError {
    /// No complete response within the request's timeout.
    #[error("timed out")]
    Timeout,
    /// The connection could not be made or broke (refused, reset, closed early).
    #[error("connection failed: {0}")]
    Connect(String),
    /// The URL or request could not be formed.
    #[error("invalid request: {0}")]
    Encode(String),
}

/// Sends HTTP requests. Implementations must be cheap to clone and share one pool.
pub trait HttpClient: Clone + Send + Sync + 'static {
    /// Performs one exchange, honouring `request.timeout`.
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + Send;
}
