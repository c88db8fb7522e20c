//! A shard owner that cannot heartbeat fences itself. `small-bot-cut-off-past-stall`
//! cuts bot-0 off Redis and the controller for twice the shard stall threshold, so an
//! unbroken controller hands bot-0's shards to the hot spares while bot-0 still runs
//! and still reaches the Lavalink nodes. Nothing from Redis can tell bot-0 it was
//! fenced until the cut heals: only its own shard lease running out stops it in time.
//! `small-bot-lapse-and-resume` cuts it off for longer than its lease but not the
//! threshold: it stops, nobody takes over, and it resumes when the cut heals.

use switchyard_sim::scenario::{self, Scenario};
use switchyard_sim::world::{self, RunOptions, RunOutcome};

fn fixture(name: &str) -> Scenario {
    let path = format!("{}/tests/fixtures/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run_fixture(scenario: &Scenario) -> RunOutcome {
    world::run_with(scenario, scenario.seed, RunOptions::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
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
    let scenario = fixture("small-bot-cut-off-past-stall");
    let cut = scenario.faults.get(0).expect("the fixture cuts bot-0 off");
    let outcome = run_fixture(&scenario);

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

#[test]
fn an_owner_whose_lease_ran_out_resumes_when_the_cut_heals() {
    let scenario = fixture("small-bot-lapse-and-resume");
    let cut = scenario.faults.get(0).expect("the fixture cuts bot-0 off");
    let outcome = run_fixture(&scenario);

    // The cut stayed under the stall threshold: nobody took bot-0's shards.
    for shard in [0, 2] {
        assert_eq!(
            promotions(&outcome, shard),
            Vec::<u64>::new(),
            "shard {shard}"
        );
    }
    // bot-0 still reached the nodes, so only its own lease running out can have
    // silenced its guilds during the cut; they were all served again after it healed.
    let incident = &outcome.incidents[0];
    assert!(incident.recovery.interrupted > 0, "{incident:?}");
    let cut_end = cut.until_ms.expect("the cut heals");
    assert!(
        incident
            .recovery
            .first_recovery_ms
            .is_some_and(|at| at >= cut_end),
        "{incident:?}"
    );
    assert!(
        incident.rto_ms.is_some_and(|rto| rto < 60_000),
        "{incident:?}"
    );
    assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
}
