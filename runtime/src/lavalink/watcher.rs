//! The controller's own websocket to each node: `stats` pushes and instant suspicion when
//! the socket closes.
//!
//! A closed or failed socket is reported once per connection as a
//! [`DriverInput::NodeSocketClosed`]; the watcher then reconnects with capped backoff.
//! The controller's session is separate from the bots' and holds no players.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use switchyard_core::ids::NodeId;

use super::wire::Stats;
use crate::driver::{DriverHandle, DriverInput};
use crate::ports::websocket::{StreamConnector, connect_lavalink};

/// Where and how to open the controller's websocket to a node.
#[derive(Clone)]
pub struct WatchTarget {
    /// The node.
    pub node: NodeId,
    /// Host to dial.
    pub host: String,
    /// Port to dial.
    pub port: u16,
    /// The node's password (sent only in the `Authorization` header).
    pub password: String,
    /// The `User-Id` the controller presents (any stable snowflake).
    pub user_id: u64,
}

impl std::fmt::Debug for WatchTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchTarget")
            .field("node", &self.node)
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Backoff between reconnection attempts.
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
enum Message {
    Ready,
    Stats(Stats),
    #[serde(other)]
    Other,
}

/// Watches one node until the driver stops.
pub async fn watch_node<C: StreamConnector>(
    connector: C,
    target: WatchTarget,
    driver: DriverHandle,
) {
    let mut retry = RETRY_MIN;
    loop {
        match session(&connector, &target, &driver).await {
            Ok(SessionEnd::DriverGone) => return,
            Ok(SessionEnd::Closed) => {
                retry = RETRY_MIN;
                if driver
                    .send(DriverInput::NodeSocketClosed(target.node.clone()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(node = %target.node, %error, "node websocket unavailable")
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

enum SessionEnd {
    Closed,
    DriverGone,
}

async fn session<C: StreamConnector>(
    connector: &C,
    target: &WatchTarget,
    driver: &DriverHandle,
) -> Result<SessionEnd, String> {
    let mut socket = connect_lavalink(
        connector,
        (&target.host, target.port),
        &target.password,
        target.user_id,
        concat!("switchyard/", env!("CARGO_PKG_VERSION")),
    )
    .await?;
    while let Some(frame) = socket.next().await {
        let Ok(frame) = frame else { break };
        let Ok(text) = frame.into_text() else {
            continue;
        };
        match serde_json::from_str::<Message>(&text) {
            Ok(Message::Stats(stats)) => {
                let input = DriverInput::NodeStats(target.node.clone(), stats.to_core());
                if driver.send(input).await.is_err() {
                    return Ok(SessionEnd::DriverGone);
                }
            }
            Ok(Message::Ready | Message::Other) => {}
            Err(error) => {
                tracing::debug!(node = %target.node, %error, "unparsable websocket message")
            }
        }
    }
    Ok(SessionEnd::Closed)
}
