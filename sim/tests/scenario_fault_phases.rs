//! The parameters that shape repeated faults: a flapping node's `down` phase (given,
//! or half the period in whole ticks) and where a bad one is reported.

use switchyard_sim::scenario::{self, FaultKind};

const HEAD: &str = r#"name = "phases"
description = "A node flaps."
duration = "5m"
tick = "10ms"

[topology]
[[topology.regions]]
name = "eu"
priority = 10
[[topology.nodes]]
name = "eu-1"
region = "eu"
capacity = 100
[[topology.plans]]
name = "free"
regions = ["eu"]

[workload]
guilds = 10

[shards]
count = 1
processes = 1
heartbeat_interval = "2s"

[[faults]]
at = "1m"
kind = "node_flapping"
node = "eu-1"
"#;

fn flapping(parameters: &str) -> Result<(u64, u64), String> {
    let text = format!("{HEAD}{parameters}\n");
    let scenario = scenario::parse("phases.toml", &text).map_err(|e| e.to_string())?;
    match scenario.faults.get(0).map(|f| &f.kind) {
        Some(FaultKind::NodeFlapping {
            period_ms, down_ms, ..
        }) => Ok((*period_ms, *down_ms)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn down_is_given_or_half_the_period_in_whole_ticks() {
    assert_eq!(
        flapping("period = \"20s\"\ndown = \"5s\""),
        Ok((20_000, 5_000))
    );
    assert_eq!(flapping("period = \"20s\""), Ok((20_000, 10_000)));
    // 30 ms of 10 ms ticks: half is 15 ms, one whole tick is down.
    assert_eq!(flapping("period = \"30ms\""), Ok((30, 10)));
}

#[test]
fn a_down_phase_that_fills_the_period_is_reported_at_its_value() {
    let error = flapping("period = \"20s\"\ndown = \"20s\"").expect_err("down = period");
    // HEAD has 29 lines; `down` is on line 31, its value at column 8.
    assert!(
        error.starts_with("phases.toml:31:8: faults[0].down: must be greater than zero and shorter than `period` (20s), got 20s"),
        "{error}"
    );
    let error = flapping("period = \"20s\"\ndown = \"5s5ms\"").expect_err("off tick");
    assert!(
        error.contains("faults[0].down: 5s5ms is not a whole number of ticks"),
        "{error}"
    );
}

#[test]
fn down_belongs_to_flapping_only() {
    let text = HEAD.replace("kind = \"node_flapping\"", "kind = \"node_kill\"");
    let error = scenario::parse("phases.toml", &format!("{text}down = \"5s\"\n"))
        .expect_err("node_kill takes no down")
        .to_string();
    assert!(
        error.contains("faults[0].down: `node_kill` takes no `down` (it takes: node, duration)"),
        "{error}"
    );
}
