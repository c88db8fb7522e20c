//! One guild's player: the playback model and its timers.
//!
//! The position is not ticked: it is an anchor (position, instant) plus the time since,
//! scaled by the `timescale` rate, while the player advances. It advances only while a
//! track is loaded, not paused, connected to voice (lavaplayer only moves when the voice
//! sender pulls frames) and not stuck. Every mutator first folds the elapsed time into
//! the anchor, so changing any of those conditions never loses or invents time.
//!
//! Position milestones (the track's end or `endTime`, a test track's failure or stuck
//! point) turn into deadlines for the node's driver, as do the periodic `playerUpdate`
//! and the stuck report.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::audio_loss::AudioLoss;
use super::link::Delivery;
use super::playback::{ActiveTrack, Milestone};
use crate::emulator::faults::{FRAMES_PER_MINUTE, Faults};
use crate::emulator::filters::Filters;
use crate::emulator::protocol::{
    Event, Exception, Message, PlayerState, Track, TrackEndReason, VoiceState,
};
use crate::emulator::snapshot::{TrackSnapshot, VoiceSnapshot};
use crate::emulator::track::{LoadException, Severity, TrackData};

/// Lavalink's default `trackStuckThresholdMs`.
pub(crate) const STUCK_THRESHOLD_MS: u64 = 10_000;
/// lavaplayer's default player cleanup threshold: a track nobody has pulled audio from
/// (no voice connection) for this long is stopped with reason `cleanup`.
pub(crate) const CLEANUP_THRESHOLD: Duration = Duration::from_secs(60);
/// Timer actions one player may take per wake-up; each action disarms or re-arms its
/// timer to a later instant, so a handful always suffices.
const MAX_ACTIONS_PER_TIMEOUT: usize = 16;

/// What every player operation needs to know about the node at this instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tick {
    pub now: Instant,
    pub wall_ms: u64,
    pub ping_ms: i64,
    pub update_interval: Duration,
}

/// Messages produced by an operation, for the session to deliver in order.
pub(crate) type Outbox = Vec<(Message, Delivery)>;

/// How a new track starts.
#[derive(Debug, Clone)]
pub(crate) struct NewPlayback {
    pub data: TrackData,
    pub user_data: Map<String, Value>,
    pub position_ms: u64,
    pub end_time_ms: Option<u64>,
    pub paused: bool,
}

/// The voice server a client gave a player.
#[derive(Debug, Clone)]
struct Voice {
    state: VoiceState,
    /// Built once per voice update: the oracle reads every player's snapshot twice a
    /// second, far more often than voice changes.
    snapshot: Arc<VoiceSnapshot>,
}

impl Voice {
    fn new(state: VoiceState) -> Self {
        let snapshot = Arc::new(VoiceSnapshot {
            token: state.token.clone(),
            endpoint: state.endpoint.clone(),
            session_id: state.session_id.clone(),
            channel_id: state.channel_id.clone(),
        });
        Self { state, snapshot }
    }
}

/// A guild's player.
#[derive(Debug, Clone)]
pub(crate) struct Player {
    pub guild_id: u64,
    pub volume: u16,
    pub paused: bool,
    pub filters: Filters,
    voice: Option<Voice>,
    pub voice_connected: bool,
    /// Unix milliseconds (node clock) when the current voice connection was made: Discord
    /// keeps one voice connection per bot and guild, the newest.
    pub voice_connected_at_ms: Option<u64>,
    /// Bumped by every voice change so a stale handshake cannot connect.
    pub voice_generation: u64,
    track: Option<ActiveTrack>,
    next_update_at: Option<Instant>,
    /// Since when a loaded track has had no voice connection pulling its audio.
    unpolled_since: Option<Instant>,
    audio: AudioLoss,
}

impl Player {
    pub fn new(guild_id: u64) -> Self {
        Self {
            guild_id,
            volume: 100,
            paused: false,
            filters: Filters::default(),
            voice: None,
            voice_connected: false,
            voice_connected_at_ms: None,
            voice_generation: 0,
            track: None,
            next_update_at: None,
            unpolled_since: None,
            audio: AudioLoss::default(),
        }
    }

    /// Lavalink's `isPlaying`: a track is loaded and not paused.
    pub fn is_playing(&self) -> bool {
        self.track.is_some() && !self.paused
    }

    /// Whether the position moves right now.
    pub fn is_advancing(&self) -> bool {
        self.is_playing()
            && self.voice_connected
            && self
                .track
                .as_ref()
                .is_some_and(|track| track.stuck_since.is_none())
    }

    pub fn has_track(&self) -> bool {
        self.track.is_some()
    }

    /// When the voice connection was made, while it stands.
    pub fn connected_at_ms(&self) -> Option<u64> {
        self.voice_connected
            .then_some(self.voice_connected_at_ms)
            .flatten()
    }

    pub fn voice(&self) -> Option<&VoiceState> {
        self.voice.as_ref().map(|voice| &voice.state)
    }

    /// Replaces the voice server without touching the connection.
    pub fn set_voice(&mut self, voice: VoiceState) {
        self.voice = Some(Voice::new(voice));
    }

    pub fn voice_snapshot(&self) -> Option<Arc<VoiceSnapshot>> {
        self.voice.as_ref().map(|voice| Arc::clone(&voice.snapshot))
    }

    pub fn track_snapshot(&self) -> Option<Arc<TrackSnapshot>> {
        self.track.as_ref().map(ActiveTrack::snapshot)
    }

    pub fn position_ms(&self, now: Instant) -> u64 {
        let advancing = self.is_advancing();
        let rate = self.filters.playback_rate();
        self.track
            .as_ref()
            .map_or(0, |track| track.position_ms(now, rate, advancing))
    }

    pub fn state(&self, tick: &Tick) -> PlayerState {
        PlayerState {
            time: tick.wall_ms,
            position: i64::try_from(self.position_ms(tick.now)).unwrap_or(i64::MAX),
            connected: self.voice_connected,
            ping: if self.voice_connected {
                tick.ping_ms
            } else {
                -1
            },
        }
    }

    pub fn track_json(&self, now: Instant) -> Option<Track> {
        let position = self.position_ms(now);
        self.track.as_ref().map(|track| track.to_json(position))
    }

    pub fn to_json(&self, tick: &Tick) -> crate::emulator::protocol::Player {
        crate::emulator::protocol::Player {
            guild_id: self.guild_id.to_string(),
            track: self.track_json(tick.now),
            volume: self.volume,
            paused: self.paused,
            state: self.state(tick),
            voice: self.voice().cloned().unwrap_or_default(),
            filters: self.filters.clone(),
        }
    }

    /// Frames sent and nulled over the last minute, if this player counts.
    pub fn frame_sample(&self, wall_ms: u64, faults: &Faults) -> Option<(u32, u32)> {
        if !self.is_playing() || !self.audio.is_usable(wall_ms) {
            return None;
        }
        if !self.voice_connected {
            // Nothing pulls frames without a voice connection: all of them are missing.
            return Some((0, 0));
        }
        if !self.is_advancing() {
            // A stuck track offers no frames; each poll counts as nulled.
            return Some((0, FRAMES_PER_MINUTE));
        }
        let nulled = faults.frame_nulled;
        let sent = FRAMES_PER_MINUTE.saturating_sub(faults.frame_deficit.saturating_add(nulled));
        Some((sent, nulled))
    }

    pub fn update_message(&self, tick: &Tick) -> Message {
        Message::PlayerUpdate {
            state: self.state(tick),
            guild_id: self.guild_id.to_string(),
        }
    }

    fn push_update(&self, tick: &Tick, out: &mut Outbox) {
        out.push((self.update_message(tick), Delivery::DroppedWhileAway));
    }

    fn push_event(out: &mut Outbox, event: Event) {
        out.push((Message::Event(Box::new(event)), Delivery::Queued));
    }

    /// Folds the time elapsed since the anchor into it; call before any change.
    fn rebase(&mut self, now: Instant) {
        let position = self.position_ms(now);
        if let Some(track) = &mut self.track {
            track.anchor_ms = position;
            // Never move the anchor back: a load failure fires at the track's start.
            track.anchor_at = now.max(track.anchor_at);
        }
    }

    /// Updates the derived bookkeeping after any change: the frame counter and the
    /// cleanup clock (which restarts with every track, as lavaplayer's does).
    fn observe(&mut self, tick: &Tick) {
        let playing = self.is_playing();
        self.audio.observe(playing, tick.wall_ms);
        let unpolled = self.track.is_some() && !self.voice_connected;
        match (unpolled, self.unpolled_since) {
            (true, None) => self.unpolled_since = Some(tick.now),
            (false, Some(_)) => self.unpolled_since = None,
            _ => {}
        }
    }

    fn end_track(&mut self, reason: TrackEndReason, tick: &Tick, out: &mut Outbox) {
        let position = self.position_ms(tick.now);
        if let Some(track) = self.track.take() {
            Self::push_event(
                out,
                Event::TrackEnd {
                    guild_id: self.guild_id.to_string(),
                    track: track.to_json(position),
                    reason,
                },
            );
        }
        self.next_update_at = None;
        self.observe(tick);
    }

    pub fn play(&mut self, playback: NewPlayback, tick: &Tick, out: &mut Outbox) {
        self.rebase(tick.now);
        if self.track.is_some() {
            self.end_track(TrackEndReason::Replaced, tick, out);
        }
        self.paused = playback.paused;
        let behaviour = crate::emulator::track::catalog::behaviour(&playback.data);
        let position_ms = if playback.data.is_stream {
            0
        } else {
            playback.position_ms
        };
        let track = ActiveTrack::new(
            playback.data,
            behaviour,
            playback.user_data,
            playback.end_time_ms,
            position_ms,
            tick.now,
        );
        Self::push_event(
            out,
            Event::TrackStart {
                guild_id: self.guild_id.to_string(),
                track: track.to_json(position_ms),
            },
        );
        self.track = Some(track);
        self.push_update(tick, out);
        self.next_update_at = Some(tick.now + tick.update_interval);
        self.unpolled_since = None;
        self.observe(tick);
    }

    pub fn stop(&mut self, tick: &Tick, out: &mut Outbox) {
        self.rebase(tick.now);
        self.end_track(TrackEndReason::Stopped, tick, out);
    }

    pub fn set_paused(&mut self, paused: bool, tick: &Tick) {
        self.rebase(tick.now);
        self.paused = paused;
        self.observe(tick);
    }

    /// lavaplayer clamps the volume to 0..=1000.
    pub fn set_volume(&mut self, volume: i64) {
        self.volume = volume.clamp(0, 1000) as u16;
    }

    pub fn set_user_data(&mut self, user_data: Map<String, Value>) {
        if let Some(track) = &mut self.track {
            track.user_data = user_data;
        }
    }

    /// Seeks the current track (a stream cannot seek) and reports the new state.
    pub fn seek(&mut self, position_ms: u64, tick: &Tick, out: &mut Outbox) {
        self.rebase(tick.now);
        let Some(track) = &mut self.track else {
            return;
        };
        if !track.data().is_stream {
            track.anchor_ms = position_ms;
            track.stuck_since = None;
            track.stuck_reported = false;
        }
        self.push_update(tick, out);
    }

    pub fn set_end_time(&mut self, end_time_ms: Option<u64>, tick: &Tick) {
        self.rebase(tick.now);
        if let Some(track) = &mut self.track {
            track.end_time_ms = end_time_ms;
        }
    }

    pub fn set_filters(&mut self, filters: Filters, tick: &Tick, out: &mut Outbox) {
        self.rebase(tick.now);
        self.filters = filters;
        self.push_update(tick, out);
    }

    /// Drops the voice connection before a new handshake (no event: the client asked).
    pub fn begin_voice(&mut self, voice: VoiceState, tick: &Tick) -> u64 {
        self.rebase(tick.now);
        self.voice_connected = false;
        self.set_voice(voice);
        self.voice_generation += 1;
        self.observe(tick);
        self.voice_generation
    }

    /// The handshake completed: audio flows and the client hears about it.
    pub fn voice_ready(&mut self, tick: &Tick, out: &mut Outbox) {
        self.rebase(tick.now);
        self.voice_connected = true;
        self.voice_connected_at_ms = Some(tick.wall_ms);
        self.observe(tick);
        self.push_update(tick, out);
    }

    /// Discord closed the voice websocket (or the fault knob did).
    pub fn voice_closed(
        &mut self,
        code: u16,
        reason: &str,
        by_remote: bool,
        tick: &Tick,
        out: &mut Outbox,
    ) {
        self.rebase(tick.now);
        self.voice_connected = false;
        self.observe(tick);
        Self::push_event(
            out,
            Event::WebSocketClosed {
                guild_id: self.guild_id.to_string(),
                code,
                reason: reason.to_owned(),
                by_remote,
            },
        );
        self.push_update(tick, out);
    }

    /// Destroying a player stops its track, which lavaplayer reports as `stopped`.
    pub fn destroy(&mut self, tick: &Tick, out: &mut Outbox) {
        self.stop(tick, out);
        self.voice_connected = false;
    }

    /// A function of the player's state alone, never of the time, so that the session's
    /// player table can cache it between changes.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.next_update_at,
            self.next_track_deadline().map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn next_track_deadline(&self) -> Option<(Instant, TrackTimer)> {
        let track = self.track.as_ref()?;
        if track.behaviour.fail_at_ms == Some(0) {
            // A load failure does not wait for voice or for the pause to lift.
            return Some((track.started_at, TrackTimer::Milestone(Milestone::Fail)));
        }
        let stuck_report = track
            .stuck_since
            .filter(|_| !track.stuck_reported && self.is_playing())
            .map(|since| {
                (
                    since + Duration::from_millis(STUCK_THRESHOLD_MS),
                    TrackTimer::StuckReport,
                )
            });
        let milestone = self
            .is_advancing()
            .then(|| track.milestone_deadline(self.filters.playback_rate()))
            .flatten()
            .map(|(at, milestone)| (at, TrackTimer::Milestone(milestone)));
        let cleanup = self
            .unpolled_since
            .map(|since| (since + CLEANUP_THRESHOLD, TrackTimer::Cleanup));
        [milestone, stuck_report, cleanup]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)
    }

    /// Fires every timer due at `tick.now`, oldest first.
    pub fn handle_timeout(&mut self, tick: &Tick, out: &mut Outbox) {
        for _ in 0..MAX_ACTIONS_PER_TIMEOUT {
            let track_due = self.next_track_deadline().filter(|(at, _)| *at <= tick.now);
            let update_due = self.next_update_at.filter(|at| *at <= tick.now);
            match (track_due, update_due) {
                (Some((at, timer)), update) if update.is_none_or(|u| at <= u) => {
                    self.fire_track_timer(at, timer, tick, out);
                }
                (_, Some(at)) => {
                    self.push_update(tick, out);
                    let next = at + tick.update_interval;
                    self.next_update_at = Some(if next > tick.now {
                        next
                    } else {
                        tick.now + tick.update_interval
                    });
                }
                (None, None) => return,
                (Some(_), None) => unreachable!("matched by the first arm"),
            }
        }
        debug_assert!(false, "a player kept firing timers at one instant");
    }

    fn fire_track_timer(&mut self, at: Instant, timer: TrackTimer, tick: &Tick, out: &mut Outbox) {
        // Rebase at the deadline itself, not at `now`, so a late wake-up does not skew
        // the position the event reports.
        self.rebase(at);
        let guild_id = self.guild_id.to_string();
        match timer {
            TrackTimer::Milestone(Milestone::End) => {
                self.end_track(TrackEndReason::Finished, tick, out);
            }
            TrackTimer::Cleanup => {
                self.end_track(TrackEndReason::Cleanup, tick, out);
            }
            TrackTimer::Milestone(Milestone::Fail) => {
                let Some(track) = &self.track else {
                    return;
                };
                let reason = if track.behaviour.fail_at_ms == Some(0) {
                    TrackEndReason::LoadFailed
                } else {
                    TrackEndReason::Finished
                };
                let exception = LoadException {
                    message: "Something broke when playing the track.".to_owned(),
                    severity: Severity::Fault,
                    cause: "java.lang.IllegalStateException: emulated playback failure".to_owned(),
                };
                Self::push_event(
                    out,
                    Event::TrackException {
                        guild_id,
                        track: track.to_json(track.anchor_ms),
                        exception: Exception::from_load(&exception),
                    },
                );
                self.end_track(reason, tick, out);
            }
            TrackTimer::Milestone(Milestone::Stuck) => {
                if let Some(track) = &mut self.track {
                    track.stuck_since = Some(at);
                }
            }
            TrackTimer::StuckReport => {
                if let Some(track) = &mut self.track {
                    track.stuck_reported = true;
                    Self::push_event(
                        out,
                        Event::TrackStuck {
                            guild_id,
                            track: track.to_json(track.anchor_ms),
                            threshold_ms: STUCK_THRESHOLD_MS,
                        },
                    );
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackTimer {
    Milestone(Milestone),
    StuckReport,
    Cleanup,
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::emulator::track::{LoadResult, TestTrackOptions, catalog, test_track_identifier};

    fn event(message: &Message) -> Option<&Event> {
        match message {
            Message::Event(event) => Some(event),
            _ => None,
        }
    }

    pub(crate) fn tick(now: Instant, wall_ms: u64) -> Tick {
        Tick {
            now,
            wall_ms,
            ping_ms: 20,
            update_interval: Duration::from_secs(5),
        }
    }

    pub(crate) fn test_track(options: TestTrackOptions) -> TrackData {
        match catalog::load(&test_track_identifier("t", options)) {
            LoadResult::Track(track) => track,
            other => panic!("test tracks load as tracks, got {other:?}"),
        }
    }

    pub(crate) fn playback(data: TrackData) -> NewPlayback {
        NewPlayback {
            data,
            user_data: Map::new(),
            position_ms: 0,
            end_time_ms: None,
            paused: false,
        }
    }

    fn connected_player(start: Instant) -> Player {
        let mut player = Player::new(1);
        player.begin_voice(VoiceState::default(), &tick(start, 0));
        player.voice_ready(&tick(start, 0), &mut Vec::new());
        player
    }

    #[test]
    fn position_advances_only_while_playing_and_connected() {
        let start = Instant::now();
        let mut player = Player::new(1);
        let mut out = Vec::new();
        let track = test_track(TestTrackOptions {
            length_ms: Some(60_000),
            ..TestTrackOptions::default()
        });
        player.play(playback(track), &tick(start, 0), &mut out);
        let later = start + Duration::from_secs(3);
        assert_eq!(player.position_ms(later), 0, "no voice, no progress");

        player.begin_voice(VoiceState::default(), &tick(later, 3000));
        player.voice_ready(&tick(later, 3000), &mut out);
        let t = later + Duration::from_secs(2);
        assert_eq!(player.position_ms(t), 2000);
        player.set_paused(true, &tick(t, 5000));
        assert_eq!(player.position_ms(t + Duration::from_secs(10)), 2000);
    }

    #[test]
    fn a_track_finishes_at_its_length_with_the_finished_reason() {
        let start = Instant::now();
        let mut player = connected_player(start);
        let mut out = Vec::new();
        let data = test_track(TestTrackOptions {
            length_ms: Some(7000),
            ..TestTrackOptions::default()
        });
        player.play(playback(data), &tick(start, 0), &mut out);
        out.clear();
        let deadline = player.next_deadline().expect("an update is scheduled");
        assert_eq!(deadline, start + Duration::from_secs(5));
        player.handle_timeout(&tick(deadline, 5000), &mut out);
        assert!(
            matches!(out.as_slice(), [(Message::PlayerUpdate { state, .. }, _)] if state.position == 5000)
        );
        out.clear();
        let end = player.next_deadline().expect("the end is scheduled");
        assert_eq!(end, start + Duration::from_secs(7));
        player.handle_timeout(&tick(end, 7000), &mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(
            event(&out[0].0),
            Some(Event::TrackEnd { reason: TrackEndReason::Finished, track, .. })
                if track.info.position == 7000
        ));
        assert!(!player.has_track());
        assert_eq!(player.next_deadline(), None);
    }

    #[test]
    fn timescale_speeds_up_the_position() {
        let start = Instant::now();
        let mut player = connected_player(start);
        let mut out = Vec::new();
        let data = test_track(TestTrackOptions {
            length_ms: Some(100_000),
            ..TestTrackOptions::default()
        });
        player.play(playback(data), &tick(start, 0), &mut out);
        let filters: Filters =
            serde_json::from_str(r#"{"timescale":{"speed":2.0}}"#).expect("valid filters");
        player.set_filters(
            filters,
            &tick(start + Duration::from_secs(1), 1000),
            &mut out,
        );
        assert_eq!(player.position_ms(start + Duration::from_secs(3)), 5000);
    }

    #[test]
    fn failing_and_stuck_test_tracks_emit_their_events() {
        let start = Instant::now();
        let mut player = connected_player(start);
        let mut out = Vec::new();
        let failing = test_track(TestTrackOptions {
            length_ms: Some(60_000),
            fail_at_ms: Some(0),
            ..TestTrackOptions::default()
        });
        player.play(playback(failing), &tick(start, 0), &mut out);
        out.clear();
        player.handle_timeout(&tick(start, 0), &mut out);
        assert!(matches!(
            event(&out[0].0),
            Some(Event::TrackException { .. })
        ));
        assert!(matches!(
            event(&out[1].0),
            Some(Event::TrackEnd {
                reason: TrackEndReason::LoadFailed,
                ..
            })
        ));

        let stuck = test_track(TestTrackOptions {
            length_ms: Some(60_000),
            stuck_at_ms: Some(1000),
            ..TestTrackOptions::default()
        });
        player.play(playback(stuck), &tick(start, 0), &mut out);
        out.clear();
        let stuck_at = start + Duration::from_secs(1);
        player.handle_timeout(&tick(stuck_at, 1000), &mut out);
        assert!(!player.is_advancing());
        let report = stuck_at + Duration::from_millis(STUCK_THRESHOLD_MS);
        player.handle_timeout(&tick(report, 11_000), &mut out);
        assert!(out.iter().any(|(message, _)| matches!(
            event(message),
            Some(Event::TrackStuck {
                threshold_ms: STUCK_THRESHOLD_MS,
                ..
            })
        )));
        assert_eq!(player.position_ms(report), 1000);
    }

    #[test]
    fn a_track_without_voice_is_cleaned_up_after_a_minute() {
        let start = Instant::now();
        let mut player = Player::new(1);
        let mut out = Vec::new();
        let data = test_track(TestTrackOptions::default());
        player.play(playback(data), &tick(start, 0), &mut out);
        assert_eq!(
            player.next_track_deadline().map(|(at, _)| at),
            Some(start + CLEANUP_THRESHOLD)
        );
        // Connecting stops the clock; losing voice restarts it.
        let later = start + Duration::from_secs(50);
        player.begin_voice(VoiceState::default(), &tick(later, 50_000));
        player.voice_ready(&tick(later, 50_000), &mut out);
        let lost = later + Duration::from_secs(1);
        player.voice_closed(4014, "Disconnected.", true, &tick(lost, 51_000), &mut out);
        out.clear();
        let cleanup = lost + CLEANUP_THRESHOLD;
        player.handle_timeout(&tick(cleanup, 111_000), &mut out);
        assert!(out.iter().any(|(message, _)| matches!(
            event(message),
            Some(Event::TrackEnd {
                reason: TrackEndReason::Cleanup,
                ..
            })
        )));
        assert!(!player.has_track());
    }
}
