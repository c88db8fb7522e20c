//! Raw -> validated: checks meaning and cross-references, collecting every problem.
//!
//! Each stage validates one section and returns its checked form even when it found
//! problems (with the bad parts left out), so later sections are still checked against
//! what is known and one run reports everything wrong with a file.

mod expect;
mod faults;
mod hosts;
mod shards;
mod workload;

use std::collections::BTreeMap;

use switchyard_core::Controller;
use switchyard_core::config::ControllerConfig;
use switchyard_core::ids::{NodeId, PlanId, RegionId};
use switchyard_core::time::Millis;
use switchyard_core::topology::{DEFAULT_PLAN, TopologySpec};

use super::duration::format_ms;
use super::error::Problems;
use super::model::Scenario;
use super::raw::RawScenario;

/// The longest run a scenario may ask for; CI runs every shipped scenario.
const DURATION_MAX_MS: u64 = 24 * 3_600_000;
/// turmoil's tick: fine enough for millisecond timers, coarse enough to run fast.
const TICK_MAX_MS: u64 = 1_000;

/// The run's time frame, which every instant in the file must fit.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunTime {
    pub(super) duration_ms: u64,
    /// At least 1 even when the file's tick is invalid (that is reported separately).
    pub(super) tick_ms: u64,
}

impl RunTime {
    /// Reports `ms` at `field` unless it is a whole number of ticks.
    pub(super) fn check_ticks(&self, problems: &mut Problems<'_>, field: &str, ms: u64) {
        if ms % self.tick_ms != 0 {
            problems.add(
                field,
                format!(
                    "{} is not a whole number of ticks (tick = {})",
                    format_ms(ms),
                    format_ms(self.tick_ms)
                ),
            );
        }
    }
}

/// The names the topology declares, in file order, for cross-references and for
/// listing the alternatives in errors.
#[derive(Debug)]
pub(super) struct Known {
    pub(super) regions: Vec<RegionId>,
    /// Each node and its region.
    pub(super) nodes: BTreeMap<NodeId, RegionId>,
    pub(super) node_order: Vec<NodeId>,
    pub(super) plans: Vec<PlanId>,
}

impl Known {
    fn new(topology: &TopologySpec) -> Self {
        let mut regions: Vec<RegionId> = Vec::new();
        for region in &topology.regions {
            if !regions.contains(&region.name) {
                regions.push(region.name.clone());
            }
        }
        let mut nodes = BTreeMap::new();
        let mut node_order = Vec::new();
        for node in &topology.nodes {
            if nodes
                .insert(node.name.clone(), node.region.clone())
                .is_none()
            {
                node_order.push(node.name.clone());
            }
        }
        // The core gives a topology without plans one plan allowing every region.
        let plans = if topology.plans.is_empty() {
            vec![PlanId::new(DEFAULT_PLAN)]
        } else {
            topology
                .plans
                .iter()
                .map(|plan| plan.name.clone())
                .collect()
        };
        Known {
            regions,
            nodes,
            node_order,
            plans,
        }
    }

    pub(super) fn region(&self, name: &str) -> Option<RegionId> {
        self.regions.iter().find(|r| r.as_str() == name).cloned()
    }

    pub(super) fn unknown_region(&self, name: &str) -> String {
        unknown("region", name, self.regions.iter().map(RegionId::as_str))
    }
}

/// `unknown region "mars" (known: us, eu, apac)`.
pub(super) fn unknown<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a str>) -> String {
    // Enough to recognise a typo without burying the message.
    const SHOWN_MAX: usize = 20;
    let known: Vec<&str> = known.collect();
    let mut list = known
        .iter()
        .take(SHOWN_MAX)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if known.len() > SHOWN_MAX {
        list.push_str(&format!(", ... {} more", known.len() - SHOWN_MAX));
    }
    if known.is_empty() {
        list = "none".to_owned();
    }
    format!("unknown {what} {name:?} (known: {list})")
}

/// Reports `value` at `field` unless it is a finite number in [0, 1].
pub(super) fn check_fraction(problems: &mut Problems<'_>, field: &str, value: f64) -> bool {
    let ok = value.is_finite() && (0.0..=1.0).contains(&value);
    if !ok {
        problems.add(field, format!("must be between 0 and 1, got {value}"));
    }
    ok
}

/// Validates a whole scenario. Problems go to `problems`; the returned value is only
/// meaningful when there are none.
pub(crate) fn scenario(raw: RawScenario, problems: &mut Problems<'_>) -> Scenario {
    let RawScenario {
        name,
        description,
        seed,
        duration,
        tick,
        mut topology,
        workload,
        shards,
        controller,
        faults,
        expect,
    } = raw;
    check_name(problems, &name);
    let run = run_time(problems, duration.as_ms(), tick.as_ms());
    let known = Known::new(&topology);
    let shards = shards::validate(problems, shards, &known, &controller, run);
    // The topology's shard count is not written in `[topology]`: the bot's shards are
    // described once, in `[shards]`.
    topology.shard_count = shards.count.max(1);
    check_core(problems, &topology, &controller);
    let workload = workload::validate(problems, workload, &known, run);
    let faults = faults::validate(problems, &faults, &known, &shards, run);
    let expect = expect::validate(problems, expect, &known, &faults, &shards, run);
    let faults = faults.schedule;
    Scenario {
        name,
        description,
        seed,
        duration_ms: run.duration_ms,
        tick_ms: run.tick_ms,
        topology,
        controller,
        workload,
        shards,
        faults,
        expect,
    }
}

fn check_name(problems: &mut Problems<'_>, name: &str) {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        problems.add(
            "name",
            format!("{name:?} must be 1-64 characters of letters, digits, `-`, `_` or `.`"),
        );
    }
}

fn run_time(problems: &mut Problems<'_>, duration_ms: u64, tick_ms: u64) -> RunTime {
    if tick_ms == 0 || tick_ms > TICK_MAX_MS {
        problems.add(
            "tick",
            format!(
                "must be between 1ms and {}, got {}",
                format_ms(TICK_MAX_MS),
                format_ms(tick_ms)
            ),
        );
    }
    if duration_ms == 0 || duration_ms > DURATION_MAX_MS {
        problems.add(
            "duration",
            format!(
                "must be between 1ms and {}, got {}",
                format_ms(DURATION_MAX_MS),
                format_ms(duration_ms)
            ),
        );
    }
    let run = RunTime {
        duration_ms,
        tick_ms: tick_ms.clamp(1, TICK_MAX_MS),
    };
    if run.tick_ms == tick_ms {
        run.check_ticks(problems, "duration", duration_ms);
    }
    run
}

/// The core validates its own configuration and topology; its errors name core-relative
/// fields, mapped here onto the file's sections.
fn check_core(problems: &mut Problems<'_>, topology: &TopologySpec, controller: &ControllerConfig) {
    if problems.document().contains("topology.shard_count") {
        problems.add(
            "topology.shard_count",
            "the shard count is `shards.count`; remove it from [topology]",
        );
    }
    let config_ok = match controller.validate() {
        Ok(()) => true,
        Err(error) => {
            problems.add(error.field, error.reason);
            false
        }
    };
    // With a bad configuration, still check the topology (under the defaults).
    let config = if config_ok {
        controller.clone()
    } else {
        ControllerConfig::default()
    };
    if let Err(error) = Controller::new(Millis::ZERO, config, topology) {
        match error.field.as_str() {
            // Reported by the `[shards]` checks already.
            "shard_count" => {}
            field if field.starts_with("controller.") => problems.add(error.field, error.reason),
            field => problems.add(format!("topology.{field}"), error.reason),
        }
    }
}
