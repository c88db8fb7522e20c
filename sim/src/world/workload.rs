//! The guilds of a run, drawn from the scenario's shares with the run's seed.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use switchyard_core::ids::{GuildId, PlanId, RegionId, ShardId};

use crate::scenario::Scenario;

/// One guild that wants playback during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct GuildPlan {
    /// The guild; its shard follows Discord's formula.
    pub guild: GuildId,
    /// Its shard.
    pub shard: ShardId,
    /// Its plan.
    pub plan: PlanId,
    /// The region it asks for.
    pub region: Option<RegionId>,
    /// Its residency pin.
    pub residency: Option<RegionId>,
    /// Where it should be served (the pin, else the requested region when the plan allows
    /// it, else the plan's first region): availability is counted per this region.
    pub home: RegionId,
    /// When it starts playing.
    pub start_ms: u64,
    /// Its track's length.
    pub track_length_ms: u64,
}

fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn pick<K>(shares: &BTreeMap<K, f64>, draw: f64) -> Option<&K> {
    let mut acc = 0.0;
    for (key, share) in shares {
        acc += share;
        if draw < acc {
            return Some(key);
        }
    }
    shares.keys().last()
}

/// Draws the guilds that play, in guild order.
pub fn guilds(scenario: &Scenario, seed: u64) -> Vec<GuildPlan> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ed_9a11d);
    let workload = &scenario.workload;
    let shard_count = scenario.topology.shard_count;
    let mut out = Vec::new();
    for index in 0..u64::from(workload.guilds) {
        // Snowflake-like ids spread over every shard.
        let guild = GuildId(((index + 1) << 22) | (index & 0x3f_ffff));
        let plays = unit(&mut rng) < workload.playing;
        let plan = pick(&workload.plans, unit(&mut rng)).cloned();
        let region = pick(&workload.regions, unit(&mut rng)).cloned();
        let pin_draw = unit(&mut rng);
        let mut acc = 0.0;
        let residency = workload.residency.iter().find_map(|(region, share)| {
            acc += share;
            (pin_draw < acc).then(|| region.clone())
        });
        let start_ms = (unit(&mut rng) * workload.start_within_ms as f64) as u64;
        let span = workload.track_length_ms.max_ms - workload.track_length_ms.min_ms;
        let track_length_ms =
            workload.track_length_ms.min_ms + (unit(&mut rng) * span as f64) as u64;
        let Some(plan) = plan else { continue };
        if !plays {
            continue;
        }
        let allowed: Vec<RegionId> = scenario
            .topology
            .plans
            .iter()
            .find(|p| p.name == plan)
            .map(|p| p.regions.clone())
            .unwrap_or_else(|| {
                scenario
                    .topology
                    .regions
                    .iter()
                    .map(|r| r.name.clone())
                    .collect()
            });
        let home = residency
            .clone()
            .or_else(|| region.clone().filter(|r| allowed.contains(r)))
            .or_else(|| allowed.first().cloned())
            .unwrap_or_else(|| RegionId::new("none"));
        out.push(GuildPlan {
            guild,
            shard: guild.shard(shard_count),
            plan,
            region,
            residency,
            home,
            start_ms,
            track_length_ms,
        });
    }
    out
}
