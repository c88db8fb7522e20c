//! A Lavalink v4 node emulator: the REST API, the websocket, a playback model and
//! fault knobs, with no Java and no audio.
//!
//! The same server code runs as a real process (`sim node`, on tokio's TCP listener)
//! and as a turmoil host (on [`TurmoilListener`]): it is generic over
//! [`axum::serve::Listener`], reads time only through `tokio::time` and draws every
//! random choice from generators seeded by [`EmulatorConfig::seed`], so a simulation
//! with the same seed produces the same bytes.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard_sim::emulator::{Emulator, EmulatorConfig};
//!
//! let (emulator, control) = Emulator::new(EmulatorConfig::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:2333").await?;
//! tokio::spawn(async move { emulator.serve(listener).await });
//! control.set_hang(true)?; // the node goes silent
//! let truth = control.snapshot(); // sessions, players, positions right now
//! # let _ = truth;
//! # Ok(()) }
//! ```
//!
//! Protocol sources: `shared/research/lavalink-protocol.md` and Lavalink's own docs
//! and source (`docs/api/*.md`, `LavalinkServer/src/main/java/lavalink/server/`).
//!
//! # Known differences from Lavalink 4.x
//!
//! Deliberate, because the emulator has no audio, no JVM and no internet:
//! - **Voice.** No Discord voice connection is made. A voice PATCH "connects" after
//!   [`EmulatorConfig::voice_handshake`] (the request blocks that long, as Lavalink's
//!   does); `ping` is the constant [`EmulatorConfig::voice_ping`]. Voice closes happen
//!   only through [`EmulatorControl::close_voice`]. Changing the voice server or
//!   destroying a player sends no `WebSocketClosedEvent` for the old connection.
//! - **Tracks** come from a synthetic catalog (see [`track::catalog`]): searches,
//!   YouTube and SoundCloud URLs and ids resolve to deterministic fake tracks; other
//!   URLs fail with "Connecting to the URL failed."; test tracks on
//!   `emulator.invalid` take a length and failure/stuck points. Encoding is the real
//!   lavaplayer format, so `encoded` strings look and decode like real ones; decoding
//!   accepts only the sources the emulator knows (youtube, soundcloud, http, local,
//!   bandcamp, vimeo, twitch, nico).
//! - **Playback.** The position advances while a track is loaded, not paused, voice
//!   is connected and the track is not stuck, at the `timescale` speed × rate; other
//!   filters are stored and echoed but change nothing. Filter values are not
//!   range-checked and no filter can be disabled. A loaded track with no voice
//!   connection ends with reason `cleanup` after exactly 60 s (lavaplayer's cleanup
//!   threshold; lavaplayer notices on a periodic check, so somewhat later).
//! - **Stats.** Memory and CPU figures come from a small model (CPU cached 30 s, as
//!   in Lavalink; `cpu_load` overrides the system load). `frameStats` uses Lavalink's
//!   rule for which players count (playing, with a full previous minute of data) but
//!   its figures come from the fault knobs at the moment of the report, not from
//!   counting frames over the minute. `/metrics` has only the `lavalink_*` gauges, no
//!   JVM, logback or GC series.
//! - **`/v4/info`** reports fixed build metadata and one plugin (`youtube-plugin`).
//! - **Route planner.** `GET /v4/routeplanner/status` reports no planner; the
//!   `free` endpoints are not implemented (404).
//!
//! Approximations of the Java/Spring stack:
//! - Framework error messages are close to Spring's but not byte-identical: an
//!   unreadable body (malformed JSON, a wrong type, `null` for a non-nullable field)
//!   says "Failed to read request", an unknown path "No static resource …", a wrong
//!   method "Request method 'X' is not supported" (without an `Allow` header). A
//!   `trace` (with `?trace=true`) is a plausible but invented stack trace.
//! - Authorization is checked before routing, so an unauthenticated request to an
//!   unknown path or with a wrong method gets 401/403 rather than 404/405.
//! - Request bodies over [`EmulatorConfig::max_body_bytes`] (1 MiB) get 413; Lavalink
//!   sets no limit.
//! - Track start sends one `playerUpdate`; Lavalink sends two at once (one from
//!   `play()`, one from the periodic task's first run).
//! - Destroying a player reports `TrackEndEvent` with reason `stopped`.
//! - A resumable session keeps at most [`EmulatorConfig::resume_queue_max`] queued
//!   messages (oldest dropped) and an open socket buffers at most
//!   [`EmulatorConfig::socket_buffer`] before the client is dropped as too slow;
//!   Lavalink's queues are unbounded.
//! - `User-Id` must be present on the handshake but is not checked to be numeric.
//! - A player's `voice.channelId` is echoed when set and omitted otherwise.
//! - `loadType: empty` has `"data": {}`, as the docs specify.
//! - Wall-clock timestamps (`time`, error `timestamp`) are
//!   [`EmulatorConfig::epoch_ms`] plus the tokio time since the node started.
//!
//! Fault knobs, which Lavalink does not have, are described in [`faults`].
//! `refuse_connections` accepts and immediately closes connections (the client sees a
//! reset or an early EOF), rather than refusing them at the TCP level.

pub mod admin;
mod clock;
mod config;
mod control;
pub mod faults;
mod filters;
mod http;
mod listener;
pub mod protocol;
mod server;
mod shared;
mod snapshot;
mod state;
pub mod track;

pub use admin::{admin_router, serve_admin};
pub use config::{ConfigError, DEFAULT_EPOCH_MS, DEFAULT_VERSION, EmulatorConfig};
pub use control::EmulatorControl;
pub use faults::{CloseWebsockets, FaultError, Faults, FaultsPatch};
pub use filters::Filters;
pub use listener::TurmoilListener;
pub use server::Emulator;
pub use snapshot::{
    NodeSnapshot, PlayerSnapshot, PlayerTruth, SessionLinkState, SessionSnapshot, TrackSnapshot,
    VoiceSnapshot,
};
pub use track::{TestTrackOptions, test_track_identifier};
