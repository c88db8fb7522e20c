//! The input model of one run: what the simulation hands over and `summary.json` holds.
//!
//! Every time is in run milliseconds (milliseconds since the simulated run started),
//! named `*_ms`, so a report reads the same on every machine and every replay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything one run of one scenario with one seed measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file the run read, as the user named it.
    pub scenario_path: String,
    /// The scenario's description (may be empty).
    pub description: String,
    /// The simulation seed.
    pub seed: u64,
    /// Versions of what ran.
    pub versions: Versions,
    /// Simulated length of the run.
    pub duration_ms: u64,
    /// Wall-clock time the run took on the machine that ran it.
    pub wall_ms: u64,
    /// Guilds that played.
    pub guilds: u64,
    /// A shell command that replays exactly this run.
    pub replay_command: String,
    /// One entry per injected fault, in scenario order.
    pub incidents: Vec<IncidentReport>,
    /// Served over demanded playing-guild time.
    pub availability: AvailabilityReport,
    /// Invariant violations, in time order.
    pub violations: Vec<ViolationReport>,
    /// Alerts the webhook receiver got, in time order.
    pub alerts: Vec<AlertReport>,
    /// The scenario's expectations and how the run measured against them.
    pub expectations: Vec<ExpectationReport>,
    /// Whether every expectation passed.
    pub passed: bool,
    /// Sampled time series for the charts.
    pub series: TimeSeries,
}

/// Versions of what produced the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// The switchyard crates' version (e.g. `CARGO_PKG_VERSION`).
    pub switchyard: String,
}

/// One injected fault and the recovery from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentReport {
    /// The fault's index in the scenario's fault list.
    pub fault: usize,
    /// The fault's kind as the scenario names it (e.g. `region_outage`).
    pub kind: String,
    /// What the fault hit, for people (e.g. `region eu-west`).
    pub target: String,
    /// When the fault was injected.
    pub at_ms: u64,
    /// When the controller first noticed (`None`: it never did).
    pub detected_at_ms: Option<u64>,
    /// When the first interrupted guild was served again.
    pub first_recovery_ms: Option<u64>,
    /// When the last interrupted guild was served again.
    pub last_recovery_ms: Option<u64>,
    /// From injection until every interrupted guild was served again (`None`: never).
    pub rto_ms: Option<u64>,
    /// Players the controller moved because of this fault.
    pub players_moved: u64,
}

/// Availability overall, per home region and per plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityReport {
    /// All guilds.
    pub overall: Ratio,
    /// Per guild home region.
    pub by_region: BTreeMap<String, Ratio>,
    /// Per guild plan.
    pub by_plan: BTreeMap<String, Ratio>,
}

/// Served and demanded guild samples, and their ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Samples in which a guild that wanted playback was served.
    pub served: u64,
    /// Samples in which a guild wanted playback.
    pub demanded: u64,
    /// `served / demanded`; 1 when nothing was demanded.
    pub ratio: f64,
}

impl Ratio {
    /// Builds the ratio from its counts, so the three fields always agree.
    pub fn from_counts(served: u64, demanded: u64) -> Self {
        assert!(
            served <= demanded,
            "served {served} exceeds demanded {demanded}"
        );
        // Nothing demanded means nothing was missed: the oracle's convention.
        let ratio = if demanded == 0 {
            1.0
        } else {
            served as f64 / demanded as f64
        };
        Self {
            served,
            demanded,
            ratio,
        }
    }
}

/// An invariant violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationReport {
    /// When it was seen.
    pub at_ms: u64,
    /// Which invariant.
    pub invariant: String,
    /// What was seen.
    pub detail: String,
}

/// An alert the webhook receiver got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertReport {
    /// When it arrived.
    pub at_ms: u64,
    /// Its dedup key.
    pub key: String,
    /// `trigger` or `resolve`.
    pub action: String,
    /// Its severity.
    pub severity: String,
}

/// One expectation of the scenario and the run's measurement against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationReport {
    /// What is expected, e.g. `availability_min` or `rto_max_ms`.
    pub name: String,
    /// The scenario's bound.
    pub threshold: Measure,
    /// What the run measured.
    pub measured: Measure,
    /// Whether the measurement met the bound.
    pub verdict: Verdict,
}

/// A threshold or a measurement: a number, or text where no number fits
/// (e.g. `alert region-down triggered`, `never recovered`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Measure {
    /// A number (JSON number).
    Number(f64),
    /// Anything else (JSON string).
    Text(String),
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(value) => write!(f, "{value}"),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// An expectation's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The measurement met the threshold.
    Pass,
    /// It did not.
    Fail,
}

/// Sampled series over the run, for the charts. Each point starts with its time in run
/// milliseconds; points are in time order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    /// How often the oracle sampled.
    pub sample_interval_ms: u64,
    /// When each fault was active, shaded on the time charts.
    pub fault_windows: Vec<FaultWindow>,
    /// Per home region: the fraction of demanding guilds served in each sample
    /// (`(t_ms, fraction)`, fraction in `0..=1`).
    pub availability_by_region: BTreeMap<String, Vec<(u64, f64)>>,
    /// Served and demanded guilds in each sample: `(t_ms, served, demanded)`.
    pub served_demanded: Vec<(u64, u64, u64)>,
    /// Per node: players on it in each sample (`(t_ms, players)`).
    pub players_per_node: BTreeMap<String, Vec<(u64, u32)>>,
    /// Per node: the controller's probe latency (`(t_ms, latency_ms)`); a node with
    /// no answer at a time simply has no point there.
    pub probe_latency_ms_by_node: BTreeMap<String, Vec<(u64, f64)>>,
}

/// When one fault was active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// For the chart legend, e.g. `#0 region_outage eu-west`.
    pub label: String,
    /// Injected.
    pub start_ms: u64,
    /// Healed (the run's end for a fault that never heals).
    pub end_ms: u64,
}
