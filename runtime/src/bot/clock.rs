//! The bot's one reading of time: tokio's clock (simulated under turmoil), mapped to
//! wall-clock milliseconds through the epoch the process was given at start.

use tokio::time::Instant;

/// Converts tokio instants to the wall-clock milliseconds the contract stamps values
/// with (`position_at_ms`, heartbeats' `at_ms`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BotClock {
    started: Instant,
    epoch_unix_ms: u64,
}

impl BotClock {
    /// A clock whose `now` is `epoch_unix_ms` at this instant.
    pub(crate) fn start(epoch_unix_ms: u64) -> Self {
        Self {
            started: Instant::now(),
            epoch_unix_ms,
        }
    }

    /// Wall-clock milliseconds now.
    pub(crate) fn now_ms(&self) -> u64 {
        self.unix_ms_at(Instant::now())
    }

    /// Wall-clock milliseconds at `instant` (the start, if it is earlier).
    pub(crate) fn unix_ms_at(&self, instant: Instant) -> u64 {
        let elapsed = instant.saturating_duration_since(self.started);
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.epoch_unix_ms.saturating_add(elapsed_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_from_the_epoch_on_tokio_time() {
        let clock = BotClock::start(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(clock.now_ms(), 1_250);
    }
}
