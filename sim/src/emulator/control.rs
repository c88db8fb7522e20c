//! The control handle: fault knobs, one-shot actions and ground-truth introspection.

use std::sync::Arc;
use std::time::Duration;

use super::clock::duration_ms;
use super::faults::{CloseWebsockets, FaultError, Faults, FaultsPatch};
use super::shared::Shared;
use super::snapshot::{NodeSnapshot, PlayerTruth};
use super::state::CloseCommand;

/// A cloneable handle on a running (or not yet running) emulated node.
///
/// Standing faults live in the handle, not in the node, so they survive a restart of
/// [`Emulator::serve`](super::Emulator::serve); sessions and players do not.
#[derive(Debug, Clone)]
pub struct EmulatorControl {
    shared: Arc<Shared>,
}

impl EmulatorControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    pub fn region(&self) -> &str {
        &self.shared.config.region
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), FaultError> {
        self.shared.set_faults(faults)
    }

    /// Applies a partial update and returns the faults now in force.
    pub fn update_faults(&self, patch: FaultsPatch) -> Result<Faults, FaultError> {
        let mut faults = self.faults();
        faults.apply(patch);
        self.set_faults(faults.clone())?;
        Ok(faults)
    }

    fn modify(&self, change: impl FnOnce(&mut Faults)) -> Result<(), FaultError> {
        let mut faults = self.faults();
        change(&mut faults);
        self.set_faults(faults)
    }

    /// Delays every response by `latency` plus a uniform draw in `0..=jitter`.
    pub fn set_latency(&self, latency: Duration, jitter: Duration) -> Result<(), FaultError> {
        self.modify(|faults| {
            faults.latency_ms = duration_ms(latency);
            faults.jitter_ms = duration_ms(jitter);
        })
    }

    /// Answers this fraction of requests with `status` (a 5xx).
    pub fn set_error_rate(&self, rate: f64, status: u16) -> Result<(), FaultError> {
        self.modify(|faults| {
            faults.error_rate = rate;
            faults.error_status = status;
        })
    }

    /// Accepts but never answers; open websockets go silent. Clearing it releases
    /// the held requests and messages.
    pub fn set_hang(&self, hang: bool) -> Result<(), FaultError> {
        self.modify(|faults| faults.hang = hang)
    }

    /// Overrides the reported system CPU load (Lavalink caches it for 30 s).
    pub fn set_cpu_load(&self, load: Option<f64>) -> Result<(), FaultError> {
        self.modify(|faults| faults.cpu_load = load)
    }

    /// Frames each playing player misses and nulls per minute.
    pub fn set_frame_loss(&self, deficit: u32, nulled: u32) -> Result<(), FaultError> {
        self.modify(|faults| {
            faults.frame_deficit = deficit;
            faults.frame_nulled = nulled;
        })
    }

    pub fn set_refuse_connections(&self, refuse: bool) -> Result<(), FaultError> {
        self.modify(|faults| faults.refuse_connections = refuse)
    }

    pub fn set_voice_connect_fail(&self, fail: bool) -> Result<(), FaultError> {
        self.modify(|faults| faults.voice_connect_fail = fail)
    }

    /// Closes every client websocket; returns how many were open.
    ///
    /// A code that may not appear in a close frame (1005, 1006, 1015, or anything
    /// outside 1000–4999) drops the connections instead, which clients report as 1006.
    pub fn close_websockets(&self, how: CloseWebsockets) -> usize {
        let command = match how {
            CloseWebsockets::Frame { code, reason } if is_sendable_close_code(code) => {
                CloseCommand::Frame { code, reason }
            }
            CloseWebsockets::Frame { code, .. } => {
                tracing::warn!(
                    code,
                    "close code cannot be sent; dropping the connections instead"
                );
                CloseCommand::Abort
            }
            CloseWebsockets::Abort => CloseCommand::Abort,
        };
        self.shared
            .with_node(|node, _, _| node.close_websockets(&command))
            .unwrap_or(0)
    }

    /// Closes voice connections as Discord would (for example code 4006 or 4014),
    /// sending `WebSocketClosedEvent`; `guild_id` `None` closes every connected
    /// player. Returns how many were closed.
    pub fn close_voice(
        &self,
        guild_id: Option<u64>,
        code: u16,
        reason: &str,
        by_remote: bool,
    ) -> usize {
        self.shared
            .with_node(|node, now, _| node.close_voice(guild_id, code, reason, by_remote, now))
            .unwrap_or(0)
    }

    /// Starts a graceful shutdown: websockets close with 1001 and `serve` returns.
    pub fn shutdown(&self) {
        self.shared.request_shutdown();
    }

    /// True while `serve` runs.
    pub fn is_serving(&self) -> bool {
        self.shared.with_node_quiet(|_, _, _| ()).is_some()
    }

    /// Resolves once a shutdown has been requested.
    pub async fn shutdown_requested(&self) {
        let mut shutdown = self.shared.shutdown_watch();
        // An error means the sender is gone, which cannot outlive this handle's Arc.
        let _ = shutdown.wait_for(|requested| *requested).await;
    }

    /// What the node is doing right now.
    pub fn snapshot(&self) -> NodeSnapshot {
        let config = &self.shared.config;
        let state = self.shared.with_node_quiet(|node, now, _| {
            (
                node.clock().uptime_ms(now),
                node.clock().wall_ms(now),
                node.snapshot(now),
            )
        });
        let serving = state.is_some();
        let (uptime_ms, wall_ms, sessions) = state.unwrap_or((0, config.epoch_ms, Vec::new()));
        NodeSnapshot {
            name: config.name.clone(),
            region: config.region.clone(),
            serving,
            shutting_down: self.shared.is_shutting_down(),
            uptime_ms,
            wall_ms,
            sessions,
            faults: self.faults(),
        }
    }

    /// Appends the [`PlayerTruth`] of every player, in [`NodeSnapshot::players`] order;
    /// nothing while the node is not serving. The same facts as [`Self::snapshot`] at a
    /// fraction of its cost, for an oracle that samples often.
    pub fn player_truths(&self, out: &mut Vec<PlayerTruth>) {
        self.shared.read_node(|node| node.player_truths(out));
    }
}

/// RFC 6455 section 7.4: codes an endpoint may put in a close frame.
fn is_sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_close_codes_are_not_sent() {
        assert!(is_sendable_close_code(1000));
        assert!(is_sendable_close_code(1001));
        assert!(is_sendable_close_code(4000));
        for reserved in [0, 999, 1004, 1005, 1006, 1015, 2000, 5000] {
            assert!(!is_sendable_close_code(reserved), "{reserved}");
        }
    }
}
