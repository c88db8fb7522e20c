//! A shard owner that cannot heartbeat fences itself. `small-bot-cut-off-past-stall`
//! cuts bot-0 off Redis and the controller for twice the shard stall threshold, so an
//! unbroken controller hands bot-0's shards to the hot spares while bot-0 still runs
//! and still reaches the Lavalink nodes. Nothing from Redis can tell bot-0 it was
//! fenced until the cut heals: only its own shard lease running out stops it in time.

use switchyard_sim::scenario::{self, Scenario};
use switchyard_sim::world::{self, RunOptions, RunOutcome};

const FIXTURE: &str = "small-bot-cut-off-past-stall";

fn fixture() -> Scenario {
    let path = format!(
        "{}/tests/fixtures/{FIXTURE}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    scenario::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run_fixture() -> RunOutcome {
    let scenario = fixture();
    world::run_with(&scenario, scenario.seed, RunOptions::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("{FIXTURE}: {e}"))
}

/// When each promotion of `shard` was issued, in run milliseconds.
fn promotions(outcome: &RunOutcome, shard: u32) -> Vec<u64> {
    let needle = format!("\"command\":\"promote_shard\",\"shard\":{shard},");
    outcome
        .trace
        .lines()
        .filter(|line| line.contains(&needle))
        .map(|line| {
            let at = line.split(' ').next().expect("`<ms> <json>` lines");
            at.parse().expect("milliseconds")
        })
        .collect()
}

#[test]
fn a_cut_off_owner_stops_before_its_shards_are_handed_over() {
    let scenario = fixture();
    let cut = scenario.faults.get(0).expect("the fixture cuts bot-0 off");
    let outcome = run_fixture();

    // The cut outlasted the stall threshold: each of bot-0's shards went to a spare
    // while bot-0 was still cut off.
    for shard in [0, 2] {
        let at = promotions(&outcome, shard);
        assert!(
            at.iter().any(|at| cut.is_active_at(*at)),
            "shard {shard} promoted at {at:?}, not during the cut"
        );
    }
    let contested: Vec<_> = outcome
        .violations
        .iter()
        .filter(|v| v.invariant == "single_shard_owner")
        .collect();
    assert!(contested.is_empty(), "{contested:?}");
    assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
}
