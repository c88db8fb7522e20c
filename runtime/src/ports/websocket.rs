//! Dialling TCP for websockets: tokio's `TcpStream` in production, turmoil's in the
//! simulation. The websocket protocol itself (tokio-tungstenite) runs over either.

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

/// Opens byte streams to `host:port`.
pub trait StreamConnector: Clone + Send + Sync + 'static {
    /// The stream type.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Connects.
    fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Real TCP through tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioConnector;

impl StreamConnector for TokioConnector {
    type Stream = tokio::net::TcpStream;

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream> {
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Read-buffer size for Lavalink websockets. Lavalink's messages are small JSON
/// (`stats`, `playerUpdate`, events: well under 4 KiB), while tungstenite's default
/// 128 KiB buffer is zero-filled again on reads, which dominated the cost of hundreds of
/// quiet sessions. Larger messages still arrive whole; the buffer only grows for them.
pub const LAVALINK_READ_BUFFER_BYTES: usize = 4 * 1024;

/// The websocket configuration of every Lavalink client connection.
pub fn lavalink_websocket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(LAVALINK_READ_BUFFER_BYTES)
}

/// A websocket to a Lavalink node, over whichever stream the connector dials.
pub type LavalinkSocket<C> = tokio_tungstenite::WebSocketStream<<C as StreamConnector>::Stream>;

/// Dials a node's `/v4/websocket` with the headers Lavalink v4 requires (`Authorization`,
/// `User-Id`, `Client-Name`), the one handshake both the bots' sessions and the
/// controller's node watcher make.
pub async fn connect_lavalink<C: StreamConnector>(
    connector: &C,
    (host, port): (&str, u16),
    password: &str,
    user_id: u64,
    client_name: &str,
) -> Result<LavalinkSocket<C>, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;

    let url = format!("ws://{host}:{port}/v4/websocket");
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    let header = |value: &str| HeaderValue::from_str(value).map_err(|e| e.to_string());
    headers.insert("Authorization", header(password)?);
    headers.insert("User-Id", header(&user_id.to_string())?);
    headers.insert("Client-Name", header(client_name)?);
    let stream = connector
        .connect(host, port)
        .await
        .map_err(|e| e.to_string())?;
    let (socket, _) = tokio_tungstenite::client_async_with_config(
        request,
        stream,
        Some(lavalink_websocket_config()),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(socket)
}
