//! `[shards]`: gateway shards, the processes owning them round robin, and hot spares.

use std::collections::BTreeMap;

use switchyard_core::config::ControllerConfig;
use switchyard_core::ids::ProcessId;

use super::{Known, RunTime};
use crate::scenario::duration::format_ms;
use crate::scenario::error::Problems;
use crate::scenario::model::Shards;
use crate::scenario::raw::RawShards;

/// More shards than this is a fleet no 2-core CI run simulates in time.
const SHARDS_MAX: u32 = 1_024;
/// Hot spares per region, at most.
const SPARES_PER_REGION_MAX: u32 = 16;

pub(super) fn validate(
    problems: &mut Problems<'_>,
    raw: RawShards,
    known: &Known,
    controller: &ControllerConfig,
    run: RunTime,
) -> Shards {
    if raw.count == 0 || raw.count > SHARDS_MAX {
        problems.add(
            "shards.count",
            format!("must be between 1 and {SHARDS_MAX}, got {}", raw.count),
        );
    }
    if raw.processes == 0 || raw.processes > raw.count.max(1) {
        problems.add(
            "shards.processes",
            format!(
                "must be between 1 and the shard count ({}) so every process owns a shard, got {}",
                raw.count, raw.processes
            ),
        );
    }
    let processes = (0..raw.processes.max(1))
        .map(|i| ProcessId::new(format!("bot-{i}")))
        .collect();
    let mut spares = BTreeMap::new();
    for (region, &count) in &raw.spares {
        let field = format!("shards.spares.{region}");
        let Some(region_id) = known.region(region) else {
            problems.add_at_key(field, known.unknown_region(region));
            continue;
        };
        if count > SPARES_PER_REGION_MAX {
            problems.add(
                field,
                format!("at most {SPARES_PER_REGION_MAX} spares per region, got {count}"),
            );
            continue;
        }
        let names = (0..count)
            .map(|i| ProcessId::new(format!("spare-{region}-{i}")))
            .collect();
        spares.insert(region_id, names);
    }
    let heartbeat_interval_ms = raw.heartbeat_interval.as_ms();
    check_heartbeat(problems, heartbeat_interval_ms, controller, run);
    Shards {
        count: raw.count,
        processes,
        spares,
        heartbeat_interval_ms,
    }
}

fn check_heartbeat(
    problems: &mut Problems<'_>,
    interval_ms: u64,
    controller: &ControllerConfig,
    run: RunTime,
) {
    const FIELD: &str = "shards.heartbeat_interval";
    let stall_after_ms = controller.shards.stall_after_ms;
    if interval_ms == 0 {
        problems.add(FIELD, "must be greater than zero");
    } else if interval_ms >= stall_after_ms {
        // Every healthy shard would look stalled between two heartbeats.
        problems.add(
            FIELD,
            format!(
                "must be shorter than `controller.shards.stall_after_ms` ({}), got {}",
                format_ms(stall_after_ms),
                format_ms(interval_ms)
            ),
        );
    } else {
        run.check_ticks(problems, FIELD, interval_ms);
    }
}
