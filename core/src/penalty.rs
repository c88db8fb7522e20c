//! The load penalty used to pick nodes, in the spirit of the Lavalink clients' formula.
//!
//! `playing + cpu + deficit + nulled` where the CPU and frame terms grow exponentially
//! (freyacodes' `LavalinkLoadBalancer`, also Lavalink.py). The stats-derived part is
//! computed once per stats report and cached, so placement only adds player counts.

use serde::{Deserialize, Serialize};

/// What a node reports about itself (the v4 `stats` op or `GET /v4/stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct NodeStats {
    /// Players on the node, across every session.
    pub players: u32,
    /// Players currently playing, across every session.
    pub playing_players: u32,
    /// Node uptime.
    pub uptime_ms: u64,
    /// System CPU load, a 0–1 fraction.
    pub system_load: f64,
    /// Lavalink's own CPU load, a 0–1 fraction.
    pub lavalink_load: f64,
    /// Per-player frame averages over the last minute, when the node sent them.
    pub frame_stats: Option<FrameStats>,
}

/// Audio frame health per player over the previous minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct FrameStats {
    /// Frames sent to Discord.
    pub sent: i64,
    /// Frames that were nulled (silence instead of audio).
    pub nulled: i64,
    /// Frames missing from the expected 3000 a minute.
    pub deficit: i64,
}

/// Penalty given to a node whose stats were never received, so nodes with known load are
/// preferred but an unknown one is still usable.
pub const UNKNOWN_STATS_PENALTY: f64 = 1_000.0;

/// The CPU and frame part of the penalty (everything but the player count).
pub fn stats_penalty(stats: Option<&NodeStats>) -> f64 {
    let Some(stats) = stats else {
        return UNKNOWN_STATS_PENALTY;
    };
    let load = if stats.system_load.is_finite() {
        stats.system_load.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let cpu = 1.05f64.powf(100.0 * load) * 10.0 - 10.0;
    let frames = stats.frame_stats.map_or(0.0, |frames| {
        let deficit = frames.deficit.clamp(0, 3000) as f64;
        let nulled = frames.nulled.clamp(0, 3000) as f64;
        (1.03f64.powf(500.0 * deficit / 3000.0) * 600.0 - 600.0)
            + 2.0 * (1.03f64.powf(500.0 * nulled / 3000.0) * 300.0 - 300.0)
    });
    cpu + frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_node_has_no_penalty() {
        assert_eq!(stats_penalty(Some(&NodeStats::default())), 0.0);
    }

    #[test]
    fn unknown_stats_cost_the_maximum() {
        assert_eq!(stats_penalty(None), UNKNOWN_STATS_PENALTY);
    }

    #[test]
    fn cpu_and_frames_grow_the_penalty() {
        let busy = NodeStats {
            system_load: 0.5,
            ..NodeStats::default()
        };
        let cpu = stats_penalty(Some(&busy));
        assert!((cpu - (1.05f64.powf(50.0) * 10.0 - 10.0)).abs() < 1e-9);
        let lossy = NodeStats {
            frame_stats: Some(FrameStats {
                sent: 2000,
                nulled: 300,
                deficit: 700,
            }),
            ..busy
        };
        assert!(stats_penalty(Some(&lossy)) > cpu);
        let garbage = NodeStats {
            system_load: f64::NAN,
            ..NodeStats::default()
        };
        assert!(stats_penalty(Some(&garbage)).is_finite());
    }
}
