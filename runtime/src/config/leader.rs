//! `[leader]`: how this daemon shares its Redis with other controllers (one leads, the
//! others stand by; see `crate::leader`).
//!
//! ```toml
//! [leader]
//! instance = "switchyard-a"                  # default: $HOSTNAME, else "switchyard"
//! advertise_url = "http://10.0.0.5:8080"     # default: http://<daemon.listen>
//! lease_ttl_ms = 10000
//! renew_interval_ms = 3000                   # default: a third of the TTL
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigLoadError;
use super::raw::check_base_url;
use crate::leader::LeaderSettings;

/// The shortest lease accepted: below it, scheduling noise alone could lapse it.
const LEASE_TTL_MS_MIN: u64 = 200;

/// `[leader]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderSection {
    /// The name operators know this daemon by.
    pub instance: Option<String>,
    /// The URL other controllers send bots and operators to while this one leads.
    pub advertise_url: Option<String>,
    /// How long the lease outlives its last renewal.
    pub lease_ttl_ms: Option<u64>,
    /// Time between renewals and acquisition attempts.
    pub renew_interval_ms: Option<u64>,
}

/// `[leader]`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderConfig {
    /// The name operators know this daemon by.
    pub instance: String,
    /// Where this daemon's API answers, as other controllers name it.
    pub advertise_url: String,
    /// How long the lease outlives its last renewal.
    pub lease_ttl_ms: u64,
    /// Time between renewals and acquisition attempts.
    pub renew_interval_ms: u64,
}

impl LeaderConfig {
    /// The keeper's settings.
    pub fn settings(&self) -> LeaderSettings {
        LeaderSettings {
            ttl: Duration::from_millis(self.lease_ttl_ms),
            renew_interval: Duration::from_millis(self.renew_interval_ms),
        }
    }
}

fn invalid(source: &str, field: &str, message: impl Into<String>) -> ConfigLoadError {
    ConfigLoadError::Invalid {
        source_name: source.to_owned(),
        field: format!("leader.{field}"),
        message: message.into(),
    }
}

impl LeaderSection {
    pub(super) fn validate(
        self,
        source: &str,
        listen: SocketAddr,
    ) -> Result<LeaderConfig, ConfigLoadError> {
        let instance = self.instance.unwrap_or_else(|| "switchyard".to_owned());
        if instance.trim().is_empty() {
            return Err(invalid(source, "instance", "must not be empty"));
        }
        let advertise_url = match self.advertise_url {
            Some(url) => check_base_url(&url).map_err(|m| invalid(source, "advertise_url", m))?,
            None => format!("http://{listen}"),
        };
        let lease_ttl_ms = self.lease_ttl_ms.unwrap_or(10_000);
        if lease_ttl_ms < LEASE_TTL_MS_MIN {
            return Err(invalid(
                source,
                "lease_ttl_ms",
                format!("must be at least {LEASE_TTL_MS_MIN} ms"),
            ));
        }
        let renew_interval_ms = self.renew_interval_ms.unwrap_or(lease_ttl_ms / 3);
        if renew_interval_ms == 0 || renew_interval_ms.saturating_mul(2) > lease_ttl_ms {
            return Err(invalid(
                source,
                "renew_interval_ms",
                "must be positive and at most half of lease_ttl_ms, so one failed renewal does not lapse the lease",
            ));
        }
        Ok(LeaderConfig {
            instance,
            advertise_url,
            lease_ttl_ms,
            renew_interval_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen() -> SocketAddr {
        "127.0.0.1:8080".parse().expect("an address")
    }

    #[test]
    fn defaults_follow_the_listen_address_and_the_ttl() {
        let config = LeaderSection::default()
            .validate("f", listen())
            .expect("valid");
        assert_eq!(config.advertise_url, "http://127.0.0.1:8080");
        assert_eq!(
            (config.lease_ttl_ms, config.renew_interval_ms),
            (10_000, 3_333)
        );
    }

    #[test]
    fn a_renewal_that_cannot_fail_once_is_refused() {
        let section = LeaderSection {
            lease_ttl_ms: Some(1_000),
            renew_interval_ms: Some(600),
            ..LeaderSection::default()
        };
        let error = section.validate("f", listen()).expect_err("too slow");
        assert!(
            error.to_string().contains("leader.renew_interval_ms"),
            "{error}"
        );
        let section = LeaderSection {
            advertise_url: Some("ftp://x".into()),
            ..LeaderSection::default()
        };
        assert!(section.validate("f", listen()).is_err());
    }
}
