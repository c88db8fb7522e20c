//! Alert sink configuration: what the file says, checked into what the engine uses.
//!
//! A sink's table is flat in TOML (`kind = "pagerduty"`, `routing_key = "..."`), read
//! into a raw form with `deny_unknown_fields`, then validated into [`AlertSinkConfig`]
//! with every default resolved. Routing keys and webhook URLs are credentials (a Slack
//! or Discord webhook URL *is* its token), so they live in [`Secret`]s, which never
//! print; [`AlertSinkConfig::redacted`] is the form to show people.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use switchyard_core::alerts::Severity;
use thiserror::Error;
use url::Url;

/// What secrets print as.
pub const REDACTED: &str = "<redacted>";

/// A credential. `Debug` and `Display` print [`REDACTED`]; `Serialize` writes the value
/// so a configuration round-trips, which is why anything shown to people must go
/// through [`AlertSinkConfig::redacted`] instead.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The receiver's protocol, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKindName {
    /// PagerDuty Events API v2.
    #[serde(rename = "pagerduty")]
    PagerDuty,
    /// Slack incoming webhook.
    Slack,
    /// Discord execute-webhook.
    Discord,
    /// Any receiver of the generic JSON body.
    Generic,
}

impl SinkKindName {
    /// The name as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKindName::PagerDuty => "pagerduty",
            SinkKindName::Slack => "slack",
            SinkKindName::Discord => "discord",
            SinkKindName::Generic => "generic",
        }
    }
}

impl fmt::Display for SinkKindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The receiver's protocol with what that protocol needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    /// PagerDuty Events API v2, with the integration's routing key.
    PagerDuty {
        /// The 32-character integration key.
        routing_key: Secret,
    },
    /// Slack incoming webhook.
    Slack,
    /// Discord execute-webhook.
    Discord,
    /// The generic JSON body.
    Generic,
}

impl SinkKind {
    /// The protocol's name.
    pub fn name(&self) -> SinkKindName {
        match self {
            SinkKind::PagerDuty { .. } => SinkKindName::PagerDuty,
            SinkKind::Slack => SinkKindName::Slack,
            SinkKind::Discord => SinkKindName::Discord,
            SinkKind::Generic => SinkKindName::Generic,
        }
    }
}

/// One validated alert sink. Build it with [`AlertSinkConfig::new`] or by deserialising
/// (which validates); [`AlertSinkConfig::validate`] checks one built by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AlertSinkFile", into = "AlertSinkFile")]
pub struct AlertSinkConfig {
    /// Unique name, used in logs, stats and metrics (`ops-slack`).
    pub name: String,
    /// Protocol, with its credentials.
    pub kind: SinkKind,
    /// Where to POST. A credential for Slack and Discord.
    pub url: Secret,
    /// Alerts below this severity are not sent here.
    pub min_severity: Severity,
    /// Alerts waiting for delivery, at most.
    pub outbox_capacity: usize,
    /// One exchange's time limit.
    pub request_timeout_ms: u64,
    /// The first retry's backoff, before jitter.
    pub backoff_initial_ms: u64,
    /// The backoff's cap.
    pub backoff_max_ms: u64,
    /// The longest `Retry-After` obeyed; longer asks are cut to this.
    pub retry_after_max_ms: u64,
    /// The least time between two requests (Slack allows about one a second).
    pub min_interval_ms: u64,
    /// Attempts per alert before giving up and counting it failed; `None` retries until
    /// delivered or shut down (the outbox bound still holds).
    pub max_attempts: Option<u32>,
}

/// Longest sink name.
pub const NAME_MAX_CHARS: usize = 64;
/// Largest outbox.
pub const OUTBOX_CAPACITY_MAX: usize = 100_000;
/// Longest request timeout.
pub const REQUEST_TIMEOUT_MS_MAX: u64 = 120_000;

impl AlertSinkConfig {
    /// A sink with the defaults for its kind.
    pub fn new(name: impl Into<String>, kind: SinkKind, url: impl Into<String>) -> Self {
        let min_interval_ms = match kind.name() {
            // ~120 events a minute per integration key.
            SinkKindName::PagerDuty => 500,
            // One message a second, with short bursts.
            SinkKindName::Slack => 1000,
            // Discord says not to hard-code its limits: follow its 429s instead.
            SinkKindName::Discord | SinkKindName::Generic => 0,
        };
        Self {
            name: name.into(),
            kind,
            url: Secret::new(url),
            min_severity: Severity::Info,
            outbox_capacity: 1024,
            request_timeout_ms: 10_000,
            backoff_initial_ms: 1_000,
            // PagerDuty asks for retries spread over "a few minutes".
            backoff_max_ms: 120_000,
            retry_after_max_ms: 600_000,
            min_interval_ms,
            max_attempts: None,
        }
    }

    /// Checks every field; the error names the sink and the field.
    pub fn validate(&self) -> Result<(), AlertConfigError> {
        let invalid = |field: &'static str, reason: &str| AlertConfigError::Invalid {
            sink: self.name.clone(),
            field,
            reason: reason.to_owned(),
        };
        let name_ok = !self.name.is_empty()
            && self.name.chars().count() <= NAME_MAX_CHARS
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(invalid(
                "name",
                "must be 1 to 64 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        validate_url(self.url.expose()).map_err(|reason| invalid("url", reason))?;
        if let SinkKind::PagerDuty { routing_key } = &self.kind {
            let key = routing_key.expose();
            if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(invalid(
                    "routing_key",
                    "must be the integration's key (letters and digits, 32 characters)",
                ));
            }
        }
        if !(1..=OUTBOX_CAPACITY_MAX).contains(&self.outbox_capacity) {
            return Err(invalid("outbox_capacity", "must be between 1 and 100000"));
        }
        if !(1..=REQUEST_TIMEOUT_MS_MAX).contains(&self.request_timeout_ms) {
            return Err(invalid(
                "request_timeout_ms",
                "must be between 1 and 120000",
            ));
        }
        if self.backoff_initial_ms == 0 {
            return Err(invalid("backoff_initial_ms", "must be positive"));
        }
        if self.backoff_max_ms < self.backoff_initial_ms {
            return Err(invalid(
                "backoff_max_ms",
                "must be at least backoff_initial_ms",
            ));
        }
        if self.retry_after_max_ms == 0 {
            return Err(invalid("retry_after_max_ms", "must be positive"));
        }
        if self.max_attempts == Some(0) {
            return Err(invalid("max_attempts", "must be positive when set"));
        }
        Ok(())
    }

    /// The configuration with credentials replaced, for logs, `check-config` and the API.
    pub fn redacted(&self) -> RedactedAlertSinkConfig {
        RedactedAlertSinkConfig {
            name: self.name.clone(),
            kind: self.kind.name(),
            url: redact_url(self.url.expose()),
            routing_key: match self.kind {
                SinkKind::PagerDuty { .. } => Some(REDACTED.to_owned()),
                _ => None,
            },
            min_severity: self.min_severity,
            outbox_capacity: self.outbox_capacity,
            request_timeout_ms: self.request_timeout_ms,
            backoff_initial_ms: self.backoff_initial_ms,
            backoff_max_ms: self.backoff_max_ms,
            retry_after_max_ms: self.retry_after_max_ms,
            min_interval_ms: self.min_interval_ms,
            max_attempts: self.max_attempts,
        }
    }
}

impl fmt::Display for AlertSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sink {:?} -> {}",
            self.kind.name(),
            self.name,
            redact_url(self.url.expose())
        )
    }
}

/// Checks a whole list of sinks: each valid, names unique.
pub fn validate_sinks(sinks: &[AlertSinkConfig]) -> Result<(), AlertConfigError> {
    let mut names = BTreeSet::new();
    for sink in sinks {
        sink.validate()?;
        if !names.insert(sink.name.as_str()) {
            return Err(AlertConfigError::DuplicateName {
                name: sink.name.clone(),
            });
        }
    }
    Ok(())
}

/// A sink's configuration fit to show: URLs keep only scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedactedAlertSinkConfig {
    /// See [`AlertSinkConfig::name`].
    pub name: String,
    /// See [`AlertSinkConfig::kind`].
    pub kind: SinkKindName,
    /// `https://hooks.slack.com/<redacted>`.
    pub url: String,
    /// [`REDACTED`] for PagerDuty sinks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    /// See [`AlertSinkConfig::min_severity`].
    pub min_severity: Severity,
    /// See [`AlertSinkConfig::outbox_capacity`].
    pub outbox_capacity: usize,
    /// See [`AlertSinkConfig::request_timeout_ms`].
    pub request_timeout_ms: u64,
    /// See [`AlertSinkConfig::backoff_initial_ms`].
    pub backoff_initial_ms: u64,
    /// See [`AlertSinkConfig::backoff_max_ms`].
    pub backoff_max_ms: u64,
    /// See [`AlertSinkConfig::retry_after_max_ms`].
    pub retry_after_max_ms: u64,
    /// See [`AlertSinkConfig::min_interval_ms`].
    pub min_interval_ms: u64,
    /// See [`AlertSinkConfig::max_attempts`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

/// Why an alert sink configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AlertConfigError {
    /// A field's value is not acceptable.
    #[error("alert sink {sink:?}: field `{field}` {reason}")]
    Invalid {
        /// The sink's name as configured.
        sink: String,
        /// The field.
        field: &'static str,
        /// What is wrong (never the value itself, which may be a credential).
        reason: String,
    },
    /// Two sinks share a name.
    #[error("alert sinks: field `name`: {name:?} is used by more than one sink")]
    DuplicateName {
        /// The name.
        name: String,
    },
}

fn validate_url(url: &str) -> Result<(), &'static str> {
    // The parser's error never contains the input, so no credential reaches the message.
    let parsed = Url::parse(url).map_err(|_| "is not an absolute URL")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host");
    }
    Ok(())
}

/// Scheme, host and port only: the path and query of a webhook URL are its token.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or_default();
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}/{REDACTED}", parsed.scheme())
        }
        Err(_) => REDACTED.to_owned(),
    }
}

/// A sink's table as written in the file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertSinkFile {
    name: String,
    kind: SinkKindName,
    url: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    routing_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outbox_capacity: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backoff_initial_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backoff_max_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_max_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
}

impl TryFrom<AlertSinkFile> for AlertSinkConfig {
    type Error = AlertConfigError;

    fn try_from(file: AlertSinkFile) -> Result<Self, Self::Error> {
        let invalid = |field: &'static str, reason: &str| AlertConfigError::Invalid {
            sink: file.name.clone(),
            field,
            reason: reason.to_owned(),
        };
        let kind = match (file.kind, file.routing_key.clone()) {
            (SinkKindName::PagerDuty, Some(routing_key)) => SinkKind::PagerDuty { routing_key },
            (SinkKindName::PagerDuty, None) => {
                return Err(invalid(
                    "routing_key",
                    "is required when kind = \"pagerduty\"",
                ));
            }
            (_, Some(_)) => {
                return Err(invalid("routing_key", "is only for kind = \"pagerduty\""));
            }
            (SinkKindName::Slack, None) => SinkKind::Slack,
            (SinkKindName::Discord, None) => SinkKind::Discord,
            (SinkKindName::Generic, None) => SinkKind::Generic,
        };
        let mut config = AlertSinkConfig::new(file.name.clone(), kind, file.url.expose());
        let d = config.clone();
        config.min_severity = file.min_severity.unwrap_or(d.min_severity);
        config.outbox_capacity = file.outbox_capacity.unwrap_or(d.outbox_capacity);
        config.request_timeout_ms = file.request_timeout_ms.unwrap_or(d.request_timeout_ms);
        config.backoff_initial_ms = file.backoff_initial_ms.unwrap_or(d.backoff_initial_ms);
        config.backoff_max_ms = file.backoff_max_ms.unwrap_or(d.backoff_max_ms);
        config.retry_after_max_ms = file.retry_after_max_ms.unwrap_or(d.retry_after_max_ms);
        config.min_interval_ms = file.min_interval_ms.unwrap_or(d.min_interval_ms);
        config.max_attempts = file.max_attempts;
        config.validate()?;
        Ok(config)
    }
}

impl From<AlertSinkConfig> for AlertSinkFile {
    fn from(config: AlertSinkConfig) -> Self {
        let (kind, routing_key) = match config.kind {
            SinkKind::PagerDuty { routing_key } => (SinkKindName::PagerDuty, Some(routing_key)),
            other => (other.name(), None),
        };
        AlertSinkFile {
            name: config.name,
            kind,
            url: config.url,
            routing_key,
            min_severity: Some(config.min_severity),
            outbox_capacity: Some(config.outbox_capacity),
            request_timeout_ms: Some(config.request_timeout_ms),
            backoff_initial_ms: Some(config.backoff_initial_ms),
            backoff_max_ms: Some(config.backoff_max_ms),
            retry_after_max_ms: Some(config.retry_after_max_ms),
            min_interval_ms: Some(config.min_interval_ms),
            max_attempts: config.max_attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK_URL: &str = "https://hooks.slack.example/services/T000/B000/XXXXSECRET";

    #[test]
    fn defaults_follow_the_kind() {
        let slack = AlertSinkConfig::new("s", SinkKind::Slack, SLACK_URL);
        assert_eq!(slack.min_interval_ms, 1000);
        assert_eq!(slack.validate(), Ok(()));
        let discord = AlertSinkConfig::new("d", SinkKind::Discord, SLACK_URL);
        assert_eq!(discord.min_interval_ms, 0);
    }

    #[test]
    fn errors_name_the_field_and_not_the_value() {
        let mut config = AlertSinkConfig::new("s", SinkKind::Slack, "ftp://x/SECRET");
        let err = config.validate().expect_err("ftp is refused");
        assert_eq!(
            err.to_string(),
            "alert sink \"s\": field `url` must be an http or https URL"
        );
        config.url = Secret::new(SLACK_URL);
        config.backoff_max_ms = 1;
        let err = config.validate().expect_err("cap below the start");
        assert!(err.to_string().contains("`backoff_max_ms`"), "{err}");
        let pd = AlertSinkConfig::new(
            "pd",
            SinkKind::PagerDuty {
                routing_key: Secret::new("has space"),
            },
            "https://events.pagerduty.example/v2/enqueue",
        );
        let err = pd.validate().expect_err("bad key");
        assert!(err.to_string().contains("`routing_key`"), "{err}");
        assert!(!err.to_string().contains("has space"));
    }

    #[test]
    fn duplicate_names_are_refused() {
        let a = AlertSinkConfig::new("a", SinkKind::Generic, "http://127.0.0.1:1/x");
        assert_eq!(
            validate_sinks(&[a.clone(), a]),
            Err(AlertConfigError::DuplicateName {
                name: "a".to_owned()
            })
        );
    }

    #[test]
    fn redaction_keeps_only_the_host() {
        let config = AlertSinkConfig::new("s", SinkKind::Slack, SLACK_URL);
        assert_eq!(
            config.redacted().url,
            "https://hooks.slack.example/<redacted>"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:8080/a?b=c"),
            "http://127.0.0.1:8080/<redacted>"
        );
        assert_eq!(redact_url("not a url SECRET"), REDACTED);
        assert!(!format!("{config:?}").contains("SECRET"));
        assert!(!config.to_string().contains("SECRET"));
    }
}
