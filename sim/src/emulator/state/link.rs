//! The link between a session and its websocket task.
//!
//! Messages go through a bounded channel so the node never blocks on a slow client;
//! close commands go through a separate watch channel so they are never stuck behind
//! a full message queue.

use std::collections::VecDeque;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How the node ends a websocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloseCommand {
    Frame { code: u16, reason: String },
    Abort,
}

/// The node's end of an open websocket.
#[derive(Debug)]
pub(crate) struct SocketLink {
    pub id: u64,
    messages: mpsc::Sender<String>,
    control: watch::Sender<Option<CloseCommand>>,
}

/// The websocket task's end.
#[derive(Debug)]
pub(crate) struct SocketEnd {
    pub messages: mpsc::Receiver<String>,
    pub control: watch::Receiver<Option<CloseCommand>>,
}

impl SocketLink {
    pub fn new(id: u64, buffer: usize) -> (SocketLink, SocketEnd) {
        let (messages, messages_rx) = mpsc::channel(buffer);
        let (control, control_rx) = watch::channel(None);
        (
            SocketLink {
                id,
                messages,
                control,
            },
            SocketEnd {
                messages: messages_rx,
                control: control_rx,
            },
        )
    }

    /// Queues a message; a full or closed channel drops the client, as Lavalink does
    /// when a send fails.
    pub fn send(&self, text: String) {
        if let Err(error) = self.messages.try_send(text) {
            if matches!(error, mpsc::error::TrySendError::Full(_)) {
                tracing::warn!(socket = self.id, "websocket client too slow; dropping it");
            }
            self.close(CloseCommand::Abort);
        }
    }

    pub fn close(&self, command: CloseCommand) {
        self.control.send_if_modified(|current| {
            // The first close wins: a later abort must not replace a 1001 frame.
            if current.is_none() {
                *current = Some(command);
                true
            } else {
                false
            }
        });
    }
}

/// Whether a session has a socket, and what happens to its messages when not.
#[derive(Debug)]
pub(crate) enum Link {
    Open(SocketLink),
    /// The socket closed with resuming enabled; the session waits for a resume.
    AwaitingResume {
        expires_at: Instant,
        queue: VecDeque<String>,
    },
    /// A handshake resumed this session; its socket attaches once upgraded.
    Resuming {
        queue: VecDeque<String>,
    },
}

/// What kind of message is sent, which decides its fate while there is no socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Events and stats: queued for replay on resume.
    Queued,
    /// `playerUpdate`: dropped, as the resume sends fresh ones.
    DroppedWhileAway,
}

impl Link {
    pub fn deliver(&mut self, text: String, delivery: Delivery, queue_max: usize) {
        match self {
            Link::Open(socket) => socket.send(text),
            Link::AwaitingResume { queue, .. } | Link::Resuming { queue } => {
                if delivery == Delivery::DroppedWhileAway {
                    return;
                }
                if queue.len() >= queue_max {
                    queue.pop_front();
                }
                queue.push_back(text);
            }
        }
    }

    pub fn socket_id(&self) -> Option<u64> {
        match self {
            Link::Open(socket) => Some(socket.id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_socket_is_aborted_not_blocked() {
        let (link, mut end) = SocketLink::new(1, 1);
        link.send("a".to_owned());
        link.send("b".to_owned());
        assert_eq!(end.messages.try_recv().ok().as_deref(), Some("a"));
        assert_eq!(*end.control.borrow_and_update(), Some(CloseCommand::Abort));
    }

    #[test]
    fn the_first_close_command_wins() {
        let (link, end) = SocketLink::new(1, 4);
        link.close(CloseCommand::Frame {
            code: 1001,
            reason: String::new(),
        });
        link.close(CloseCommand::Abort);
        assert!(matches!(
            *end.control.borrow(),
            Some(CloseCommand::Frame { code: 1001, .. })
        ));
    }

    #[test]
    fn away_sessions_queue_events_but_not_player_updates() {
        let mut link = Link::AwaitingResume {
            expires_at: Instant::now(),
            queue: VecDeque::new(),
        };
        link.deliver("event".to_owned(), Delivery::Queued, 2);
        link.deliver("update".to_owned(), Delivery::DroppedWhileAway, 2);
        link.deliver("stats".to_owned(), Delivery::Queued, 2);
        link.deliver("event2".to_owned(), Delivery::Queued, 2);
        let Link::AwaitingResume { queue, .. } = link else {
            unreachable!("the link was built as awaiting resume");
        };
        assert_eq!(queue, ["stats", "event2"]);
    }
}
