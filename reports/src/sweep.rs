//! A sweep: one scenario run with many seeds. Each seed is kept as a [`SeedResult`]
//! (a run without its time series, which a sweep's report does not chart), and
//! [`SweepReport::summarize`] ranks the seeds and takes RTO percentiles across them.

use std::cmp::Ordering;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::model::{ExpectationReport, RunReport, Verdict, Versions};

/// Significant digits the RTO histogram keeps: values are exact below 2,048 ms and
/// within 0.1% above, far finer than the sampling interval.
const RTO_SIGNIFICANT_DIGITS: u8 = 3;

/// Quantile steps per halving of the distance to 100% in the RTO curve; 4 gives about
/// 40 points for a few hundred samples.
const RTO_CURVE_TICKS_PER_HALF: u32 = 4;

/// All the seeds of one sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as the user named it.
    pub scenario_path: String,
    /// The scenario's description.
    pub description: String,
    /// Versions of what ran.
    pub versions: Versions,
    /// One entry per seed, in the order they ran.
    pub seeds: Vec<SeedResult>,
}

/// One seed's run, without its time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Whether every expectation passed.
    pub passed: bool,
    /// Overall availability (served / demanded).
    pub availability: f64,
    /// Each incident's RTO in fault order (`None`: never recovered).
    pub incident_rto_ms: Vec<Option<u64>>,
    /// Invariant violations seen.
    pub violations: u64,
    /// The expectations and their verdicts.
    pub expectations: Vec<ExpectationReport>,
    /// A shell command that replays this seed.
    pub replay_command: String,
    /// Wall-clock time the run took.
    pub wall_ms: u64,
}

impl From<&RunReport> for SeedResult {
    fn from(run: &RunReport) -> Self {
        Self {
            seed: run.seed,
            passed: run.passed,
            availability: run.availability.overall.ratio,
            incident_rto_ms: run.incidents.iter().map(|i| i.rto_ms).collect(),
            violations: run.violations.len() as u64,
            expectations: run.expectations.clone(),
            replay_command: run.replay_command.clone(),
            wall_ms: run.wall_ms,
        }
    }
}

impl SeedResult {
    /// Incidents that never recovered.
    pub fn unrecovered(&self) -> usize {
        self.incident_rto_ms.iter().filter(|r| r.is_none()).count()
    }

    /// The longest RTO among recovered incidents.
    pub fn rto_max_ms(&self) -> Option<u64> {
        self.incident_rto_ms.iter().flatten().copied().max()
    }

    /// The expectations that failed.
    pub fn failed_expectations(&self) -> impl Iterator<Item = &ExpectationReport> {
        self.expectations
            .iter()
            .filter(|e| e.verdict == Verdict::Fail)
    }

    /// Worse seeds order first: failed before passed, then lower availability, then
    /// an unrecovered incident, then a longer RTO; the seed breaks ties so the order
    /// is the same every time.
    fn cmp_worst_first(&self, other: &Self) -> Ordering {
        self.passed
            .cmp(&other.passed)
            .then(self.availability.total_cmp(&other.availability))
            .then(other.unrecovered().cmp(&self.unrecovered()))
            .then(other.rto_max_ms().cmp(&self.rto_max_ms()))
            .then(self.seed.cmp(&other.seed))
    }
}

/// What a sweep adds up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// Seeds run.
    pub seeds_total: usize,
    /// Seeds whose expectations all passed.
    pub seeds_passed: usize,
    /// Seeds with a failed expectation.
    pub seeds_failed: usize,
    /// Every seed, worst first (see [`SweepReport::worst_first`]).
    pub worst_first_seeds: Vec<u64>,
    /// RTO across every incident of every seed.
    pub rto: RtoStats,
}

/// RTO percentiles across all recovered incidents of all seeds, from an hdrhistogram.
/// A percentile is the middle of its histogram bucket (exact below 2,048 ms, within
/// 0.1% above), capped at `max_ms`, which is exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtoStats {
    /// Incidents that recovered (the histogram's samples).
    pub recovered_incidents: u64,
    /// Incidents that never recovered (not in the percentiles).
    pub unrecovered_incidents: u64,
    /// Median; `None` without a recovered incident (as are the others).
    pub p50_ms: Option<u64>,
    /// 90th percentile.
    pub p90_ms: Option<u64>,
    /// 99th percentile.
    pub p99_ms: Option<u64>,
    /// The longest.
    pub max_ms: Option<u64>,
    /// The distribution as `(percentile 0..=100, rto_ms)` points, for the chart.
    pub curve: Vec<(f64, u64)>,
}

impl SweepReport {
    /// Builds a sweep from full runs of one scenario, dropping their time series; the
    /// scenario's name, path, description and versions come from the first run.
    /// `None` when there are no runs.
    pub fn from_runs(runs: &[RunReport]) -> Option<SweepReport> {
        let first = runs.first()?;
        Some(SweepReport {
            scenario: first.scenario.clone(),
            scenario_path: first.scenario_path.clone(),
            description: first.description.clone(),
            versions: first.versions.clone(),
            seeds: runs.iter().map(SeedResult::from).collect(),
        })
    }

    /// The seeds, worst first: failed before passed, then lowest availability, then
    /// unrecovered incidents, then highest RTO.
    pub fn worst_first(&self) -> Vec<&SeedResult> {
        let mut seeds: Vec<&SeedResult> = self.seeds.iter().collect();
        seeds.sort_by(|a, b| a.cmp_worst_first(b));
        seeds
    }

    /// Counts, the worst-first order and RTO percentiles.
    pub fn summarize(&self) -> SweepSummary {
        let seeds_passed = self.seeds.iter().filter(|s| s.passed).count();
        SweepSummary {
            seeds_total: self.seeds.len(),
            seeds_passed,
            seeds_failed: self.seeds.len() - seeds_passed,
            worst_first_seeds: self.worst_first().iter().map(|s| s.seed).collect(),
            rto: RtoStats::from_seeds(&self.seeds),
        }
    }
}

impl RtoStats {
    fn from_seeds(seeds: &[SeedResult]) -> RtoStats {
        let mut histogram = Histogram::<u64>::new(RTO_SIGNIFICANT_DIGITS)
            .expect("3 significant digits is within hdrhistogram's 0..=5");
        let mut unrecovered_incidents = 0;
        for rto in seeds.iter().flat_map(|s| &s.incident_rto_ms) {
            match rto {
                Some(rto_ms) => histogram
                    .record(*rto_ms)
                    .expect("an auto-resizing histogram accepts every u64"),
                None => unrecovered_incidents += 1,
            }
        }
        let max_ms = seeds.iter().filter_map(SeedResult::rto_max_ms).max();
        let at = |quantile: f64| {
            max_ms.map(|max| settle(&histogram, histogram.value_at_quantile(quantile), max))
        };
        RtoStats {
            recovered_incidents: histogram.len(),
            unrecovered_incidents,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms,
            curve: max_ms.map_or_else(Vec::new, |max| curve(&histogram, max)),
        }
    }
}

/// A value the histogram reports, as the middle of its bucket: hdrhistogram's best
/// estimate of the samples there. The top bucket's middle can lie above the largest
/// sample, so it is capped at the exact `max_ms`.
fn settle(histogram: &Histogram<u64>, value: u64, max_ms: u64) -> u64 {
    histogram.median_equivalent(value).min(max_ms)
}

/// The histogram's percentile curve.
fn curve(histogram: &Histogram<u64>, max_ms: u64) -> Vec<(f64, u64)> {
    histogram
        .iter_quantiles(RTO_CURVE_TICKS_PER_HALF)
        .map(|step| {
            let rto_ms = settle(histogram, step.value_iterated_to(), max_ms);
            (step.quantile_iterated_to() * 100.0, rto_ms)
        })
        .collect()
}
