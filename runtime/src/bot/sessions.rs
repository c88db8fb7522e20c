//! The bot's Lavalink sessions: one websocket per node, registered in the store, read
//! for player positions and track events, reopened with capped backoff when it closes.
//!
//! Every node gets a session, not only those that play: the controller can only move a
//! player to a node where the bot has a registered session. A closed socket destroys the
//! session's players (the bot does not enable resuming), which the owner learns from
//! [`SessionEventKind::Closed`].

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use switchyard_core::ids::{GuildId, NodeId, ProcessId};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::clock::BotClock;
use super::config::{BotTiming, NodeConfig};
use crate::ports::store::Store;
use crate::ports::websocket::{LavalinkSocket, StreamConnector, connect_lavalink};
use crate::store_schema::SessionRegistration;

/// Pause between attempts to register a session while the store is away.
const REGISTER_RETRY: Duration = Duration::from_secs(1);

/// Events buffered between the sockets and their reader; past it a socket waits, which
/// is the backpressure a slow owner should feel.
pub(crate) const EVENTS_BUFFERED_MAX: usize = 4_096;

/// Why a track ended (`TrackEndEvent.reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackEndReason {
    /// It played to the end.
    Finished,
    /// It could not be loaded.
    LoadFailed,
    /// It was stopped (or its player destroyed).
    Stopped,
    /// Another track replaced it.
    Replaced,
    /// The node cleaned it up (no voice for too long).
    Cleanup,
    /// A reason this bot does not know.
    Other(String),
}

impl TrackEndReason {
    fn parse(reason: &str) -> Self {
        match reason {
            "finished" => Self::Finished,
            "loadFailed" => Self::LoadFailed,
            "stopped" => Self::Stopped,
            "replaced" => Self::Replaced,
            "cleanup" => Self::Cleanup,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether the next track may start (Lavalink's `mayStartNext`).
    pub fn may_start_next(&self) -> bool {
        matches!(self, Self::Finished | Self::LoadFailed)
    }
}

/// Something one node's session reported.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    /// The node.
    pub node: NodeId,
    /// The session it happened in.
    pub session_id: String,
    /// What happened.
    pub kind: SessionEventKind,
}

/// What a session reported.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEventKind {
    /// The session opened (`ready`).
    Ready {
        /// Whether the node resumed an older session.
        resumed: bool,
    },
    /// A `playerUpdate`.
    PlayerUpdate {
        /// The guild.
        guild: GuildId,
        /// The position the node reported.
        position_ms: u64,
        /// Whether the player's voice connection is up.
        connected: bool,
        /// When the bot received it (tokio time).
        received_at: Instant,
    },
    /// A `TrackEndEvent`.
    TrackEnded {
        /// The guild.
        guild: GuildId,
        /// Why it ended.
        reason: TrackEndReason,
    },
    /// A `TrackExceptionEvent` or `TrackStuckEvent`: the node could not play on.
    TrackFailed {
        /// The guild.
        guild: GuildId,
        /// The event's type.
        kind: String,
    },
    /// A `WebSocketClosedEvent`: Discord closed the player's voice connection.
    VoiceClosed {
        /// The guild.
        guild: GuildId,
        /// Discord's voice close code.
        code: u16,
    },
    /// The websocket closed: every player of this session is gone.
    Closed,
}

/// Who the sessions belong to and how they behave.
#[derive(Debug, Clone)]
pub(crate) struct SessionOwner {
    pub(crate) process: ProcessId,
    pub(crate) user_id: u64,
    pub(crate) clock: BotClock,
    pub(crate) timing: BotTiming,
}

/// The running sessions; dropping it closes every socket.
#[derive(Debug)]
pub struct SessionSet {
    tasks: JoinSet<()>,
}

impl SessionSet {
    /// Opens a session on every node; events arrive on the returned receiver, in order
    /// per node. Each session registers itself in `store` once `ready` arrives.
    pub(crate) fn start<C: StreamConnector, S: Store>(
        connector: &C,
        store: &S,
        nodes: &[NodeConfig],
        owner: &SessionOwner,
    ) -> (Self, mpsc::Receiver<SessionEvent>) {
        let (tx, rx) = mpsc::channel(EVENTS_BUFFERED_MAX);
        let mut tasks = JoinSet::new();
        for node in nodes {
            tasks.spawn(keep_session(
                connector.clone(),
                store.clone(),
                node.clone(),
                owner.clone(),
                tx.clone(),
            ));
        }
        (Self { tasks }, rx)
    }

    /// Whether any session task still runs.
    pub fn is_running(&self) -> bool {
        !self.tasks.is_empty()
    }
}

/// Keeps one node's session open until the event receiver goes away.
async fn keep_session<C: StreamConnector, S: Store>(
    connector: C,
    store: S,
    node: NodeConfig,
    owner: SessionOwner,
    events: mpsc::Sender<SessionEvent>,
) {
    let mut retry = owner.timing.reconnect_min;
    loop {
        match open(&connector, &node, &owner).await {
            Ok((socket, session_id, resumed)) => {
                retry = owner.timing.reconnect_min;
                let ended = serve(socket, &store, &node, &owner, &session_id, resumed, &events);
                if ended.await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(node = %node.name, %error, "node websocket unavailable");
            }
        }
        if events.is_closed() {
            return;
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(owner.timing.reconnect_max);
    }
}

/// Dials, handshakes and waits for `ready`, all within `ready_timeout`.
async fn open<C: StreamConnector>(
    connector: &C,
    node: &NodeConfig,
    owner: &SessionOwner,
) -> Result<(LavalinkSocket<C>, String, bool), String> {
    let handshake = async {
        let mut socket = connect_lavalink(
            connector,
            (&node.host, node.port),
            &node.password,
            owner.user_id,
            concat!("switchyard-bot/", env!("CARGO_PKG_VERSION")),
        )
        .await?;
        // The node's first message is `ready`; a v4 node sends nothing before it.
        loop {
            let frame = socket
                .next()
                .await
                .ok_or("closed before ready")?
                .map_err(|e| e.to_string())?;
            match frame {
                Message::Text(text) => match serde_json::from_str::<Incoming>(&text) {
                    Ok(Incoming::Ready {
                        session_id,
                        resumed,
                    }) => return Ok((socket, session_id, resumed)),
                    _ => return Err(format!("expected ready, got {text}")),
                },
                Message::Close(_) => return Err("closed before ready".to_owned()),
                _ => {}
            }
        }
    };
    tokio::time::timeout(owner.timing.ready_timeout, handshake)
        .await
        .map_err(|_| "no ready within the timeout".to_owned())?
}

/// The owner stopped listening.
struct OwnerGone;

/// Registers the session and relays its messages until the socket closes.
async fn serve<St, S: Store>(
    mut socket: tokio_tungstenite::WebSocketStream<St>,
    store: &S,
    node: &NodeConfig,
    owner: &SessionOwner,
    session_id: &str,
    resumed: bool,
    events: &mpsc::Sender<SessionEvent>,
) -> Result<(), OwnerGone>
where
    St: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let send = |kind| {
        events.send(SessionEvent {
            node: node.name.clone(),
            session_id: session_id.to_owned(),
            kind,
        })
    };
    send(SessionEventKind::Ready { resumed })
        .await
        .map_err(|_| OwnerGone)?;
    // Registration retries in the background while the socket is read; it ends with the
    // session, so a stale id is never registered after a newer one.
    let mut registration = JoinSet::new();
    registration.spawn(register(
        store.clone(),
        owner.clone(),
        node.name.clone(),
        session_id.to_owned(),
    ));
    while let Some(frame) = socket.next().await {
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let kind = match serde_json::from_str::<Incoming>(&text) {
            Ok(message) => message.into_event(),
            Err(error) => {
                tracing::debug!(node = %node.name, %error, "unparsable websocket message");
                None
            }
        };
        if let Some(kind) = kind {
            send(kind).await.map_err(|_| OwnerGone)?;
        }
    }
    drop(registration);
    send(SessionEventKind::Closed).await.map_err(|_| OwnerGone)
}

/// Registers until the store accepts; aborted when the session ends.
async fn register<S: Store>(store: S, owner: SessionOwner, node: NodeId, session_id: String) {
    let registration = SessionRegistration {
        session_id,
        user_id: owner.user_id,
        registered_at_ms: owner.clock.now_ms(),
    };
    loop {
        match store
            .register_session(&owner.process, &node, &registration)
            .await
        {
            Ok(()) => return,
            Err(error) => tracing::debug!(%node, %error, "session registration failed"),
        }
        tokio::time::sleep(REGISTER_RETRY).await;
    }
}

/// The websocket messages the bot reads; the rest (`stats`) are skipped.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum Incoming {
    Ready {
        session_id: String,
        #[serde(default)]
        resumed: bool,
    },
    PlayerUpdate {
        guild_id: String,
        state: WireState,
    },
    Event(WireEvent),
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct WireState {
    #[serde(default)]
    position: i64,
    #[serde(default)]
    connected: bool,
}

#[derive(Debug, Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "guildId")]
    guild_id: String,
    #[serde(default)]
    reason: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<u16>,
}

impl Incoming {
    fn into_event(self) -> Option<SessionEventKind> {
        match self {
            Incoming::Ready { .. } | Incoming::Other => None,
            Incoming::PlayerUpdate { guild_id, state } => Some(SessionEventKind::PlayerUpdate {
                guild: parse_guild(&guild_id)?,
                position_ms: u64::try_from(state.position).unwrap_or(0),
                connected: state.connected,
                received_at: Instant::now(),
            }),
            Incoming::Event(event) => event.into_event(),
        }
    }
}

impl WireEvent {
    fn into_event(self) -> Option<SessionEventKind> {
        let guild = parse_guild(&self.guild_id)?;
        match self.kind.as_str() {
            "TrackEndEvent" => {
                // `reason` is a string; anything else is a node this bot cannot read.
                let reason = self.reason.as_ref().and_then(|r| r.as_str())?;
                Some(SessionEventKind::TrackEnded {
                    guild,
                    reason: TrackEndReason::parse(reason),
                })
            }
            "TrackExceptionEvent" | "TrackStuckEvent" => Some(SessionEventKind::TrackFailed {
                guild,
                kind: self.kind,
            }),
            "WebSocketClosedEvent" => Some(SessionEventKind::VoiceClosed {
                guild,
                code: self.code.unwrap_or(0),
            }),
            _ => None,
        }
    }
}

fn parse_guild(text: &str) -> Option<GuildId> {
    text.parse().ok().map(GuildId)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<SessionEventKind> {
        serde_json::from_str::<Incoming>(text)
            .expect("a v4 message")
            .into_event()
    }

    #[test]
    fn reads_player_updates_and_track_ends() {
        let update = parse(
            r#"{"op":"playerUpdate","guildId":"42","state":{"time":1,"position":1500,"connected":true,"ping":20}}"#,
        );
        assert!(matches!(
            update,
            Some(SessionEventKind::PlayerUpdate {
                guild: GuildId(42),
                position_ms: 1500,
                connected: true,
                ..
            })
        ));
        let end = parse(
            r#"{"op":"event","type":"TrackEndEvent","guildId":"42","track":{"encoded":"x"},"reason":"finished"}"#,
        );
        assert_eq!(
            end,
            Some(SessionEventKind::TrackEnded {
                guild: GuildId(42),
                reason: TrackEndReason::Finished
            })
        );
        let closed = parse(
            r#"{"op":"event","type":"WebSocketClosedEvent","guildId":"42","code":4006,"reason":"","byRemote":true}"#,
        );
        assert_eq!(
            closed,
            Some(SessionEventKind::VoiceClosed {
                guild: GuildId(42),
                code: 4006
            })
        );
    }

    #[test]
    fn skips_what_it_does_not_use() {
        assert_eq!(parse(r#"{"op":"stats","players":0}"#), None);
        assert_eq!(
            parse(r#"{"op":"event","type":"TrackStartEvent","guildId":"1","track":{}}"#),
            None
        );
        assert!(matches!(
            serde_json::from_str::<Incoming>(r#"{"op":"ready","resumed":false,"sessionId":"abc"}"#),
            Ok(Incoming::Ready { session_id, resumed: false }) if session_id == "abc"
        ));
    }

    #[test]
    fn only_finished_and_load_failed_start_the_next_track() {
        assert!(TrackEndReason::Finished.may_start_next());
        assert!(TrackEndReason::LoadFailed.may_start_next());
        assert!(!TrackEndReason::Stopped.may_start_next());
        assert!(!TrackEndReason::Replaced.may_start_next());
        assert!(!TrackEndReason::Cleanup.may_start_next());
    }
}
