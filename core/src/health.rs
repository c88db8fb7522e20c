//! One node's health: a state machine fed by probes and passive signals.
//!
//! * `Unknown` until the first probe answers; one good probe makes it `Up` (as Envoy
//!   does at start), `fall` failures make it `Down`.
//! * A failed probe, or the node's websocket closing, makes an up node `Suspect`: it
//!   gets no new players and is probed on the fast interval; `fall` consecutive failures
//!   (a closed socket counts as `socket_close_failures` of them) make it `Down`.
//! * `Down` needs `rise` consecutive good probes to come back, and if it has been flapping
//!   it must also sit out a hold-down that grows with each fall (Envoy's ejection time).
//! * An up node is `Degraded` while its latency or error rate is past the warning level;
//!   an error rate past the critical level over a full window marks it down.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::config::HealthConfig;
use crate::time::Millis;

/// A node's health as the controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Never answered a probe yet.
    Unknown,
    /// Healthy.
    Up,
    /// Serving, but slow or erroring past the warning level.
    Degraded,
    /// Something went wrong; confirming before acting.
    Suspect,
    /// Failed: its players are moved away.
    Down,
}

impl NodeStatus {
    /// Whether players may be placed on a node in this state.
    pub fn is_serving(self) -> bool {
        matches!(self, NodeStatus::Up | NodeStatus::Degraded)
    }
}

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum ProbeFailure {
    /// No answer within the probe timeout.
    Timeout,
    /// The connection was refused or reset.
    ConnectionFailed,
    /// The node answered with this HTTP status.
    HttpStatus(u16),
    /// The node answered something that is not a Lavalink v4 response.
    BadResponse,
}

/// A state change, reported so the controller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: NodeStatus,
    pub(crate) to: NodeStatus,
}

#[derive(Debug, Clone)]
pub(crate) struct NodeHealth {
    status: NodeStatus,
    since: Millis,
    consecutive_ok: u32,
    consecutive_failed: u32,
    /// Recent probe results, newest in bit 0; a set bit is a failure.
    failure_bits: u64,
    samples: u32,
    last_latency_ms: Option<u64>,
    /// When the node last gave a sign of life (a good probe or a stats report).
    last_alive_at: Option<Millis>,
    /// When the node last became up, for slow start.
    up_since: Option<Millis>,
    /// Recent falls, for flap damping; bounded by the flap threshold.
    recent_falls: VecDeque<Millis>,
    hold_until: Option<Millis>,
    flapping: bool,
    /// Falls since the node started flapping; the hold-down grows with it.
    flap_falls: u32,
}

impl NodeHealth {
    pub(crate) fn new(now: Millis) -> Self {
        Self {
            status: NodeStatus::Unknown,
            since: now,
            consecutive_ok: 0,
            consecutive_failed: 0,
            failure_bits: 0,
            samples: 0,
            last_latency_ms: None,
            last_alive_at: None,
            up_since: None,
            recent_falls: VecDeque::new(),
            hold_until: None,
            flapping: false,
            flap_falls: 0,
        }
    }

    pub(crate) fn status(&self) -> NodeStatus {
        self.status
    }

    pub(crate) fn since(&self) -> Millis {
        self.since
    }

    pub(crate) fn last_latency_ms(&self) -> Option<u64> {
        self.last_latency_ms
    }

    pub(crate) fn last_alive_at(&self) -> Option<Millis> {
        self.last_alive_at
    }

    pub(crate) fn is_flapping(&self) -> bool {
        self.flapping
    }

    /// Whether the node is settled (probed on the normal interval) or transitioning.
    pub(crate) fn wants_fast_probes(&self, config: &HealthConfig) -> bool {
        match self.status {
            NodeStatus::Suspect | NodeStatus::Unknown => true,
            NodeStatus::Down => self.consecutive_ok > 0,
            NodeStatus::Up | NodeStatus::Degraded => {
                self.consecutive_failed > 0 && self.consecutive_failed < config.fall
            }
        }
    }

    /// Share of the recent probes that failed.
    pub(crate) fn error_rate(&self, config: &HealthConfig) -> f64 {
        let window = self.samples.min(config.error_window);
        if window == 0 {
            return 0.0;
        }
        let mask = if window == 64 {
            u64::MAX
        } else {
            (1u64 << window) - 1
        };
        f64::from((self.failure_bits & mask).count_ones()) / f64::from(window)
    }

    /// Share of its capacity a recovering node may take: 10 % right after it comes up,
    /// growing linearly to all of it over the slow-start window.
    pub(crate) fn capacity_share(&self, now: Millis, config: &HealthConfig) -> f64 {
        match self.up_since {
            Some(since) if config.slow_start_ms > 0 => {
                let elapsed = now.ms_since(since) as f64;
                (elapsed / config.slow_start_ms as f64).clamp(0.1, 1.0)
            }
            _ => 1.0,
        }
    }

    pub(crate) fn handle_stats(&mut self, now: Millis) {
        self.last_alive_at = Some(now);
    }

    pub(crate) fn handle_probe_ok(
        &mut self,
        now: Millis,
        latency_ms: u64,
        config: &HealthConfig,
    ) -> Option<Transition> {
        self.last_latency_ms = Some(latency_ms);
        if latency_ms >= config.latency_critical_ms {
            // Too slow to serve audio control well: treat as a failure.
            return self.handle_probe_failed(now, config);
        }
        self.record(false, config);
        self.last_alive_at = Some(now);
        self.consecutive_ok = self.consecutive_ok.saturating_add(1);
        self.consecutive_failed = 0;
        self.expire_falls(now, config);
        let next = match self.status {
            NodeStatus::Down => {
                let held = self.hold_until.is_some_and(|until| now < until);
                if self.consecutive_ok >= config.rise && !held {
                    self.failure_bits = 0;
                    self.samples = 0;
                    self.warning_level(config)
                } else {
                    NodeStatus::Down
                }
            }
            _ => self.warning_level(config),
        };
        self.go(now, next)
    }

    pub(crate) fn handle_probe_failed(
        &mut self,
        now: Millis,
        config: &HealthConfig,
    ) -> Option<Transition> {
        self.record(true, config);
        self.consecutive_ok = 0;
        self.consecutive_failed = self.consecutive_failed.saturating_add(1);
        self.after_failure(now, config)
    }

    pub(crate) fn handle_socket_closed(
        &mut self,
        now: Millis,
        config: &HealthConfig,
    ) -> Option<Transition> {
        if self.status == NodeStatus::Down {
            return None;
        }
        self.consecutive_ok = 0;
        self.consecutive_failed = self
            .consecutive_failed
            .saturating_add(config.socket_close_failures)
            .min(config.fall.saturating_sub(1).max(self.consecutive_failed));
        // The socket closing is suspicion, never proof: only a failed probe confirms.
        let next = match self.status {
            NodeStatus::Unknown => NodeStatus::Unknown,
            _ => NodeStatus::Suspect,
        };
        self.go(now, next)
    }

    fn after_failure(&mut self, now: Millis, config: &HealthConfig) -> Option<Transition> {
        let full_window = self.samples >= config.error_window;
        let error_rate_critical =
            full_window && self.error_rate(config) >= config.error_rate_critical;
        let next = match self.status {
            NodeStatus::Down => NodeStatus::Down,
            _ if self.consecutive_failed >= config.fall || error_rate_critical => NodeStatus::Down,
            NodeStatus::Unknown => NodeStatus::Unknown,
            _ => NodeStatus::Suspect,
        };
        self.go(now, next)
    }

    fn warning_level(&self, config: &HealthConfig) -> NodeStatus {
        let slow = self
            .last_latency_ms
            .is_some_and(|latency| latency >= config.latency_warning_ms);
        if slow || self.error_rate(config) >= config.error_rate_warning {
            NodeStatus::Degraded
        } else {
            NodeStatus::Up
        }
    }

    fn record(&mut self, failed: bool, config: &HealthConfig) {
        self.failure_bits = (self.failure_bits << 1) | u64::from(failed);
        self.samples = self.samples.saturating_add(1).min(config.error_window);
    }

    fn expire_falls(&mut self, now: Millis, config: &HealthConfig) {
        while let Some(&oldest) = self.recent_falls.front() {
            if now.ms_since(oldest) < config.flap_window_ms {
                break;
            }
            self.recent_falls.pop_front();
        }
        if self.status != NodeStatus::Down
            && self.recent_falls.len() < config.flap_threshold as usize
        {
            self.flapping = false;
            self.flap_falls = 0;
        }
    }

    fn go(&mut self, now: Millis, next: NodeStatus) -> Option<Transition> {
        if next == self.status {
            return None;
        }
        let from = self.status;
        self.status = next;
        self.since = now;
        if from == NodeStatus::Down {
            // The error window measures a serving node; a recovered node starts afresh
            // (the failures counted while it was down say nothing about it now).
            self.failure_bits = 0;
            self.samples = 0;
        }
        if next.is_serving() && !from.is_serving() && from != NodeStatus::Suspect {
            // Slow start applies after a real outage, not at first contact.
            self.up_since = (from == NodeStatus::Down).then_some(now);
        }
        Some(Transition { from, to: next })
    }

    /// Records a fall for flap damping; returns whether the node is now flapping.
    pub(crate) fn note_fall(&mut self, now: Millis, config: &HealthConfig) -> bool {
        self.expire_falls(now, config);
        self.recent_falls.push_back(now);
        let threshold = config.flap_threshold as usize;
        while self.recent_falls.len() > threshold {
            self.recent_falls.pop_front();
        }
        if self.recent_falls.len() >= threshold {
            self.flapping = true;
            self.flap_falls = self.flap_falls.saturating_add(1);
            let hold = config
                .flap_hold_base_ms
                .saturating_mul(u64::from(self.flap_falls));
            self.hold_until = Some(now.plus_ms(hold.min(config.flap_hold_max_ms)));
        }
        self.flapping
    }

    /// When a flap hold-down ends, if one is running.
    #[cfg(test)]
    pub(crate) fn hold_until(&self, now: Millis) -> Option<Millis> {
        self.hold_until.filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HealthConfig {
        HealthConfig::default()
    }

    fn up(now: Millis) -> NodeHealth {
        let mut health = NodeHealth::new(now);
        health.handle_probe_ok(now, 10, &config());
        assert_eq!(health.status(), NodeStatus::Up);
        health
    }

    #[test]
    fn one_good_probe_brings_an_unknown_node_up() {
        let mut health = NodeHealth::new(Millis(0));
        let t = health.handle_probe_ok(Millis(5), 10, &config()).unwrap();
        assert_eq!((t.from, t.to), (NodeStatus::Unknown, NodeStatus::Up));
        assert_eq!(health.capacity_share(Millis(5), &config()), 1.0);
    }

    #[test]
    fn fall_failures_make_it_down_via_suspect() {
        let cfg = config();
        let mut health = up(Millis(0));
        assert_eq!(
            health.handle_probe_failed(Millis(1), &cfg).unwrap().to,
            NodeStatus::Suspect
        );
        assert!(health.wants_fast_probes(&cfg));
        assert!(health.handle_probe_failed(Millis(2), &cfg).is_none());
        assert_eq!(
            health.handle_probe_failed(Millis(3), &cfg).unwrap().to,
            NodeStatus::Down
        );
    }

    #[test]
    fn a_closed_socket_is_suspicion_that_one_failure_confirms() {
        let cfg = config();
        let mut health = up(Millis(0));
        assert_eq!(
            health.handle_socket_closed(Millis(1), &cfg).unwrap().to,
            NodeStatus::Suspect
        );
        assert_eq!(
            health.handle_probe_failed(Millis(2), &cfg).unwrap().to,
            NodeStatus::Down
        );
        let mut health = up(Millis(0));
        health.handle_socket_closed(Millis(1), &cfg);
        assert_eq!(
            health.handle_probe_ok(Millis(2), 10, &cfg).unwrap().to,
            NodeStatus::Up
        );
    }

    #[test]
    fn rise_good_probes_bring_it_back_with_slow_start() {
        let cfg = config();
        let mut health = up(Millis(0));
        for t in 1..=3 {
            health.handle_probe_failed(Millis(t), &cfg);
        }
        assert_eq!(health.status(), NodeStatus::Down);
        assert!(health.handle_probe_ok(Millis(10), 10, &cfg).is_none());
        assert_eq!(
            health.handle_probe_ok(Millis(11), 10, &cfg).unwrap().to,
            NodeStatus::Up
        );
        assert_eq!(health.capacity_share(Millis(11), &cfg), 0.1);
        let half = Millis(11 + cfg.slow_start_ms / 2);
        assert!((health.capacity_share(half, &cfg) - 0.5).abs() < 1e-9);
        assert_eq!(
            health.capacity_share(Millis(11 + cfg.slow_start_ms), &cfg),
            1.0
        );
    }

    #[test]
    fn slow_and_critical_latency() {
        let cfg = config();
        let mut health = up(Millis(0));
        assert_eq!(
            health
                .handle_probe_ok(Millis(1), cfg.latency_warning_ms, &cfg)
                .unwrap()
                .to,
            NodeStatus::Degraded
        );
        assert_eq!(
            health
                .handle_probe_ok(Millis(2), cfg.latency_critical_ms, &cfg)
                .unwrap()
                .to,
            NodeStatus::Suspect
        );
    }

    #[test]
    fn critical_error_rate_over_a_full_window_marks_down() {
        let cfg = HealthConfig {
            error_window: 4,
            fall: 10,
            ..config()
        };
        let mut health = up(Millis(0));
        // ok, fail, ok, fail: 50 % over a full window of 4.
        health.handle_probe_ok(Millis(1), 10, &cfg);
        health.handle_probe_failed(Millis(2), &cfg);
        health.handle_probe_ok(Millis(3), 10, &cfg);
        assert_eq!(health.status(), NodeStatus::Degraded);
        let t = health.handle_probe_failed(Millis(4), &cfg).unwrap();
        assert_eq!(t.to, NodeStatus::Down);
    }

    #[test]
    fn flapping_holds_the_node_down() {
        let cfg = config();
        let mut health = up(Millis(0));
        let mut now = 0;
        for _ in 0..cfg.flap_threshold {
            for _ in 0..cfg.fall {
                now += 1;
                health.handle_probe_failed(Millis(now), &cfg);
            }
            health.note_fall(Millis(now), &cfg);
            for _ in 0..cfg.rise {
                now += 1;
                health.handle_probe_ok(Millis(now), 10, &cfg);
            }
        }
        assert!(health.is_flapping());
        assert_eq!(
            health.status(),
            NodeStatus::Down,
            "held down while flapping"
        );
        let until = health.hold_until(Millis(now)).expect("a hold-down runs");
        for _ in 0..cfg.rise {
            health.handle_probe_ok(until, 10, &cfg);
        }
        assert_eq!(health.status(), NodeStatus::Up);
    }
}
