//! Time as the core sees it: plain milliseconds handed in by the caller.
//!
//! The core never reads a clock. Every input carries a [`Millis`], which prints and
//! serialises the same way on every run, so traces compare byte for byte and scenario
//! files can state instants directly.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An instant, in milliseconds since an epoch the caller chooses (process start in the
/// daemon, the simulation's start in `sim`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// The epoch itself.
    pub const ZERO: Millis = Millis(0);

    /// Builds an instant from whole seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Millis {
        Millis(secs * 1000)
    }

    /// Milliseconds since the epoch.
    pub const fn as_ms(self) -> u64 {
        self.0
    }

    /// This instant moved `ms` later, saturating rather than wrapping.
    pub const fn plus_ms(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero when `earlier` is not earlier.
    pub const fn ms_since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// The earlier of two optional deadlines, ignoring absent ones.
pub fn earliest(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_seconds_with_millis() {
        assert_eq!(Millis(61_005).to_string(), "61.005s");
        assert_eq!(Millis::ZERO.to_string(), "0.000s");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Millis(5).ms_since(Millis(10)), 0);
        assert_eq!(Millis(u64::MAX).plus_ms(1), Millis(u64::MAX));
        assert_eq!(earliest(Some(Millis(3)), None), Some(Millis(3)));
        assert_eq!(earliest(Some(Millis(3)), Some(Millis(2))), Some(Millis(2)));
        assert_eq!(earliest(None, None), None);
    }
}
