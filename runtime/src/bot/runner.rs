//! The bot's loop: one task that owns every belief (players, shards, sessions, the move
//! cursor) and changes them in response to session events, the owner's commands, timers
//! and the completions of the network work it spawns.
//!
//! Nothing here awaits the network inline: requests run as tasks in a `JoinSet` and come
//! back as a [`Completion`], so a hung node or a dead store never stalls the others, and
//! dropping the loop (a crashed simulated host) aborts them all.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_core::ids::{GuildId, NodeId, ShardId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Interval, MissedTickBehavior};

use super::BotError;
use super::clock::BotClock;
use super::config::BotConfig;
use super::create::CreateResult;
use super::moves::{MoveCursor, MovesRead};
use super::placement::{Placement, PlacementClient, PlacementError};
use super::players::{PlayOutcome, PlayRequest, PlayerEntry};
use super::sessions::{SessionEvent, SessionEventKind};
use super::shards::{HeartbeatResult, RestoreItem, ShardEntry};
use super::snapshots::SnapshotWrite;
use super::stale::StaleBook;
use super::state::{BotEvent, BotState};
use super::voice::VoiceGateway;
use crate::lavalink::{LavalinkClient, LavalinkError};
use crate::ports::http::HttpClient;
use crate::ports::store::{Store, StoreError};
use crate::store_schema::ShardLease;

/// What the owner asks of the loop.
#[derive(Debug)]
pub(crate) enum Command {
    Play {
        request: PlayRequest,
        reply: oneshot::Sender<Result<PlayOutcome, BotError>>,
    },
    Stop {
        guild: GuildId,
        reply: oneshot::Sender<Result<(), BotError>>,
    },
    Shutdown,
}

/// A spawned piece of network work, finished.
#[derive(Debug)]
pub(crate) enum Completion {
    Placed {
        guild: GuildId,
        generation: u64,
        result: Result<Placement, PlacementError>,
    },
    Created(CreateResult),
    TrackAdvanced {
        guild: GuildId,
        generation: u64,
        result: Result<(), LavalinkError>,
    },
    Snapshots {
        writes: Vec<SnapshotWrite>,
        refresh: bool,
    },
    Heartbeats(Vec<HeartbeatResult>),
    Moves(Result<MovesRead, StoreError>),
    Leases(Result<BTreeMap<ShardId, ShardLease>, StoreError>),
    Restore {
        shard: ShardId,
        epoch: u64,
        result: Result<Vec<RestoreItem>, StoreError>,
    },
    StaleDeleted {
        guild: GuildId,
        node: NodeId,
        session_id: String,
        result: Result<(), LavalinkError>,
    },
    /// Work whose outcome needs no further step (logged where it ran).
    Done,
}

/// The loop's state. Built by [`super::BotProcess`], consumed by [`Bot::run`].
pub(crate) struct Bot<H: HttpClient, S: Store> {
    pub(crate) config: Arc<BotConfig>,
    pub(crate) clock: BotClock,
    pub(crate) store: S,
    pub(crate) placement: PlacementClient<H, S>,
    pub(crate) clients: BTreeMap<NodeId, LavalinkClient<H>>,
    pub(crate) voice: Arc<dyn VoiceGateway>,
    pub(crate) state: BotState,
    pub(crate) events: broadcast::Sender<BotEvent>,
    /// The open session per node.
    pub(crate) sessions: BTreeMap<NodeId, String>,
    pub(crate) players: BTreeMap<GuildId, PlayerEntry>,
    pub(crate) shards: BTreeMap<ShardId, ShardEntry>,
    /// Players the bot left behind on a node it moved away from, still to delete:
    pub(crate) stale: StaleBook,
    pub(crate) moves: MoveCursor,
    pub(crate) tasks: JoinSet<Completion>,
    pub(crate) refresh_in_flight: bool,
    pub(crate) heartbeats_in_flight: bool,
    pub(crate) leases_in_flight: bool,
    generation: u64,
}

fn ticker(period: std::time::Duration) -> Interval {
    let mut interval = tokio::time::interval(period);
    // A loop that fell behind does one chore late rather than a burst of them.
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

impl<H: HttpClient, S: Store> Bot<H, S> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: Arc<BotConfig>,
        clock: BotClock,
        store: S,
        placement: PlacementClient<H, S>,
        clients: BTreeMap<NodeId, LavalinkClient<H>>,
        voice: Arc<dyn VoiceGateway>,
        state: BotState,
        events: broadcast::Sender<BotEvent>,
    ) -> Self {
        let mut bot = Self {
            config,
            clock,
            store,
            placement,
            clients,
            voice,
            state,
            events,
            sessions: BTreeMap::new(),
            players: BTreeMap::new(),
            shards: BTreeMap::new(),
            stale: StaleBook::default(),
            moves: MoveCursor::default(),
            tasks: JoinSet::new(),
            refresh_in_flight: false,
            heartbeats_in_flight: false,
            leases_in_flight: false,
            generation: 0,
        };
        let initial = bot.config.initial_epoch;
        for shard in bot.config.shards.clone() {
            bot.claim_shard(shard, initial, false);
        }
        bot
    }

    /// A number no earlier request carries: completions of superseded work are told
    /// apart by it.
    pub(crate) fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    pub(crate) fn emit(&self, event: BotEvent) {
        // Nobody listening is normal: the owner subscribes only if it cares.
        let _ = self.events.send(event);
    }

    /// Runs until a shutdown command or until the sessions stop.
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut session_events: mpsc::Receiver<SessionEvent>,
    ) {
        let timing = self.config.timing.clone();
        let mut retries = ticker(timing.retry_interval);
        let mut refreshes = ticker(timing.snapshot_refresh_interval);
        let mut heartbeats = ticker(timing.heartbeat_interval);
        let mut moves = ticker(timing.moves_poll_interval);
        let mut leases = ticker(timing.lease_poll_interval);
        let mut spare = ticker(timing.spare_register_interval);
        let mut commands_open = true;
        // Re-armed on every turn for the earliest acting shard's lease.
        let lapse = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(lapse);
        loop {
            let lapse_at = self.next_lapse_at();
            if let Some(at) = lapse_at
                && lapse.deadline() != at
            {
                lapse.as_mut().reset(at);
            }
            tokio::select! {
                biased;
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.complete(joined);
                }
                event = session_events.recv() => match event {
                    Some(event) => self.handle_session_event(event),
                    None => break,
                },
                command = commands.recv(), if commands_open => match command {
                    Some(Command::Shutdown) => break,
                    Some(command) => self.handle_command(command),
                    // Handles dropped: keep playing; nobody can ask for more.
                    None => commands_open = false,
                },
                _ = heartbeats.tick() => self.start_heartbeats(),
                _ = retries.tick() => self.retry_chores(),
                _ = refreshes.tick() => self.refresh_snapshots(),
                _ = moves.tick() => self.start_moves_poll(),
                _ = leases.tick() => self.start_lease_poll(),
                _ = spare.tick() => self.register_spare(),
                // After the completions: an accepted heartbeat renews the lease first.
                () = &mut lapse, if lapse_at.is_some() => self.handle_lapse_timeout(),
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Play { request, reply } => self.handle_play(request, reply),
            Command::Stop { guild, reply } => self.handle_stop(guild, reply),
            Command::Shutdown => {}
        }
    }

    fn complete(&mut self, joined: Result<Completion, JoinError>) {
        let completion = match joined {
            Ok(completion) => completion,
            Err(error) => {
                // Only a panic in a request task gets here (nothing aborts them but the
                // loop's own end); its work is retried by the next tick.
                tracing::error!(%error, "bot request task failed");
                return;
            }
        };
        match completion {
            Completion::Placed {
                guild,
                generation,
                result,
            } => self.on_placed(guild, generation, result),
            Completion::Created(created) => self.on_created(created),
            Completion::TrackAdvanced {
                guild,
                generation,
                result,
            } => self.on_track_advanced(guild, generation, result),
            Completion::Snapshots { writes, refresh } => self.on_snapshots_written(writes, refresh),
            Completion::Heartbeats(results) => self.on_heartbeats(results),
            Completion::Moves(result) => self.on_moves(result),
            Completion::Leases(result) => self.on_leases(result),
            Completion::Restore {
                shard,
                epoch,
                result,
            } => self.on_restore(shard, epoch, result),
            Completion::StaleDeleted {
                guild,
                node,
                session_id,
                result,
            } => self.on_stale_deleted(guild, node, session_id, result),
            Completion::Done => {}
        }
    }

    fn handle_session_event(&mut self, event: SessionEvent) {
        let SessionEvent {
            node,
            session_id,
            kind,
        } = event;
        match kind {
            SessionEventKind::Ready { .. } => self.on_session_ready(node, session_id),
            SessionEventKind::Closed => self.on_session_closed(node, session_id),
            SessionEventKind::PlayerUpdate {
                guild,
                position_ms,
                connected,
                received_at,
            } => {
                self.on_player_update(guild, &node, &session_id, position_ms, received_at);
                if !connected {
                    self.on_voice_lost(guild, &node, &session_id);
                }
            }
            SessionEventKind::TrackEnded { guild, reason } => {
                self.on_track_ended(guild, &node, &session_id, reason);
            }
            SessionEventKind::TrackFailed { guild, kind } => {
                tracing::debug!(%guild, %node, %kind, "track failed");
            }
            SessionEventKind::VoiceClosed { guild, code } => {
                tracing::debug!(%guild, %node, code, "voice connection closed");
                if super::voice::is_resumable_close(code) {
                    self.on_voice_lost(guild, &node, &session_id);
                }
            }
        }
    }

    fn on_session_ready(&mut self, node: NodeId, session_id: String) {
        self.sessions.insert(node.clone(), session_id.clone());
        self.state.update(|view| {
            view.sessions.insert(node.clone(), session_id.clone());
        });
        self.emit(BotEvent::SessionReady {
            node: node.clone(),
            session_id,
        });
        self.revive_players_on(&node);
    }

    fn on_session_closed(&mut self, node: NodeId, session_id: String) {
        if self.sessions.get(&node) == Some(&session_id) {
            self.sessions.remove(&node);
            self.state.update(|view| {
                view.sessions.remove(&node);
            });
        }
        // A closed session's players are gone: nothing stale remains to delete there.
        self.stale.forget_session(&node, &session_id);
        let lost = self.lose_players_in(&node, &session_id);
        self.emit(BotEvent::SessionClosed {
            node,
            session_id,
            lost,
        });
    }
}
