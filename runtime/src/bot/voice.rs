//! Discord voice as the bot side needs it: joining a guild's channel yields the voice
//! state a Lavalink player connects with; leaving is what a fenced owner does.
//!
//! A real bot implements [`VoiceGateway`] over its gateway connection (op 4, then
//! `VOICE_STATE_UPDATE` and `VOICE_SERVER_UPDATE`). The simulation has no Discord, so
//! [`SyntheticVoice`] makes up deterministic voice states: each join gets a fresh voice
//! session id, as a real re-join does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::BoxFuture;
use switchyard_core::ids::{GuildId, ProcessId};
use thiserror::Error;

use crate::store_schema::VoiceState;

/// Why a voice join failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("voice join for guild {guild} failed: {reason}")]
pub struct VoiceError {
    /// The guild.
    pub guild: GuildId,
    /// What the gateway reported.
    pub reason: String,
}

/// The bot's Discord gateway, as far as voice goes.
pub trait VoiceGateway: Send + Sync + 'static {
    /// Joins (or re-joins) `channel_id` in `guild` and returns the new voice state, with
    /// `channel_id` set.
    fn join(
        &self,
        guild: GuildId,
        channel_id: &str,
    ) -> BoxFuture<'static, Result<VoiceState, VoiceError>>;

    /// Leaves voice in `guild` (op 4 with `channel_id: null`).
    fn leave(&self, guild: GuildId) -> BoxFuture<'static, ()>;
}

/// Made-up voice states for the simulation: deterministic, and a new voice session id on
/// every join (`<process>-<guild>-<n>`).
#[derive(Debug, Clone)]
pub struct SyntheticVoice {
    process: ProcessId,
    joins: Arc<Mutex<BTreeMap<GuildId, u64>>>,
}

impl SyntheticVoice {
    /// Voice states for `process`.
    pub fn new(process: ProcessId) -> Self {
        Self {
            process,
            joins: Arc::default(),
        }
    }

    /// The voice state of the `n`th join of `guild` by `process` (from 1).
    pub fn state(process: &ProcessId, guild: GuildId, n: u64, channel_id: &str) -> VoiceState {
        VoiceState {
            token: format!("sim-token-{guild}-{n}"),
            endpoint: format!("c-sim01-{guild}.discord.media"),
            session_id: format!("{process}-{guild}-{n}"),
            channel_id: Some(channel_id.to_owned()),
        }
    }
}

impl VoiceGateway for SyntheticVoice {
    fn join(
        &self,
        guild: GuildId,
        channel_id: &str,
    ) -> BoxFuture<'static, Result<VoiceState, VoiceError>> {
        let n = {
            // A poisoned map only means another join panicked; the counts are still valid.
            let mut joins = self.joins.lock().unwrap_or_else(PoisonError::into_inner);
            let n = joins.entry(guild).or_insert(0);
            *n += 1;
            *n
        };
        let state = Self::state(&self.process, guild, n, channel_id);
        Box::pin(async move { Ok(state) })
    }

    fn leave(&self, _guild: GuildId) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// The Lavalink wire form of a voice state (every field required since v4.2).
pub(crate) fn to_wire(voice: &VoiceState) -> crate::lavalink::wire::VoiceState {
    crate::lavalink::wire::VoiceState {
        token: voice.token.clone(),
        endpoint: voice.endpoint.clone(),
        session_id: voice.session_id.clone(),
        channel_id: voice.channel_id.clone().unwrap_or_default(),
    }
}

/// Whether Discord closed a voice connection in a way a client recovers from by joining
/// again: 4006 (session no longer valid, e.g. another connection took it), 4009 (session
/// timed out) and 4015 (the voice server crashed). Others (4014: removed from the
/// channel, 4004: bad token, ...) need a person or the bot's own logic.
pub(crate) fn is_resumable_close(code: u16) -> bool {
    matches!(code, 4006 | 4009 | 4015)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_join_gets_a_new_voice_session() {
        let voice = SyntheticVoice::new(ProcessId::new("bot-1"));
        let first = voice
            .join(GuildId(7), "70")
            .await
            .expect("synthetic joins succeed");
        let second = voice
            .join(GuildId(7), "70")
            .await
            .expect("synthetic joins succeed");
        assert_eq!(first.session_id, "bot-1-7-1");
        assert_eq!(second.session_id, "bot-1-7-2");
        assert_eq!(second.channel_id.as_deref(), Some("70"));
        assert_eq!(to_wire(&second).channel_id, "70");
    }
}
