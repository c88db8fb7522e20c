//! Players: asking where to play, following their positions and track ends, looping
//! their tracks, and stopping them. Creating a player in one of the bot's sessions is
//! [`super::create`]'s.
//!
//! A guild's player lives in one of the bot's own sessions. Its life is
//! `Placing -> Pending -> Creating -> Live`; a closed session makes it `Lost` until the
//! node returns or the controller announces a move. Every change of where it lives bumps
//! its generation, so the completion of superseded work is recognised and undone.

use switchyard_core::command::DegradedReason;
use switchyard_core::ids::{GuildId, NodeId, PlanId, RegionId, ShardId};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::BotError;
use super::create::CreatePlan;
use super::placement::{Placement, PlacementError, PlacementRequest, PlacementSource};
use super::runner::{Bot, Completion};
use super::sessions::TrackEndReason;
use super::snapshots::SnapshotWrite;
use super::state::{BotEvent, PlayerStatus, PlayerView};
use super::voice::to_wire;
use crate::lavalink::wire::{PlayerUpdate, TrackUpdate};
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::store_schema::VoiceState;

/// How far a node's reported position may stray from the snapshot's extrapolation
/// before the snapshot is rewritten: beyond the jitter of report delivery, well below
/// what a listener would notice after a move.
const POSITION_DRIFT_MAX_MS: u64 = 1_000;

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
    /// What the guild asked the controller for; `None` for a guild taken over with a
    /// shard, which already has its node.
    pub(crate) placement: Option<PlacementRequest>,
    /// When a degraded guild asks for a node again.
    pub(crate) placement_retry_at: Option<Instant>,
    /// The position the last snapshot written implies; node reports are checked
    /// against it.
    pub(crate) written_position: Option<WrittenPosition>,
}

/// A `playerUpdate` from a session other than the player's.
#[derive(Debug, Clone)]
pub(crate) struct PositionReport {
    pub(crate) node: NodeId,
    pub(crate) session_id: String,
    pub(crate) position_ms: u64,
    pub(crate) received_at: Instant,
}

/// A position as a snapshot states it, which readers extrapolate while not paused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WrittenPosition {
    pub(crate) position_ms: u64,
    pub(crate) at: Instant,
    pub(crate) paused: bool,
}

/// `position_ms` as of `at`, advanced to `now` when `advancing`.
fn extrapolate(position_ms: u64, at: Instant, now: Instant, advancing: bool) -> u64 {
    if !advancing {
        return position_ms;
    }
    let elapsed = now.saturating_duration_since(at).as_millis();
    position_ms.saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX))
}

impl WrittenPosition {
    /// The position a reader of the snapshot assumes at `now`.
    fn implied_at(&self, now: Instant) -> u64 {
        extrapolate(self.position_ms, self.at, now, !self.paused)
    }
}

impl PlayerEntry {
    /// The position now: advancing only while live and unpaused.
    pub(crate) fn position_ms_at(&self, now: Instant) -> u64 {
        let advancing = !self.paused && self.status == PlayerStatus::Live;
        extrapolate(self.position_ms, self.position_at, now, advancing)
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

    pub(crate) fn answer(&mut self, outcome: Result<PlayOutcome, BotError>) {
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
        let asked = PlacementRequest {
            plan: request.plan,
            region: request.region,
            residency: request.residency,
        };
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
                generation: 0,
                create: CreatePlan {
                    rejoin_voice: true,
                    ..CreatePlan::default()
                },
                source: PlacementSource::Controller,
                reply: Some(reply),
                report_elsewhere: None,
                placement: Some(asked),
                placement_retry_at: None,
                written_position: None,
            },
        );
        self.ask_placement(guild);
    }

    /// Asks the controller where `guild` plays.
    pub(crate) fn ask_placement(&mut self, guild: GuildId) {
        let generation = self.next_generation();
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        let Some(asked) = entry.placement.clone() else {
            return;
        };
        entry.generation = generation;
        entry.status = PlayerStatus::Placing;
        entry.placement_retry_at = None;
        self.publish_player(guild);
        let placement = self.placement.clone();
        self.tasks.spawn(async move {
            let result = placement.place(guild, &asked).await;
            Completion::Placed {
                guild,
                generation,
                result,
            }
        });
    }

    /// Asks again for the degraded guilds whose time has come.
    pub(crate) fn retry_placements(&mut self) {
        let now = Instant::now();
        let due: Vec<GuildId> = self
            .players
            .iter()
            .filter(|(_, p)| p.status == PlayerStatus::Degraded)
            .filter(|(_, p)| p.placement_retry_at.is_none_or(|at| at <= now))
            .map(|(guild, _)| *guild)
            .collect();
        for guild in due {
            self.ask_placement(guild);
        }
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
        let first = entry.reply.is_some();
        let failure = match result {
            Ok(Placement::Node { node, source }) if self.sessions.contains_key(&node) => {
                // A player of the guild still open elsewhere must not stay beside the
                // one made here.
                let left_behind = match (&entry.node, &entry.session_id) {
                    (Some(old), Some(session)) if *old != node => (self.sessions.get(old)
                        == Some(session))
                    .then(|| (old.clone(), session.clone())),
                    _ => None,
                };
                entry.node = Some(node);
                entry.source = source;
                entry.status = PlayerStatus::Pending;
                // The answer is as fresh as the routing table can be (fresher: the
                // controller writes the route after answering).
                entry.create.check_route = false;
                if let Some((old, session)) = left_behind {
                    self.add_stale(guild, old, session);
                }
                self.try_create(guild);
                return;
            }
            Ok(Placement::Node { node, .. }) => BotError::NoSession { node },
            Ok(Placement::Degraded { reason, detail }) => {
                // The guild still wants to play: it asks again later, and the owner
                // hears now why it does not play yet.
                entry.answer(Ok(PlayOutcome::Degraded { reason, detail }));
                self.wait_for_placement(guild);
                return;
            }
            Err(error) => BotError::Placement(error),
        };
        if !first {
            tracing::debug!(%guild, %failure, "placement retry failed");
            self.wait_for_placement(guild);
            return;
        }
        if matches!(failure, BotError::NoSession { .. }) {
            self.release(guild);
        }
        if let Some(mut entry) = self.players.remove(&guild) {
            entry.answer(Err(failure));
        }
        self.publish_player(guild);
    }

    fn wait_for_placement(&mut self, guild: GuildId) {
        let retry_at = Instant::now() + self.config.timing.placement_retry_interval;
        if let Some(entry) = self.players.get_mut(&guild) {
            entry.status = PlayerStatus::Degraded;
            entry.placement_retry_at = Some(retry_at);
        }
        self.publish_player(guild);
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
        if self.stale.contains(guild, node) {
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
        // Readers extrapolate the last snapshot's position; once the node's report
        // strays from that (a stall, a seek made elsewhere), the snapshot must say so.
        let strayed = entry.written_position.is_some_and(|written| {
            written.implied_at(received_at).abs_diff(position_ms) > POSITION_DRIFT_MAX_MS
        });
        if strayed {
            self.write_snapshot(guild);
        }
        self.emit(BotEvent::PlayerUpdated {
            guild,
            node: node.clone(),
            position_ms,
        });
    }

    /// The guild's live player lost its voice connection (Discord closed it because
    /// another connection took the guild's voice session, or the voice server went
    /// away): join voice again and update the player, so the guild is heard from where
    /// the bot routes it. A player elsewhere is left to its deletion.
    pub(crate) fn on_voice_lost(&mut self, guild: GuildId, node: &NodeId, session_id: &str) {
        if !self.is_current(guild, node, session_id) {
            return;
        }
        let Some(entry) = self.players.get_mut(&guild) else {
            return;
        };
        if entry.status != PlayerStatus::Live {
            return; // A creation under way joins voice anyway.
        }
        if entry.placement.is_some() {
            // Another connection took the voice session: most likely a move the bot
            // has not read yet. The controller says where the guild plays now; the
            // player is then (re)made there, and one left here is deleted.
            tracing::debug!(%guild, %node, "voice lost: asking where the guild plays");
            self.ask_placement(guild);
            return;
        }
        tracing::debug!(%guild, %node, "voice lost: rejoining");
        entry.status = PlayerStatus::Pending;
        entry.create = super::create::CreatePlan {
            rejoin_voice: true,
            ..Default::default()
        };
        self.try_create(guild);
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
