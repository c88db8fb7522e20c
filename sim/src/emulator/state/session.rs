//! A client session: one bot's websocket, its players and its resume settings.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::link::{Delivery, Link, SocketLink};
use super::player::Outbox;
use super::players::PlayerTable;
use crate::emulator::protocol::Message;

/// Lavalink's default resume timeout, in seconds.
pub(crate) const DEFAULT_RESUME_TIMEOUT_SECS: u64 = 60;
/// Longest resume wait the node schedules (a client may ask for `i64::MAX` seconds,
/// which no clock can add); about 136 years is "forever" for any run.
const MAX_RESUME_TIMEOUT_SECS: u64 = u32::MAX as u64;

fn resume_deadline(now: Instant, timeout_secs: u64) -> Instant {
    now + Duration::from_secs(timeout_secs.min(MAX_RESUME_TIMEOUT_SECS))
}

#[derive(Debug)]
pub(crate) struct Session {
    pub id: String,
    pub user_id: String,
    pub client_name: Option<String>,
    pub players: PlayerTable,
    pub resuming: bool,
    pub timeout_secs: u64,
    pub link: Link,
    pub next_stats_at: Instant,
}

impl Session {
    pub fn new(
        id: String,
        user_id: String,
        client_name: Option<String>,
        socket: SocketLink,
        next_stats_at: Instant,
    ) -> Self {
        Self {
            id,
            user_id,
            client_name,
            players: PlayerTable::default(),
            resuming: false,
            timeout_secs: DEFAULT_RESUME_TIMEOUT_SECS,
            link: Link::Open(socket),
            next_stats_at,
        }
    }

    /// Open sessions are the ones REST and the stats counters see.
    pub fn is_open(&self) -> bool {
        matches!(self.link, Link::Open(_))
    }

    pub fn send(&mut self, message: &Message, delivery: Delivery, queue_max: usize) {
        let text = serde_json::to_string(message)
            .expect("protocol messages hold only strings, numbers and JSON objects");
        self.link.deliver(text, delivery, queue_max);
    }

    pub fn flush(&mut self, out: Outbox, queue_max: usize) {
        for (message, delivery) in out {
            self.send(&message, delivery, queue_max);
        }
    }

    /// The socket closed: wait for a resume, or report that the session is over.
    /// Returns whether the session survives.
    pub fn handle_socket_closed(&mut self, socket_id: u64, now: Instant) -> bool {
        if self.link.socket_id() != Some(socket_id) {
            // A stale socket (the session already moved on) changes nothing.
            return true;
        }
        if !self.resuming {
            return false;
        }
        self.link = Link::AwaitingResume {
            expires_at: resume_deadline(now, self.timeout_secs),
            queue: VecDeque::new(),
        };
        true
    }

    /// Takes the queue of a session a handshake is resuming.
    pub fn claim(&mut self) -> bool {
        let Link::AwaitingResume { queue, .. } = &mut self.link else {
            return false;
        };
        self.link = Link::Resuming {
            queue: std::mem::take(queue),
        };
        true
    }

    /// The resuming upgrade failed: wait again for a full timeout.
    pub fn unclaim(&mut self, now: Instant) {
        if let Link::Resuming { queue } = &mut self.link {
            self.link = Link::AwaitingResume {
                expires_at: resume_deadline(now, self.timeout_secs),
                queue: std::mem::take(queue),
            };
        }
    }

    pub fn expires_at(&self) -> Option<Instant> {
        match &self.link {
            Link::AwaitingResume { expires_at, .. } => Some(*expires_at),
            _ => None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [
            Some(self.next_stats_at),
            self.expires_at(),
            self.players.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
