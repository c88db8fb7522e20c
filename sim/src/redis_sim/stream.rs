//! Streams: entries in id order, automatic ids from the server's clock, trimming, and
//! range reads with inclusive and exclusive bounds.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

/// A stream entry id `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct EntryId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence within the millisecond.
    pub seq: u64,
}

impl EntryId {
    /// The smallest id.
    pub const MIN: EntryId = EntryId { ms: 0, seq: 0 };
    /// The largest id.
    pub const MAX: EntryId = EntryId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Parses `<ms>-<seq>`, or `<ms>` with `seq_default` as the sequence.
    pub fn parse(text: &[u8], seq_default: u64) -> Option<EntryId> {
        let text = std::str::from_utf8(text).ok()?;
        match text.split_once('-') {
            Some((ms, seq)) => Some(EntryId {
                ms: ms.parse().ok()?,
                seq: seq.parse().ok()?,
            }),
            None => Some(EntryId {
                ms: text.parse().ok()?,
                seq: seq_default,
            }),
        }
    }

    fn next(self) -> Option<EntryId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(EntryId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| EntryId { ms, seq: 0 }),
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Field/value pairs of one entry, in the order given.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    entries: BTreeMap<EntryId, Fields>,
    last_id: EntryId,
}

impl Stream {
    /// Appends with an automatic id: `now_ms` if it is past the last id's millisecond,
    /// else the next sequence. `None` only when the id space is exhausted.
    pub fn add(&mut self, now_ms: u64, fields: Fields) -> Option<EntryId> {
        let id = if now_ms > self.last_id.ms {
            EntryId { ms: now_ms, seq: 0 }
        } else {
            self.last_id.next()?
        };
        self.entries.insert(id, fields);
        self.last_id = id;
        Some(id)
    }

    /// Drops the oldest entries until at most `len_max` remain. `MAXLEN ~` allows keeping
    /// more; trimming exactly is the strictest reading of it. Returns how many went.
    pub fn trim(&mut self, len_max: usize) -> usize {
        let mut dropped = 0;
        while self.entries.len() > len_max {
            self.entries.pop_first();
            dropped += 1;
        }
        dropped
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries between the bounds, oldest first (`reverse` for newest first), at most
    /// `count`.
    pub fn range(
        &self,
        start: Bound<EntryId>,
        end: Bound<EntryId>,
        reverse: bool,
        count: usize,
    ) -> Vec<(EntryId, &Fields)> {
        if bounds_empty(start, end) {
            return Vec::new();
        }
        let range = self.entries.range((start, end));
        if reverse {
            range.rev().take(count).map(|(id, f)| (*id, f)).collect()
        } else {
            range.take(count).map(|(id, f)| (*id, f)).collect()
        }
    }
}

/// Whether a range is empty; `BTreeMap::range` panics on start > end, Redis answers [].
fn bounds_empty(start: Bound<EntryId>, end: Bound<EntryId>) -> bool {
    let value = |b: Bound<EntryId>| match b {
        Bound::Included(id) | Bound::Excluded(id) => Some(id),
        Bound::Unbounded => None,
    };
    match (value(start), value(end)) {
        (Some(s), Some(e)) => {
            s > e
                || (s == e
                    && !(matches!(start, Bound::Included(_)) && matches!(end, Bound::Included(_))))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        vec![(b"f".to_vec(), b"v".to_vec())]
    }

    #[test]
    fn ids_grow_within_a_millisecond_and_across() {
        let mut stream = Stream::default();
        assert_eq!(stream.add(0, fields()), Some(EntryId { ms: 0, seq: 1 }));
        assert_eq!(stream.add(0, fields()), Some(EntryId { ms: 0, seq: 2 }));
        assert_eq!(stream.add(5, fields()), Some(EntryId { ms: 5, seq: 0 }));
        // A clock that did not move on (or went back) still yields growing ids.
        assert_eq!(stream.add(3, fields()), Some(EntryId { ms: 5, seq: 1 }));
    }

    #[test]
    fn ranges_honour_exclusive_bounds_and_counts() {
        let mut stream = Stream::default();
        let ids: Vec<EntryId> = (1..=5)
            .map(|ms| stream.add(ms, fields()).expect("room for ids"))
            .collect();
        let after_second = stream.range(Bound::Excluded(ids[1]), Bound::Unbounded, false, 2);
        let got: Vec<EntryId> = after_second.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, vec![ids[2], ids[3]]);
        let newest = stream.range(Bound::Unbounded, Bound::Unbounded, true, 2);
        let got: Vec<EntryId> = newest.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, vec![ids[4], ids[3]]);
        assert!(
            stream
                .range(Bound::Excluded(ids[4]), Bound::Included(ids[4]), false, 9)
                .is_empty()
        );
    }

    #[test]
    fn trimming_keeps_the_newest() {
        let mut stream = Stream::default();
        for ms in 1..=10 {
            stream.add(ms, fields());
        }
        assert_eq!(stream.trim(3), 7);
        let left: Vec<u64> = stream
            .range(Bound::Unbounded, Bound::Unbounded, false, 10)
            .iter()
            .map(|(id, _)| id.ms)
            .collect();
        assert_eq!(left, vec![8, 9, 10]);
    }
}
