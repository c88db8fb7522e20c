//! The arithmetic of one playing track: position from an anchor and elapsed time, and
//! the positions ("milestones") at which something happens.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::emulator::protocol::{Track, TrackInfo};
use crate::emulator::snapshot::TrackSnapshot;
use crate::emulator::track::{TrackBehaviour, TrackData, codec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Milestone {
    End,
    Fail,
    Stuck,
}

#[derive(Debug, Clone)]
pub(super) struct ActiveTrack {
    /// Private and never changed, so that `snapshot` always describes it.
    data: TrackData,
    /// Built once per track: the oracle reads every player's snapshot twice a second.
    snapshot: Arc<TrackSnapshot>,
    pub behaviour: TrackBehaviour,
    pub user_data: Map<String, Value>,
    pub end_time_ms: Option<u64>,
    pub started_at: Instant,
    pub anchor_ms: u64,
    pub anchor_at: Instant,
    pub stuck_since: Option<Instant>,
    pub stuck_reported: bool,
}

impl ActiveTrack {
    /// A track starting at `position_ms` at `now`.
    pub fn new(
        data: TrackData,
        behaviour: TrackBehaviour,
        user_data: Map<String, Value>,
        end_time_ms: Option<u64>,
        position_ms: u64,
        now: Instant,
    ) -> Self {
        let snapshot = Arc::new(TrackSnapshot {
            identifier: data.identifier.clone(),
            title: data.title.clone(),
            author: data.author.clone(),
            source_name: data.source_name.clone(),
            length_ms: data.length_ms,
            is_stream: data.is_stream,
        });
        Self {
            data,
            snapshot,
            behaviour,
            user_data,
            end_time_ms,
            started_at: now,
            anchor_ms: position_ms,
            anchor_at: now,
            stuck_since: None,
            stuck_reported: false,
        }
    }

    pub fn data(&self) -> &TrackData {
        &self.data
    }

    pub fn snapshot(&self) -> Arc<TrackSnapshot> {
        Arc::clone(&self.snapshot)
    }

    pub fn end_ms(&self) -> Option<u64> {
        let length = (!self.data.is_stream).then(|| self.data.length_ms.max(0) as u64);
        match (length, self.end_time_ms) {
            (Some(length), Some(end)) => Some(length.min(end)),
            (length, end) => length.or(end),
        }
    }

    /// The next position at which something happens, never behind the anchor.
    pub fn next_milestone(&self) -> Option<(u64, Milestone)> {
        let anchor = self.anchor_ms;
        let end = self.end_ms().map(|end| (end.max(anchor), Milestone::End));
        let fail = self
            .behaviour
            .fail_at_ms
            .filter(|at| *at > 0 && *at >= anchor)
            .map(|at| (at, Milestone::Fail));
        let stuck = self
            .behaviour
            .stuck_at_ms
            .filter(|at| self.stuck_since.is_none() && *at >= anchor)
            .map(|at| (at, Milestone::Stuck));
        // On a tie the end wins, then the failure.
        [end, fail, stuck]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)
    }

    pub fn position_ms(&self, now: Instant, rate: f64, advancing: bool) -> u64 {
        if !advancing {
            return self.anchor_ms;
        }
        let elapsed_us = now.saturating_duration_since(self.anchor_at).as_micros() as f64;
        let gained = (elapsed_us * rate / 1000.0).floor() as u64;
        let position = self.anchor_ms.saturating_add(gained);
        match self.next_milestone() {
            Some((limit, _)) => position.min(limit),
            None => position,
        }
    }

    pub fn milestone_deadline(&self, rate: f64) -> Option<(Instant, Milestone)> {
        let (at, milestone) = self.next_milestone()?;
        let remaining_us = ((at - self.anchor_ms) as f64 * 1000.0 / rate).ceil() as u64;
        Some((
            self.anchor_at + Duration::from_micros(remaining_us),
            milestone,
        ))
    }

    pub fn to_json(&self, position_ms: u64) -> Track {
        let mut data = self.data.clone();
        data.position_ms = i64::try_from(position_ms).unwrap_or(i64::MAX);
        let encoded = codec::encode(&data)
            .expect("a track is only played after it was encoded once, so it re-encodes");
        Track {
            encoded,
            info: TrackInfo::from_data(&data),
            plugin_info: Map::new(),
            user_data: self.user_data.clone(),
        }
    }
}
