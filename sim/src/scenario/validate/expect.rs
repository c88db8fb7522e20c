//! `[expect]`: bounds in range, regions known, alert keys naming real things, and
//! invariants the oracle knows.

use std::collections::{BTreeMap, BTreeSet};

use switchyard_core::alerts::AlertSubject;
use switchyard_core::ids::{NodeId, RegionId, ShardId};

use super::faults::CheckedFaults;
use super::{Known, RunTime, check_fraction};
use crate::scenario::duration::format_ms;
use crate::scenario::error::Problems;
use crate::scenario::model::{Expectations, ExpectedAlert, Invariant, Shards};
use crate::scenario::raw::{RawAlert, RawExpect, RawInvariants};

pub(super) fn validate(
    problems: &mut Problems<'_>,
    raw: RawExpect,
    known: &Known,
    faults: &CheckedFaults,
    shards: &Shards,
    run: RunTime,
) -> Expectations {
    let rto_max_ms = raw.rto_max.map(|rto| rto.as_ms());
    if let Some(rto_ms) = rto_max_ms.filter(|rto_ms| *rto_ms == 0 || *rto_ms > run.duration_ms) {
        problems.add(
            "expect.rto_max",
            format!(
                "must be greater than zero and at most the run ({}), got {}",
                format_ms(run.duration_ms),
                format_ms(rto_ms)
            ),
        );
    }
    if let Some(availability) = raw.availability_min {
        check_fraction(problems, "expect.availability_min", availability);
    }
    let mut by_region = BTreeMap::new();
    for (name, &availability) in &raw.availability_min_by_region {
        let field = format!("expect.availability_min_by_region.{name}");
        match known.region(name) {
            Some(region) => {
                check_fraction(problems, &field, availability);
                by_region.insert(region, availability);
            }
            None => problems.add_at_key(field, known.unknown_region(name)),
        }
    }
    let subjects = Subjects {
        known,
        joined: &faults.joined,
        shard_count: shards.count,
    };
    let alerts = raw
        .alerts
        .iter()
        .enumerate()
        .filter_map(|(i, alert)| check_alert(problems, &subjects, faults, run, i, alert))
        .collect();
    Expectations {
        rto_max_ms,
        availability_min: raw.availability_min,
        availability_min_by_region: by_region,
        alerts,
        invariants: invariants(problems, raw.invariants),
    }
}

fn check_alert(
    problems: &mut Problems<'_>,
    subjects: &Subjects<'_>,
    faults: &CheckedFaults,
    run: RunTime,
    i: usize,
    raw: &RawAlert,
) -> Option<ExpectedAlert> {
    let field = format!("expect.alerts[{i}]");
    let subject = subjects
        .parse(&raw.key)
        .map_err(|message| problems.add(format!("{field}.key"), message))
        .ok();
    let within_ms = raw.within.as_ms();
    if within_ms == 0 {
        problems.add(format!("{field}.within"), "must be greater than zero");
    }
    let after_fault = raw.after.map_or(0, |after| after as usize);
    let Some(&start_ms) = faults.starts_ms.get(after_fault) else {
        let (at, message) = match raw.after {
            Some(after) => (
                format!("{field}.after"),
                format!(
                    "there is no fault {after} (the scenario has {} faults, numbered from 0)",
                    faults.starts_ms.len()
                ),
            ),
            None => (
                field,
                "counts from the first fault, and the scenario has none".to_owned(),
            ),
        };
        problems.add(at, message);
        return None;
    };
    let deadline_ms = start_ms.saturating_add(within_ms);
    if deadline_ms > run.duration_ms {
        problems.add(
            format!("{field}.within"),
            format!(
                "the deadline ({}) falls after the run ends ({})",
                format_ms(deadline_ms),
                format_ms(run.duration_ms)
            ),
        );
    }
    Some(ExpectedAlert {
        key: raw.key.clone(),
        subject: subject?,
        after_fault,
        within_ms,
        deadline_ms,
    })
}

/// What alert keys may name.
struct Subjects<'a> {
    known: &'a Known,
    joined: &'a BTreeMap<NodeId, RegionId>,
    shard_count: u32,
}

const KEY_PREFIX: &str = "switchyard/";

impl Subjects<'_> {
    /// Parses a dedup key into the subject the core would raise it for.
    fn parse(&self, key: &str) -> Result<AlertSubject, String> {
        let rest = key.strip_prefix(KEY_PREFIX).ok_or_else(|| {
            format!(
                "{key:?}: alert keys start with {KEY_PREFIX:?}, like \"switchyard/region-down/eu\""
            )
        })?;
        let (kind, target) = match rest.split_once('/') {
            Some((kind, target)) => (kind, Some(target)),
            None => (rest, None),
        };
        let subject = match (kind, target) {
            ("controller-isolated", None) => AlertSubject::ControllerIsolated,
            ("shard-promotions-frozen", None) => AlertSubject::ShardPromotionsFrozen,
            ("shard-without-spare", Some(shard)) => AlertSubject::ShardWithoutSpare {
                shard: self.shard(shard)?,
            },
            ("region-down", Some(region)) => AlertSubject::RegionDown {
                region: self.region(region)?,
            },
            ("residency-degraded", Some(region)) => AlertSubject::ResidencyDegraded {
                region: self.region(region)?,
            },
            ("capacity-exhausted", Some(region)) => AlertSubject::CapacityExhausted {
                region: self.region(region)?,
            },
            (
                "node-down" | "node-degraded" | "node-flapping" | "restoration-rolled-back",
                Some(node),
            ) => {
                let (node, region) = self.node(node)?;
                match kind {
                    "node-down" => AlertSubject::NodeDown { node, region },
                    "node-degraded" => AlertSubject::NodeDegraded { node, region },
                    "node-flapping" => AlertSubject::NodeFlapping { node, region },
                    _ => AlertSubject::RestorationRolledBack { node, region },
                }
            }
            _ => {
                return Err(format!(
                    "{key:?} is not an alert Switchyard raises (keys: switchyard/node-down/<node>, \
                     node-degraded/<node>, node-flapping/<node>, restoration-rolled-back/<node>, \
                     region-down/<region>, residency-degraded/<region>, \
                     capacity-exhausted/<region>, shard-without-spare/<shard>, \
                     controller-isolated, shard-promotions-frozen)"
                ));
            }
        };
        // The core owns the key format; a subject that prints differently would never
        // match an alert the sink receives.
        if subject.dedup_key() != key {
            return Err(format!(
                "{key:?} is not the canonical key {:?}",
                subject.dedup_key()
            ));
        }
        Ok(subject)
    }

    fn region(&self, name: &str) -> Result<RegionId, String> {
        self.known
            .region(name)
            .ok_or_else(|| self.known.unknown_region(name))
    }

    fn node(&self, name: &str) -> Result<(NodeId, RegionId), String> {
        let id = NodeId::new(name);
        let region = self.known.nodes.get(&id).or_else(|| self.joined.get(&id));
        match region {
            Some(region) => Ok((id, region.clone())),
            None => {
                let names = self.known.node_order.iter().chain(self.joined.keys());
                Err(super::unknown("node", name, names.map(NodeId::as_str)))
            }
        }
    }

    fn shard(&self, text: &str) -> Result<ShardId, String> {
        match text.parse::<u32>() {
            Ok(shard) if shard < self.shard_count => Ok(ShardId(shard)),
            _ => Err(format!(
                "{text:?} is not a shard (the bot runs {} shards, 0..={})",
                self.shard_count,
                self.shard_count.saturating_sub(1)
            )),
        }
    }
}

fn invariants(problems: &mut Problems<'_>, raw: Option<RawInvariants>) -> BTreeSet<Invariant> {
    const FIELD: &str = "expect.invariants";
    match raw {
        // Every invariant holds in every scenario unless the file opts out.
        None => Invariant::ALL.into_iter().collect(),
        Some(RawInvariants::Word(word)) if word == "all" => Invariant::ALL.into_iter().collect(),
        Some(RawInvariants::Word(word)) => {
            problems.add(
                FIELD,
                format!("expected \"all\" or a list of invariant names, got {word:?}"),
            );
            BTreeSet::new()
        }
        Some(RawInvariants::List(names)) => {
            let mut chosen = BTreeSet::new();
            for (j, name) in names.iter().enumerate() {
                match name.parse::<Invariant>() {
                    Ok(invariant) if !chosen.insert(invariant) => {
                        problems.add(format!("{FIELD}[{j}]"), format!("{name:?} is listed twice"));
                    }
                    Ok(_) => {}
                    Err(message) => problems.add(format!("{FIELD}[{j}]"), message),
                }
            }
            chosen
        }
    }
}
