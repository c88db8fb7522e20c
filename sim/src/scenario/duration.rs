//! Durations as operators write them in scenario files: `"250ms"`, `"30s"`, `"5m"`,
//! `"1h"`, or compounds like `"1m30s"`.
//!
//! Strings rather than bare integers so a reader never has to guess the unit. Parsing
//! happens while deserialising, so a bad string is reported at its own line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A duration read from a scenario file, in whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurationMs(pub u64);

impl DurationMs {
    /// Milliseconds.
    pub fn as_ms(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DurationMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_ms(self.0))
    }
}

const UNITS: [(&str, u64); 4] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

const EXPECTED: &str = "a duration like \"250ms\", \"30s\", \"5m\", \"1h\" or \"1m30s\"";

/// Parses a duration string; the error says what was expected, for the operator.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let bad = || format!("bad duration {text:?}: expected {EXPECTED}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total_ms: u64 = 0;
    // Each round consumes one `<number><unit>` pair; the string shrinks every round, so
    // the loop is bounded by its length.
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("bad duration {text:?}: missing unit (ms, s, m or h)"))?;
        let (number, tail) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(bad());
        }
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale_ms = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| {
                format!("bad duration {text:?}: unknown unit {unit:?} (use ms, s, m or h)")
            })?;
        let part_ms = scaled(number, scale_ms).ok_or_else(bad)?;
        total_ms = total_ms.checked_add(part_ms).ok_or_else(bad)?;
        rest = tail;
    }
    Ok(total_ms)
}

/// `number` (decimal, optional fraction) times `scale_ms`, exact to the millisecond.
fn scaled(number: &str, scale_ms: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let whole_ms = whole.parse::<u64>().ok()?.checked_mul(scale_ms)?;
    if fraction.is_empty() {
        return if number.ends_with('.') {
            None
        } else {
            Some(whole_ms)
        };
    }
    let denominator = 10u64.pow(u32::try_from(fraction.len()).ok()?);
    let numerator = fraction.parse::<u64>().ok()?.checked_mul(scale_ms)?;
    // Sub-millisecond remainders would be silently dropped; refuse them instead.
    if numerator % denominator != 0 {
        return None;
    }
    whole_ms.checked_add(numerator / denominator)
}

/// Formats milliseconds the way a scenario file would write them (`"1m30s"`, `"250ms"`).
pub fn format_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (name, scale) in UNITS.iter().rev() {
        if rest >= *scale {
            out.push_str(&format!("{}{name}", rest / scale));
            rest %= scale;
        }
    }
    out
}

impl<'de> Deserialize<'de> for DurationMs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = DurationMs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<DurationMs, E> {
        parse_duration_ms(text).map(DurationMs).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_fractions_and_compounds() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1_500));
        assert_eq!(parse_duration_ms("0s"), Ok(0));
    }

    #[test]
    fn rejects_what_it_cannot_read_exactly() {
        for bad in [
            "", "5", "5 min", "5x", "ms", "1.s", ".5s", "0.0001s", "1e3ms", "-5s", "5s3",
        ] {
            assert!(
                parse_duration_ms(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(parse_duration_ms("99999999999999999999h").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for ms in [0, 1, 250, 1_000, 90_000, 720_000, 3_600_000, 3_723_004] {
            assert_eq!(parse_duration_ms(&format_ms(ms)), Ok(ms), "{ms}");
        }
        assert_eq!(format_ms(90_000), "1m30s");
        assert_eq!(format_ms(250), "250ms");
    }
}
