//! The bot side of the contract (`docs/bot-contract.md`), embeddable by a Rust bot and
//! run by the simulated bots.
//!
//! A [`BotProcess`] holds one Lavalink session per node (registered in the store), asks
//! the controller where its guilds play, creates their players in its own sessions,
//! keeps their snapshots fresh, follows the controller's moves, heartbeats the shards it
//! owns under their fencing epoch and, as a hot spare, takes over shards whose lease
//! names it. It is generic over the same ports as the controller's driver, and reads
//! time only through tokio, so under turmoil it runs deterministically.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard_core::ids::{GuildId, PlanId, ShardId};
//! use switchyard_runtime::adapters::{ProductionRedisStore, RedisStoreConfig};
//! use switchyard_runtime::adapters::reqwest_http::ReqwestHttpClient;
//! use switchyard_runtime::bot::{BotConfig, BotProcess, NodeConfig, PlayRequest};
//! use switchyard_runtime::ports::websocket::TokioConnector;
//!
//! let mut config = BotConfig::new(
//!     "bot-0",
//!     170_939_974_227_541_168,
//!     vec![NodeConfig::new("eu-1", "10.0.0.5", 2333, "youshallnotpass")],
//!     "http://switchyard:8080",
//!     16,
//! );
//! config.shards = vec![ShardId(0), ShardId(1)];
//! let store = ProductionRedisStore::connect("redis://127.0.0.1:6379/0", RedisStoreConfig::default())?;
//! let (bot, handle) = BotProcess::new(config, ReqwestHttpClient::new()?, store, TokioConnector)?;
//! tokio::spawn(bot.run());
//! let request = PlayRequest::new(GuildId(4_194_304), PlanId::new("free"), vec!["QAAA...".into()], "123".into());
//! let outcome = handle.play(request).await?;
//! # let _ = outcome;
//! # Ok(()) }
//! ```

mod clock;
mod config;
mod create;
mod moves;
pub mod placement;
mod players;
mod runner;
pub mod sessions;
mod shards;
mod snapshots;
mod stale;
mod state;
pub mod voice;

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_core::ids::{GuildId, NodeId, ShardId};
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot};

pub use config::{BotConfig, BotTiming, ConfigError, NodeConfig, SpareConfig, shard_lease_below};
pub use placement::{
    Placement, PlacementClient, PlacementError, PlacementRequest, PlacementSource,
};
pub use players::{PlayOutcome, PlayRequest};
pub use sessions::{SessionEvent, SessionEventKind, TrackEndReason};
pub use state::{BotEvent, BotState, BotView, PlayerStatus, PlayerView, ShardStatus, ShardView};
pub use voice::{SyntheticVoice, VoiceError, VoiceGateway};

use self::clock::BotClock;
use self::runner::{Bot, Command};
use self::sessions::{SessionOwner, SessionSet};
use crate::lavalink::{LavalinkClient, LavalinkError, NodeEndpoint};
use crate::ports::http::HttpClient;
use crate::ports::store::Store;
use crate::ports::websocket::StreamConnector;

/// Commands queued for the loop before the owner waits.
const COMMANDS_QUEUED_MAX: usize = 1_024;
/// Events kept for a subscriber that reads slowly; past it the oldest are dropped.
const EVENTS_KEPT_MAX: usize = 4_096;

/// Why the bot could not do what its owner asked.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum BotError {
    /// The guild's shard is not one this process acts for.
    #[error("guild {guild} belongs to shard {shard}, which this process does not own")]
    NotOwner {
        /// The guild.
        guild: GuildId,
        /// Its shard.
        shard: ShardId,
    },
    /// The guild already plays (or is being placed).
    #[error("guild {0} already plays")]
    AlreadyPlaying(GuildId),
    /// The guild does not play.
    #[error("guild {0} does not play")]
    NotPlaying(GuildId),
    /// A play request without tracks.
    #[error("guild {0}: a play request needs at least one track")]
    NoTracks(GuildId),
    /// A track is not an encoded track (an identifier or URL must be loaded first,
    /// with `/v4/loadtracks`).
    #[error("guild {guild}: track {index} is not an encoded track; load it first")]
    NotEncoded {
        /// The guild.
        guild: GuildId,
        /// The track's index in the request.
        index: usize,
    },
    /// The guild was stopped before its player was made.
    #[error("guild {0} was stopped")]
    Stopped(GuildId),
    /// No placement.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The placement named a node where the bot has no open session.
    #[error("no open session on node {node}")]
    NoSession {
        /// The node.
        node: NodeId,
    },
    /// Joining voice failed.
    #[error(transparent)]
    Voice(#[from] VoiceError),
    /// The node refused or did not answer.
    #[error(transparent)]
    Lavalink(#[from] LavalinkError),
    /// The bot's loop has stopped.
    #[error("the bot process has stopped")]
    ProcessStopped,
}

/// A bot process. Build with [`BotProcess::new`], run with [`BotProcess::run`].
pub struct BotProcess<H: HttpClient, S: Store, C: StreamConnector> {
    bot: Bot<H, S>,
    connector: C,
    commands: mpsc::Receiver<Command>,
}

/// Drives a running [`BotProcess`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BotHandle {
    commands: mpsc::Sender<Command>,
    state: BotState,
    events: broadcast::Sender<BotEvent>,
}

impl<H: HttpClient, S: Store, C: StreamConnector> BotProcess<H, S, C> {
    /// A bot process with [`SyntheticVoice`]; see [`BotProcess::with_voice`].
    pub fn new(
        config: BotConfig,
        http: H,
        store: S,
        connector: C,
    ) -> Result<(Self, BotHandle), ConfigError> {
        config.validate()?;
        let config = Arc::new(config);
        let timeout = config.timing.lavalink_timeout;
        let clients: BTreeMap<NodeId, LavalinkClient<H>> = config
            .nodes
            .iter()
            .map(|node| {
                let endpoint = NodeEndpoint {
                    name: node.name.clone(),
                    base_url: node.base_url(),
                    password: node.password.clone(),
                };
                (
                    node.name.clone(),
                    LavalinkClient::new(http.clone(), endpoint, timeout),
                )
            })
            .collect();
        let placement = PlacementClient::new(
            http,
            store.clone(),
            &config.controller_url,
            config.timing.controller_timeout,
        );
        let state = BotState::new(config.process.clone());
        let (events, _) = broadcast::channel(EVENTS_KEPT_MAX);
        let (commands_tx, commands) = mpsc::channel(COMMANDS_QUEUED_MAX);
        let voice = Arc::new(SyntheticVoice::new(config.process.clone()));
        let clock = BotClock::start(config.epoch_unix_ms);
        let bot = Bot::new(
            config,
            clock,
            store,
            placement,
            clients,
            voice,
            state.clone(),
            events.clone(),
        );
        let handle = BotHandle {
            commands: commands_tx,
            state,
            events,
        };
        Ok((
            Self {
                bot,
                connector,
                commands,
            },
            handle,
        ))
    }

    /// Uses the bot's real gateway for voice instead of made-up voice states.
    pub fn with_voice(mut self, voice: Arc<dyn VoiceGateway>) -> Self {
        self.bot.voice = voice;
        self
    }

    /// Presents `token` (the controller API's bot token) as `Authorization: Bearer`.
    pub fn with_controller_token(mut self, token: impl Into<String>) -> Self {
        self.bot.placement = self.bot.placement.clone().with_token(Some(token.into()));
        self
    }

    /// Opens the sessions and runs until [`BotHandle::shutdown`]. Dropping the future
    /// (a crashed simulated host) closes every socket and abandons every request.
    pub async fn run(self) {
        let Self {
            bot,
            connector,
            commands,
        } = self;
        let owner = SessionOwner {
            process: bot.config.process.clone(),
            user_id: bot.config.user_id,
            clock: bot.clock,
            timing: bot.config.timing.clone(),
        };
        let (sessions, session_events) =
            SessionSet::start(&connector, &bot.store, &bot.config.nodes, &owner);
        bot.run(commands, session_events).await;
        drop(sessions);
    }
}

impl BotHandle {
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, BotError>>) -> Command,
    ) -> Result<T, BotError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| BotError::ProcessStopped)?;
        answer.await.map_err(|_| BotError::ProcessStopped)?
    }

    /// Starts playback in a guild: asks the controller where, creates the player there
    /// and writes its snapshot. Answers once the player exists (or could not be made).
    pub async fn play(&self, request: PlayRequest) -> Result<PlayOutcome, BotError> {
        self.ask(|reply| Command::Play { request, reply }).await
    }

    /// Stops playback in a guild: deletes the player and its snapshot and tells the
    /// controller.
    pub async fn stop(&self, guild: GuildId) -> Result<(), BotError> {
        self.ask(|reply| Command::Stop { guild, reply }).await
    }

    /// Stalls the shard work (the simulation's `shard_stall`): no heartbeats and no
    /// lease adoption until [`BotHandle::resume`]; players keep playing.
    pub fn stall(&self) {
        self.state.set_stalled(true);
    }

    /// Ends a stall: heartbeats resume (and reveal any fencing) at the next interval.
    pub fn resume(&self) {
        self.state.set_stalled(false);
    }

    /// Stops the process's loop and closes its sessions (players die with them).
    pub async fn shutdown(&self) {
        // A loop that already stopped needs no telling.
        let _ = self.commands.send(Command::Shutdown).await;
    }

    /// What the bot believes.
    pub fn state(&self) -> &BotState {
        &self.state
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BotEvent> {
        self.events.subscribe()
    }
}
