//! Synthetic, deterministic track loading: `/v4/loadtracks` without the internet.
//!
//! An identifier always yields the same tracks, on every node and with every seed, so
//! an `encoded` string from one emulated node plays on another, as with real nodes
//! sharing a source. Recognised identifiers:
//!
//! | Identifier | Result |
//! |---|---|
//! | `ytsearch:Q`, `ytmsearch:Q` | `search`: five YouTube tracks (`empty` for a blank query) |
//! | `scsearch:Q` | `search`: five SoundCloud tracks |
//! | `https://www.youtube.com/watch?v=ID`, `https://youtu.be/ID`, a bare 11-character id | `track` |
//! | `https://www.youtube.com/playlist?list=ID` | `playlist` of ten tracks, `selectedTrack` -1 |
//! | `https://soundcloud.com/ARTIST/TITLE` | `track` |
//! | `https://emulator.invalid/NAME?...` | a test track of source `http` (below) |
//! | any other `http(s)` URL | `error` "Connecting to the URL failed." (the emulator has no internet) |
//! | anything else | `empty` |
//!
//! Test tracks on `emulator.invalid` (a reserved domain no request ever goes to) take
//! query parameters: `length_ms=N`, `stream=true` (a live stream: no length, never
//! ends), `fail_at_ms=N` (a `TrackExceptionEvent` when playback reaches N; 0 fails the
//! load), `stuck_at_ms=N` (playback freezes at N and `TrackStuckEvent` follows after
//! the threshold), and `load=empty|error` to make loading itself fail. Because the
//! parameters live in the identifier, they travel inside `encoded` to any node.

use super::codec::TrackData;

/// lavaplayer's `Units.DURATION_MS_UNKNOWN`, the length of a stream.
pub const UNKNOWN_LENGTH_MS: i64 = i64::MAX;
/// The host of emulator test tracks (`.invalid` is reserved and never resolves).
pub const TEST_TRACK_HOST: &str = "emulator.invalid";

const SEARCH_RESULTS: u64 = 5;
const PLAYLIST_TRACKS: u64 = 10;
const YOUTUBE_ID_LEN: usize = 11;
const YOUTUBE_ID_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const ADJECTIVES: [&str; 16] = [
    "Neon", "Quiet", "Golden", "Electric", "Paper", "Velvet", "Silver", "Midnight", "Crimson",
    "Hollow", "Wild", "Frozen", "Distant", "Lucky", "Broken", "Endless",
];
const NOUNS: [&str; 16] = [
    "Harbor",
    "Signal",
    "Rivers",
    "Skyline",
    "Garden",
    "Engine",
    "Lanterns",
    "Echoes",
    "Satellite",
    "Highway",
    "Orchard",
    "Tides",
    "Static",
    "Meadow",
    "Compass",
    "Avenue",
];
const ARTISTS: [&str; 12] = [
    "The Switchmen",
    "Nora Vale",
    "Kilowatt Choir",
    "Marlow & Finch",
    "Lowtide",
    "DJ Semaphore",
    "The Failovers",
    "Aster Bloom",
    "Relay Club",
    "Juniper Sound",
    "Ostrava Nights",
    "Kite Lines",
];

/// Severity of a load or playback exception, as in lavaplayer's `FriendlyException`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Common,
    Suspicious,
    Fault,
}

/// A lavaplayer `FriendlyException`, as reported in load results and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadException {
    pub message: String,
    pub severity: Severity,
    /// `toString()` of the root cause, e.g. `java.net.UnknownHostException: host`.
    pub cause: String,
}

/// The outcome of loading an identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadResult {
    Track(TrackData),
    Playlist {
        name: String,
        selected_track: i32,
        tracks: Vec<TrackData>,
    },
    Search(Vec<TrackData>),
    Empty,
    Error(LoadException),
}

/// Playback behaviour carried by an emulator test track's identifier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackBehaviour {
    /// Position at which playback throws; `Some(0)` makes the load fail.
    pub fail_at_ms: Option<u64>,
    /// Position at which playback stops producing audio.
    pub stuck_at_ms: Option<u64>,
}

/// Options for [`test_track_identifier`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestTrackOptions {
    pub length_ms: Option<u64>,
    pub stream: bool,
    pub fail_at_ms: Option<u64>,
    pub stuck_at_ms: Option<u64>,
}

/// Builds the identifier of an emulator test track (see the module docs).
pub fn test_track_identifier(name: &str, options: TestTrackOptions) -> String {
    let mut params = Vec::new();
    if let Some(length_ms) = options.length_ms {
        params.push(format!("length_ms={length_ms}"));
    }
    if options.stream {
        params.push("stream=true".to_owned());
    }
    if let Some(at) = options.fail_at_ms {
        params.push(format!("fail_at_ms={at}"));
    }
    if let Some(at) = options.stuck_at_ms {
        params.push(format!("stuck_at_ms={at}"));
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    format!("https://{TEST_TRACK_HOST}/{name}.mp3{query}")
}

/// Loads an identifier (see the module docs for the grammar). Every track returned
/// is guaranteed to encode.
pub fn load(identifier: &str) -> LoadResult {
    let result = load_unchecked(identifier);
    let tracks: &[TrackData] = match &result {
        LoadResult::Track(track) => std::slice::from_ref(track),
        LoadResult::Playlist { tracks, .. } | LoadResult::Search(tracks) => tracks,
        LoadResult::Empty | LoadResult::Error(_) => &[],
    };
    if tracks
        .iter()
        .all(|track| super::codec::encode(track).is_ok())
    {
        return result;
    }
    // Only an absurdly long URL gets here; Java's writeUTF would refuse it too.
    LoadResult::Error(LoadException {
        message: "Something broke when playing the track.".to_owned(),
        severity: Severity::Fault,
        cause: "java.io.UTFDataFormatException: encoded string too long".to_owned(),
    })
}

fn load_unchecked(identifier: &str) -> LoadResult {
    let identifier = identifier.trim();
    for prefix in ["ytsearch:", "ytmsearch:", "scsearch:"] {
        if let Some(query) = identifier.strip_prefix(prefix) {
            return search(prefix, query.trim());
        }
    }
    if let Some(url) = Url::parse(identifier) {
        return load_url(identifier, &url);
    }
    if is_youtube_id(identifier) {
        return LoadResult::Track(youtube_track(identifier));
    }
    LoadResult::Empty
}

/// Reads the playback behaviour from a track (only test tracks have any).
pub fn behaviour(track: &TrackData) -> TrackBehaviour {
    match Url::parse(&track.identifier) {
        Some(url) if url.host == TEST_TRACK_HOST && track.source_name == "http" => TrackBehaviour {
            fail_at_ms: url.param("fail_at_ms").and_then(|v| v.parse().ok()),
            stuck_at_ms: url.param("stuck_at_ms").and_then(|v| v.parse().ok()),
        },
        _ => TrackBehaviour::default(),
    }
}

fn search(prefix: &str, query: &str) -> LoadResult {
    if query.is_empty() {
        return LoadResult::Empty;
    }
    let tracks = (0..SEARCH_RESULTS)
        .map(|index| {
            let seed = mix(hash(query.as_bytes()) ^ index.wrapping_mul(0x9E37_79B9));
            if prefix == "scsearch:" {
                soundcloud_track(&soundcloud_uri(seed))
            } else {
                youtube_track(&youtube_id(seed))
            }
        })
        .collect();
    LoadResult::Search(tracks)
}

fn load_url(identifier: &str, url: &Url) -> LoadResult {
    match url.host.as_str() {
        "www.youtube.com" | "youtube.com" | "m.youtube.com" | "music.youtube.com" => {
            if url.path == "/playlist" {
                return url
                    .param("list")
                    .map_or(LoadResult::Empty, youtube_playlist);
            }
            match url.param("v") {
                Some(id) if is_youtube_id(id) => LoadResult::Track(youtube_track(id)),
                _ => LoadResult::Empty,
            }
        }
        "youtu.be" => {
            let id = url.path.trim_start_matches('/');
            if is_youtube_id(id) {
                LoadResult::Track(youtube_track(id))
            } else {
                LoadResult::Empty
            }
        }
        "soundcloud.com" | "www.soundcloud.com" if url.path.matches('/').count() == 2 => {
            LoadResult::Track(soundcloud_track(identifier))
        }
        TEST_TRACK_HOST => test_track(identifier, url),
        host => LoadResult::Error(LoadException {
            message: "Connecting to the URL failed.".to_owned(),
            severity: Severity::Suspicious,
            cause: format!("java.net.UnknownHostException: {host}"),
        }),
    }
}

fn test_track(identifier: &str, url: &Url) -> LoadResult {
    match url.param("load") {
        Some("empty") => return LoadResult::Empty,
        Some("error") => {
            return LoadResult::Error(LoadException {
                message: "Something broke when playing the track.".to_owned(),
                severity: Severity::Fault,
                cause: "java.lang.IllegalStateException: emulated load failure".to_owned(),
            });
        }
        _ => {}
    }
    let stream = url.param("stream") == Some("true");
    let seed = hash(identifier.as_bytes());
    let length_ms = match url.param("length_ms").and_then(|v| v.parse::<i64>().ok()) {
        _ if stream => UNKNOWN_LENGTH_MS,
        Some(length_ms) if length_ms >= 0 => length_ms,
        _ => default_length_ms(seed),
    };
    let file = url.path.rsplit('/').next().unwrap_or_default();
    let title = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    LoadResult::Track(TrackData {
        title: if title.is_empty() {
            "Unknown title"
        } else {
            title
        }
        .to_owned(),
        author: "Unknown artist".to_owned(),
        length_ms,
        identifier: identifier.to_owned(),
        is_stream: stream,
        uri: Some(identifier.to_owned()),
        artwork_url: None,
        isrc: None,
        source_name: "http".to_owned(),
        probe: Some("mp3".to_owned()),
        position_ms: 0,
    })
}

fn youtube_playlist(list: &str) -> LoadResult {
    let tracks = (0..PLAYLIST_TRACKS)
        .map(|index| youtube_track(&youtube_id(mix(hash(list.as_bytes()) ^ (index + 1)))))
        .collect();
    LoadResult::Playlist {
        name: format!("{} Mix", title_words(hash(list.as_bytes()))),
        selected_track: -1,
        tracks,
    }
}

fn youtube_track(id: &str) -> TrackData {
    let seed = hash(id.as_bytes());
    TrackData {
        title: title_words(seed),
        author: ARTISTS[(mix(seed) % ARTISTS.len() as u64) as usize].to_owned(),
        length_ms: default_length_ms(seed),
        identifier: id.to_owned(),
        is_stream: false,
        uri: Some(format!("https://www.youtube.com/watch?v={id}")),
        artwork_url: Some(format!("https://i.ytimg.com/vi/{id}/maxresdefault.jpg")),
        isrc: None,
        source_name: "youtube".to_owned(),
        probe: None,
        position_ms: 0,
    }
}

fn soundcloud_track(uri: &str) -> TrackData {
    let seed = hash(uri.as_bytes());
    let artist = uri
        .trim_end_matches('/')
        .rsplit('/')
        .nth(1)
        .unwrap_or("soundcloud");
    TrackData {
        title: title_words(seed),
        author: artist.to_owned(),
        length_ms: default_length_ms(seed),
        identifier: uri.to_owned(),
        is_stream: false,
        uri: Some(uri.to_owned()),
        artwork_url: None,
        isrc: None,
        source_name: "soundcloud".to_owned(),
        probe: None,
        position_ms: 0,
    }
}

fn soundcloud_uri(seed: u64) -> String {
    let artist = ARTISTS[(seed % ARTISTS.len() as u64) as usize];
    format!(
        "https://soundcloud.com/{}/{}",
        slug(artist),
        slug(&title_words(mix(seed)))
    )
}

fn slug(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn title_words(seed: u64) -> String {
    let adjective = ADJECTIVES[(seed % ADJECTIVES.len() as u64) as usize];
    let noun = NOUNS[((seed >> 8) % NOUNS.len() as u64) as usize];
    format!("{adjective} {noun}")
}

/// Two to seven minutes, in whole seconds.
fn default_length_ms(seed: u64) -> i64 {
    120_000 + (mix(seed ^ 0x5EED) % 300) as i64 * 1000
}

fn youtube_id(seed: u64) -> String {
    let mut state = seed;
    (0..YOUTUBE_ID_LEN)
        .map(|_| {
            state = mix(state);
            char::from(YOUTUBE_ID_ALPHABET[(state % 64) as usize])
        })
        .collect()
}

fn is_youtube_id(text: &str) -> bool {
    text.len() == YOUTUBE_ID_LEN && text.bytes().all(|b| YOUTUBE_ID_ALPHABET.contains(&b))
}

/// FNV-1a: stable across platforms and releases, unlike `std`'s hashers.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |state, byte| {
        (state ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// SplitMix64's finaliser, to spread FNV's low-entropy bits.
fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// Just enough URL parsing for the identifiers above.
struct Url {
    host: String,
    path: String,
    query: Vec<(String, String)>,
}

impl Url {
    fn parse(text: &str) -> Option<Self> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))?;
        let (authority, path_and_query) = match rest.find('/') {
            Some(index) => rest.split_at(index),
            None => (rest, "/"),
        };
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_owned(), value.to_owned())
            })
            .collect();
        Some(Self {
            host: authority.to_ascii_lowercase(),
            path: path.to_owned(),
            query,
        })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::track::codec;

    #[test]
    fn the_same_identifier_always_gives_the_same_track() {
        let first = load("ytsearch:never gonna");
        assert_eq!(first, load("ytsearch:never gonna"));
        let LoadResult::Search(tracks) = first else {
            panic!("a search prefix gives a search result");
        };
        assert_eq!(tracks.len(), SEARCH_RESULTS as usize);
        for track in &tracks {
            assert!(is_youtube_id(&track.identifier));
            let encoded = codec::encode(track).expect("synthetic tracks encode");
            assert_eq!(codec::decode(&encoded).as_ref(), Ok(track));
            assert!((120_000..=420_000).contains(&track.length_ms));
        }
    }

    #[test]
    fn recognises_each_identifier_form() {
        assert!(matches!(load("dQw4w9WgXcQ"), LoadResult::Track(t) if t.source_name == "youtube"));
        assert!(matches!(
            load("https://youtu.be/dQw4w9WgXcQ"),
            LoadResult::Track(t) if t.identifier == "dQw4w9WgXcQ"
        ));
        assert!(matches!(
            load("https://www.youtube.com/playlist?list=PL123"),
            LoadResult::Playlist { selected_track: -1, ref tracks, .. } if tracks.len() == 10
        ));
        assert!(matches!(
            load("https://soundcloud.com/nora-vale/quiet-harbor"),
            LoadResult::Track(t) if t.source_name == "soundcloud"
        ));
        assert!(
            matches!(load("scsearch:x"), LoadResult::Search(t) if t[0].source_name == "soundcloud")
        );
        assert_eq!(load("ytsearch:   "), LoadResult::Empty);
        assert_eq!(load("just some words"), LoadResult::Empty);
        assert!(
            matches!(load("https://example.org/a.mp3"), LoadResult::Error(e) if e.severity == Severity::Suspicious)
        );
        let huge = format!("https://{TEST_TRACK_HOST}/{}.mp3", "x".repeat(70_000));
        assert!(matches!(load(&huge), LoadResult::Error(_)));
    }

    #[test]
    fn test_tracks_carry_length_stream_and_behaviour() {
        let options = TestTrackOptions {
            length_ms: Some(3000),
            fail_at_ms: Some(1500),
            ..TestTrackOptions::default()
        };
        let LoadResult::Track(track) = load(&test_track_identifier("short", options)) else {
            panic!("a test track loads as a track");
        };
        assert_eq!(track.length_ms, 3000);
        assert_eq!(track.title, "short");
        assert_eq!(track.source_name, "http");
        assert_eq!(behaviour(&track).fail_at_ms, Some(1500));

        let stream = TestTrackOptions {
            stream: true,
            ..TestTrackOptions::default()
        };
        let LoadResult::Track(live) = load(&test_track_identifier("radio", stream)) else {
            panic!("a test stream loads as a track");
        };
        assert!(live.is_stream);
        assert_eq!(live.length_ms, UNKNOWN_LENGTH_MS);
        assert!(matches!(
            load("https://emulator.invalid/x.mp3?load=error"),
            LoadResult::Error(_)
        ));
        assert_eq!(
            load("https://emulator.invalid/x.mp3?load=empty"),
            LoadResult::Empty
        );
    }
}
