//! Tracks: the lavaplayer encoding and the synthetic catalog behind `/v4/loadtracks`.

pub mod catalog;
pub mod codec;

pub use catalog::{
    LoadException, LoadResult, Severity, TestTrackOptions, TrackBehaviour, test_track_identifier,
};
pub use codec::{DecodeError, EncodeError, TrackData};

/// A plain test track of `length_ms`, encoded as a node encodes it: what a bot plays and
/// hands to the controller, so the player can be re-created on any node.
pub fn encoded_test_track(name: &str, length_ms: u64) -> Result<String, EncodeError> {
    encoded_test_track_with(
        name,
        TestTrackOptions {
            length_ms: Some(length_ms),
            ..TestTrackOptions::default()
        },
    )
}

/// A test track with any of the catalog's behaviours (stuck or failing at a position),
/// encoded as a node encodes it. A track that fails at 0 ms does not load.
pub fn encoded_test_track_with(
    name: &str,
    options: TestTrackOptions,
) -> Result<String, EncodeError> {
    let identifier = test_track_identifier(name, options);
    match catalog::load(&identifier) {
        LoadResult::Track(data) => codec::encode(&data),
        other => panic!("test track {identifier} does not load as one track: {other:?}"),
    }
}
