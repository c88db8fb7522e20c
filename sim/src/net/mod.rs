//! The simulation's leaf network adapters: the driver's HTTP and stream ports over
//! turmoil's simulated TCP. Everything above them is the daemon's own code.

mod http;

pub use http::TurmoilHttpClient;

use std::io;

use switchyard_runtime::ports::websocket::StreamConnector;

/// Dials turmoil's simulated TCP (for websockets and Redis).
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilConnector;

impl StreamConnector for TurmoilConnector {
    type Stream = turmoil::net::TcpStream;

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream> {
        turmoil::net::TcpStream::connect((host, port)).await
    }
}
