//! Worlds shared by the core's benchmarks.

use switchyard_core::Controller;
use switchyard_core::config::ControllerConfig;
use switchyard_core::harness::Harness;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};

/// `regions` regions of `per_region` nodes each, every node up with stats.
pub fn controller(regions: usize, per_region: usize, capacity: u32) -> Controller {
    let topology = TopologySpec {
        regions: (0..regions)
            .map(|r| RegionSpec {
                name: format!("r{r}").as_str().into(),
                priority: -(r as i32),
            })
            .collect(),
        nodes: (0..regions)
            .flat_map(|r| {
                (0..per_region).map(move |n| NodeSpec {
                    name: format!("r{r}-n{n}").as_str().into(),
                    region: format!("r{r}").as_str().into(),
                    priority: 0,
                    weight: 1,
                    capacity,
                    maintenance: false,
                })
            })
            .collect(),
        plans: vec![PlanSpec {
            name: "all".into(),
            regions: (0..regions)
                .map(|r| format!("r{r}").as_str().into())
                .collect(),
            default_region: None,
        }],
        shard_count: 16,
    };
    // The harness answers the first probes, so every node is up when measuring starts.
    let mut harness = Harness::new(ControllerConfig::default(), &topology).expect("valid topology");
    harness.drain();
    harness.run_for(100);
    harness.log.clear();
    harness.controller
}
