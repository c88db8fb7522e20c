//! Helpers shared by the emulator conformance tests: a node on a loopback port, a
//! minimal HTTP/1.1 client and websocket helpers. The client is generic over the
//! connection so the turmoil tests use the same code over simulated TCP.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use switchyard_sim::emulator::{Emulator, EmulatorConfig, EmulatorControl};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

pub const PASSWORD: &str = "youshallnotpass";
pub const USER_ID: &str = "170939974227541168";
/// How long a loopback test waits for something that should happen promptly.
pub const PROMPT: Duration = Duration::from_secs(5);

/// An HTTP response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "status {} body is not JSON ({error}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Sends one request over `io` (one connection per request keeps tests independent).
pub async fn request_on<IO>(
    io: IO,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let mut request = Request::builder().method(method).uri(path);
    request = request.header("Host", "node");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if !body.is_empty() {
        request = request.header("Content-Type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .expect("test requests are well formed");
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// A websocket client on any connection.
pub struct Ws<IO> {
    pub stream: WebSocketStream<IO>,
    pub response_headers: HeaderMap,
}

/// Opens `/v4/websocket` with the standard headers plus `extra`.
pub async fn ws_on<IO>(
    io: IO,
    host: &str,
    extra: &[(&str, &str)],
) -> Result<Ws<IO>, tokio_tungstenite::tungstenite::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!("ws://{host}/v4/websocket")
        .into_client_request()
        .expect("a valid websocket URL");
    let headers = request.headers_mut();
    for (name, value) in [
        ("Authorization", PASSWORD),
        ("User-Id", USER_ID),
        ("Client-Name", "switchyard-tests/0.1"),
    ]
    .iter()
    .chain(extra)
    {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(value).expect("ASCII header"),
        );
    }
    let (stream, response) = tokio_tungstenite::client_async(request, io).await?;
    Ok(Ws {
        stream,
        response_headers: response.headers().clone(),
    })
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Ws<IO> {
    /// The next text message as JSON; `None` once the socket closed.
    pub async fn next_json(&mut self) -> Option<Value> {
        loop {
            match self.stream.next().await? {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(&text).expect("the node sends JSON text"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next message, which must be the given op.
    pub async fn expect_op(&mut self, op: &str) -> Value {
        let message = self
            .next_json()
            .await
            .unwrap_or_else(|| panic!("socket closed while waiting for {op}"));
        assert_eq!(message["op"], op, "expected op {op}, got {message}");
        message
    }

    /// Skips messages until one matches.
    pub async fn until(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..1000 {
            let message = self.next_json().await.expect("socket closed while waiting");
            if matches(&message) {
                return message;
            }
        }
        panic!("no matching message in 1000");
    }

    /// Reads until the socket closes, returning the close code if there was a frame.
    pub async fn close_code(&mut self) -> Option<u16> {
        for _ in 0..1000 {
            match self.stream.next().await {
                Some(Ok(Message::Close(frame))) => {
                    // Polling on sends the closing handshake's reply, as a real client does.
                    while let Some(Ok(_)) = self.stream.next().await {}
                    return frame.map(|frame| frame.code.into());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
        panic!("socket kept talking instead of closing");
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("the socket is open");
    }
}

/// A voice body with all four fields.
pub fn voice() -> Value {
    json!({
        "token": "voice-token",
        "endpoint": "c-fra01-1234abcd.discord.media",
        "sessionId": "discord-voice-session",
        "channelId": "1234567890"
    })
}

/// An emulator serving on a loopback port picked by the OS.
pub struct Node {
    pub addr: SocketAddr,
    pub control: EmulatorControl,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Node {
    pub async fn start(config: EmulatorConfig) -> Node {
        let (emulator, control) = Emulator::new(config).expect("valid test config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let server = tokio::spawn(async move { emulator.serve(listener).await });
        Node {
            addr,
            control,
            server,
        }
    }

    pub async fn default() -> Node {
        Node::start(EmulatorConfig::default()).await
    }

    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr)
            .await
            .expect("the node accepts connections")
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let io = self.connect().await;
        tokio::time::timeout(PROMPT, request_on(io, method, path, headers, body))
            .await
            .expect("the node answers promptly")
            .expect("the node speaks HTTP")
    }

    /// An authorized request with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let body = body
            .map(|value| value.to_string().into_bytes())
            .unwrap_or_default();
        self.raw(method, path, &[("Authorization", PASSWORD)], body)
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn ws(&self, extra: &[(&str, &str)]) -> Ws<TcpStream> {
        let io = self.connect().await;
        tokio::time::timeout(PROMPT, ws_on(io, &self.addr.to_string(), extra))
            .await
            .expect("the handshake completes promptly")
            .expect("the handshake succeeds")
    }

    /// Opens a session and returns its socket (after `ready` and `stats`) and id.
    pub async fn session(&self) -> (Ws<TcpStream>, String) {
        let mut ws = self.ws(&[]).await;
        let ready = ws.expect_op("ready").await;
        ws.expect_op("stats").await;
        let id = ready["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        (ws, id)
    }

    /// Loads one track and returns its `encoded` string.
    pub async fn encoded(&self, identifier: &str) -> String {
        let reply = self
            .get(&format!(
                "/v4/loadtracks?identifier={}",
                urlencode(identifier)
            ))
            .await;
        let body = reply.json();
        assert_eq!(body["loadType"], "track", "{body}");
        body["data"]["encoded"]
            .as_str()
            .expect("a track has an encoded string")
            .to_owned()
    }
}

/// Percent-encodes a query value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Asserts a JSON object has exactly these keys with values of these kinds.
pub fn assert_shape(value: &Value, fields: &[(&str, Kind)]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {value}"));
    let mut expected: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    let mut actual: Vec<&str> = object.keys().map(String::as_str).collect();
    expected.sort_unstable();
    actual.sort_unstable();
    assert_eq!(actual, expected, "keys of {value}");
    for (name, kind) in fields {
        assert!(
            kind.matches(&object[*name]),
            "{name} should be {kind:?} in {value}"
        );
    }
}

/// JSON value kinds, as the Lavalink docs name field types.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Int,
    Float,
    Bool,
    Str,
    Object,
    Array,
    NullableStr,
    NullableObject,
}

impl Kind {
    fn matches(self, value: &Value) -> bool {
        match self {
            Kind::Int => value.is_i64() || value.is_u64(),
            Kind::Float => value.is_number(),
            Kind::Bool => value.is_boolean(),
            Kind::Str => value.is_string(),
            Kind::Object => value.is_object(),
            Kind::Array => value.is_array(),
            Kind::NullableStr => value.is_null() || value.is_string(),
            Kind::NullableObject => value.is_null() || value.is_object(),
        }
    }
}

pub fn assert_track_shape(track: &Value) {
    assert_shape(
        track,
        &[
            ("encoded", Kind::Str),
            ("info", Kind::Object),
            ("pluginInfo", Kind::Object),
            ("userData", Kind::Object),
        ],
    );
    assert_shape(
        &track["info"],
        &[
            ("identifier", Kind::Str),
            ("isSeekable", Kind::Bool),
            ("author", Kind::Str),
            ("length", Kind::Int),
            ("isStream", Kind::Bool),
            ("position", Kind::Int),
            ("title", Kind::Str),
            ("uri", Kind::NullableStr),
            ("artworkUrl", Kind::NullableStr),
            ("isrc", Kind::NullableStr),
            ("sourceName", Kind::Str),
        ],
    );
}

pub fn assert_error_body(reply: &Reply, status: u16, message: &str, path: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_shape(
        &body,
        &[
            ("timestamp", Kind::Int),
            ("status", Kind::Int),
            ("error", Kind::Str),
            ("message", Kind::Str),
            ("path", Kind::Str),
        ],
    );
    assert_eq!(body["status"], status);
    assert_eq!(body["message"], message);
    assert_eq!(body["path"], path);
}
