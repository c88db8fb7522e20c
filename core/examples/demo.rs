//! A region outage, decided by the core against a scripted world with a fake clock.
//!
//! Run: `cargo run -p switchyard-core --example demo`

use switchyard_core::command::Command;
use switchyard_core::config::ControllerConfig;
use switchyard_core::harness::Harness;
use switchyard_core::topology::{NodeSpec, PlanSpec, RegionSpec, TopologySpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let regions = [("us", 10), ("eu", 8)];
    let topology = TopologySpec {
        regions: regions
            .iter()
            .map(|(n, p)| RegionSpec {
                name: (*n).into(),
                priority: *p,
            })
            .collect(),
        nodes: regions
            .iter()
            .flat_map(|(region, _)| {
                (1..=2).map(move |i| NodeSpec {
                    name: format!("{region}-{i}").as_str().into(),
                    region: (*region).into(),
                    priority: 0,
                    weight: 1,
                    capacity: 100,
                    maintenance: false,
                })
            })
            .collect(),
        plans: vec![PlanSpec {
            name: "growth".into(),
            regions: vec!["us".into(), "eu".into()],
            default_region: None,
        }],
        shard_count: 1,
    };
    let mut world = Harness::new(ControllerConfig::default(), &topology)?;
    world.run_for(1_000);
    for guild in 1..=20 {
        let pin = (guild % 5 == 0).then_some("eu");
        world.request(guild, "growth", Some("eu"), pin);
    }
    let outage_at = world.now;
    println!("{outage_at}: eu-1 and eu-2 die");
    world.kill("eu-1");
    world.kill("eu-2");
    world.run_for(30_000);
    println!("{}: both revived", world.now);
    world.revive("eu-1");
    world.revive("eu-2");
    world.run_for(240_000);
    for (at, command) in world.log.iter().filter(|(at, _)| *at >= outage_at) {
        match command {
            Command::Alert(n) => {
                println!("{at}: alert {:?} {} ({})", n.action, n.dedup_key, n.summary)
            }
            Command::Audit(e)
                if e.kind.starts_with("restoration") || e.kind.starts_with("node_health") =>
            {
                println!("{at}: {} {:?}", e.kind, e.fields)
            }
            Command::RecordFailover(r) if r.finished_at.is_some() => println!(
                "{at}: failover {:?} {:?}: {} moved, {} degraded, {:?}",
                r.id, r.trigger, r.moved, r.degraded, r.outcome
            ),
            _ => {}
        }
    }
    Ok(())
}
