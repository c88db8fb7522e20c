//! The node's clock: tokio time only, so the emulator runs the same in a turmoil
//! simulation (virtual time) as in a real process.

use tokio::time::Instant;

/// Uptime and wall-clock time derived from one start instant and a configured epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeClock {
    started_at: Instant,
    epoch_ms: u64,
}

impl NodeClock {
    pub fn start(epoch_ms: u64) -> Self {
        Self {
            started_at: Instant::now(),
            epoch_ms,
        }
    }

    pub fn uptime_ms(&self, now: Instant) -> u64 {
        duration_ms(now.saturating_duration_since(self.started_at))
    }

    /// Unix milliseconds: the configured epoch plus the time since start.
    pub fn wall_ms(&self, now: Instant) -> u64 {
        self.epoch_ms.saturating_add(self.uptime_ms(now))
    }
}

/// Whole milliseconds, saturating (a node is not up for 584 million years).
pub(crate) fn duration_ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
