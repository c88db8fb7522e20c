//! HTTP/1.1 over turmoil: hyper-util's pooled client dialling simulated `TcpStream`s, as
//! turmoil's axum example does.
//!
//! Connections are kept alive and reused, as the daemon's reqwest client does in
//! production: a probe or a REST call to a node reuses the connection of the last one.
//! A connection the peer closed (a killed node's sockets are gone) is dropped from the
//! pool, and a request that could not be written on a reused connection is retried on a
//! new one, as in production. Unlike reqwest, idle connections are not closed after 90 s:
//! hyper-util's idle reaper walks a randomly ordered map, so two connections expiring in
//! one sweep would close in a different order each run, and the simulation must be
//! deterministic. An idle connection is checked when it is next taken instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchyard_runtime::ports::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

type Dial = tower::util::BoxCloneSyncService<Uri, TokioIo<SimStream>, io::Error>;

/// The driver's HTTP port over turmoil's network. Clones share one pool; make one per
/// simulated host, inside the host (its connections belong to that host's runtime).
#[derive(Debug, Clone)]
pub struct TurmoilHttpClient {
    client: Client<Dial, Full<Bytes>>,
}

impl Default for TurmoilHttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl TurmoilHttpClient {
    /// A client with an empty pool.
    pub fn new() -> Self {
        let dial = tower::service_fn(|uri: Uri| async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL without a host"))?;
            let port = uri.port_u16().unwrap_or(80);
            let stream = turmoil::net::TcpStream::connect((host, port)).await?;
            Ok(TokioIo::new(SimStream(stream)))
        });
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(None)
            .build(tower::util::BoxCloneSyncService::new(dial));
        Self { client }
    }
}

impl HttpClient for TurmoilHttpClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let timeout = request.timeout;
        tokio::time::timeout(timeout, self.exchange(request))
            .await
            .map_err(|_| HttpError::Timeout)?
    }
}

impl TurmoilHttpClient {
    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut builder = Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let body = builder
            .body(Full::new(Bytes::from(request.body)))
            .map_err(|e| HttpError::Encode(e.to_string()))?;
        let response = self
            .client
            .request(body)
            .await
            .map_err(|e| HttpError::Connect(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| HttpError::Connect(e.to_string()))?
            .to_bytes()
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// A simulated TCP stream the pool can hold (hyper-util asks its connections to
/// describe themselves; there is nothing to say beyond a plain connection).
#[derive(Debug)]
struct SimStream(turmoil::net::TcpStream);

impl Connection for SimStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
