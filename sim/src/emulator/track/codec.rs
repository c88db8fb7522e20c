//! The lavaplayer track message format that Lavalink base64-encodes into `encoded`.
//!
//! Layout (big-endian, `java.io.DataOutput`): a 4-byte header `(flags << 30) | size`,
//! then `size` bytes of body. With the `TRACK_INFO_VERSIONED` flag the body starts with
//! a version byte (1, 2 or 3); without it the version is 1. Body fields in order: title,
//! author, length (i64 ms), identifier, isStream (bool), uri (nullable, version >= 2),
//! artworkUrl and isrc (nullable, version 3), source name, source-specific details, and
//! the position (i64 ms). Strings are Java "modified UTF-8" with a u16 length prefix; a
//! nullable string is a bool presence flag followed by the string.
//!
//! Only the sources the emulator knows are accepted on decode, as Lavalink rejects a
//! source whose manager is not loaded.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Header flag: the body starts with a version byte.
const TRACK_INFO_VERSIONED: u32 = 1;
/// The version lavaplayer 2.x writes.
const TRACK_INFO_VERSION: u8 = 3;
/// The header's size field is 30 bits wide.
const SIZE_MASK: u32 = (1 << 30) - 1;
/// Java's `writeUTF` cannot encode more than 65535 bytes.
const UTF_MAX_BYTES: usize = u16::MAX as usize;

/// Java's basic decoder accepts input with or without padding; the encoder pads.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Sources whose tracks carry no source-specific details after the source name.
const SOURCES_WITHOUT_DETAILS: [&str; 6] = [
    "youtube",
    "soundcloud",
    "bandcamp",
    "vimeo",
    "twitch",
    "nico",
];
/// Sources that write one string (the container probe, e.g. `mp3`) after the name.
const SOURCES_WITH_PROBE: [&str; 2] = ["http", "local"];

/// The fields of one encoded track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackData {
    pub title: String,
    pub author: String,
    pub length_ms: i64,
    pub identifier: String,
    pub is_stream: bool,
    pub uri: Option<String>,
    pub artwork_url: Option<String>,
    pub isrc: Option<String>,
    pub source_name: String,
    /// Container probe name for `http` and `local` tracks, `None` for the others.
    pub probe: Option<String>,
    pub position_ms: i64,
}

/// Why an encoded track could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("Illegal base64 character or length in encoded track")]
    Base64,
    #[error("Encoded track is truncated")]
    Truncated,
    #[error("Encoded track contains an invalid string")]
    InvalidString,
    #[error("Failed to decode track due to a mismatching version or missing source manager")]
    Unsupported,
}

/// Why a track could not be encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("a track field is longer than 65535 bytes of modified UTF-8")]
    StringTooLong,
    #[error("source `{0}` is not one the emulator can encode")]
    UnknownSource(String),
}

/// Encodes a track the way lavaplayer's `DefaultAudioPlayerManager.encodeTrack` does.
pub fn encode(track: &TrackData) -> Result<String, EncodeError> {
    let mut body = Writer::default();
    body.u8(TRACK_INFO_VERSION);
    body.utf(&track.title)?;
    body.utf(&track.author)?;
    body.i64(track.length_ms);
    body.utf(&track.identifier)?;
    body.bool(track.is_stream);
    body.nullable_utf(track.uri.as_deref())?;
    body.nullable_utf(track.artwork_url.as_deref())?;
    body.nullable_utf(track.isrc.as_deref())?;
    body.utf(&track.source_name)?;
    if SOURCES_WITH_PROBE.contains(&track.source_name.as_str()) {
        body.utf(track.probe.as_deref().unwrap_or("mp3"))?;
    } else if !SOURCES_WITHOUT_DETAILS.contains(&track.source_name.as_str()) {
        return Err(EncodeError::UnknownSource(track.source_name.clone()));
    }
    body.i64(track.position_ms);

    let size = u32::try_from(body.bytes.len()).map_err(|_| EncodeError::StringTooLong)?;
    assert!(
        size <= SIZE_MASK,
        "a track body is bounded by its few 64 KiB strings"
    );
    let mut message = Vec::with_capacity(body.bytes.len() + 4);
    message.extend_from_slice(&((TRACK_INFO_VERSIONED << 30) | size).to_be_bytes());
    message.extend_from_slice(&body.bytes);
    Ok(BASE64.encode(message))
}

/// Decodes a base64 track message written by lavaplayer (versions 1 to 3).
pub fn decode(encoded: &str) -> Result<TrackData, DecodeError> {
    let message = BASE64.decode(encoded).map_err(|_| DecodeError::Base64)?;
    let mut header = Reader::new(&message);
    let value = header.u32()?;
    let size = (value & SIZE_MASK) as usize;
    let flags = value >> 30;
    let body = message.get(4..4 + size).ok_or(DecodeError::Truncated)?;
    let mut input = Reader::new(body);

    let version = if flags & TRACK_INFO_VERSIONED != 0 {
        input.u8()?
    } else {
        1
    };
    if !(1..=TRACK_INFO_VERSION).contains(&version) {
        return Err(DecodeError::Unsupported);
    }
    let title = input.utf()?;
    let author = input.utf()?;
    let length_ms = input.i64()?;
    let identifier = input.utf()?;
    let is_stream = input.bool()?;
    let uri = if version >= 2 {
        input.nullable_utf()?
    } else {
        None
    };
    let (artwork_url, isrc) = if version >= 3 {
        (input.nullable_utf()?, input.nullable_utf()?)
    } else {
        (None, None)
    };
    let source_name = input.utf()?;
    let probe = if SOURCES_WITH_PROBE.contains(&source_name.as_str()) {
        Some(input.utf()?)
    } else if SOURCES_WITHOUT_DETAILS.contains(&source_name.as_str()) {
        None
    } else {
        return Err(DecodeError::Unsupported);
    };
    let position_ms = input.i64()?;
    let track = TrackData {
        title,
        author,
        length_ms,
        identifier,
        is_stream,
        uri,
        artwork_url,
        isrc,
        source_name,
        probe,
        position_ms,
    };
    // Re-encoding can grow a string (a raw NUL becomes two bytes); a track that could
    // not be written back out is refused here rather than failing later.
    if encode(&track).is_err() {
        return Err(DecodeError::InvalidString);
    }
    Ok(track)
}

#[derive(Default)]
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    fn bool(&mut self, value: bool) {
        self.bytes.push(u8::from(value));
    }

    fn i64(&mut self, value: i64) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    fn nullable_utf(&mut self, value: Option<&str>) -> Result<(), EncodeError> {
        self.bool(value.is_some());
        match value {
            Some(text) => self.utf(text),
            None => Ok(()),
        }
    }

    /// Java's modified UTF-8: UTF-16 code units, NUL as two bytes, no 4-byte forms.
    fn utf(&mut self, text: &str) -> Result<(), EncodeError> {
        let mut encoded = Vec::with_capacity(text.len());
        for unit in text.encode_utf16() {
            match unit {
                0x0001..=0x007F => encoded.push(unit as u8),
                0x0000 | 0x0080..=0x07FF => {
                    encoded.push(0xC0 | (unit >> 6) as u8);
                    encoded.push(0x80 | (unit & 0x3F) as u8);
                }
                _ => {
                    encoded.push(0xE0 | (unit >> 12) as u8);
                    encoded.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                    encoded.push(0x80 | (unit & 0x3F) as u8);
                }
            }
        }
        if encoded.len() > UTF_MAX_BYTES {
            return Err(EncodeError::StringTooLong);
        }
        self.bytes
            .extend_from_slice(&(encoded.len() as u16).to_be_bytes());
        self.bytes.extend_from_slice(&encoded);
        Ok(())
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < count {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? != 0)
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        let mut buffer = [0u8; 8];
        buffer.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(buffer))
    }

    fn nullable_utf(&mut self) -> Result<Option<String>, DecodeError> {
        if self.bool()? {
            self.utf().map(Some)
        } else {
            Ok(None)
        }
    }

    fn utf(&mut self) -> Result<String, DecodeError> {
        let length = usize::from(self.u16()?);
        let mut bytes = self.take(length)?.iter().copied();
        let mut units = Vec::with_capacity(length);
        while let Some(first) = bytes.next() {
            let unit = match first {
                // Java writes NUL as two bytes but, like Java, accept a raw one too.
                0x00..=0x7F => u16::from(first),
                0xC0..=0xDF => {
                    let second = continuation(bytes.next())?;
                    (u16::from(first & 0x1F) << 6) | second
                }
                0xE0..=0xEF => {
                    let second = continuation(bytes.next())?;
                    let third = continuation(bytes.next())?;
                    (u16::from(first & 0x0F) << 12) | (second << 6) | third
                }
                _ => return Err(DecodeError::InvalidString),
            };
            units.push(unit);
        }
        String::from_utf16(&units).map_err(|_| DecodeError::InvalidString)
    }
}

fn continuation(byte: Option<u8>) -> Result<u16, DecodeError> {
    match byte {
        Some(byte) if byte & 0xC0 == 0x80 => Ok(u16::from(byte & 0x3F)),
        _ => Err(DecodeError::InvalidString),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example track from Lavalink's REST docs (a version 2 message).
    const DOCS_TRACK: &str = "QAAAjQIAJVJpY2sgQXN0bGV5IC0gTmV2ZXIgR29ubmEgR2l2ZSBZb3UgVXAADlJpY2tBc3RsZXlWRVZPAAAAAAADPCAAC2RRdzR3OVdnWGNRAAEAK2h0dHBzOi8vd3d3LnlvdXR1YmUuY29tL3dhdGNoP3Y9ZFF3NHc5V2dYY1EAB3lvdXR1YmUAAAAAAAAAAA==";

    fn sample() -> TrackData {
        TrackData {
            title: "Zürich \u{0} 𝄞 night".to_owned(),
            author: "Author".to_owned(),
            length_ms: 212_000,
            identifier: "https://emulator.invalid/a.mp3".to_owned(),
            is_stream: false,
            uri: Some("https://emulator.invalid/a.mp3".to_owned()),
            artwork_url: None,
            isrc: Some("USRC17607839".to_owned()),
            source_name: "http".to_owned(),
            probe: Some("mp3".to_owned()),
            position_ms: 60_000,
        }
    }

    #[test]
    fn decodes_the_lavalink_docs_example() {
        let track = decode(DOCS_TRACK).expect("the docs example is a valid track");
        assert_eq!(track.title, "Rick Astley - Never Gonna Give You Up");
        assert_eq!(track.author, "RickAstleyVEVO");
        assert_eq!(track.length_ms, 212_000);
        assert_eq!(track.identifier, "dQw4w9WgXcQ");
        assert!(!track.is_stream);
        assert_eq!(
            track.uri.as_deref(),
            Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
        );
        assert_eq!(track.source_name, "youtube");
        assert_eq!(track.position_ms, 0);
    }

    #[test]
    fn round_trips_modified_utf8_and_nullable_fields() {
        let track = sample();
        let encoded = encode(&track).expect("sample fields are short");
        assert_eq!(decode(&encoded), Ok(track));
    }

    #[test]
    fn encodes_nul_and_supplementary_characters_like_java() {
        let mut writer = Writer::default();
        writer.utf("\u{0}𝄞").expect("short string");
        // NUL -> C0 80; U+1D11E -> surrogates D834 DD1E, three bytes each.
        assert_eq!(
            writer.bytes,
            [0, 8, 0xC0, 0x80, 0xED, 0xA0, 0xB4, 0xED, 0xB4, 0x9E]
        );
    }

    #[test]
    fn header_carries_the_versioned_flag_and_body_size() {
        let encoded = encode(&sample()).expect("sample fields are short");
        let bytes = BASE64.decode(encoded).expect("our own output is base64");
        let header = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        assert_eq!(header >> 30, 1);
        assert_eq!((header & SIZE_MASK) as usize, bytes.len() - 4);
        assert_eq!(bytes[4], TRACK_INFO_VERSION);
    }

    #[test]
    fn rejects_garbage_truncation_and_unknown_sources() {
        assert_eq!(decode("not base64!"), Err(DecodeError::Base64));
        let encoded = encode(&sample()).expect("sample fields are short");
        let mut bytes = BASE64.decode(&encoded).expect("our own output is base64");
        bytes.truncate(bytes.len() - 3);
        assert_eq!(decode(&BASE64.encode(&bytes)), Err(DecodeError::Truncated));
        let mut spotify = sample();
        spotify.source_name = "spotify".to_owned();
        assert!(encode(&spotify).is_err());
    }

    #[test]
    fn accepts_raw_nul_bytes_but_not_tracks_it_could_not_write_back() {
        let mut track = sample();
        track.title = "a".to_owned();
        let encoded = encode(&track).expect("short");
        let mut bytes = BASE64.decode(&encoded).expect("our own output is base64");
        // The title's only byte sits after header (4), version (1) and length (2).
        bytes[7] = 0;
        let decoded = decode(&BASE64.encode(&bytes)).expect("a raw NUL is accepted");
        assert_eq!(decoded.title, "\u{0}");

        // A complete youtube track whose title is 65535 raw NUL bytes.
        let mut body = vec![TRACK_INFO_VERSION];
        body.extend_from_slice(&u16::MAX.to_be_bytes());
        body.extend(std::iter::repeat_n(0u8, usize::from(u16::MAX)));
        let mut rest = Writer::default();
        rest.utf("author").expect("short");
        rest.i64(1000);
        rest.utf("dQw4w9WgXcQ").expect("short");
        rest.bool(false);
        for _ in 0..3 {
            rest.nullable_utf(None).expect("absent");
        }
        rest.utf("youtube").expect("short");
        rest.i64(0);
        body.extend_from_slice(&rest.bytes);
        let mut message = ((TRACK_INFO_VERSIONED << 30) | body.len() as u32)
            .to_be_bytes()
            .to_vec();
        message.extend_from_slice(&body);
        // Writing it back would need 131070 bytes: refused now, not a panic later.
        assert_eq!(
            decode(&BASE64.encode(&message)),
            Err(DecodeError::InvalidString)
        );
    }

    #[test]
    fn rejects_strings_java_could_not_write() {
        let mut track = sample();
        track.title = "x".repeat(UTF_MAX_BYTES + 1);
        assert_eq!(encode(&track), Err(EncodeError::StringTooLong));
    }
}
