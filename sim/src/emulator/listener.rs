//! Listeners: the emulator serves on anything implementing [`axum::serve::Listener`],
//! so the same server runs on tokio's `TcpListener` and on turmoil's.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;

use super::shared::Shared;

/// Pause after a failed `accept` (for example out of file descriptors) before retrying.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A turmoil listener for a simulated host.
pub struct TurmoilListener {
    inner: turmoil::net::TcpListener,
}

impl std::fmt::Debug for TurmoilListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurmoilListener")
            .field("local_addr", &self.inner.local_addr().ok())
            .finish()
    }
}

impl TurmoilListener {
    /// Binds inside a turmoil host, e.g. `TurmoilListener::bind(("0.0.0.0", 2333))`.
    pub async fn bind(addr: impl turmoil::ToSocketAddrs) -> io::Result<Self> {
        Ok(Self {
            inner: turmoil::net::TcpListener::bind(addr).await?,
        })
    }
}

impl From<turmoil::net::TcpListener> for TurmoilListener {
    fn from(inner: turmoil::net::TcpListener) -> Self {
        Self { inner }
    }
}

impl Listener for TurmoilListener {
    type Io = turmoil::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok(connection) => return connection,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; retrying");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Wraps the caller's listener to apply the `refuse_connections` fault: a refused
/// connection is accepted and closed at once, so the client sees it reset or closed
/// before any response.
pub(crate) struct GuardedListener<L> {
    inner: L,
    shared: Arc<Shared>,
}

impl<L> GuardedListener<L> {
    pub fn new(inner: L, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<L: Listener> Listener for GuardedListener<L> {
    type Io = L::Io;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            if !self.shared.faults().refuse_connections {
                return (io, addr);
            }
            tracing::debug!("refusing a connection (fault)");
            drop(io);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
