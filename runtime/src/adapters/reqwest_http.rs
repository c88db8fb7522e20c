//! The production [`HttpClient`]: reqwest with rustls.
//!
//! Redirects are not followed: the simulation's hyper client does not follow them
//! either, and a webhook URL carries its token, which must not be replayed to wherever
//! a redirect points. Error messages never contain the URL, for the same reason.

use std::error::Error as _;

use thiserror::Error;

use crate::ports::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method};

/// The HTTP client could not be built (for example, no TLS roots).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("could not build the HTTP client: {0}")]
pub struct ClientBuildError(String);

/// [`HttpClient`] over one shared reqwest connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    /// A client with its own pool and no redirects.
    pub fn new() -> Result<Self, ClientBuildError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientBuildError(describe(e)))?;
        Ok(Self { client })
    }

    /// Wraps a client built elsewhere (its settings are kept as they are).
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl HttpClient for ReqwestHttpClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let timeout = request.timeout;
        let exchange = async {
            let mut builder = self
                .client
                .request(method(request.method), request.url.as_str())
                .timeout(timeout)
                .body(request.body);
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let response = builder.send().await.map_err(http_error)?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(name, value)| {
                    // A header that is not text is of no use to the driver.
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect();
            let body = response.bytes().await.map_err(http_error)?.to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        };
        // reqwest applies the timeout to the whole exchange already; this bound also
        // covers anything it might not (and is a tokio timer, so it follows the clock).
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(HttpError::Timeout))
    }
}

fn method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn http_error(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::Timeout
    } else if error.is_builder() {
        HttpError::Encode(describe(error))
    } else {
        // Refused, reset, TLS failure, closed mid-body: all say "the exchange broke".
        HttpError::Connect(describe(error))
    }
}

/// The error and its causes on one line, without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    // Bounded: cause chains are a handful deep; stop at 8 in case one loops.
    for _ in 0..8 {
        let Some(cause) = source else { break };
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
