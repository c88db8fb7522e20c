//! The controller's tunables: every threshold and interval, with defaults and validation.
//!
//! This is the `[controller]` section shared by scenario files and the daemon's
//! configuration file. Deserialising gives a raw value; [`ControllerConfig::validate`]
//! checks it and names the offending field in a [`ConfigError`], never panicking.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A configuration value that cannot work, naming the field by its dotted path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid `{field}`: {reason}")]
pub struct ConfigError {
    /// Dotted path of the field, for example `controller.health.rise`.
    pub field: String,
    /// Why the value is rejected.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Every tunable of the core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerConfig {
    /// Node health checking.
    pub health: HealthConfig,
    /// Moving players off failed nodes.
    pub failover: FailoverConfig,
    /// Returning displaced players to recovered nodes.
    pub restoration: RestorationConfig,
    /// Bot shard supervision.
    pub shards: ShardConfig,
    /// What is notified, and when.
    pub alerts: AlertConfig,
}

/// Active probing, thresholds, flap damping and slow start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Time between probes of a node whose state is settled.
    pub probe_interval_ms: u64,
    /// Time between probes while a node is suspect or recovering (HAProxy's `fastinter`).
    pub probe_interval_fast_ms: u64,
    /// How long a probe may take before it counts as failed.
    pub probe_timeout_ms: u64,
    /// Consecutive good probes before a down node counts as up again.
    pub rise: u32,
    /// Consecutive failed probes before a node counts as down.
    pub fall: u32,
    /// Probe latency at which a node is reported degraded.
    pub latency_warning_ms: u64,
    /// Probe latency at which a probe counts as failed.
    pub latency_critical_ms: u64,
    /// How many recent probes the error rate is computed over (at most 64).
    pub error_window: u32,
    /// Error rate over the window at which a node is reported degraded.
    pub error_rate_warning: f64,
    /// Error rate over a full window at which a node is marked down.
    pub error_rate_critical: f64,
    /// A closed node websocket counts as this many failed probes at once, so a failing
    /// probe right after it confirms the fault quickly.
    pub socket_close_failures: u32,
    /// Window over which down transitions are counted for flap damping.
    pub flap_window_ms: u64,
    /// Down transitions within the window that make a node "flapping".
    pub flap_threshold: u32,
    /// Hold-down after a flapping node's latest fall, multiplied by how far past the
    /// threshold it is (Envoy's ejection time), before it may rise again.
    pub flap_hold_base_ms: u64,
    /// Cap on the flap hold-down.
    pub flap_hold_max_ms: u64,
    /// After recovering, a node's usable capacity ramps from 10 % to 100 % over this long.
    pub slow_start_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            probe_interval_ms: 2_000,
            probe_interval_fast_ms: 500,
            probe_timeout_ms: 1_500,
            rise: 2,
            fall: 3,
            latency_warning_ms: 250,
            latency_critical_ms: 1_000,
            error_window: 20,
            error_rate_warning: 0.1,
            error_rate_critical: 0.5,
            socket_close_failures: 2,
            flap_window_ms: 300_000,
            flap_threshold: 3,
            flap_hold_base_ms: 30_000,
            flap_hold_max_ms: 300_000,
            slow_start_ms: 60_000,
        }
    }
}

/// Failover planning and move execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverConfig {
    /// When more than this fraction of the (non-maintenance) nodes are down at once, the
    /// controller suspects it is the one cut off and freezes mass moves (fail-open).
    pub fail_open_fraction: f64,
    /// Moves ordered but not yet reported back, at most.
    pub max_moves_in_flight: u32,
    /// A move not reported back within this long counts as failed.
    pub move_timeout_ms: u64,
    /// Attempts per guild before it is reported degraded.
    pub move_attempts_max: u32,
    /// When every allowed node is full, place on the least loaded one anyway (and report
    /// it) rather than leaving the guild without a player.
    pub overcommit_when_full: bool,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            fail_open_fraction: 0.5,
            max_moves_in_flight: 256,
            move_timeout_ms: 10_000,
            move_attempts_max: 3,
            overcommit_when_full: true,
        }
    }
}

/// Gradual return of displaced players to their recovered node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestorationConfig {
    /// Whether displaced players are returned at all.
    pub enabled: bool,
    /// How long a recovered node must stay up before restoration starts.
    pub hold_ms: u64,
    /// Cumulative shares of the displaced players returned by each step; increasing,
    /// each in (0, 1], the last exactly 1.
    pub steps: Vec<f64>,
    /// Time between steps, during which a relapse rolls the restoration back.
    pub dwell_ms: u64,
}

impl Default for RestorationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            hold_ms: 60_000,
            steps: vec![0.1, 0.5, 1.0],
            dwell_ms: 30_000,
        }
    }
}

/// Shard heartbeat supervision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShardConfig {
    /// A shard silent this long is handed to a hot spare. The reference runbook used
    /// 60 s; the default is lower so shard failover fits the 30 s recovery objective.
    pub stall_after_ms: u64,
    /// When more than this fraction of owned shards stall at once, promotions freeze:
    /// the controller is more likely cut off than every shard dead.
    pub fail_open_fraction: f64,
}

impl Default for ShardConfig {
    fn default() -> Self {
        Self {
            stall_after_ms: 15_000,
            fail_open_fraction: 0.5,
        }
    }
}

/// Alert notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// After a region-down alert resolves, the down alerts it inhibited for nodes still
    /// down are held back this long and sent only if still firing at its end. A region's
    /// nodes come back a few probes apart, so the first one back resolves the region
    /// alert while the others would each page and resolve within a second. A node that
    /// comes back and falls again is paged at once. 0 sends them as the region resolves.
    pub region_recovery_grace_ms: u64,
    /// A node-down alert is sent only once it has fired this long, so that when a whole
    /// region is going down (its nodes are found down a probe or two apart) the region's
    /// alert, which inhibits its nodes' alerts, comes first: one page for the outage,
    /// not one per node. Alertmanager's `group_wait` does the same. A node back within
    /// it is never paged. 0 sends node-down alerts at once.
    pub node_down_group_wait_ms: u64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            region_recovery_grace_ms: 30_000,
            node_down_group_wait_ms: 5_000,
        }
    }
}

fn positive(field: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(field, "must be greater than zero"));
    }
    Ok(())
}

fn fraction(field: &str, value: f64, allow_zero: bool) -> Result<(), ConfigError> {
    let low_ok = if allow_zero {
        value >= 0.0
    } else {
        value > 0.0
    };
    if !value.is_finite() || !low_ok || value > 1.0 {
        let range = if allow_zero { "[0, 1]" } else { "(0, 1]" };
        return Err(ConfigError::new(
            field,
            format!("must be a fraction in {range}, got {value}"),
        ));
    }
    Ok(())
}

fn ordered(low_field: &str, low: f64, high_field: &str, high: f64) -> Result<(), ConfigError> {
    if low >= high {
        return Err(ConfigError::new(
            high_field,
            format!("must be greater than `{low_field}` ({low}), got {high}"),
        ));
    }
    Ok(())
}

impl ControllerConfig {
    /// Checks every field; the error names the first bad one as `controller.<section>.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.health.validate()?;
        self.failover.validate()?;
        self.restoration.validate()?;
        self.shards.validate()
    }
}

impl HealthConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const P: &str = "controller.health";
        positive(&format!("{P}.probe_interval_ms"), self.probe_interval_ms)?;
        positive(
            &format!("{P}.probe_interval_fast_ms"),
            self.probe_interval_fast_ms,
        )?;
        positive(&format!("{P}.probe_timeout_ms"), self.probe_timeout_ms)?;
        positive(&format!("{P}.rise"), u64::from(self.rise))?;
        positive(&format!("{P}.fall"), u64::from(self.fall))?;
        positive(&format!("{P}.latency_warning_ms"), self.latency_warning_ms)?;
        ordered(
            &format!("{P}.latency_warning_ms"),
            self.latency_warning_ms as f64,
            &format!("{P}.latency_critical_ms"),
            self.latency_critical_ms as f64,
        )?;
        if self.error_window == 0 || self.error_window > 64 {
            return Err(ConfigError::new(
                format!("{P}.error_window"),
                format!("must be between 1 and 64 probes, got {}", self.error_window),
            ));
        }
        fraction(
            &format!("{P}.error_rate_warning"),
            self.error_rate_warning,
            false,
        )?;
        fraction(
            &format!("{P}.error_rate_critical"),
            self.error_rate_critical,
            false,
        )?;
        ordered(
            &format!("{P}.error_rate_warning"),
            self.error_rate_warning,
            &format!("{P}.error_rate_critical"),
            self.error_rate_critical,
        )?;
        positive(&format!("{P}.flap_window_ms"), self.flap_window_ms)?;
        positive(
            &format!("{P}.flap_threshold"),
            u64::from(self.flap_threshold),
        )?;
        if self.flap_hold_max_ms < self.flap_hold_base_ms {
            return Err(ConfigError::new(
                format!("{P}.flap_hold_max_ms"),
                format!(
                    "must be at least `{P}.flap_hold_base_ms` ({}), got {}",
                    self.flap_hold_base_ms, self.flap_hold_max_ms
                ),
            ));
        }
        Ok(())
    }
}

impl FailoverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const P: &str = "controller.failover";
        fraction(
            &format!("{P}.fail_open_fraction"),
            self.fail_open_fraction,
            false,
        )?;
        positive(
            &format!("{P}.max_moves_in_flight"),
            u64::from(self.max_moves_in_flight),
        )?;
        positive(&format!("{P}.move_timeout_ms"), self.move_timeout_ms)?;
        positive(
            &format!("{P}.move_attempts_max"),
            u64::from(self.move_attempts_max),
        )
    }
}

impl RestorationConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const P: &str = "controller.restoration";
        let field = format!("{P}.steps");
        if self.steps.is_empty() || self.steps.len() > 100 {
            return Err(ConfigError::new(field, "must list between 1 and 100 steps"));
        }
        let mut previous = 0.0;
        for (index, &share) in self.steps.iter().enumerate() {
            fraction(&format!("{field}[{index}]"), share, false)?;
            if share <= previous {
                return Err(ConfigError::new(
                    format!("{field}[{index}]"),
                    format!("shares must increase, got {share} after {previous}"),
                ));
            }
            previous = share;
        }
        if previous != 1.0 {
            return Err(ConfigError::new(
                field,
                format!("the last step must be 1.0 so every player returns, got {previous}"),
            ));
        }
        Ok(())
    }
}

impl ShardConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const P: &str = "controller.shards";
        positive(&format!("{P}.stall_after_ms"), self.stall_after_ms)?;
        fraction(
            &format!("{P}.fail_open_fraction"),
            self.fail_open_fraction,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ControllerConfig::default()
            .validate()
            .expect("defaults validate");
    }

    #[test]
    fn zero_rise_names_the_field() {
        let mut config = ControllerConfig::default();
        config.health.rise = 0;
        let error = config.validate().unwrap_err();
        assert_eq!(error.field, "controller.health.rise");
        assert_eq!(
            error.to_string(),
            "invalid `controller.health.rise`: must be greater than zero"
        );
    }

    #[test]
    fn warning_must_be_below_critical() {
        let mut config = ControllerConfig::default();
        config.health.latency_critical_ms = config.health.latency_warning_ms;
        assert_eq!(
            config.validate().unwrap_err().field,
            "controller.health.latency_critical_ms"
        );
    }

    #[test]
    fn restoration_steps_must_increase_to_one() {
        let mut config = ControllerConfig::default();
        config.restoration.steps = vec![0.5, 0.2, 1.0];
        assert_eq!(
            config.validate().unwrap_err().field,
            "controller.restoration.steps[1]"
        );
        config.restoration.steps = vec![0.5, 0.9];
        assert_eq!(
            config.validate().unwrap_err().field,
            "controller.restoration.steps"
        );
        config.restoration.steps = vec![f64::NAN, 1.0];
        assert_eq!(
            config.validate().unwrap_err().field,
            "controller.restoration.steps[0]"
        );
    }

    #[test]
    fn fractions_reject_out_of_range() {
        let mut config = ControllerConfig::default();
        config.failover.fail_open_fraction = 1.5;
        assert_eq!(
            config.validate().unwrap_err().field,
            "controller.failover.fail_open_fraction"
        );
    }

    #[test]
    fn toml_section_deserialises_with_defaults_and_rejects_unknown_fields() {
        let config: ControllerConfig =
            toml::from_str("[health]\nrise = 4\n[restoration]\nsteps = [0.25, 1.0]\n")
                .expect("valid toml");
        assert_eq!(config.health.rise, 4);
        assert_eq!(config.health.fall, HealthConfig::default().fall);
        assert_eq!(config.restoration.steps, vec![0.25, 1.0]);
        let error = toml::from_str::<ControllerConfig>("[health]\nrsie = 4\n").unwrap_err();
        assert!(error.to_string().contains("rsie"), "{error}");
    }
}
