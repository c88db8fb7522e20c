//! HTTP/1.1 over turmoil: hyper's client connection on a simulated `TcpStream`, as
//! turmoil's axum example does. One connection per request keeps failure modes simple
//! (a killed host fails the next request, not a pooled connection later).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use switchyard_runtime::ports::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

/// The driver's HTTP port over turmoil's network.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilHttpClient;

impl HttpClient for TurmoilHttpClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let timeout = request.timeout;
        tokio::time::timeout(timeout, exchange(request))
            .await
            .map_err(|_| HttpError::Timeout)?
    }
}

async fn exchange(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let uri: hyper::Uri = request
        .url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| HttpError::Encode(e.to_string()))?;
    let host = uri
        .host()
        .ok_or_else(|| HttpError::Encode("URL without a host".into()))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = turmoil::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        // The exchange below reports failures; the connection task's own end is moot.
        let _ = connection.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = Request::builder()
        .method(request.method.as_str())
        .uri(path)
        .header("Host", format!("{host}:{port}"));
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let body = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| HttpError::Encode(e.to_string()))?;
    let response = sender
        .send_request(body)
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
