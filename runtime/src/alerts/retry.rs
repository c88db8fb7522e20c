//! What a receiver's answer means, and how long to wait before asking again.
//!
//! Only 429, 5xx and network errors are worth retrying. Every other 4xx says the
//! request itself is wrong (PagerDuty 400, Slack 403/404/410), and repeating it would
//! only count against Discord's invalid-request ban; Discord's 404 additionally says
//! the webhook was deleted, so the sink stops using it.

use std::time::{Duration, UNIX_EPOCH};

use rand_core::RngCore;
use serde::Deserialize;

use super::config::SinkKindName;
use crate::ports::http::{HttpError, HttpResponse};

/// What to do after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it.
    Delivered,
    /// Worth another try, after `after` when the receiver said how long to wait.
    Retry {
        /// The receiver's `Retry-After`, if it gave one.
        after: Option<Duration>,
        /// For the log.
        reason: String,
    },
    /// The receiver refused it for good.
    Rejected {
        /// For the log: the status and the start of the body.
        reason: String,
    },
    /// The webhook no longer exists: stop using the sink.
    Gone {
        /// For the log and the report.
        reason: String,
    },
}

/// Most of a refusal's body that goes into a log line.
const BODY_EXCERPT_MAX_CHARS: usize = 200;

/// Classifies one attempt's result. `now_unix_ms` is the fallback reference for an
/// HTTP-date `Retry-After` when the response has no `Date` header.
pub fn classify(
    kind: SinkKindName,
    result: &Result<HttpResponse, HttpError>,
    now_unix_ms: u64,
) -> Outcome {
    let response = match result {
        Ok(response) => response,
        Err(HttpError::Encode(reason)) => {
            return Outcome::Rejected {
                reason: format!("request could not be formed: {reason}"),
            };
        }
        Err(error) => {
            return Outcome::Retry {
                after: None,
                reason: error.to_string(),
            };
        }
    };
    let status = response.status;
    if response.is_success() {
        return Outcome::Delivered;
    }
    let reason = format!("HTTP {status}: {}", body_excerpt(&response.body));
    if status == 429 || (500..600).contains(&status) {
        return Outcome::Retry {
            after: retry_after(kind, response, now_unix_ms),
            reason,
        };
    }
    if kind == SinkKindName::Discord && status == 404 {
        return Outcome::Gone {
            reason: "Discord answered 404: the webhook was deleted".to_owned(),
        };
    }
    Outcome::Rejected { reason }
}

/// How long the receiver asked us to wait: Discord's JSON `retry_after` (fractional
/// seconds, more precise than the header) first, then the `Retry-After` header in
/// seconds or as an HTTP-date.
pub fn retry_after(
    kind: SinkKindName,
    response: &HttpResponse,
    now_unix_ms: u64,
) -> Option<Duration> {
    if kind == SinkKindName::Discord && response.status == 429 {
        if let Some(after) = discord_retry_after(&response.body) {
            return Some(after);
        }
    }
    let value = response.header("retry-after")?;
    // An HTTP-date is relative to the server's clock: use its `Date` when it sent one.
    let reference_unix_ms = response
        .header("date")
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .and_then(|date| date.duration_since(UNIX_EPOCH).ok())
        .and_then(|since| u64::try_from(since.as_millis()).ok())
        .unwrap_or(now_unix_ms);
    parse_retry_after(value, reference_unix_ms)
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP-date taken relative to
/// `reference_unix_ms` (a date already past means "now").
pub fn parse_retry_after(value: &str, reference_unix_ms: u64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let date_unix_ms = u64::try_from(date.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some(Duration::from_millis(
        date_unix_ms.saturating_sub(reference_unix_ms),
    ))
}

#[derive(Deserialize)]
struct DiscordRateLimit {
    retry_after: f64,
}

fn discord_retry_after(body: &[u8]) -> Option<Duration> {
    let limit: DiscordRateLimit = serde_json::from_slice(body).ok()?;
    // Refuse NaN, negatives and absurd values rather than panic in from_secs_f64.
    (limit.retry_after.is_finite() && (0.0..1e9).contains(&limit.retry_after))
        .then(|| Duration::from_secs_f64(limit.retry_after))
}

fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    super::format::truncate_chars(text, BODY_EXCERPT_MAX_CHARS).into_owned()
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's nominal delay.
    pub initial_ms: u64,
    /// The cap on the nominal delay.
    pub max_ms: u64,
}

impl Backoff {
    /// The delay before retry number `retry` (1 for the first): the nominal delay
    /// `initial * 2^(retry-1)`, capped, then "equal jitter": half of it fixed, the other
    /// half random, so retries from many daemons spread out but never bunch at zero.
    pub fn delay_ms(&self, retry: u32, rng: &mut impl RngCore) -> u64 {
        let doublings = retry.saturating_sub(1).min(63);
        let nominal_ms = self
            .initial_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_ms);
        let half_ms = nominal_ms / 2;
        // The modulo's bias is below 2^-40 for any delay we allow: irrelevant for jitter.
        let jitter_ms = rng.next_u64() % (nominal_ms - half_ms + 1);
        half_ms + jitter_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn only_429_5xx_and_network_errors_retry() {
        let slack = SinkKindName::Slack;
        for status in [429, 500, 502, 503, 504] {
            let outcome = classify(slack, &Ok(response(status, &[], "")), 0);
            assert!(matches!(outcome, Outcome::Retry { .. }), "{status}");
        }
        for status in [400, 401, 403, 404, 410, 301] {
            let outcome = classify(slack, &Ok(response(status, &[], "no")), 0);
            assert!(matches!(outcome, Outcome::Rejected { .. }), "{status}");
        }
        for error in [HttpError::Timeout, HttpError::Connect("refused".to_owned())] {
            assert!(matches!(
                classify(slack, &Err(error), 0),
                Outcome::Retry { after: None, .. }
            ));
        }
        assert!(matches!(
            classify(slack, &Err(HttpError::Encode("bad".to_owned())), 0),
            Outcome::Rejected { .. }
        ));
        assert_eq!(
            classify(slack, &Ok(response(200, &[], "ok")), 0),
            Outcome::Delivered
        );
    }

    #[test]
    fn discord_404_is_gone_slack_404_is_rejected() {
        let not_found = Ok(response(404, &[], "{\"code\": 10015}"));
        assert!(matches!(
            classify(SinkKindName::Discord, &not_found, 0),
            Outcome::Gone { .. }
        ));
        assert_eq!(
            classify(SinkKindName::Slack, &not_found, 0),
            Outcome::Rejected {
                reason: "HTTP 404: {\"code\": 10015}".to_owned()
            }
        );
    }

    #[test]
    fn retry_after_in_seconds_dates_and_discord_json() {
        let seconds = response(429, &[("retry-after", "7")], "");
        assert_eq!(
            retry_after(SinkKindName::Slack, &seconds, 0),
            Some(Duration::from_secs(7))
        );
        // 1994-11-06T08:49:37Z is 784111777 s; the server's Date says 30 s earlier.
        let dated = response(
            503,
            &[
                ("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"),
                ("Date", "Sun, 06 Nov 1994 08:49:07 GMT"),
            ],
            "",
        );
        assert_eq!(
            retry_after(SinkKindName::Generic, &dated, 0),
            Some(Duration::from_secs(30))
        );
        // Without a Date header the reference is our own wall clock.
        let undated = response(503, &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")], "");
        assert_eq!(
            retry_after(SinkKindName::Generic, &undated, 784_111_777_000 - 2_500),
            Some(Duration::from_millis(2_500))
        );
        let discord = response(
            429,
            &[("retry-after", "1")],
            "{\"message\": \"You are being rate limited.\", \"retry_after\": 0.25, \"global\": false}",
        );
        assert_eq!(
            retry_after(SinkKindName::Discord, &discord, 0),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", u64::MAX),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_jitter() {
        let backoff = Backoff {
            initial_ms: 1_000,
            max_ms: 60_000,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for retry in 1..=40 {
            let nominal_ms = (1_000u64 << (retry - 1).min(20)).min(60_000);
            let delay_ms = backoff.delay_ms(retry, &mut rng);
            assert!(
                (nominal_ms / 2..=nominal_ms).contains(&delay_ms),
                "{retry}: {delay_ms}"
            );
        }
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut b = ChaCha8Rng::seed_from_u64(1);
        let run_a: Vec<u64> = (1..10).map(|r| backoff.delay_ms(r, &mut a)).collect();
        let run_b: Vec<u64> = (1..10).map(|r| backoff.delay_ms(r, &mut b)).collect();
        assert_eq!(run_a, run_b, "same seed, same delays");
    }
}
