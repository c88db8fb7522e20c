//! Small conversions between the store's values and Redis arguments and replies.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_core::ids::GuildId;

use crate::adapters::redis_scripts::EXACT_NUMBER_MAX;
use crate::ports::store::StoreError;
use crate::store_schema::{StreamEntry, StreamId, stream_fields};

/// Encodes a value as JSON.
pub(crate) fn to_json(what: &'static str, value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Encode {
        what,
        reason: e.to_string(),
    })
}

/// Decodes a JSON value read from `key`.
pub(crate) fn from_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// A TTL as whole milliseconds for `PX`: at least 1 ms (Redis refuses 0), and exact.
pub(crate) fn ttl_ms(what: &'static str, ttl: Duration) -> Result<u64, StoreError> {
    let ms = u64::try_from(ttl.as_millis()).map_err(|_| StoreError::Encode {
        what,
        reason: format!("ttl {ttl:?} is too long"),
    })?;
    if ms == 0 {
        return Err(StoreError::Encode {
            what,
            reason: format!("ttl {ttl:?} is below 1 ms"),
        });
    }
    Ok(ms)
}

/// An epoch or token the Lua scripts can compare exactly.
pub(crate) fn exact_number(what: &'static str, n: u64) -> Result<u64, StoreError> {
    if n > EXACT_NUMBER_MAX {
        return Err(StoreError::Encode {
            what,
            reason: format!("{n} exceeds {EXACT_NUMBER_MAX}, the largest the scripts compare"),
        });
    }
    Ok(n)
}

/// A stream entry as redis-rs reads `XRANGE`: its id and its flat field/value list.
pub(crate) type RawEntry = (String, Vec<Vec<u8>>);

/// Decodes the `json` field of raw stream entries, skipping (and logging) entries that
/// do not decode, so one foreign entry cannot hide the rest.
pub(crate) fn decode_entries<T: DeserializeOwned>(
    stream: &str,
    raw: Vec<RawEntry>,
) -> Vec<StreamEntry<T>> {
    let mut entries = Vec::with_capacity(raw.len());
    for (id, fields) in raw {
        let json = fields
            .chunks_exact(2)
            .find(|pair| pair[0] == stream_fields::JSON.as_bytes())
            .map(|pair| pair[1].as_slice());
        let key = format!("{stream} {id}");
        let decoded = match json {
            Some(json) => from_json::<T>(&key, json),
            None => Err(StoreError::Decode {
                key: key.clone(),
                reason: "no json field".to_owned(),
            }),
        };
        match decoded {
            Ok(value) => entries.push(StreamEntry {
                id: StreamId(id),
                value,
            }),
            Err(error) => tracing::warn!(%error, "skipping a stream entry"),
        }
    }
    entries
}

/// Decodes the entries of the player change stream (one `guild` field each), skipping
/// (and logging) any that name no guild. A skipped entry costs nothing lasting: the
/// controller's periodic full read catches up on every snapshot anyway.
pub(crate) fn decode_changes(raw: Vec<RawEntry>) -> Vec<StreamEntry<GuildId>> {
    raw.into_iter()
        .filter_map(|(id, fields)| {
            let guild = fields
                .chunks_exact(2)
                .find(|pair| pair[0] == stream_fields::GUILD.as_bytes())
                .and_then(|pair| std::str::from_utf8(&pair[1]).ok())
                .and_then(|text| text.parse::<u64>().ok());
            match guild {
                Some(guild) => Some(StreamEntry {
                    id: StreamId(id),
                    value: GuildId(guild),
                }),
                None => {
                    tracing::warn!(id, "skipping a player change that names no guild");
                    None
                }
            }
        })
        .collect()
}

/// Decodes one JSON value of a collection, logging and dropping it if malformed.
pub(crate) fn decode_or_skip<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Option<T> {
    match from_json(key, bytes) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%error, "skipping a malformed value");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_must_be_a_positive_number_of_ms() {
        assert_eq!(ttl_ms("t", Duration::from_millis(1500)), Ok(1500));
        assert!(ttl_ms("t", Duration::from_micros(999)).is_err());
    }

    #[test]
    fn numbers_beyond_double_precision_are_refused() {
        assert!(exact_number("epoch", EXACT_NUMBER_MAX).is_ok());
        assert!(exact_number("epoch", EXACT_NUMBER_MAX + 1).is_err());
    }

    #[test]
    fn entries_without_json_are_skipped() {
        let raw = vec![
            ("1-0".to_owned(), vec![b"json".to_vec(), b"7".to_vec()]),
            ("2-0".to_owned(), vec![b"other".to_vec(), b"8".to_vec()]),
            ("3-0".to_owned(), vec![b"json".to_vec(), b"nope".to_vec()]),
        ];
        let entries: Vec<StreamEntry<u32>> = decode_entries("s", raw);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].value, 7);
        assert_eq!(entries[0].id, StreamId("1-0".into()));
    }
}
