//! Creating a guild's player in one of the bot's sessions: the first creation after a
//! placement, a re-creation when the session that held it died and the node answers
//! again, and a takeover of another process's player after a shard changed hands.
//!
//! A create request runs as a task: optionally it checks the routing table (a session
//! that came back must not resurrect a player the controller is moving elsewhere), joins
//! voice afresh, deletes the players it replaces, then `PATCH`es the player with its
//! track, position, volume, paused flag, filters and all four voice fields.

use std::sync::Arc;

use switchyard_core::ids::{GuildId, NodeId};
use tokio::time::Instant;

use super::BotError;
use super::players::PlayOutcome;
use super::runner::{Bot, Completion};
use super::state::{BotEvent, PlayerStatus};
use super::voice::{VoiceGateway, to_wire};
use crate::lavalink::LavalinkClient;
use crate::lavalink::wire::{PlayerUpdate, TrackUpdate};
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::store_schema::VoiceState;

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
        if self.stale.deleting(guild, &node) {
            return; // Tried again once the deletion has landed.
        }
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
        let entry = self.players.get(&guild);
        let current = entry.is_some_and(|entry| entry.generation == generation);
        // A player is keyed by session and guild: one made where the guild now lives
        // is the guild's player, whoever asked for it.
        let same_place = entry.is_some_and(|entry| {
            entry.node.as_ref() == Some(&node) && entry.session_id.as_ref() == Some(&session_id)
        });
        if !current {
            match result {
                Ok(voice) if same_place => {
                    // The voice it connected with is the one the node now holds.
                    if let Some(entry) = self.players.get_mut(&guild) {
                        entry.voice = Some(voice);
                    }
                }
                // Superseded (moved, stopped, fenced) while it was being made: it must
                // not play beside the player that replaced it.
                Ok(_) => self.add_stale(guild, node, session_id),
                Err(_) => {}
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

    /// A session on `node` opened: create the players placed there that waited for it,
    /// and ask the controller again about those lost there. While a lost player was away
    /// the controller may have moved it, reported it degraded or be re-placing it right
    /// now; re-creating it where it was would then leave two players. The controller's
    /// answer (or the routing table, while it is away) says where it plays now.
    pub(crate) fn revive_players_on(&mut self, node: &NodeId) {
        let waiting: Vec<(GuildId, PlayerStatus, bool)> = self
            .players
            .iter()
            .filter(|(_, p)| p.node.as_ref() == Some(node))
            .filter(|(_, p)| matches!(p.status, PlayerStatus::Lost | PlayerStatus::Pending))
            .map(|(guild, p)| (*guild, p.status.clone(), p.placement.is_some()))
            .collect();
        for (guild, status, can_ask) in waiting {
            if status == PlayerStatus::Lost && can_ask {
                self.ask_placement(guild);
                continue;
            }
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
        let lost: Vec<GuildId> = self
            .players
            .iter()
            .filter(|(_, entry)| {
                entry.node.as_ref() == Some(node)
                    && entry.session_id.as_deref() == Some(session_id)
                    && matches!(entry.status, PlayerStatus::Live | PlayerStatus::Creating)
            })
            .map(|(guild, _)| *guild)
            .collect();
        for guild in &lost {
            let generation = self.next_generation();
            let Some(entry) = self.players.get_mut(guild) else {
                continue;
            };
            // Freeze the position where the player was last known to be: the node
            // destroyed it then, and a re-creation resumes from there.
            entry.position_ms = entry.position_ms_at(now);
            entry.position_at = now;
            entry.status = PlayerStatus::Lost;
            // A create request still in flight made nothing that survives.
            entry.generation = generation;
            entry.create = CreatePlan {
                check_route: true,
                ..CreatePlan::default()
            };
        }
        for guild in &lost {
            self.publish_player(*guild);
        }
        lost
    }
}
