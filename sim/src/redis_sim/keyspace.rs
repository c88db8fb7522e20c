//! One database's keys, with TTLs on `tokio::time` (turmoil's clock in the simulation).
//!
//! Expired keys are purged before every command through an index ordered by deadline,
//! so expiry is exact (a key is gone from its deadline on) and memory stays bounded,
//! with no background sweep task waking the simulation up.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::{Duration, Instant};

use super::stream::Stream;

/// A stored value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A string (also integers, as Redis stores them).
    String(Vec<u8>),
    /// A hash, fields in order.
    Hash(Hash),
    /// A stream.
    Stream(Stream),
}

impl Value {
    /// The type name `TYPE` would print.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Hash(_) => "hash",
            Value::Stream(_) => "stream",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

/// A hash's fields and values.
pub type Hash = BTreeMap<Vec<u8>, Vec<u8>>;

/// A key held a value of another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// The keys of one database.
#[derive(Debug, Default)]
pub struct Keyspace {
    entries: BTreeMap<Vec<u8>, Entry>,
    /// (deadline, key) for every key with a TTL.
    expiries: BTreeSet<(Instant, Vec<u8>)>,
}

impl Keyspace {
    /// Removes every key whose deadline is at or before `now`.
    pub fn purge_expired(&mut self, now: Instant) {
        while let Some((deadline, _)) = self.expiries.first() {
            if *deadline > now {
                break;
            }
            if let Some((_, key)) = self.expiries.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The value at `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.entries.get(key).map(|e| &e.value)
    }

    /// The string at `key`.
    pub fn get_string(&self, key: &[u8]) -> Result<Option<&[u8]>, WrongType> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(WrongType),
        }
    }

    /// The hash at `key`.
    pub fn get_hash(&self, key: &[u8]) -> Result<Option<&Hash>, WrongType> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Hash(h)) => Ok(Some(h)),
            Some(_) => Err(WrongType),
        }
    }

    /// The hash at `key` for writing, created empty if absent (keeping any TTL).
    pub fn hash_mut(&mut self, key: &[u8]) -> Result<&mut Hash, WrongType> {
        let entry = self.entries.entry(key.to_vec()).or_insert_with(|| Entry {
            value: Value::Hash(BTreeMap::new()),
            expires_at: None,
        });
        match &mut entry.value {
            Value::Hash(h) => Ok(h),
            _ => Err(WrongType),
        }
    }

    /// The stream at `key` for writing, created empty if absent.
    pub fn stream_mut(&mut self, key: &[u8]) -> Result<&mut Stream, WrongType> {
        let entry = self.entries.entry(key.to_vec()).or_insert_with(|| Entry {
            value: Value::Stream(Stream::default()),
            expires_at: None,
        });
        match &mut entry.value {
            Value::Stream(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    /// The stream at `key`.
    pub fn get_stream(&self, key: &[u8]) -> Result<Option<&Stream>, WrongType> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Stream(s)) => Ok(Some(s)),
            Some(_) => Err(WrongType),
        }
    }

    /// Stores a string, replacing any value and TTL (`SET` without `KEEPTTL`).
    pub fn set_string(&mut self, key: &[u8], value: Vec<u8>, ttl: Option<(Instant, Duration)>) {
        self.remove(key);
        let expires_at = ttl.map(|(now, ttl)| now + ttl);
        if let Some(deadline) = expires_at {
            self.expiries.insert((deadline, key.to_vec()));
        }
        self.entries.insert(
            key.to_vec(),
            Entry {
                value: Value::String(value),
                expires_at,
            },
        );
    }

    /// Replaces a string's bytes, keeping its TTL (`INCR`).
    pub fn overwrite_string(&mut self, key: &[u8], value: Vec<u8>) {
        match self.entries.get_mut(key) {
            Some(entry) => entry.value = Value::String(value),
            None => self.set_string(key, value, None),
        }
    }

    /// Deletes a key; whether it existed.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.entries.remove(key) {
            Some(entry) => {
                if let Some(deadline) = entry.expires_at {
                    self.expiries.remove(&(deadline, key.to_vec()));
                }
                true
            }
            None => false,
        }
    }

    /// Deletes a hash or stream left empty, as Redis does.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        let empty = match self.get(key) {
            Some(Value::Hash(h)) => h.is_empty(),
            _ => false,
        };
        if empty {
            self.remove(key);
        }
    }

    /// Sets a key's TTL (`PEXPIRE`); whether the key exists. A deadline at or before
    /// `now` deletes the key.
    pub fn expire(&mut self, key: &[u8], now: Instant, ttl_ms: i64) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        if ttl_ms <= 0 {
            self.remove(key);
            return true;
        }
        if let Some(old) = entry.expires_at.take() {
            self.expiries.remove(&(old, key.to_vec()));
        }
        let deadline = now + Duration::from_millis(ttl_ms.unsigned_abs());
        entry.expires_at = Some(deadline);
        self.expiries.insert((deadline, key.to_vec()));
        true
    }

    /// `PTTL`: -2 no key, -1 no TTL, else milliseconds left.
    pub fn pttl_ms(&self, key: &[u8], now: Instant) -> i64 {
        match self.entries.get(key) {
            None => -2,
            Some(Entry {
                expires_at: None, ..
            }) => -1,
            Some(Entry {
                expires_at: Some(deadline),
                ..
            }) => i64::try_from(deadline.saturating_duration_since(now).as_millis())
                .unwrap_or(i64::MAX),
        }
    }

    /// Keys in order, starting with `prefix`.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
        self.entries
            .range(prefix.to_vec()..)
            .map(|(key, _)| key.as_slice())
            .take_while(move |key| key.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_expire_at_their_deadline_and_not_before() {
        let start = Instant::now();
        let mut keys = Keyspace::default();
        keys.set_string(
            b"a",
            b"1".to_vec(),
            Some((start, Duration::from_millis(100))),
        );
        keys.set_string(b"b", b"2".to_vec(), None);
        keys.purge_expired(start + Duration::from_millis(99));
        assert_eq!(keys.pttl_ms(b"a", start + Duration::from_millis(99)), 1);
        keys.purge_expired(start + Duration::from_millis(100));
        assert!(keys.get(b"a").is_none());
        assert_eq!(keys.pttl_ms(b"b", start), -1);
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn overwriting_clears_the_old_deadline() {
        let start = Instant::now();
        let mut keys = Keyspace::default();
        keys.set_string(
            b"a",
            b"1".to_vec(),
            Some((start, Duration::from_millis(10))),
        );
        keys.set_string(b"a", b"2".to_vec(), None);
        keys.purge_expired(start + Duration::from_secs(1));
        assert_eq!(keys.get_string(b"a"), Ok(Some(&b"2"[..])));
    }

    #[test]
    fn prefix_listing_stops_at_the_prefix() {
        let mut keys = Keyspace::default();
        for key in ["a:1", "a:2", "b:1", "a"] {
            keys.set_string(key.as_bytes(), Vec::new(), None);
        }
        let listed: Vec<&[u8]> = keys.keys_with_prefix(b"a:").collect();
        assert_eq!(listed, vec![&b"a:1"[..], &b"a:2"[..]]);
    }
}
