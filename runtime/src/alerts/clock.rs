//! Time for alert delivery: the core's [`Millis`] on one side, wall-clock timestamps for
//! the receivers on the other.
//!
//! The core counts milliseconds from an epoch the driver chooses. Receivers want real
//! dates, so the clock also holds the wall-clock time of that epoch (`epoch_unix_ms`),
//! read once by the daemon at start and fixed by the simulation, which keeps every
//! formatted body identical across runs of the same seed.

use std::time::Duration;

use switchyard_core::time::Millis;
use tokio::time::Instant;

/// Maps tokio's clock onto the core's [`Millis`] and onto Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertClock {
    epoch: Instant,
    epoch_unix_ms: u64,
}

impl AlertClock {
    /// A clock whose `Millis(0)` is `epoch`, which happened at `epoch_unix_ms` wall time.
    pub fn new(epoch: Instant, epoch_unix_ms: u64) -> Self {
        Self {
            epoch,
            epoch_unix_ms,
        }
    }

    /// Now, as the core counts time.
    pub fn now(&self) -> Millis {
        let elapsed_ms = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_millis();
        // u64 milliseconds last 584 million years; saturate rather than wrap regardless.
        Millis(u64::try_from(elapsed_ms).unwrap_or(u64::MAX))
    }

    /// The tokio instant of a core instant.
    pub fn instant(&self, at: Millis) -> Instant {
        self.epoch + Duration::from_millis(at.as_ms())
    }

    /// The wall-clock time of the epoch, in milliseconds since 1970-01-01T00:00:00Z.
    pub fn epoch_unix_ms(&self) -> u64 {
        self.epoch_unix_ms
    }

    /// The wall-clock time of a core instant, in Unix milliseconds.
    pub fn unix_ms(&self, at: Millis) -> u64 {
        self.epoch_unix_ms.saturating_add(at.as_ms())
    }

    /// The wall-clock time now, in Unix milliseconds.
    pub fn now_unix_ms(&self) -> u64 {
        self.unix_ms(self.now())
    }
}

/// Formats Unix milliseconds as ISO-8601 / RFC 3339 UTC with milliseconds
/// (`2024-05-01T12:00:00.123Z`), the form PagerDuty, Slack and Discord all accept.
pub fn iso8601_utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let millis = unix_ms % 1000;
    let days = secs / 86_400;
    let secs_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs_of_day / 3600,
        (secs_of_day / 60) % 60,
        secs_of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, restricted to non-negative days, which is all Unix time needs here).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_utc(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(iso8601_utc(1_735_689_599_999), "2024-12-31T23:59:59.999Z");
        assert_eq!(iso8601_utc(4_102_444_800_000), "2100-01-01T00:00:00.000Z");
    }

    #[test]
    fn agrees_with_http_dates_every_day_for_years() {
        // httpdate formats through its own calendar code: a second opinion per day.
        for day in (0..60_000u64).step_by(7) {
            let unix_s = day * 86_400 + 45_296;
            let system = std::time::UNIX_EPOCH + Duration::from_secs(unix_s);
            let http = httpdate::fmt_http_date(system);
            let iso = iso8601_utc(unix_s * 1000);
            let parsed = httpdate::parse_http_date(&http).expect("own output parses");
            assert_eq!(parsed, system);
            // Both name the same calendar day: compare the day of month and the year.
            let (year, _, dom) = civil_from_days(day);
            assert!(http.contains(&format!(" {dom:02} ")), "{http} vs {iso}");
            assert!(http.contains(&format!(" {year} ")), "{http} vs {iso}");
            assert!(iso.ends_with("T12:34:56.000Z"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn clock_follows_tokio_time() {
        let clock = AlertClock::new(Instant::now(), 1_000_000);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(clock.now(), Millis(1500));
        assert_eq!(clock.now_unix_ms(), 1_001_500);
        assert_eq!(clock.instant(Millis(1500)), Instant::now());
    }
}
