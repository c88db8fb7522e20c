//! The world's flapping, message loss, drain, join, leave and rolling restart, each on a small
//! fixture: the world acts at the scheduled instants (turmoil's own view of the hosts,
//! the operator's answers), the controller sees it (its command trace), and a second
//! run with the same seed repeats the first byte for byte.

use serde_json::Value;
use switchyard_sim::scenario::{self, Scenario};
use switchyard_sim::world::{self, FaultEffect, FaultEvent, RunOutcome};

fn fixture(name: &str) -> Scenario {
    let path = format!("{}/tests/fixtures/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(scenario: &Scenario, seed: u64) -> RunOutcome {
    world::run(scenario, seed, &mut |_| {}).expect("the world runs")
}

/// Runs the fixture twice with its seed; the runs must agree on everything the world
/// did and everything the controller commanded.
fn run_twice(name: &str) -> (Scenario, RunOutcome) {
    let scenario = fixture(name);
    let first = run(&scenario, scenario.seed);
    let second = run(&scenario, scenario.seed);
    assert!(first.trace == second.trace, "{name}: two runs diverged");
    assert_eq!(first.fault_events, second.fault_events, "{name}");
    assert_eq!(first.operator, second.operator, "{name}");
    (scenario, first)
}

/// The controller's commands: run milliseconds and the command as JSON.
fn commands(outcome: &RunOutcome) -> Vec<(u64, Value)> {
    outcome
        .trace
        .lines()
        .map(|line| {
            let (at, json) = line.split_once(' ').expect("`<ms> <json>` lines");
            let at = at.parse().expect("milliseconds");
            (at, serde_json::from_str(json).expect("JSON commands"))
        })
        .collect()
}

/// Audit events of `kind` about `node`, by time.
fn audits(outcome: &RunOutcome, kind: &str, node: &str) -> Vec<(u64, Value)> {
    commands(outcome)
        .into_iter()
        .filter(|(_, c)| c["command"] == "audit" && c["kind"] == kind)
        .filter(|(_, c)| c["fields"]["node"] == node)
        .collect()
}

/// When the controller saw `node` change health, and to what.
/// The operator made `request` and the controller accepted it.
fn assert_accepted(outcome: &RunOutcome, request: &str) {
    let made = outcome
        .operator
        .iter()
        .find(|o| o.request == request)
        .unwrap_or_else(|| panic!("the operator never asked to {request}"));
    assert!(made.accepted, "{made:?}");
}

fn health_changes(outcome: &RunOutcome, node: &str) -> Vec<(u64, String)> {
    audits(outcome, "node_health_changed", node)
        .into_iter()
        .map(|(at, c)| (at, c["fields"]["to"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// Whether the controller marked `node` down inside `[from, to)`.
fn marked_down_within(outcome: &RunOutcome, node: &str, from: u64, to: u64) -> bool {
    health_changes(outcome, node)
        .iter()
        .any(|(at, status)| (from..to).contains(at) && status == "Down")
}

fn node_events(outcome: &RunOutcome) -> Vec<(u64, String, bool, bool)> {
    outcome
        .fault_events
        .iter()
        .filter_map(|FaultEvent { at_ms, what, .. }| match what {
            FaultEffect::NodeStopped { node, running, .. } => {
                Some((*at_ms, node.clone(), false, *running))
            }
            FaultEffect::NodeStarted { node, running } => {
                Some((*at_ms, node.clone(), true, *running))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_flapping_node_is_killed_and_restarted_each_period() {
    let (_, outcome) = run_twice("small-flapping");
    // Down 8 s of every 20 s from 30 s for a minute: (instant, node, started, running).
    let expected: Vec<(u64, String, bool, bool)> = [30, 38, 50, 58, 70, 78]
        .iter()
        .enumerate()
        .map(|(i, s)| (s * 1_000, "eu-1".to_owned(), i % 2 == 1, i % 2 == 1))
        .collect();
    assert_eq!(node_events(&outcome), expected);
    for down_s in [30, 50, 70] {
        let (down, up) = (down_s * 1_000, (down_s + 8) * 1_000);
        assert!(
            marked_down_within(&outcome, "eu-1", down, up),
            "eu-1 not seen down in [{down}, {up}): {:?}",
            health_changes(&outcome, "eu-1")
        );
    }
    // It comes back after the first restarts; by the third fall the controller holds
    // it down as flapping and says so, and lets it back before the run ends.
    let recovered = |from: u64, to: u64| {
        health_changes(&outcome, "eu-1")
            .iter()
            .any(|(at, status)| (from..to).contains(at) && status == "Up")
    };
    assert!(recovered(38_000, 50_000) && recovered(58_000, 70_000));
    assert!(!recovered(78_000, 90_000), "held down after flapping");
    assert!(recovered(90_000, 120_000));
    assert!(
        outcome
            .alerts
            .iter()
            .any(|a| a.key == "switchyard/node-flapping/eu-1" && a.action == "trigger"),
        "{:?}",
        outcome.alerts
    );
    assert!(!marked_down_within(&outcome, "eu-2", 0, u64::MAX));
}

#[test]
fn message_loss_costs_retransmission_stalls_only_while_it_lasts() {
    let (scenario, outcome) = run_twice("small-message-loss");
    let stats = outcome
        .fault_events
        .iter()
        .find_map(|event| match event.what {
            FaultEffect::LossHealed(stats) => Some((event.at_ms, stats)),
            _ => None,
        });
    let (healed_ms, stats) = stats.expect("the loss healed");
    assert_eq!(healed_ms, 100_000);
    // eu-1's links: to eu-2, the controller, redis, webhook and three bots.
    assert_eq!(stats.links, 7, "{stats:?}");
    assert!(stats.segments > 500, "{stats:?}");
    let lost_share = stats.lost as f64 / stats.segments as f64;
    assert!((0.1..0.3).contains(&lost_share), "rate 0.2: {stats:?}");
    assert!(stats.stalls > 0 && stats.stalled_ms >= stats.stalls * 200);
    // The controller's probes of eu-1 fail only while segments are lost (and for the
    // longest possible retransmission stall after).
    let failures = audits(&outcome, "probe_failed", "eu-1");
    assert!(!failures.is_empty(), "no probe of eu-1 failed");
    assert!(
        failures
            .iter()
            .all(|(at, _)| (40_000..100_000 + 30_000).contains(at)),
        "{failures:?}"
    );
    assert!(audits(&outcome, "probe_failed", "eu-2").is_empty());
    // The draws come from the run's seed: another seed loses other segments.
    let other = run(&scenario, scenario.seed + 1);
    let other_stats = other.fault_events.iter().find_map(|e| match e.what {
        FaultEffect::LossHealed(stats) => Some(stats),
        _ => None,
    });
    assert_ne!(other_stats, Some(stats));
}

#[test]
fn an_operator_drain_goes_through_the_api_and_moves_players_off() {
    let (_, outcome) = run_twice("small-node-drain");
    let requests: Vec<(&str, bool, u64)> = outcome
        .operator
        .iter()
        .map(|o| (o.request.as_str(), o.accepted, o.issued_ms))
        .collect();
    assert_eq!(
        requests,
        vec![("drain eu-1", true, 30_000), ("enable eu-1", true, 70_000)]
    );
    assert!(
        outcome.operator.iter().all(|o| o.answer.starts_with("202")),
        "{:?}",
        outcome.operator
    );
    let drained = audits(&outcome, "node_drained", "eu-1");
    assert!(
        matches!(drained.as_slice(), [(at, _)] if (30_000..31_000).contains(at)),
        "{drained:?}"
    );
    let enabled = audits(&outcome, "node_enabled", "eu-1");
    assert!(
        matches!(enabled.as_slice(), [(at, _)] if (70_000..71_000).contains(at)),
        "{enabled:?}"
    );
    let all = commands(&outcome);
    // What the control panel shows: eu-1 published as drained, then not.
    let published: Vec<(u64, bool)> = all
        .iter()
        .filter(|(_, c)| c["command"] == "publish_node_health" && c["node"] == "eu-1")
        .map(|(at, c)| (*at, c["drained"] == true))
        .collect();
    assert!(
        published
            .iter()
            .any(|(at, d)| *d && (30_000..31_000).contains(at)),
        "{published:?}"
    );
    assert!(published.iter().any(|(at, d)| !*d && *at >= 70_000));
    let moved_off = all
        .iter()
        .filter(|(at, c)| (30_000..70_000).contains(at) && c["command"] == "move_player")
        .filter(|(_, c)| c["from"] == "eu-1" && c["reason"] == "drain")
        .count();
    assert!(moved_off > 0, "no player moved off the drained node");
    let placed_on = all
        .iter()
        .filter(|(at, _)| (31_000..70_000).contains(at))
        .filter(|(_, c)| c["command"] == "move_player" || c["command"] == "assign_player")
        .filter(|(_, c)| c["to"] == "eu-1" || c["node"] == "eu-1")
        .count();
    assert_eq!(placed_on, 0, "a player was placed on the drained node");
}

#[test]
fn a_leaving_node_s_players_move_away_then_the_controller_forgets_it() {
    let (_, outcome) = run_twice("small-node-leave");
    assert_accepted(&outcome, "leave eu-1");
    let all = commands(&outcome);
    let moved_off: Vec<u64> = all
        .iter()
        .filter(|(_, c)| c["command"] == "move_player" && c["from"] == "eu-1")
        .map(|(at, c)| {
            assert_eq!(c["reason"], "drain", "{c}");
            assert_eq!(c["to"], "eu-2", "{c}");
            *at
        })
        .collect();
    assert!(
        !moved_off.is_empty(),
        "no player moved off the leaving node"
    );
    assert!(moved_off.iter().all(|at| *at >= 30_000), "{moved_off:?}");
    let placed_on = all
        .iter()
        .filter(|(at, _)| *at >= 30_000)
        .filter(|(_, c)| c["command"] == "move_player" || c["command"] == "assign_player")
        .filter(|(_, c)| c["to"] == "eu-1" || c["node"] == "eu-1")
        .count();
    assert_eq!(placed_on, 0, "a player was placed on the leaving node");
    let removed = audits(&outcome, "node_removed", "eu-1");
    let [(removed_at, _)] = removed.as_slice() else {
        panic!("eu-1 forgotten once: {removed:?}");
    };
    assert!(
        moved_off.iter().all(|at| at < removed_at),
        "forgotten at {removed_at} ms, before its players left: {moved_off:?}"
    );
    assert!(*removed_at < 45_000, "forgotten late, at {removed_at} ms");
    // Forgotten: no probe, no health, no player for it any more.
    let mentions_eu1 = |c: &Value| c.to_string().contains("\"eu-1\"");
    let after: Vec<&(u64, Value)> = all
        .iter()
        .filter(|(at, c)| *at > *removed_at && mentions_eu1(c))
        .collect();
    assert!(after.is_empty(), "eu-1 still commanded: {after:?}");
}

#[test]
fn a_joining_node_is_down_until_it_joins_then_the_controller_uses_it() {
    let (_, outcome) = run_twice("small-node-join");
    // Its host is stopped before the first step and starts when it joins.
    assert_eq!(
        node_events(&outcome),
        vec![
            (0, "eu-3".to_owned(), false, false),
            (40_000, "eu-3".to_owned(), true, true)
        ]
    );
    assert_accepted(&outcome, "join eu-3");
    let all = commands(&outcome);
    let mentions_eu3 = |c: &Value| c.to_string().contains("\"eu-3\"");
    let first = all
        .iter()
        .find(|(_, c)| mentions_eu3(c))
        .expect("the controller learnt eu-3");
    assert!(first.0 >= 40_000, "known before it joined: {first:?}");
    let added = audits(&outcome, "node_added", "eu-3");
    assert!(
        matches!(added.as_slice(), [(at, _)] if (40_000..41_000).contains(at)),
        "{added:?}"
    );
    assert!(
        !marked_down_within(&outcome, "eu-3", 0, u64::MAX),
        "{:?}",
        health_changes(&outcome, "eu-3")
    );
    // It takes players only once admitted: after the bots' sessions on it are read.
    let admitted = audits(&outcome, "node_admitted", "eu-3");
    let [(admitted_at, _)] = admitted.as_slice() else {
        panic!("eu-3 admitted once: {admitted:?}");
    };
    // (Not at the join: the bots' sessions on it are read from the store first.)
    assert!(
        (added[0].0 + 1..50_000).contains(admitted_at),
        "admitted at {admitted_at} ms, added {added:?}"
    );
    let first_use = all
        .iter()
        .filter(|(_, c)| {
            (c["command"] == "move_player" && c["to"] == "eu-3")
                || (c["command"] == "assign_player" && c["node"] == "eu-3")
        })
        .map(|(at, _)| *at)
        .min();
    assert!(
        first_use.is_some_and(|at| at >= *admitted_at),
        "eu-3 first given a player at {first_use:?}, admitted at {admitted_at}"
    );
    // The drain of eu-1 at 1 m moves players, some onto the new node.
    let onto_eu3 = all
        .iter()
        .filter(|(at, c)| *at >= 60_000 && c["command"] == "move_player")
        .filter(|(_, c)| c["to"] == "eu-3")
        .count();
    assert!(onto_eu3 > 0, "no player moved onto the joined node");
}

#[test]
fn a_rolling_restart_stops_one_node_at_a_time_gracefully() {
    let (_, outcome) = run_twice("small-rolling-restart");
    let expected = vec![
        (30_000, "eu-1".to_owned(), false, true),
        (45_000, "eu-1".to_owned(), true, true),
        (70_000, "eu-2".to_owned(), false, true),
        (85_000, "eu-2".to_owned(), true, true),
    ];
    // Graceful: each host still runs when asked to stop, and stops by itself.
    assert_eq!(node_events(&outcome), expected);
    assert!(outcome.fault_events.iter().all(|e| matches!(
        e.what,
        FaultEffect::NodeStopped { graceful: true, .. } | FaultEffect::NodeStarted { .. }
    )));
    assert!(marked_down_within(&outcome, "eu-1", 30_000, 45_000));
    assert!(marked_down_within(&outcome, "eu-2", 70_000, 85_000));
    // One at a time: neither node is seen down while the other restarts.
    assert!(!marked_down_within(&outcome, "eu-2", 0, 70_000));
    assert!(!marked_down_within(&outcome, "eu-1", 45_000, 120_000));
    // Each restarted node is its own incident, held to the RTO like the first.
    let incidents: Vec<(u64, Option<&str>)> = outcome
        .incidents
        .iter()
        .map(|i| (i.at_ms, i.node.as_ref().map(|n| n.as_str())))
        .collect();
    assert_eq!(incidents, [(30_000, Some("eu-1")), (70_000, Some("eu-2"))]);
    for incident in &outcome.incidents {
        assert!(
            incident.recovery.interrupted > 0 && incident.rto_ms.is_some_and(|rto| rto < 30_000),
            "{incident:?}"
        );
    }
}

#[test]
fn a_node_held_down_by_two_faults_returns_with_the_last_and_is_paged_after_the_grace() {
    let (_, outcome) = run_twice("small-region-staggered-return");
    // The region outage ends at 50 s, but the kill of eu-3 lasts until 100 s.
    let eu3: Vec<(u64, bool, bool)> = node_events(&outcome)
        .into_iter()
        .filter(|(_, node, _, _)| node == "eu-3")
        .map(|(at, _, started, running)| (at, started, running))
        .collect();
    assert_eq!(
        eu3,
        [
            (20_000, false, false),
            (20_000, false, false),
            (50_000, true, false),
            (100_000, true, true)
        ],
        "eu-3 runs again only when the last fault holding it ends"
    );
    assert!(!marked_down_within(&outcome, "eu-3", 50_000, 100_000));
    let health = health_changes(&outcome, "eu-3");
    assert!(
        health.iter().any(|(at, s)| *at > 100_000 && s == "Up"),
        "{health:?}"
    );

    let alerts: Vec<(u64, &str, &str)> = outcome
        .alerts
        .iter()
        .map(|a| (a.at_ms, a.key.as_str(), a.action.as_str()))
        .collect();
    let resolved = alerts
        .iter()
        .find(|(_, key, action)| *key == "switchyard/region-down/eu" && *action == "resolve")
        .map(|(at, ..)| *at)
        .unwrap_or_else(|| panic!("the region alert resolves: {alerts:?}"));
    assert!((50_000..52_000).contains(&resolved), "{alerts:?}");
    let node_triggers: Vec<(u64, &str)> = alerts
        .iter()
        .filter(|(_, key, action)| key.starts_with("switchyard/node-down/") && *action == "trigger")
        .map(|(at, key, _)| (*at, *key))
        .collect();
    // The outage paged once, for the region: its nodes, found down a probe apart, waited
    // out the group wait, by which time the region alert inhibited them. eu-3, still
    // down when the region came back, is paged only once the 30 s grace ran out.
    assert_eq!(node_triggers.len(), 1, "{alerts:?}");
    let (eu3_paged, key) = node_triggers[0];
    assert_eq!(key, "switchyard/node-down/eu-3");
    assert!(
        (resolved + 29_000..resolved + 31_000).contains(&eu3_paged),
        "eu-3 paged at {eu3_paged}, the region resolved at {resolved}: {alerts:?}"
    );
    assert!(
        alerts.contains(&(eu3_paged, "switchyard/node-down/eu-3", "trigger"))
            && alerts.iter().any(|(at, key, action)| *at > 100_000
                && *key == "switchyard/node-down/eu-3"
                && *action == "resolve"),
        "{alerts:?}"
    );
}

#[test]
fn a_node_cut_from_discord_is_not_heard_though_the_controller_sees_it_healthy() {
    // small-node-kill's world, with eu-1 cut from Discord's voice servers instead.
    let path = format!(
        "{}/tests/fixtures/small-node-kill.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("the fixture");
    let (head, _) = text.split_once("[[faults]]").expect("a fault section");
    let text = format!(
        "{head}[[faults]]\nat = \"1m\"\nkind = \"partition\"\na = [\"eu-1\"]\nb = [\"discord\"]\nduration = \"30s\"\n\n[expect]\ninvariants = \"all\"\n"
    );
    let scenario = scenario::parse(&path, &text).expect("a valid scenario");
    let outcome = run(&scenario, scenario.seed);
    // Discord is not a simulated host: the partition touches nothing the controller
    // probes, so eu-1 stays up and its players stay, unheard for the 30 s.
    assert!(!marked_down_within(&outcome, "eu-1", 0, u64::MAX));
    let unheard: Vec<u64> = outcome
        .series
        .served_demanded
        .iter()
        .filter(|(_, served, demanded)| served < demanded)
        .map(|(at_ms, ..)| *at_ms)
        .collect();
    assert!(!unheard.is_empty(), "eu-1's guilds were not heard");
    assert!(
        unheard.iter().all(|at| (60_000..=90_000).contains(at)),
        "{unheard:?}"
    );
}
