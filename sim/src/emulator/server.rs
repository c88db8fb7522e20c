//! Running a node: the HTTP server, the timer driver and the graceful shutdown.

use std::fmt::Debug;
use std::future::IntoFuture;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use tokio::sync::watch;

use super::clock::NodeClock;
use super::config::{ConfigError, EmulatorConfig};
use super::control::EmulatorControl;
use super::http;
use super::listener::GuardedListener;
use super::shared::Shared;
use super::state::{CloseCommand, NodeState};

/// How long a graceful shutdown waits for in-flight requests and for websocket clients
/// to answer the 1001 close before giving up on them.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// An emulated Lavalink v4 node. Cheap to clone; every clone is the same node.
#[derive(Debug, Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl Emulator {
    /// Creates a node and its control handle. Nothing runs until [`Emulator::serve`].
    pub fn new(config: EmulatorConfig) -> Result<(Emulator, EmulatorControl), ConfigError> {
        config.validate()?;
        let shared = Arc::new(Shared::new(config));
        let control = EmulatorControl::new(Arc::clone(&shared));
        Ok((Emulator { shared }, control))
    }

    pub fn control(&self) -> EmulatorControl {
        EmulatorControl::new(Arc::clone(&self.shared))
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// Boots the node and serves on `listener` until a graceful shutdown completes.
    ///
    /// Each call boots afresh: uptime restarts and no session survives, as with a
    /// restarted process. Dropping the future (a simulated crash) also discards the
    /// node's state. One `serve` at a time: a second concurrent call fails.
    pub async fn serve<L>(&self, listener: L) -> io::Result<()>
    where
        L: Listener,
        L::Addr: Debug,
    {
        let shared = Arc::clone(&self.shared);
        let clock = NodeClock::start(shared.config.epoch_ms);
        if !shared.install_node(NodeState::new(Arc::clone(&shared.config), clock)) {
            return Err(io::Error::other("this emulator is already serving"));
        }
        let _discard_on_exit = DiscardNode(Arc::clone(&shared));
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(
                node = %shared.config.name,
                region = %shared.config.region,
                ?addr,
                "lavalink emulator serving"
            );
        }

        // A make-service that hands each connection a cheap clone of the router. Passing
        // the `Router` itself makes axum rebuild its whole route table per connection,
        // and some clients (tests, curl, a probe after each restart) connect per request.
        let router = http::router(Arc::clone(&shared)).into_make_service();
        let server = axum::serve(GuardedListener::new(listener, Arc::clone(&shared)), router)
            .with_graceful_shutdown(begin_shutdown(Arc::clone(&shared)))
            .into_future();
        let driver = drive(Arc::clone(&shared));
        tokio::pin!(server, driver);

        let mut shutdown = shared.shutdown_watch();
        let result = tokio::select! {
            biased;
            result = &mut server => result,
            () = &mut driver => unreachable!("the driver runs until the future is dropped"),
            () = drain_deadline(&mut shutdown) => {
                tracing::warn!("requests still in flight after the drain period; stopping anyway");
                Ok(())
            }
        };
        let sockets_closed = tokio::time::timeout(SHUTDOWN_DRAIN, shared.sockets.wait_idle());
        if sockets_closed.await.is_err() {
            tracing::warn!("websocket clients did not finish closing; dropping them");
        }
        tracing::info!(node = %shared.config.name, "lavalink emulator stopped");
        result
    }
}

/// Clears the node when `serve` ends for any reason, including being dropped.
struct DiscardNode(Arc<Shared>);

impl Drop for DiscardNode {
    fn drop(&mut self) {
        if let Some(node) = self.0.remove_node() {
            // Sockets still attached (a crash, not a shutdown) are cut without a frame.
            let mut node = node;
            node.close_websockets(&CloseCommand::Abort);
        }
    }
}

/// Resolves when a shutdown is requested, after telling every websocket to close with
/// 1001 Going Away, as Lavalink's `ShutdownHandler` does.
async fn begin_shutdown(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown_watch();
    wait_true(&mut shutdown).await;
    let closed = shared
        .with_node(|node, _, _| {
            node.close_websockets(&CloseCommand::Frame {
                code: 1001,
                reason: String::new(),
            })
        })
        .unwrap_or(0);
    tracing::info!(
        websockets = closed,
        "shutting down; closing websockets with 1001"
    );
}

async fn drain_deadline(shutdown: &mut watch::Receiver<bool>) {
    wait_true(shutdown).await;
    tokio::time::sleep(SHUTDOWN_DRAIN).await;
}

/// Waits until the flag is set; never resolves if its sender is gone.
pub(crate) async fn wait_true(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|value| *value).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The timer driver: fire what is due, sleep until the next deadline or a wake-up.
async fn drive(shared: Arc<Shared>) {
    loop {
        let deadline = shared
            .with_node_quiet(|node, now, faults| {
                node.handle_timeout(now, faults);
                node.poll_timeout()
            })
            .flatten();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = shared.wake.notified() => {}
            () = sleep => {}
        }
    }
}
