//! Tracks: the lavaplayer encoding and the synthetic catalog behind `/v4/loadtracks`.

pub mod catalog;
pub mod codec;

pub use catalog::{
    LoadException, LoadResult, Severity, TestTrackOptions, TrackBehaviour, test_track_identifier,
};
pub use codec::{DecodeError, EncodeError, TrackData};
