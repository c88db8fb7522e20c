//! The node's state machine: sessions, players and timers, with no I/O of its own.
//!
//! Every input carries `now`; outputs are messages queued on each session's socket
//! link. The driver asks [`NodeState::poll_timeout`] for the next deadline and calls
//! [`NodeState::handle_timeout`] when it passes; a spurious wake-up is a no-op.

mod audio_loss;
mod link;
mod playback;
mod player;
mod players;
mod session;
mod stats;
mod update;

use std::collections::BTreeMap;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use tokio::time::Instant;

pub(crate) use link::{CloseCommand, SocketEnd};
pub(crate) use update::{PlayerChanges, TrackChange};

use self::link::{Delivery, Link, SocketLink};
use self::player::{Player, Tick};
use self::session::Session;
use super::clock::{NodeClock, duration_ms};
use super::config::EmulatorConfig;
use super::faults::Faults;
use super::protocol::{self, Cpu, Message, StatsMessage, VoiceState};
use super::snapshot::{PlayerSnapshot, PlayerTruth, SessionLinkState, SessionSnapshot};
use super::track::DecodeError;

/// Lavalink session ids: 16 characters from `[a-z0-9]`.
const SESSION_ID_LEN: usize = 16;
const SESSION_ID_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Separate random streams, so that (say) an extra stats request never changes the
/// session ids a seed produces.
const STREAM_SESSION_IDS: u64 = 1;
const STREAM_STATS: u64 = 2;
/// Sessions whose timers one wake-up may process (a bound, not a limit in practice).
const MAX_SESSIONS: usize = 100_000;

/// Why a REST operation on the state failed; the HTTP layer maps each to a status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum StateError {
    #[error("Session not found")]
    SessionNotFound,
    #[error("Player not found")]
    PlayerNotFound,
    #[error("No matches found for identifier")]
    NoMatches,
    #[error("Cannot play a playlist or search result")]
    NotATrack,
    #[error("{0}")]
    LoadFailed(String),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("Failed to connect to voice server")]
    VoiceConnectFailed,
}

/// The outcome of a voice update's first half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VoiceStep {
    /// Same voice server and already connected: nothing to do.
    Unchanged,
    /// A handshake must run; finish it with this generation.
    Connect { generation: u64 },
}

#[derive(Debug)]
pub(crate) struct NodeState {
    config: Arc<EmulatorConfig>,
    clock: NodeClock,
    sessions: BTreeMap<String, Session>,
    session_rng: ChaCha8Rng,
    stats_rng: ChaCha8Rng,
    next_socket_id: u64,
    cpu_cache: Option<(Instant, Cpu)>,
}

impl NodeState {
    pub fn new(config: Arc<EmulatorConfig>, clock: NodeClock) -> Self {
        let mut session_rng = ChaCha8Rng::seed_from_u64(config.seed);
        session_rng.set_stream(STREAM_SESSION_IDS);
        let mut stats_rng = ChaCha8Rng::seed_from_u64(config.seed);
        stats_rng.set_stream(STREAM_STATS);
        Self {
            config,
            clock,
            sessions: BTreeMap::new(),
            session_rng,
            stats_rng,
            next_socket_id: 1,
            cpu_cache: None,
        }
    }

    pub fn clock(&self) -> NodeClock {
        self.clock
    }

    fn tick(&self, now: Instant) -> Tick {
        Tick {
            now,
            wall_ms: self.clock.wall_ms(now),
            ping_ms: i64::try_from(duration_ms(self.config.voice_ping)).unwrap_or(i64::MAX),
            update_interval: self.config.player_update_interval,
        }
    }

    fn new_session_id(&mut self) -> String {
        // 36^16 ids: a collision is astronomically rare, but must not merge sessions.
        for _ in 0..16 {
            let id: String = (0..SESSION_ID_LEN)
                .map(|_| {
                    let index = (self.session_rng.next_u32() % 36) as usize;
                    char::from(SESSION_ID_ALPHABET[index])
                })
                .collect();
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
        unreachable!("16 random session ids in a row collided among at most {MAX_SESSIONS}");
    }

    fn new_socket(&mut self) -> (SocketLink, SocketEnd) {
        let id = self.next_socket_id;
        self.next_socket_id += 1;
        SocketLink::new(id, self.config.socket_buffer)
    }

    fn rest_session_mut(&mut self, session_id: &str) -> Result<&mut Session, StateError> {
        self.sessions
            .get_mut(session_id)
            .filter(|session| session.is_open())
            .ok_or(StateError::SessionNotFound)
    }

    fn rest_session(&self, session_id: &str) -> Result<&Session, StateError> {
        self.sessions
            .get(session_id)
            .filter(|session| session.is_open())
            .ok_or(StateError::SessionNotFound)
    }

    // ------------------------------------------------------------------ websocket

    /// A new websocket: `ready`, then the first `stats`.
    pub fn open_session(
        &mut self,
        user_id: String,
        client_name: Option<String>,
        now: Instant,
        faults: &Faults,
    ) -> (String, u64, SocketEnd) {
        assert!(
            self.sessions.len() < MAX_SESSIONS,
            "session table is bounded"
        );
        let id = self.new_session_id();
        let (socket, end) = self.new_socket();
        let socket_id = socket.id;
        let next_stats_at = now + self.config.stats_interval;
        let mut session = Session::new(id.clone(), user_id, client_name, socket, next_stats_at);
        let ready = Message::Ready {
            resumed: false,
            session_id: id.clone(),
        };
        let queue_max = self.config.resume_queue_max;
        session.send(&ready, Delivery::Queued, queue_max);
        self.sessions.insert(id.clone(), session);
        let stats = self.stats_message(&id, now, faults);
        if let Some(session) = self.sessions.get_mut(&id) {
            session.send(&stats, Delivery::Queued, queue_max);
        }
        (id, socket_id, end)
    }

    /// The handshake named a session waiting for a resume: hold it for the upgrade.
    /// An expired session is destroyed here even if its timer has not fired yet.
    pub fn claim_resume(&mut self, session_id: &str, now: Instant) -> bool {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return false;
        };
        if session.expires_at().is_some_and(|at| at <= now) {
            tracing::info!(
                session = session_id,
                "resume timeout passed; session destroyed"
            );
            self.sessions.remove(session_id);
            return false;
        }
        session.claim()
    }

    pub fn release_claim(&mut self, session_id: &str, now: Instant) {
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.unclaim(now);
        }
    }

    /// Attaches the upgraded socket: `ready{resumed}`, the queued messages, then one
    /// `playerUpdate` per player. `None` if the session vanished meanwhile.
    pub fn attach_resumed(&mut self, session_id: &str, now: Instant) -> Option<(u64, SocketEnd)> {
        let tick = self.tick(now);
        let queue_max = self.config.resume_queue_max;
        let (socket, end) = self.new_socket();
        let socket_id = socket.id;
        let session = self.sessions.get_mut(session_id)?;
        let Link::Resuming { queue } = std::mem::replace(&mut session.link, Link::Open(socket))
        else {
            unreachable!(
                "only a claimed session is attached, and claims end only here or in release_claim"
            );
        };
        let ready = Message::Ready {
            resumed: true,
            session_id: session_id.to_owned(),
        };
        session.send(&ready, Delivery::Queued, queue_max);
        for text in queue {
            session.link.deliver(text, Delivery::Queued, queue_max);
        }
        let updates: Vec<Message> = session
            .players
            .values()
            .map(|player| player.update_message(&tick))
            .collect();
        for update in &updates {
            session.send(update, Delivery::DroppedWhileAway, queue_max);
        }
        Some((socket_id, end))
    }

    /// A websocket ended. Without resuming, the session and its players are destroyed.
    pub fn handle_socket_closed(&mut self, session_id: &str, socket_id: u64, now: Instant) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        if !session.handle_socket_closed(socket_id, now) {
            tracing::info!(
                session = session_id,
                "session closed without resuming; players destroyed"
            );
            self.sessions.remove(session_id);
        } else if let Some(expires_at) = session.expires_at() {
            tracing::info!(
                session = session_id,
                timeout_secs = session.timeout_secs,
                "session can be resumed until {:?}",
                expires_at
            );
        }
    }

    pub fn close_websockets(&mut self, command: &CloseCommand) -> usize {
        let mut closed = 0;
        for session in self.sessions.values() {
            if let Link::Open(socket) = &session.link {
                socket.close(command.clone());
                closed += 1;
            }
        }
        closed
    }

    // ------------------------------------------------------------------ REST

    pub fn update_session(
        &mut self,
        session_id: &str,
        resuming: Option<bool>,
        timeout_secs: Option<i64>,
    ) -> Result<protocol::Session, StateError> {
        let session = self.rest_session_mut(session_id)?;
        if let Some(resuming) = resuming {
            session.resuming = resuming;
        }
        if let Some(timeout) = timeout_secs {
            session.timeout_secs = u64::try_from(timeout).unwrap_or(0);
        }
        Ok(protocol::Session {
            resuming: session.resuming,
            timeout: session.timeout_secs,
        })
    }

    pub fn players_json(
        &self,
        session_id: &str,
        now: Instant,
    ) -> Result<Vec<protocol::Player>, StateError> {
        let tick = self.tick(now);
        let session = self.rest_session(session_id)?;
        Ok(session
            .players
            .values()
            .map(|player| player.to_json(&tick))
            .collect())
    }

    pub fn player_json(
        &self,
        session_id: &str,
        guild_id: u64,
        now: Instant,
    ) -> Result<protocol::Player, StateError> {
        let tick = self.tick(now);
        let session = self.rest_session(session_id)?;
        let player = session
            .players
            .get(guild_id)
            .ok_or(StateError::PlayerNotFound)?;
        Ok(player.to_json(&tick))
    }

    pub fn destroy_player(
        &mut self,
        session_id: &str,
        guild_id: u64,
        now: Instant,
    ) -> Result<(), StateError> {
        let tick = self.tick(now);
        let queue_max = self.config.resume_queue_max;
        let session = self.rest_session_mut(session_id)?;
        if let Some(mut player) = session.players.remove(guild_id) {
            let mut out = Vec::new();
            player.destroy(&tick, &mut out);
            session.flush(out, queue_max);
        }
        Ok(())
    }

    /// REST sees only sessions with an open socket.
    pub fn require_session(&self, session_id: &str) -> Result<(), StateError> {
        self.rest_session(session_id).map(|_| ())
    }

    /// First half of a voice update: drop the old connection if the server changed.
    pub fn begin_voice(
        &mut self,
        session_id: &str,
        guild_id: u64,
        voice: VoiceState,
        now: Instant,
    ) -> Result<VoiceStep, StateError> {
        let tick = self.tick(now);
        let session = self.rest_session_mut(session_id)?;
        let mut player = session.players.get_or_insert(guild_id);
        let same_server = player.voice().is_some_and(|current| {
            current.token == voice.token
                && current.endpoint == voice.endpoint
                && current.session_id == voice.session_id
        });
        if same_server && player.voice_connected {
            player.set_voice(voice);
            return Ok(VoiceStep::Unchanged);
        }
        let generation = player.begin_voice(voice, &tick);
        Ok(VoiceStep::Connect { generation })
    }

    /// Second half, after the handshake delay. A newer voice update wins.
    pub fn finish_voice(
        &mut self,
        session_id: &str,
        guild_id: u64,
        generation: u64,
        now: Instant,
        faults: &Faults,
    ) -> Result<(), StateError> {
        let tick = self.tick(now);
        let queue_max = self.config.resume_queue_max;
        let session = self.rest_session_mut(session_id)?;
        let Some(mut player) = session.players.get_mut(guild_id) else {
            return Err(StateError::VoiceConnectFailed);
        };
        if player.voice_generation != generation || faults.voice_connect_fail {
            return Err(StateError::VoiceConnectFailed);
        }
        let mut out = Vec::new();
        player.voice_ready(&tick, &mut out);
        drop(player);
        session.flush(out, queue_max);
        Ok(())
    }

    /// Closes voice connections as Discord would (`guild_id` `None`: every player).
    pub fn close_voice(
        &mut self,
        guild_id: Option<u64>,
        code: u16,
        reason: &str,
        by_remote: bool,
        now: Instant,
    ) -> usize {
        let tick = self.tick(now);
        let queue_max = self.config.resume_queue_max;
        let mut closed = 0;
        for session in self.sessions.values_mut() {
            let targets: Vec<u64> = session
                .players
                .values()
                .filter(|player| {
                    player.voice_connected && guild_id.is_none_or(|id| id == player.guild_id)
                })
                .map(|player| player.guild_id)
                .collect();
            let mut out = Vec::new();
            for target in targets {
                let mut player = session
                    .players
                    .get_mut(target)
                    .expect("the target was listed from this session a moment ago");
                player.voice_closed(code, reason, by_remote, &tick, &mut out);
                closed += 1;
            }
            session.flush(out, queue_max);
        }
        closed
    }

    // ------------------------------------------------------------------ timers

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(Session::next_deadline)
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant, faults: &Faults) {
        let tick = self.tick(now);
        let queue_max = self.config.resume_queue_max;
        let expired: Vec<String> = self
            .sessions
            .values()
            .filter(|session| session.expires_at().is_some_and(|at| at <= now))
            .map(|session| session.id.clone())
            .collect();
        for id in expired {
            tracing::info!(session = %id, "resume timeout passed; session destroyed");
            self.sessions.remove(&id);
        }
        for session in self.sessions.values_mut() {
            let mut out = Vec::new();
            for guild_id in session.players.due(now) {
                let mut player = session
                    .players
                    .get_mut(guild_id)
                    .expect("the index lists only players in the table");
                player.handle_timeout(&tick, &mut out);
            }
            session.flush(out, queue_max);
        }
        let due: Vec<String> = self
            .sessions
            .values()
            .filter(|session| session.next_stats_at <= now)
            .map(|session| session.id.clone())
            .collect();
        for id in due {
            let stats = self.stats_message(&id, now, faults);
            let interval = self.config.stats_interval;
            if let Some(session) = self.sessions.get_mut(&id) {
                session.send(&stats, Delivery::Queued, queue_max);
                let next = session.next_stats_at + interval;
                session.next_stats_at = if next > now { next } else { now + interval };
            }
        }
    }

    fn stats_message(&mut self, session_id: &str, now: Instant, faults: &Faults) -> Message {
        let stats = self.stats(now, faults);
        let frame_stats = self
            .sessions
            .get(session_id)
            .and_then(|session| stats::frame_stats(session, self.clock.wall_ms(now), faults));
        Message::Stats(StatsMessage::new(stats, frame_stats))
    }

    // ------------------------------------------------------------------ introspection

    pub fn snapshot(&self, now: Instant) -> Vec<SessionSnapshot> {
        self.sessions
            .values()
            .map(|session| SessionSnapshot {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
                client_name: session.client_name.clone(),
                link: match &session.link {
                    Link::Open(_) => SessionLinkState::Open,
                    Link::Resuming { .. } => SessionLinkState::Resuming,
                    Link::AwaitingResume { expires_at, .. } => SessionLinkState::AwaitingResume {
                        expires_in_ms: duration_ms(expires_at.saturating_duration_since(now)),
                    },
                },
                resuming: session.resuming,
                timeout_secs: session.timeout_secs,
                players: session
                    .players
                    .values()
                    .map(|player| player_snapshot(player, now))
                    .collect(),
            })
            .collect()
    }

    /// Appends every player's [`PlayerTruth`], in the order [`NodeState::snapshot`] lists
    /// the players (session id, then guild id).
    pub fn player_truths(&self, out: &mut Vec<PlayerTruth>) {
        let players = self
            .sessions
            .values()
            .flat_map(|session| session.players.values());
        out.extend(players.map(player_truth));
    }
}

/// What [`player_snapshot`] would say about the player, minus the position, track and
/// voice details.
fn player_truth(player: &Player) -> PlayerTruth {
    PlayerTruth {
        guild_id: player.guild_id,
        has_track: player.has_track(),
        audible: player.is_advancing(),
        voice_connected: player.voice_connected,
        voice_connected_at_ms: player.connected_at_ms(),
    }
}

fn player_snapshot(player: &Player, now: Instant) -> PlayerSnapshot {
    PlayerSnapshot {
        guild_id: player.guild_id,
        track: player.track_snapshot(),
        position_ms: player.position_ms(now),
        paused: player.paused,
        playing: player.is_playing(),
        audible: player.is_advancing(),
        voice_connected: player.voice_connected,
        voice_connected_at_ms: player.connected_at_ms(),
        voice: player.voice_snapshot(),
        volume: player.volume,
    }
}

#[cfg(test)]
mod tests {
    use super::player::tests::{playback, test_track, tick};
    use super::*;
    use crate::emulator::track::TestTrackOptions;

    /// Gives the session's player for `guild_id` a voice connection and/or a track
    /// (paused or not).
    fn add_player(
        node: &mut NodeState,
        session_id: &str,
        guild_id: u64,
        (voice, track, paused): (bool, bool, bool),
        now: Instant,
    ) {
        let tick = tick(now, 1_000 + guild_id);
        let session = node.sessions.get_mut(session_id).expect("opened");
        let mut player = session.players.get_or_insert(guild_id);
        let mut out = Vec::new();
        if voice {
            player.begin_voice(VoiceState::default(), &tick);
            player.voice_ready(&tick, &mut out);
        }
        if track {
            let data = test_track(TestTrackOptions {
                length_ms: Some(60_000),
                ..TestTrackOptions::default()
            });
            player.play(playback(data), &tick, &mut out);
            player.set_paused(paused, &tick);
        }
    }

    #[test]
    fn player_truths_say_what_the_snapshot_says_in_its_order() {
        let now = Instant::now();
        let mut node = NodeState::new(
            Arc::new(EmulatorConfig::default()),
            NodeClock::start(crate::emulator::DEFAULT_EPOCH_MS),
        );
        let faults = Faults::default();
        let sessions: Vec<String> = (0..2)
            .map(|_| node.open_session("1".into(), None, now, &faults).0)
            .collect();
        let kinds = [
            (true, true, false),
            (true, true, true),
            (true, false, false),
            (false, true, false),
            (false, false, false),
        ];
        for (index, kind) in kinds.into_iter().enumerate() {
            let guild_id = 10 - index as u64;
            for session in &sessions {
                add_player(&mut node, session, guild_id, kind, now);
            }
        }
        let expected: Vec<PlayerTruth> = node
            .snapshot(now)
            .iter()
            .flat_map(|session| &session.players)
            .map(|player| PlayerTruth {
                guild_id: player.guild_id,
                has_track: player.track.is_some(),
                audible: player.audible,
                voice_connected: player.voice_connected,
                voice_connected_at_ms: player.voice_connected_at_ms,
            })
            .collect();
        let mut truths = Vec::new();
        node.player_truths(&mut truths);
        assert_eq!(truths, expected);
        assert_eq!(truths.len(), 10);
        assert!(truths.iter().any(|truth| truth.audible));
        assert!(truths.iter().any(|truth| truth.has_track && !truth.audible));
        assert!(
            truths
                .iter()
                .any(|truth| truth.voice_connected_at_ms.is_some())
        );
    }
}
