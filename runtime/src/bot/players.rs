//! Players: asking where to play, creating the player through the bot's session on that
//! node, looping its tracks, re-creating it when its session died and the node came
//! back, and stopping it.
//!
//! A guild's player lives in one of the bot's own sessions. Its life is
//! `Placing -> Pending -> Creating -> Live`; a closed session makes it `Lost` until the
//! node returns or the controller announces a move. Every change of where it lives bumps
//! its generation, so the completion of superseded work is recognised and undone.

use std::sync::Arc;

use switchyard_core::command::DegradedReason;
use switchyard_core::ids::{GuildId, NodeId, PlanId, RegionId, ShardId};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::BotError;
use super::placement::{Placement, PlacementError, PlacementRequest, PlacementSource};
use super::runner::{Bot, Completion};
use super::sessions::TrackEndReason;
use super::snapshots::SnapshotWrite;
use super::state::{BotEvent, PlayerStatus, PlayerView};
use super::voice::{VoiceGateway, to_wire};
use crate::lavalink::LavalinkClient;
use crate::lavalink::wire::{PlayerUpdate, TrackUpdate};
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::store_schema::VoiceState;

/// A guild that starts playing.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayRequest {
    /// The guild.
    pub guild: GuildId,
    /// Its plan.
    pub plan: PlanId,
    /// The region it asked for, if any.
    pub region: Option<RegionId>,
    /// Its data-residency pin, if any.
    pub residency: Option<RegionId>,
    /// Encoded tracks, played in order and looped; at least one.
    pub tracks: Vec<String>,
    /// The voice channel to join.
    pub channel_id: String,
    /// Volume, 0..=1000.
    pub volume: u16,
    /// Whether to start paused.
    pub paused: bool,
    /// Lavalink filters, passed through (`null` for none).
    pub filters: serde_json::Value,
}

impl PlayRequest {
    /// Plays `tracks` in `channel_id` at volume 100, unpaused, without filters.
    pub fn new(guild: GuildId, plan: PlanId, tracks: Vec<String>, channel_id: String) -> Self {
        Self {
            guild,
            plan,
            region: None,
            residency: None,
            tracks,
            channel_id,
            volume: 100,
            paused: false,
            filters: serde_json::Value::Null,
        }
    }
}

/// How a play request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayOutcome {
    /// The player plays on this node.
    Playing {
        /// The node.
        node: NodeId,
        /// Who chose it.
        source: PlacementSource,
    },
    /// The controller has no node for the guild now; nothing was created.
    Degraded {
        /// The reason, when known.
        reason: Option<DegradedReason>,
        /// The controller's answer as sent.
        detail: serde_json::Value,
    },
}

/// How the next create request must go.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreatePlan {
    /// Join voice first (a new voice state): set for a first creation and for a shard
    /// taken over from another process.
    pub(crate) rejoin_voice: bool,
    /// Players to delete before creating (another session's copy of this guild).
    pub(crate) delete_first: Vec<(NodeId, String)>,
    /// Create only if the routing table still names the node: a session that came back
    /// must not resurrect a player the controller is moving elsewhere.
    pub(crate) check_route: bool,
}

/// One guild's player.
#[derive(Debug)]
pub(crate) struct PlayerEntry {
    pub(crate) shard: ShardId,
    pub(crate) tracks: Vec<String>,
    pub(crate) track_index: usize,
    pub(crate) channel_id: String,
    pub(crate) volume: u16,
    pub(crate) paused: bool,
    pub(crate) filters: serde_json::Value,
    pub(crate) voice: Option<VoiceState>,
    pub(crate) node: Option<NodeId>,
    pub(crate) session_id: Option<String>,
    pub(crate) status: PlayerStatus,
    /// The last known position and when it was true.
    pub(crate) position_ms: u64,
    pub(crate) position_at: Instant,
    pub(crate) generation: u64,
    pub(crate) create: CreatePlan,
    pub(crate) source: PlacementSource,
    /// The owner's play request, answered once the first creation ends.
    pub(crate) reply: Option<oneshot::Sender<Result<PlayOutcome, BotError>>>,
    /// The latest position report from a session the player is not (yet) in.
    pub(crate) report_elsewhere: Option<PositionReport>,
}

/// A `playerUpdate` from a session other than the player's.
#[derive(Debug, Clone)]
pub(crate) struct PositionReport {
    pub(crate) node: NodeId,
    pub(crate) session_id: String,
    pub(crate) position_ms: u64,
    pub(crate) received_at: Instant,
}

impl PlayerEntry {
    /// The position now: advancing only while live and unpaused.
    pub(crate) fn position_ms_at(&self, now: Instant) -> u64 {
        if self.paused || self.status != PlayerStatus::Live {
            return self.position_ms;
        }
        let elapsed = now.saturating_duration_since(self.position_at).as_millis();
        self.position_ms
            .saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }

    pub(crate) fn track(&self) -> &str {
        // Entries are only made with at least one track, and the index wraps.
        &self.tracks[self.track_index % self.tracks.len()]
    }

    pub(crate) fn view(&self) -> PlayerView {
        PlayerView {
            node: self.node.clone(),
            session_id: self.session_id.clone(),
            status: self.status.clone(),
        }
    }

    fn answer(&mut self, outcome: Result<PlayOutcome, BotError>) {
        if let Some(reply) = self.reply.take() {
            // An owner that stopped waiting is no loss.
            let _ = reply.send(outcome);
        }
    }

    fn update(&self, position_ms: u64, voice: &VoiceState) -> PlayerUpdate {
        PlayerUpdate {
            track: Some(TrackUpdate {
                encoded: self.track().to_owned(),
            }),
            position: position_ms,
            volume: self.volume,
            paused: self.paused,
            filters: self.filters.clone(),
            voice: to_wire(voice),
        }
    }
}

/// Whether `track` can be an encoded track (standard base64, as lavaplayer writes it).
/// An identifier or URL passed by mistake is refused here, with a clear error, rather
/// than by the node: the controller re-creates players from the encoded track in the
/// snapshot, so only encoded tracks can ever move.
fn looks_encoded(track: &str) -> bool {
    !track.is_empty()
        && track
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Why a create request did not create.
#[derive(Debug)]
pub(crate) enum CreateError {
    /// The routing table names another node: a move is under way.
    RoutedElsewhere(NodeId),
    Failed(BotError),
}

/// A finished create request.
#[derive(Debug)]
pub(crate) struct CreateResult {
    guild: GuildId,
    generation: u64,
    node: NodeId,
    session_id: String,
    position_ms: u64,
    result: Result<VoiceState, CreateError>,
}

/// Everything a create request needs, taken from the loop's state.
struct CreateJob<H: HttpClient, S: Store> {
    guild: GuildId,
    generation: u64,
    node: NodeId,
    session_id: String,
    client: LavalinkClient<H>,
    store: S,
    voice: Arc<dyn VoiceGateway>,
    /// The voice state to reuse, or `None` to join afresh.
    current_voice: Option<VoiceState>,
    channel_id: String,
    deletes: Vec<(LavalinkClient<H>, String)>,
    check_route: bool,
    position_ms: u64,
    update_template: PlayerUpdateTemplate,
}

/// The player fields of a create request, minus the voice state it may still have to get.
struct PlayerUpdateTemplate {
    track: String,
    volume: u16,
    paused: bool,
    filters: serde_json::Value,
}

impl<H: HttpClient, S: Store> CreateJob<H, S> {
    async fn run(self) -> Completion {
        let result = self.create().await;
        Completion::Created(CreateResult {
            guild: self.guild,
            generation: self.generation,
            node: self.node,
            session_id: self.session_id,
            position_ms: self.position_ms,
            result,
        })
    }

    async fn create(&self) -> Result<VoiceState, CreateError> {
        if self.check_route
            && let Ok(Some(routed)) = self.store.route(self.guild).await
            && routed != self.node
        {
            return Err(CreateError::RoutedElsewhere(routed));
        }
        let voice = match &self.current_voice {
            Some(voice) => voice.clone(),
            None => self
                .voice
                .join(self.guild, &self.channel_id)
                .await
                .map_err(|e| CreateError::Failed(e.into()))?,
        };
        for (client, session_id) in &self.deletes {
            // Best effort: a node that does not answer holds no audible player either.
            if let Err(error) = client.delete_player(session_id, self.guild).await {
                tracing::debug!(guild = %self.guild, %error, "could not delete the old player");
            }
        }
        let template = &self.update_template;
        let update = PlayerUpdate {
            track: Some(TrackUpdate {
                encoded: template.track.clone(),
            }),
            position: self.position_ms,
            volume: template.volume,
            paused: template.paused,
            filters: template.filters.clone(),
            voice: to_wire(&voice),
        };
        self.client
            .update_player(&self.session_id, self.guild, &update)
            .await
            .map_err(|e| CreateError::Failed(e.into()))?;
        Ok(voice)
    }
}

impl<H: HttpClient, S: Store> Bot<H, S> {
    pub(crate) fn publish_player(&self, guild: GuildId) {
        let view = self.players.get(&guild).map(PlayerEntry::view);
        self.state.update(|state| match view {
            Some(view) => {
                state.players.insert(guild, view);
            }
            None => {
                state.players.remove(&guild);
            }
        });
    }

    pub(crate) fn handle_play(
        &mut self,
        request: PlayRequest,
        reply: oneshot::Sender<Result<PlayOutcome, BotError>>,
    ) {
        let guild = request.guild;
        let shard = guild.shard(self.config.shard_count);
        let refusal = if request.tracks.is_empty() {
            Some(BotError::NoTracks(guild))
        } else if let Some(index) = request.tracks.iter().position(|t| !looks_encoded(t)) {
            Some(BotError::NotEncoded { guild, index })
        } else if self.players.contains_key(&guild) {
            Some(BotError::AlreadyPlaying(guild))
        } else if !self.is_acting_for(shard) {
            Some(BotError::NotOwner { guild, shard })
        } else {
            None
        };
        if let Some(error) = refusal {
            let _ = reply.send(Err(error));
            return;
        }
        let generation = self.next_generation();
        self.players.insert(
            guild,
            PlayerEntry {
                shard,
                tracks: request.tracks,
                track_index: 0,
                channel_id: request.channel_id,
                volume: request.volume,
                paused: request.paused,
                filters: request.filters,
                voice: None,
                node: None,
                session_id: None,
                status: PlayerStatus::Placing,
                position_ms: 0,
                position_at: Instant::now(),
                generation,
                create: CreatePlan {
                    rejoin_voice: true,
                    ..CreatePlan::default()
                },
                source: PlacementSource::Controller,
                reply: Some(reply),
                report_elsewhere: None,
            },
        );
        self.publish_player(guild);
        let placement = self.placement.clone();
        let asked = PlacementRequest {
            plan: request.plan,
            region: request.region,
            residency: request.residency,
        };
        self.tasks.spawn(async move {
            let result = placement.place(guild, &asked).await;
            Completion::Placed {
                guild,
                generation,
                result,
            }
        });
    }

    pub(crate) fn on_placed(
        &mut self,
        guild: GuildId,
        generation: u64,
        result: Result<Placement, PlacementError>,
    ) {
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        if entry.generation != generation {
            return;
        }
        let failure = match result {
            Err(error) => Some(BotError::Placement(error)),
            Ok(Placement::Degraded { reason, detail }) => {
                entry.answer(Ok(PlayOutcome::Degraded { reason, detail }));
                None
            }
            Ok(Placement::Node { node, source }) => {
                if self.sessions.contains_key(&node) {
                    entry.node = Some(node);
                    entry.source = source;
                    entry.status = PlayerStatus::Pending;
                    self.try_create(guild);
                    return;
                }
                self.release(guild);
                Some(BotError::NoSession { node })
            }
        };
        if let Some(mut entry) = self.players.remove(&guild) {
            if let Some(error) = failure {
                entry.answer(Err(error));
            }
        }
        self.publish_player(guild);
    }

    /// Starts creating a pending player, if the bot has a session on its node.
    pub(crate) fn try_create(&mut self, guild: GuildId) {
        let now = Instant::now();
        let generation = self.next_generation();
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        let (Some(node), PlayerStatus::Pending) = (entry.node.clone(), &entry.status) else {
            return;
        };
        let (Some(session_id), Some(client)) = (
            self.sessions.get(&node).cloned(),
            self.clients.get(&node).cloned(),
        ) else {
            return;
        };
        let deletes = entry
            .create
            .delete_first
            .iter()
            .filter_map(|(old, session)| Some((self.clients.get(old)?.clone(), session.clone())))
            .collect();
        let job = CreateJob {
            guild,
            generation,
            node,
            session_id: session_id.clone(),
            client,
            store: self.store.clone(),
            voice: self.voice.clone(),
            current_voice: entry.voice.clone().filter(|_| !entry.create.rejoin_voice),
            channel_id: entry.channel_id.clone(),
            deletes,
            check_route: entry.create.check_route,
            position_ms: entry.position_ms_at(now),
            update_template: PlayerUpdateTemplate {
                track: entry.track().to_owned(),
                volume: entry.volume,
                paused: entry.paused,
                filters: entry.filters.clone(),
            },
        };
        entry.generation = generation;
        entry.session_id = Some(session_id);
        entry.status = PlayerStatus::Creating;
        self.publish_player(guild);
        self.tasks.spawn(job.run());
    }

    pub(crate) fn on_created(&mut self, created: CreateResult) {
        let CreateResult {
            guild,
            generation,
            node,
            session_id,
            position_ms,
            result,
        } = created;
        let current = self
            .players
            .get(&guild)
            .is_some_and(|entry| entry.generation == generation);
        if !current {
            if result.is_ok() {
                // Superseded (moved, stopped, fenced, lost) while it was being made: it
                // must not play beside the player that replaced it.
                self.add_stale(guild, node, session_id);
            }
            return;
        }
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        match result {
            Ok(voice) => {
                entry.voice = Some(voice);
                entry.status = PlayerStatus::Live;
                entry.position_ms = position_ms;
                entry.position_at = Instant::now();
                entry.create = CreatePlan::default();
                let source = entry.source;
                entry.answer(Ok(PlayOutcome::Playing {
                    node: node.clone(),
                    source,
                }));
                self.emit(BotEvent::PlayerCreated { guild, node });
                self.publish_player(guild);
                self.write_snapshot(guild);
            }
            Err(CreateError::RoutedElsewhere(routed)) => {
                tracing::debug!(%guild, %node, %routed, "not re-created: a move is under way");
                entry.status = PlayerStatus::Pending;
                self.publish_player(guild);
            }
            Err(CreateError::Failed(error)) if entry.reply.is_some() => {
                entry.answer(Err(error));
                self.players.remove(&guild);
                self.publish_player(guild);
                // A timed-out request may still have made the player.
                self.add_stale(guild, node, session_id);
                self.release(guild);
            }
            Err(CreateError::Failed(error)) => {
                entry.status = PlayerStatus::Pending;
                let reason = error.to_string();
                self.publish_player(guild);
                self.emit(BotEvent::PlayerCreateFailed {
                    guild,
                    node,
                    reason,
                });
            }
        }
    }

    /// A session on `node` opened: re-create the players that wait for it.
    pub(crate) fn revive_players_on(&mut self, node: &NodeId) {
        let waiting: Vec<GuildId> = self
            .players
            .iter()
            .filter(|(_, p)| p.node.as_ref() == Some(node))
            .filter(|(_, p)| matches!(p.status, PlayerStatus::Lost | PlayerStatus::Pending))
            .map(|(guild, _)| *guild)
            .collect();
        for guild in waiting {
            if let Some(entry) = self.players.get_mut(&guild) {
                entry.status = PlayerStatus::Pending;
            }
            self.try_create(guild);
        }
    }

    /// Retries pending creations (after a failure or a skipped route check).
    pub(crate) fn retry_pending(&mut self) {
        let pending: Vec<GuildId> = self
            .players
            .iter()
            .filter(|(_, p)| p.status == PlayerStatus::Pending)
            .map(|(guild, _)| *guild)
            .collect();
        for guild in pending {
            self.try_create(guild);
        }
    }

    /// The session closed: its players are gone. Returns the guilds that lost theirs.
    pub(crate) fn lose_players_in(&mut self, node: &NodeId, session_id: &str) -> Vec<GuildId> {
        let now = Instant::now();
        let mut lost = Vec::new();
        for (guild, entry) in &mut self.players {
            let here = entry.node.as_ref() == Some(node)
                && entry.session_id.as_deref() == Some(session_id);
            if !here || !matches!(entry.status, PlayerStatus::Live | PlayerStatus::Creating) {
                continue;
            }
            // Freeze the position where the player was last known to be: the node
            // destroyed it then, and a re-creation resumes from there.
            entry.position_ms = entry.position_ms_at(now);
            entry.position_at = now;
            entry.status = PlayerStatus::Lost;
            entry.generation += 1;
            entry.create = CreatePlan {
                check_route: true,
                ..CreatePlan::default()
            };
            lost.push(*guild);
        }
        for guild in &lost {
            self.publish_player(*guild);
        }
        lost
    }

    /// Whether an event from `node`/`session_id` is about the guild's current player;
    /// one from a node it left triggers the deletion of the player left there.
    fn is_current(&mut self, guild: GuildId, node: &NodeId, session_id: &str) -> bool {
        let Some(entry) = self.players.get(&guild) else {
            return false;
        };
        if entry.node.as_ref() == Some(node) && entry.session_id.as_deref() == Some(session_id) {
            return true;
        }
        if self.stale.contains_key(&(guild, node.clone())) {
            // The old node answers again: now is the time to delete what is left there.
            self.delete_stale(guild, node.clone());
        }
        false
    }

    pub(crate) fn on_player_update(
        &mut self,
        guild: GuildId,
        node: &NodeId,
        session_id: &str,
        position_ms: u64,
        received_at: Instant,
    ) {
        let current = self.is_current(guild, node, session_id);
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        if !current {
            // Possibly the player a move is creating for the bot, reported before the
            // bot reads the announcement: kept so the move starts from its position.
            entry.report_elsewhere = Some(PositionReport {
                node: node.clone(),
                session_id: session_id.to_owned(),
                position_ms,
                received_at,
            });
            return;
        }
        entry.position_ms = position_ms;
        entry.position_at = received_at;
        self.emit(BotEvent::PlayerUpdated {
            guild,
            node: node.clone(),
            position_ms,
        });
    }

    pub(crate) fn on_track_ended(
        &mut self,
        guild: GuildId,
        node: &NodeId,
        session_id: &str,
        reason: TrackEndReason,
    ) {
        if !self.is_current(guild, node, session_id) {
            return;
        }
        let may_start_next = reason.may_start_next();
        self.emit(BotEvent::TrackEnded { guild, reason });
        if may_start_next {
            self.start_next_track(guild);
        }
    }

    /// Tracks loop: the next one (or the first again) starts from zero.
    fn start_next_track(&mut self, guild: GuildId) {
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        let (PlayerStatus::Live, Some(node), Some(session_id), Some(voice)) = (
            &entry.status,
            entry.node.clone(),
            entry.session_id.clone(),
            entry.voice.clone(),
        ) else {
            return;
        };
        let Some(client) = self.clients.get(&node).cloned() else {
            return;
        };
        if !self
            .shards
            .get(&entry.shard)
            .is_some_and(|shard| shard.is_acting())
        {
            return;
        }
        entry.track_index = (entry.track_index + 1) % entry.tracks.len();
        entry.position_ms = 0;
        entry.position_at = Instant::now();
        let update = entry.update(0, &voice);
        let generation = entry.generation;
        self.tasks.spawn(async move {
            let result = client.update_player(&session_id, guild, &update).await;
            Completion::TrackAdvanced {
                guild,
                generation,
                result,
            }
        });
    }

    pub(crate) fn on_track_advanced(
        &mut self,
        guild: GuildId,
        generation: u64,
        result: Result<(), crate::lavalink::LavalinkError>,
    ) {
        let current = self
            .players
            .get(&guild)
            .is_some_and(|entry| entry.generation == generation);
        match result {
            Ok(()) if current => self.write_snapshot(guild),
            Ok(()) => {}
            Err(error) => tracing::debug!(%guild, %error, "could not start the next track"),
        }
    }

    pub(crate) fn handle_stop(
        &mut self,
        guild: GuildId,
        reply: oneshot::Sender<Result<(), BotError>>,
    ) {
        let Some(mut entry) = self.players.remove(&guild) else {
            let _ = reply.send(Err(BotError::NotPlaying(guild)));
            return;
        };
        entry.answer(Err(BotError::Stopped(guild)));
        self.publish_player(guild);
        self.emit(BotEvent::PlayerStopped { guild });
        if let (Some(node), Some(session_id)) = (entry.node, entry.session_id) {
            self.add_stale(guild, node, session_id);
        }
        let fence = self
            .shards
            .get(&entry.shard)
            .filter(|shard| shard.is_acting())
            .map(|shard| shard.epoch);
        let store = self.store.clone();
        let placement = self.placement.clone();
        let process = self.config.process.clone();
        let shard = entry.shard;
        self.tasks.spawn(async move {
            let mut writes = Vec::new();
            if let Some(epoch) = fence {
                let result = store
                    .delete_player_snapshot(guild, shard, &process, epoch)
                    .await;
                writes.push(SnapshotWrite {
                    guild,
                    shard,
                    result,
                });
            }
            if let Err(error) = placement.release(guild).await {
                tracing::debug!(%guild, %error, "could not tell the controller of a stop");
            }
            let _ = reply.send(Ok(()));
            Completion::Snapshots {
                writes,
                refresh: false,
            }
        });
    }

    /// Tells the controller a guild no longer plays (best effort).
    pub(crate) fn release(&mut self, guild: GuildId) {
        let placement = self.placement.clone();
        self.tasks.spawn(async move {
            if let Err(error) = placement.release(guild).await {
                tracing::debug!(%guild, %error, "could not release a placement");
            }
            Completion::Done
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_encoded_tracks_are_accepted() {
        assert!(looks_encoded(
            "QAAAjQIAJVJpY2sgQXN0bGV5IC0gTmV2ZXIgR29ubmEgR2l2ZSBZb3UgVXA="
        ));
        assert!(!looks_encoded(
            "https://emulator.invalid/g1.mp3?length_ms=1000"
        ));
        assert!(!looks_encoded("ytsearch:never gonna"));
        assert!(!looks_encoded(""));
    }
}
