//! The oracle catches a broken controller. Each test runs a small world whose core has
//! one deliberately wrong policy (`switchyard_core::Sabotage`, reachable only from Rust)
//! and checks that the oracle, reading the world's ground truth, reports the invariant
//! that policy breaks. The same worlds with an unbroken controller keep every invariant
//! and objective, so what the sabotaged runs report is the sabotage's doing.
//!
//! Two kinds need the world to take a safeguard outside the core away first. A bot
//! deletes a player a move left behind as soon as it reads the move from Redis, or asks
//! the controller where the guild plays when another node takes its voice; and a stale
//! shard owner learns from Redis that a higher epoch fenced it. `small-bot-cut-off`
//! cuts one bot off Redis and the controller for a while, which leaves the controller's
//! own decisions as the only safeguard.

use switchyard_core::Sabotage;
use switchyard_sim::scenario::{self, Scenario};
use switchyard_sim::world::oracle::Violation;
use switchyard_sim::world::{self, RunOptions, RunOutcome};

fn fixture(name: &str) -> Scenario {
    let path = format!("{}/tests/fixtures/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs the fixture with its own seed, its controller sabotaged or not.
fn run(name: &str, sabotage: Option<Sabotage>) -> (Scenario, RunOutcome) {
    let scenario = fixture(name);
    let options = RunOptions { sabotage };
    let outcome = world::run_with(&scenario, scenario.seed, options, &mut |_| {})
        .unwrap_or_else(|e| panic!("{name} with {sabotage:?}: {e}"));
    (scenario, outcome)
}

/// The violations of one kind; fails the test when there are none.
fn caught<'a>(outcome: &'a RunOutcome, invariant: &str) -> Vec<&'a Violation> {
    let found: Vec<&Violation> = outcome
        .violations
        .iter()
        .filter(|v| v.invariant == invariant)
        .collect();
    assert!(
        !found.is_empty(),
        "the oracle missed {invariant}; it reported {:?}",
        outcome.violations
    );
    found
}

fn any_detail(violations: &[&Violation], needle: &str) -> bool {
    violations.iter().any(|v| v.detail.contains(needle))
}

/// When a trace line's command was issued.
fn at_ms(line: &str) -> u64 {
    let at = line.split(' ').next().expect("`<ms> <json>` lines");
    at.parse().expect("milliseconds")
}

/// The trace's lines that contain `needle`.
fn traced<'a>(outcome: &'a RunOutcome, needle: &'a str) -> impl Iterator<Item = &'a str> {
    outcome
        .trace
        .lines()
        .filter(move |line| line.contains(needle))
}

#[test]
fn the_two_region_world_unbroken_keeps_every_invariant_and_objective() {
    let (scenario, outcome) = run("small-two-regions", None);
    assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
    let rto_max_ms = scenario.expect.rto_max_ms.expect("the fixture bounds RTO");
    assert!(
        outcome
            .incidents
            .iter()
            .all(|i| i.rto_ms.is_some_and(|rto| rto < rto_max_ms)),
        "{:?}",
        outcome.incidents
    );
    let availability_min = scenario.expect.availability_min.expect("bounded");
    assert!(
        outcome.availability >= availability_min,
        "{}",
        outcome.availability
    );
    // What the sabotaged runs break is exercised here: guilds asked for a region their
    // plan does not allow, guilds were placed while eu-1 was down, and a restoration
    // ran all its steps.
    assert!(traced(&outcome, "\"clamped\":true").count() > 0);
    let eu1_down_ms = 25_000;
    assert!(
        traced(&outcome, "\"command\":\"assign_player\"").any(|line| at_ms(line) > eu1_down_ms),
        "no guild was placed while eu-1 was down"
    );
    assert!(
        traced(&outcome, "\"restoration_step\"").any(|l| l.contains("\"step\":\"3\"")),
        "no third restoration step"
    );
}

#[test]
fn ignoring_residency_pins_is_caught() {
    let (_, outcome) = run("small-two-regions", Some(Sabotage::IgnoreResidency));
    let found = caught(&outcome, "residency");
    assert!(
        any_detail(&found, "pinned to eu plays on us-1"),
        "{found:?}"
    );
}

#[test]
fn ignoring_plan_clamps_is_caught() {
    let (_, outcome) = run("small-two-regions", Some(Sabotage::IgnorePlanClamp));
    let found = caught(&outcome, "plan_clamp");
    assert!(
        any_detail(&found, "on plan free plays on us-1"),
        "{found:?}"
    );
}

#[test]
fn placing_players_on_a_down_node_is_caught() {
    let (_, outcome) = run("small-two-regions", Some(Sabotage::PlaceOnDownNodes));
    let found = caught(&outcome, "no_move_to_down_node");
    assert!(
        any_detail(&found, "sent to eu-1, published down"),
        "{found:?}"
    );
}

#[test]
fn never_failing_over_loses_players_and_misses_the_rto() {
    let (scenario, outcome) = run("small-two-regions", Some(Sabotage::NeverFailOver));
    let found = caught(&outcome, "no_player_lost");
    assert!(any_detail(&found, "not reported degraded"), "{found:?}");
    // eu-1's guilds wait for eu-1 itself: the incident outlasts the objective.
    let rto_max_ms = scenario.expect.rto_max_ms.expect("the fixture bounds RTO");
    let incident = &outcome.incidents[0];
    assert!(
        incident.rto_ms.is_none_or(|rto| rto >= rto_max_ms),
        "{incident:?}"
    );
    let availability_min = scenario.expect.availability_min.expect("bounded");
    assert!(
        outcome.availability < availability_min,
        "{}",
        outcome.availability
    );
    assert_eq!(traced(&outcome, "\"command\":\"move_player\"").count(), 0);
}

#[test]
fn rushing_restoration_is_caught() {
    let (_, outcome) = run("small-two-regions", Some(Sabotage::RushRestoration));
    let found = caught(&outcome, "restoration_step");
    assert!(
        any_detail(&found, "restoration step 1 of eu-1 returned"),
        "{found:?}"
    );
}

#[test]
fn the_cut_off_world_unbroken_keeps_every_invariant() {
    let (_, outcome) = run("small-bot-cut-off", None);
    assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
    // The drain moved bot-0's players while it could not hear of it, and no shard
    // changed hands.
    assert!(traced(&outcome, "\"reason\":\"drain\"").count() > 0);
    assert_eq!(traced(&outcome, "\"command\":\"promote_shard\"").count(), 0);
}

#[test]
fn leaving_moved_players_behind_is_caught() {
    let (_, outcome) = run("small-bot-cut-off", Some(Sabotage::KeepLeftBehindPlayers));
    let found = caught(&outcome, "single_player");
    assert!(any_detail(&found, "has players on"), "{found:?}");
}

#[test]
fn hasty_shard_failover_is_caught() {
    let (_, outcome) = run("small-bot-cut-off", Some(Sabotage::HastyShardFailover));
    let found = caught(&outcome, "single_shard_owner");
    assert!(
        any_detail(&found, "shard 0 has 2 live owners")
            || any_detail(&found, "shard 2 has 2 live owners"),
        "{found:?}"
    );
}
