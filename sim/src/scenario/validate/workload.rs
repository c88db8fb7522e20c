//! `[workload]`: how many guilds, which plans and regions they use, who is pinned.

use std::collections::BTreeMap;

use super::{Known, RunTime, check_fraction, unknown};
use crate::scenario::duration::format_ms;
use crate::scenario::error::Problems;
use crate::scenario::model::{TrackLength, Workload};
use crate::scenario::raw::RawWorkload;

/// A population this large is for benchmarks, not for scenario files CI runs.
const GUILDS_MAX: u32 = 1_000_000;
/// Shares are floats written in decimal; allow for their rounding.
const SUM_TOLERANCE: f64 = 1e-9;
/// When the file gives none: typical song lengths.
const DEFAULT_TRACK_LENGTH: TrackLength = TrackLength {
    min_ms: 180_000,
    max_ms: 360_000,
};

pub(super) fn validate(
    problems: &mut Problems<'_>,
    raw: RawWorkload,
    known: &Known,
    run: RunTime,
) -> Workload {
    if raw.guilds == 0 || raw.guilds > GUILDS_MAX {
        problems.add(
            "workload.guilds",
            format!("must be between 1 and {GUILDS_MAX}, got {}", raw.guilds),
        );
    }
    check_fraction(problems, "workload.playing", raw.playing);
    let start_within_ms = raw.start_within.map_or(0, |d| d.as_ms());
    if start_within_ms >= run.duration_ms {
        problems.add(
            "workload.start_within",
            format!(
                "must be shorter than the run ({}), got {}",
                format_ms(run.duration_ms),
                format_ms(start_within_ms)
            ),
        );
    }
    let plan_names = || known.plans.iter().map(|p| p.as_str());
    let plans = if raw.plans.is_empty() && known.plans.len() == 1 {
        // One plan: every guild is on it, nothing to split.
        known.plans.iter().map(|p| (p.clone(), 1.0)).collect()
    } else if raw.plans.is_empty() {
        problems.add(
            "workload.plans",
            format!(
                "the topology has {} plans; give each a share, like `plans = {{ {} = 1.0 }}`",
                known.plans.len(),
                known.plans[0]
            ),
        );
        BTreeMap::new()
    } else {
        shares(problems, "workload.plans", &raw.plans, Total::One, |name| {
            let plan = known.plans.iter().find(|p| p.as_str() == name);
            plan.cloned()
                .ok_or_else(|| unknown("plan", name, plan_names()))
        })
    };
    let by_region = |name: &str| known.region(name).ok_or_else(|| known.unknown_region(name));
    let regions = shares(
        problems,
        "workload.regions",
        &raw.regions,
        Total::One,
        by_region,
    );
    let residency = shares(
        problems,
        "workload.residency",
        &raw.residency,
        Total::AtMostOne,
        by_region,
    );
    Workload {
        guilds: raw.guilds,
        playing: raw.playing,
        start_within_ms,
        plans,
        regions,
        residency,
        track_length_ms: track_length(
            problems,
            raw.track_length
                .map(|[min, max]| (min.as_ms(), max.as_ms())),
        ),
    }
}

/// What a table of shares must add up to.
#[derive(Clone, Copy, PartialEq)]
enum Total {
    One,
    AtMostOne,
}

/// Checks a `{ name = share }` table: known names, fractions, the right total.
/// An empty table is allowed (the caller decides what absence means).
fn shares<K: Ord>(
    problems: &mut Problems<'_>,
    field: &str,
    raw: &BTreeMap<String, f64>,
    total: Total,
    resolve: impl Fn(&str) -> Result<K, String>,
) -> BTreeMap<K, f64> {
    let mut checked = BTreeMap::new();
    let mut all_ok = true;
    for (name, &share) in raw {
        let entry = format!("{field}.{name}");
        match resolve(name) {
            Ok(key) if check_fraction(problems, &entry, share) => {
                checked.insert(key, share);
            }
            Ok(_) => all_ok = false,
            Err(message) => {
                problems.add_at_key(entry, message);
                all_ok = false;
            }
        }
    }
    let sum: f64 = raw.values().sum();
    if all_ok && !raw.is_empty() {
        match total {
            Total::One if (sum - 1.0).abs() > SUM_TOLERANCE => {
                problems.add(field, format!("shares must sum to 1, they sum to {sum}"));
            }
            Total::AtMostOne if sum > 1.0 + SUM_TOLERANCE => {
                problems.add(
                    field,
                    format!("shares must sum to at most 1, they sum to {sum}"),
                );
            }
            _ => {}
        }
    }
    checked
}

fn track_length(problems: &mut Problems<'_>, raw_ms: Option<(u64, u64)>) -> TrackLength {
    let Some((min_ms, max_ms)) = raw_ms else {
        return DEFAULT_TRACK_LENGTH;
    };
    if min_ms == 0 {
        problems.add("workload.track_length[0]", "must be greater than zero");
    } else if min_ms > max_ms {
        problems.add(
            "workload.track_length[1]",
            format!(
                "the longest track ({}) is shorter than the shortest ({})",
                format_ms(max_ms),
                format_ms(min_ms)
            ),
        );
    }
    TrackLength { min_ms, max_ms }
}
