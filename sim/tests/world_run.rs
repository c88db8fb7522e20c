//! The simulated world end to end on a small scenario: the daemon's driver, the bots'
//! contract library, emulated nodes and the simulated Redis under a node kill, measured
//! by the oracle. The same seed must give the same controller trace, byte for byte.

use switchyard_sim::scenario;
use switchyard_sim::world;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/small-node-kill.toml"
);

#[test]
fn a_node_kill_recovers_within_the_rto_and_runs_are_deterministic() {
    let scenario = scenario::load(FIXTURE).expect("the fixture is valid");
    let first = world::run(&scenario, scenario.seed, &mut |_| {}).expect("the world runs");
    assert_eq!(first.incidents.len(), 1);
    let rto_ms = first.incidents[0]
        .rto_ms
        .expect("every interrupted guild recovered");
    assert!(rto_ms < 30_000, "RTO {rto_ms} ms");
    assert!(
        first.availability >= 0.99,
        "availability {}",
        first.availability
    );
    assert!(first.violations.is_empty(), "{:?}", first.violations);
    assert!(
        first
            .alerts
            .iter()
            .any(|a| a.key == "switchyard/node-down/eu-1" && a.action == "trigger"),
        "{:?}",
        first.alerts
    );
    assert!(
        first.trace.contains("\"command\":\"move_player\""),
        "players were moved"
    );
    let second = world::run(&scenario, scenario.seed, &mut |_| {}).expect("the world runs");
    assert!(
        first.trace == second.trace,
        "two runs with one seed diverged"
    );
}
