//! Fixtures shared by the core's integration tests.
#![allow(dead_code)]

use switchyard_core::command::Command;
use switchyard_core::config::ControllerConfig;
use switchyard_core::harness::Harness;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};

/// Three regions (us > eu > apac by priority) with `per_region` nodes each.
pub fn topology(per_region: usize, capacity: u32) -> TopologySpec {
    let regions = [("us", 10), ("eu", 8), ("apac", 6)];
    TopologySpec {
        regions: regions
            .iter()
            .map(|(name, priority)| RegionSpec {
                name: (*name).into(),
                priority: *priority,
            })
            .collect(),
        nodes: regions
            .iter()
            .flat_map(|(region, _)| {
                (1..=per_region).map(move |i| NodeSpec {
                    name: format!("{region}-{i}").as_str().into(),
                    region: (*region).into(),
                    priority: 0,
                    weight: 1,
                    capacity,
                    maintenance: false,
                })
            })
            .collect(),
        plans: vec![
            PlanSpec {
                name: "free".into(),
                regions: vec!["us".into()],
                default_region: None,
            },
            PlanSpec {
                name: "growth".into(),
                regions: vec!["us".into(), "eu".into(), "apac".into()],
                default_region: None,
            },
        ],
        shard_count: 4,
    }
}

/// A configuration with short intervals so tests run few steps.
pub fn fast_config() -> ControllerConfig {
    let mut config = ControllerConfig::default();
    config.health.probe_interval_ms = 1_000;
    config.health.probe_interval_fast_ms = 250;
    config.health.probe_timeout_ms = 500;
    config.restoration.hold_ms = 10_000;
    config.restoration.dwell_ms = 5_000;
    config.health.slow_start_ms = 5_000;
    config
}

/// A harness whose nodes have all come up.
pub fn started(per_region: usize, capacity: u32) -> Harness {
    let mut harness = Harness::new(fast_config(), &topology(per_region, capacity)).expect("valid");
    harness.drain();
    harness.run_for(100);
    harness
}

pub fn node_of(harness: &Harness, guild: u64) -> Option<String> {
    match harness
        .controller
        .player(switchyard_core::ids::GuildId(guild))?
        .placement
    {
        switchyard_core::PlayerPlacement::Serving { node } => Some(node.to_string()),
        _ => None,
    }
}

pub fn alerts_triggered(harness: &Harness) -> Vec<String> {
    harness
        .log
        .iter()
        .filter_map(|(_, c)| match c {
            Command::Alert(n) if n.action == switchyard_core::alerts::AlertAction::Trigger => {
                Some(n.dedup_key.clone())
            }
            _ => None,
        })
        .collect()
}
