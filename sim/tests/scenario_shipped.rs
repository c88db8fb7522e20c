//! Every scenario shipped in `scenarios/` validates and says what its issue asks for.

use std::path::{Path, PathBuf};

use switchyard_core::ids::RegionId;
use switchyard_sim::scenario::{self, FaultKind, Invariant, Scenario};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn shipped(name: &str) -> Scenario {
    let path = scenarios_dir().join(format!("{name}.toml"));
    scenario::load(&path).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn every_shipped_scenario_validates() {
    let files = scenario::files_in(scenarios_dir()).expect("scenarios/ is readable");
    let mut names = Vec::new();
    for file in &files {
        let scenario = scenario::load(file).unwrap_or_else(|error| panic!("{error}"));
        // The file name and the scenario's name agree, so `sim list` and paths match.
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        assert_eq!(scenario.name, stem, "{}", file.display());
        // CI runs every shipped scenario: keep them modest.
        assert!(scenario.duration_ms <= 15 * 60_000, "{stem} runs too long");
        assert!(
            !scenario.description.is_empty(),
            "{stem} has no description"
        );
        names.push(scenario.name);
    }
    for required in [
        "region-outage",
        "node-kill",
        "partition",
        "latency-spike",
        "shard-stall",
        "eu-outage-pinned",
    ] {
        assert!(names.iter().any(|n| n == required), "missing {required}");
    }
}

#[test]
fn region_outage_is_the_gate_the_issue_describes() {
    let s = shipped("region-outage");
    assert_eq!(s.topology.regions.len(), 3);
    for region in &s.topology.regions {
        assert_eq!(s.nodes_in(&region.name).count(), 3, "{}", region.name);
    }
    assert!(s.workload.guilds >= 1_000);
    assert!(s.workload.plans.len() >= 2);
    assert!(s.workload.residency[&RegionId::new("eu")] > 0.0);
    assert!(s.shards.count >= 8);
    assert_eq!(s.topology.shard_count, s.shards.count);
    assert!(s.shards.all_spares().count() >= 1);
    let outage = s.faults.get(0).expect("one fault");
    let FaultKind::RegionOutage { nodes, .. } = &outage.kind else {
        panic!("expected a region outage, got {:?}", outage.kind);
    };
    assert_eq!(nodes.len(), 3);
    let until_ms = outage.until_ms.expect("the region returns");
    assert!(until_ms - outage.at_ms >= 3 * 60_000, "several minutes");
    assert!(until_ms < s.duration_ms, "returns before the run ends");
    assert!(s.expect.rto_max_ms.is_some_and(|rto| rto <= 30_000));
    assert!(s.expect.availability_min.is_some_and(|a| a >= 0.999));
    assert_eq!(s.expect.invariants.len(), Invariant::ALL.len());
    // Restoration must be gradual, as the issue asks.
    assert!(s.controller.restoration.steps.len() >= 2);
}

#[test]
fn eu_outage_pinned_expects_degraded_pins_and_the_residency_alert() {
    let s = shipped("eu-outage-pinned");
    let eu = RegionId::new("eu");
    assert!(s.workload.residency[&eu] > 0.0);
    assert!(s.faults.iter().any(
        |fault| matches!(&fault.kind, FaultKind::RegionOutage { region, .. } if *region == eu)
    ));
    let keys: Vec<&str> = s.expect.alerts.iter().map(|a| a.key.as_str()).collect();
    assert!(
        keys.contains(&"switchyard/residency-degraded/eu"),
        "{keys:?}"
    );
    // Pinned guilds cannot be served during the outage: EU's bound must allow for it.
    assert!(s.expect.availability_min_by_region[&eu] < 0.999);
}

#[test]
fn the_other_scenarios_inject_their_faults() {
    let has = |name: &str, kind: &str| {
        let s = shipped(name);
        assert!(
            s.faults.iter().any(|fault| fault.kind.name() == kind),
            "{name} has no {kind}"
        );
    };
    has("node-kill", "node_kill");
    has("node-kill", "node_restart");
    has("partition", "partition");
    has("latency-spike", "latency");
    has("shard-stall", "shard_stall");
    has("shard-stall", "shard_kill");
}
