//! Fault knobs: what a chaos test or the simulation can do to a node.
//!
//! The same [`Faults`] value is set at start (CLI flags, [`EmulatorConfig::faults`]),
//! changed at run time through [`EmulatorControl`] or the admin endpoint, and read
//! back from both. One-shot actions (closing websockets or voice connections,
//! shutting down) are methods on the control handle instead.
//!
//! [`EmulatorConfig::faults`]: super::EmulatorConfig::faults
//! [`EmulatorControl`]: super::EmulatorControl

use serde::{Deserialize, Serialize};

use super::protocol::Patch;

/// Frames a healthy player sends per minute (one every 20 ms).
pub const FRAMES_PER_MINUTE: u32 = 3000;

/// Standing faults of a node. The default is a healthy node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every REST response and websocket handshake.
    pub latency_ms: u64,
    /// Uniform extra delay in `0..=jitter_ms`, drawn from the seeded generator.
    pub jitter_ms: u64,
    /// Fraction (0 to 1) of requests answered with `error_status` instead.
    pub error_rate: f64,
    /// The 5xx status used for injected errors.
    pub error_status: u16,
    /// Accept connections and requests but answer none, and send nothing on open
    /// websockets, until cleared.
    pub hang: bool,
    /// Close every new TCP connection right after accepting it.
    pub refuse_connections: bool,
    /// Overrides the reported `cpu.systemLoad` (0 to 1); `None` reports the model's.
    pub cpu_load: Option<f64>,
    /// Frames each playing player fails to send per minute (`frameStats.deficit`).
    pub frame_deficit: u32,
    /// Frames each playing player sends as silence per minute (`frameStats.nulled`).
    pub frame_nulled: u32,
    /// Make voice handshakes fail: a voice PATCH gets 500 "Failed to connect to voice server".
    pub voice_connect_fail: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            error_status: 500,
            hang: false,
            refuse_connections: false,
            cpu_load: None,
            frame_deficit: 0,
            frame_nulled: 0,
            voice_connect_fail: false,
        }
    }
}

/// A fault setting that cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    #[error("error_rate must be between 0 and 1, got {0}")]
    ErrorRate(f64),
    #[error("error_status must be a 5xx status, got {0}")]
    ErrorStatus(u16),
    #[error("cpu_load must be between 0 and 1, got {0}")]
    CpuLoad(f64),
    #[error("frame_deficit + frame_nulled must not exceed {FRAMES_PER_MINUTE}, got {0}")]
    Frames(u32),
    #[error("latency_ms + jitter_ms must not exceed one hour")]
    Latency,
}

impl Faults {
    pub fn validate(&self) -> Result<(), FaultError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(FaultError::ErrorRate(self.error_rate));
        }
        if !(500..=599).contains(&self.error_status) {
            return Err(FaultError::ErrorStatus(self.error_status));
        }
        if let Some(load) = self.cpu_load
            && !(0.0..=1.0).contains(&load)
        {
            return Err(FaultError::CpuLoad(load));
        }
        let frames = self.frame_deficit.saturating_add(self.frame_nulled);
        if frames > FRAMES_PER_MINUTE {
            return Err(FaultError::Frames(frames));
        }
        if self.latency_ms.saturating_add(self.jitter_ms) > 3_600_000 {
            return Err(FaultError::Latency);
        }
        Ok(())
    }

    /// Applies the fields a patch sets; the result still needs [`Faults::validate`].
    pub fn apply(&mut self, patch: FaultsPatch) {
        let FaultsPatch {
            latency_ms,
            jitter_ms,
            error_rate,
            error_status,
            hang,
            refuse_connections,
            cpu_load,
            frame_deficit,
            frame_nulled,
            voice_connect_fail,
        } = patch;
        set(&mut self.latency_ms, latency_ms);
        set(&mut self.jitter_ms, jitter_ms);
        set(&mut self.error_rate, error_rate);
        set(&mut self.error_status, error_status);
        set(&mut self.hang, hang);
        set(&mut self.refuse_connections, refuse_connections);
        match cpu_load {
            Patch::Omitted => {}
            Patch::Null => self.cpu_load = None,
            Patch::Value(load) => self.cpu_load = Some(load),
        }
        set(&mut self.frame_deficit, frame_deficit);
        set(&mut self.frame_nulled, frame_nulled);
        set(&mut self.voice_connect_fail, voice_connect_fail);
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// A partial update of [`Faults`] (the admin endpoint's `PATCH /faults` body).
/// Unknown fields are rejected so that a typo does not silently do nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsPatch {
    pub latency_ms: Option<u64>,
    pub jitter_ms: Option<u64>,
    pub error_rate: Option<f64>,
    pub error_status: Option<u16>,
    pub hang: Option<bool>,
    pub refuse_connections: Option<bool>,
    /// `null` clears the override.
    pub cpu_load: Patch<f64>,
    pub frame_deficit: Option<u32>,
    pub frame_nulled: Option<u32>,
    pub voice_connect_fail: Option<bool>,
}

/// How [`EmulatorControl::close_websockets`](super::EmulatorControl::close_websockets)
/// closes the node's client websockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseWebsockets {
    /// Send a close frame with this code and reason.
    Frame { code: u16, reason: String },
    /// Drop the TCP connection without a close frame, as a crash or a cut cable would.
    Abort,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut faults = Faults {
            cpu_load: Some(0.5),
            ..Faults::default()
        };
        let patch: FaultsPatch =
            serde_json::from_str(r#"{"hang":true,"cpu_load":null}"#).expect("valid patch");
        faults.apply(patch);
        assert!(faults.hang);
        assert_eq!(faults.cpu_load, None);
        assert_eq!(faults.error_status, 500);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        assert!(serde_json::from_str::<FaultsPatch>(r#"{"hnag":true}"#).is_err());
        let bad = Faults {
            error_rate: 1.5,
            ..Faults::default()
        };
        assert_eq!(bad.validate(), Err(FaultError::ErrorRate(1.5)));
        let too_many = Faults {
            frame_deficit: 2000,
            frame_nulled: 1001,
            ..Faults::default()
        };
        assert_eq!(too_many.validate(), Err(FaultError::Frames(3001)));
        let status = Faults {
            error_status: 404,
            ..Faults::default()
        };
        assert_eq!(status.validate(), Err(FaultError::ErrorStatus(404)));
    }
}
