//! lavaplayer's `AudioLossCounter`: when a player's frame statistics become usable.

/// `AudioLossCounter.ACCEPTABLE_TRACK_SWITCH_TIME`: a shorter gap keeps the counter's data.
const TRACK_SWITCH_GAP_MS: u64 = 100;

/// lavaplayer's `AudioLossCounter`: when the player's frame statistics become usable.
#[derive(Debug, Clone, Default)]
pub(super) struct AudioLoss {
    was_playing: bool,
    playing_since_ms: Option<u64>,
    stopped_at_ms: Option<u64>,
}

impl AudioLoss {
    pub fn observe(&mut self, playing: bool, wall_ms: u64) {
        if playing == self.was_playing {
            return;
        }
        self.was_playing = playing;
        if playing {
            let long_gap = self
                .stopped_at_ms
                .is_none_or(|stopped| wall_ms.saturating_sub(stopped) > TRACK_SWITCH_GAP_MS);
            if self.playing_since_ms.is_none() || long_gap {
                self.playing_since_ms = Some(wall_ms);
            }
            self.stopped_at_ms = None;
        } else {
            self.stopped_at_ms = Some(wall_ms);
        }
    }

    /// True once the previous whole wall-clock minute was spent playing.
    pub fn is_usable(&self, wall_ms: u64) -> bool {
        let previous_minute_start = (wall_ms / 60_000).saturating_sub(1) * 60_000;
        self.playing_since_ms
            .is_some_and(|since| since < previous_minute_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_data_is_usable_after_a_full_previous_minute() {
        let mut loss = AudioLoss::default();
        loss.observe(true, 30_000);
        assert!(
            !loss.is_usable(90_000),
            "the previous minute started at 60 s"
        );
        assert!(loss.is_usable(120_000));
        loss.observe(false, 130_000);
        loss.observe(true, 130_050);
        assert!(loss.is_usable(130_060), "a short switch keeps the data");
        loss.observe(false, 140_000);
        loss.observe(true, 150_000);
        assert!(!loss.is_usable(150_001));
    }
}
