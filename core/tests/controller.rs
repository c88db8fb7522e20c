//! Behaviour of the controller, driven by the fake-clock harness.

mod common;

use common::*;
use switchyard_core::alerts::{AlertAction, AlertSubject};
use switchyard_core::command::{Command, DegradedReason, MoveReason};
use switchyard_core::harness::Harness;
use switchyard_core::health::NodeStatus;
use switchyard_core::history::FailoverOutcome;
use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};
use switchyard_core::shards::ShardHeartbeat;
use switchyard_core::time::Millis;
use switchyard_core::topology::NodeSpec;
use switchyard_core::{InputError, PlayerPlacement};

#[test]
fn nodes_come_up_and_players_spread_by_load() {
    let mut h = started(3, 100);
    assert!(
        h.controller
            .nodes()
            .iter()
            .all(|n| n.status == NodeStatus::Up)
    );
    for guild in 1..=9 {
        h.request(guild, "free", None, None);
    }
    let mut counts: Vec<u32> = h
        .controller
        .nodes()
        .iter()
        .filter(|n| n.region.as_str() == "us")
        .map(|n| n.players)
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [3, 3, 3],
        "nine free guilds spread evenly over the three us nodes"
    );
}

#[test]
fn a_plan_clamps_a_region_it_does_not_allow() {
    let mut h = started(1, 100);
    h.request(1, "free", Some("eu"), None);
    let assignment = h.log.iter().rev().find_map(|(_, c)| match c {
        Command::AssignPlayer(a) => Some(a.clone()),
        _ => None,
    });
    let assignment = assignment.expect("assigned");
    assert!(assignment.clamped);
    assert_eq!(assignment.effective_region.as_str(), "us");
    assert_eq!(assignment.node.as_str(), "us-1");
}

#[test]
fn a_killed_node_is_marked_down_and_its_players_move_within_the_region() {
    let mut h = started(3, 100);
    for guild in 1..=30 {
        h.request(guild, "growth", Some("eu"), None);
    }
    let victims: Vec<u64> = (1..=30)
        .filter(|g| node_of(&h, *g).as_deref() == Some("eu-1"))
        .collect();
    assert!(!victims.is_empty());
    let killed_at = h.now;
    h.kill("eu-1");
    h.run_for(5_000);
    assert_eq!(
        h.controller.node_health(&"eu-1".into()).unwrap().status,
        NodeStatus::Down
    );
    for guild in &victims {
        let node = node_of(&h, *guild).expect("serving again");
        assert!(
            node.starts_with("eu-") && node != "eu-1",
            "guild {guild} went to {node}"
        );
    }
    let record = h
        .controller
        .failover_history()
        .last()
        .expect("an incident")
        .clone();
    // Socket close, then one failed probe (timeout 500 ms) confirms.
    let detected_at = record.started_at;
    assert!(
        detected_at.ms_since(killed_at) <= 1_000,
        "detected after {} ms",
        detected_at.ms_since(killed_at)
    );
    assert_eq!(record.outcome, FailoverOutcome::Completed);
    assert_eq!(record.moved as usize, victims.len());
    // The page waits out the group wait (its region might be going down with it), and
    // the core wakes itself for it.
    h.run_for(5_000);
    let wait = h.controller.config().alerts.node_down_group_wait_ms;
    assert_eq!(wait, 5_000, "the default");
    assert_eq!(
        alert_log(&h, "switchyard/node-down/eu-1"),
        [(detected_at.plus_ms(wait), AlertAction::Trigger)]
    );
}

#[test]
fn a_moved_player_resumes_where_it_was_when_the_fault_was_detected() {
    let mut h = started(2, 100);
    h.request(7, "free", None, None);
    let node = node_of(&h, 7).unwrap();
    h.run_for(10_000);
    // The bot reported 30 s into the track ten seconds ago; it kept playing since.
    let report_at = h.now;
    h.controller
        .handle_player_update(report_at, GuildId(7), 30_000, true, Some(200_000));
    h.run_for(4_000);
    let last_alive = h.now; // probes answered up to here
    h.kill(&node);
    h.run_for(5_000);
    let order = h
        .log
        .iter()
        .find_map(|(_, c)| match c {
            Command::MovePlayer(o) if o.guild == GuildId(7) => Some(o.clone()),
            _ => None,
        })
        .expect("moved");
    let expected = 30_000 + last_alive.ms_since(report_at);
    // Frozen at the node's last sign of life (its last good probe), never later.
    assert!(
        order.position_ms <= expected && order.position_ms + 1_000 >= expected,
        "{} vs {}",
        order.position_ms,
        expected
    );
    assert!(!order.delete_from, "a dead node's player is not deleted");
    assert_eq!(order.reason, MoveReason::NodeDown);
}

#[test]
fn region_outage_moves_unpinned_players_out_and_degrades_pinned_ones() {
    let mut h = started(3, 100);
    for guild in 1..=60 {
        let pin = (guild % 4 == 0).then_some("eu");
        h.request(guild, "growth", Some("eu"), pin);
    }
    for node in ["eu-1", "eu-2", "eu-3"] {
        h.kill(node);
    }
    h.run_for(5_000);
    for guild in 1..=60u64 {
        let view = h.controller.player(GuildId(guild)).unwrap();
        if guild % 4 == 0 {
            assert_eq!(
                view.placement,
                PlayerPlacement::Degraded {
                    reason: DegradedReason::ResidencyPinned {
                        region: "eu".into()
                    }
                }
            );
        } else {
            let node = node_of(&h, guild).expect("served");
            assert!(
                node.starts_with("us-"),
                "us has the highest priority, got {node}"
            );
        }
    }
    let triggered = alerts_triggered(&h);
    assert!(triggered.contains(&"switchyard/region-down/eu".to_owned()));
    assert!(triggered.contains(&"switchyard/residency-degraded/eu".to_owned()));
    // The region alert inhibits its node alerts (at most the first node's went out
    // before the region was seen down).
    let node_alerts = triggered
        .iter()
        .filter(|k| k.starts_with("switchyard/node-down/eu"))
        .count();
    assert!(node_alerts <= 2, "{triggered:?}");
}

#[test]
fn restoration_returns_players_in_configured_steps_after_the_hold() {
    let mut h = started(1, 1_000);
    for guild in 1..=40 {
        h.request(guild, "growth", Some("eu"), None);
    }
    h.kill("eu-1");
    h.run_for(5_000);
    assert!((1..=40).all(|g| node_of(&h, g).as_deref() == Some("us-1")));
    h.revive("eu-1");
    let revived_at = h.now;
    h.run_for(60_000);
    let steps: Vec<(Millis, u32)> = h
        .log
        .iter()
        .filter(|(at, _)| *at >= revived_at)
        .filter_map(|(at, c)| match c {
            Command::Audit(e) if e.kind == "restoration_step" => {
                Some((*at, e.fields["moved"].parse().unwrap()))
            }
            _ => None,
        })
        .collect();
    let moved: Vec<u32> = steps.iter().map(|(_, m)| *m).collect();
    assert_eq!(moved, [4, 16, 20], "10 % -> 50 % -> all of 40");
    assert!(
        steps[0].0.ms_since(revived_at) >= 10_000,
        "the hold comes first"
    );
    assert!(
        steps[1].0.ms_since(steps[0].0) >= 5_000,
        "dwell between steps"
    );
    assert!((1..=40).all(|g| node_of(&h, g).as_deref() == Some("eu-1")));
    assert!(h.controller.players().all(|p| p.displaced_from.is_none()));
}

#[test]
fn a_restoration_its_home_refuses_is_not_retried_elsewhere() {
    // eu-1's guild went to eu-2; when eu-1 is back but refuses moves, the guild stays on
    // eu-2 rather than being shuffled to a third node in the name of restoration.
    let mut h = started(3, 1_000);
    h.request(1, "growth", Some("eu"), None);
    let home = node_of(&h, 1).expect("placed");
    h.kill(&home);
    h.run_for(5_000);
    let displaced_to = node_of(&h, 1).expect("moved");
    h.node(&home).rejects_moves = true;
    h.revive(&home);
    let revived_at = h.now;
    h.run_for(60_000);
    let restorations: Vec<String> = h
        .log
        .iter()
        .filter(|(at, _)| *at >= revived_at)
        .filter_map(|(_, c)| match c {
            Command::MovePlayer(m) if m.reason == MoveReason::Restoration => Some(m.to.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        restorations.iter().all(|to| *to == home),
        "restoration moves only go home: {restorations:?}"
    );
    assert_eq!(node_of(&h, 1), Some(displaced_to));
}

#[test]
fn restoration_rolls_back_when_the_node_degrades_mid_way() {
    let mut h = started(1, 1_000);
    for guild in 1..=40 {
        h.request(guild, "growth", Some("eu"), None);
    }
    h.kill("eu-1");
    h.run_for(5_000);
    h.revive("eu-1");
    h.run_for(12_000); // hold (10 s) passed: the first step returned 4 players
    let home = (1..=40)
        .filter(|g| node_of(&h, *g).as_deref() == Some("eu-1"))
        .count();
    assert_eq!(home, 4);
    h.node("eu-1").latency_ms = 300; // past the warning level
    h.run_for(3_000);
    assert!(alerts_triggered(&h).contains(&"switchyard/restoration-rolled-back/eu-1".to_owned()));
    let home = (1..=40)
        .filter(|g| node_of(&h, *g).as_deref() == Some("eu-1"))
        .count();
    assert_eq!(home, 0, "returned players moved away again");
    assert!(
        h.controller
            .players()
            .all(|p| p.displaced_from.as_ref().map(NodeId::as_str) == Some("eu-1"))
    );
}

#[test]
fn when_most_nodes_look_down_the_controller_fails_open() {
    let mut h = started(3, 100);
    for guild in 1..=30 {
        h.request(guild, "growth", None, None);
    }
    let before: Vec<Option<String>> = (1..=30).map(|g| node_of(&h, g)).collect();
    let isolated_at = h.now;
    for node in [
        "us-1", "us-2", "us-3", "eu-1", "eu-2", "eu-3", "apac-1", "apac-2", "apac-3",
    ] {
        h.node(node).alive = false; // the controller is cut off: no socket closes seen
    }
    h.run_for(10_000);
    assert!(h.controller.is_fail_open());
    assert!(alerts_triggered(&h).contains(&"switchyard/controller-isolated".to_owned()));
    let moves_after: usize = h
        .commands_since(isolated_at)
        .filter(|c| matches!(c, Command::MovePlayer(_)))
        .count();
    // At most the first node to fall (under the threshold) had its players moved.
    assert!(moves_after <= 30, "{moves_after}");
    let after: Vec<Option<String>> = (1..=30).map(|g| node_of(&h, g)).collect();
    let unchanged = before.iter().zip(&after).filter(|(a, b)| a == b).count();
    assert!(
        unchanged >= 20,
        "mass moves were frozen: {unchanged} of 30 unchanged"
    );
}

#[test]
fn full_nodes_overfill_only_when_every_allowed_node_is_full_and_say_so() {
    let mut h = started(1, 2);
    for guild in 1..=3 {
        h.request(guild, "free", None, None);
    }
    let over: Vec<bool> = h
        .log
        .iter()
        .filter_map(|(_, c)| match c {
            Command::AssignPlayer(a) => Some(a.over_capacity),
            _ => None,
        })
        .collect();
    assert_eq!(over, [false, false, true]);
    assert!(alerts_triggered(&h).contains(&"switchyard/capacity-exhausted/us".to_owned()));
    // A growth guild is not overfilled while eu has room.
    h.request(4, "growth", Some("us"), None);
    assert_eq!(node_of(&h, 4).as_deref(), Some("eu-1"));
}

#[test]
fn drain_and_enable_move_players_away_and_back() {
    let mut h = started(2, 100);
    for guild in 1..=10 {
        h.request(guild, "free", None, None);
    }
    h.controller.drain_node(h.now, &"us-1".into()).unwrap();
    h.drain();
    h.run_for(1_000);
    assert!((1..=10).all(|g| node_of(&h, g).as_deref() == Some("us-2")));
    let drained = h.controller.node_health(&"us-1".into()).unwrap();
    assert!(drained.drained && !drained.available);
    h.controller.enable_node(h.now, &"us-1".into()).unwrap();
    h.drain();
    h.run_for(60_000);
    let back = (1..=10)
        .filter(|g| node_of(&h, *g).as_deref() == Some("us-1"))
        .count();
    assert_eq!(back, 5, "the players drained off us-1 returned");
}

#[test]
fn maintenance_silences_node_alerts() {
    let mut h = started(2, 100);
    h.controller
        .set_maintenance(h.now, &"us-1".into(), true)
        .unwrap();
    h.drain();
    h.kill("us-1");
    h.run_for(5_000);
    assert!(!alerts_triggered(&h).iter().any(|k| k.contains("us-1")));
}

#[test]
fn manual_region_failover_keeps_pinned_guilds_in_place() {
    let mut h = started(2, 100);
    h.request(1, "growth", Some("eu"), None);
    h.request(2, "growth", Some("eu"), Some("eu"));
    h.controller.fail_over_region(h.now, &"eu".into()).unwrap();
    h.drain();
    h.run_for(1_000);
    assert!(node_of(&h, 1).unwrap().starts_with("us-"));
    assert!(
        node_of(&h, 2).unwrap().starts_with("eu-"),
        "pinned guild stays (its node is alive)"
    );
    h.controller.restore_region(h.now, &"eu".into()).unwrap();
    h.drain();
    h.run_for(60_000);
    assert!(
        node_of(&h, 1).unwrap().starts_with("eu-"),
        "returned after restore"
    );
}

#[test]
fn failed_moves_are_retried_elsewhere_then_degraded() {
    let mut h = started(3, 100);
    h.request(1, "free", None, None);
    let first = node_of(&h, 1).unwrap();
    for node in ["us-1", "us-2", "us-3"] {
        if node != first {
            h.node(node).rejects_moves = true;
        }
    }
    h.kill(&first);
    h.run_for(5_000);
    let attempts = h
        .log
        .iter()
        .filter(|(_, c)| matches!(c, Command::MovePlayer(_)))
        .count();
    assert_eq!(attempts, 3, "move_attempts_max attempts, other nodes first");
    assert!(matches!(
        h.controller.player(GuildId(1)).unwrap().placement,
        PlayerPlacement::Degraded { .. }
    ));
    // Once a node accepts moves again, the degraded guild gets a player.
    h.node("us-2").rejects_moves = false;
    h.node("us-3").rejects_moves = false;
    h.run_for(30_000);
    assert!(node_of(&h, 1).is_some());
}

#[test]
fn a_flapping_node_is_held_down_and_alerted() {
    let mut h = started(2, 100);
    for _ in 0..3 {
        h.kill("us-1");
        h.run_for(3_000);
        h.revive("us-1");
        h.run_for(3_000);
    }
    assert!(alerts_triggered(&h).contains(&"switchyard/node-flapping/us-1".to_owned()));
    assert_eq!(
        h.controller.node_health(&"us-1".into()).unwrap().status,
        NodeStatus::Down
    );
    h.run_for(120_000);
    assert_eq!(
        h.controller.node_health(&"us-1".into()).unwrap().status,
        NodeStatus::Up
    );
}

#[test]
fn nodes_join_and_leave_at_run_time() {
    let mut h = started(1, 100);
    let spec = NodeSpec {
        name: "us-9".into(),
        region: "us".into(),
        priority: 5,
        weight: 1,
        capacity: 10,
        maintenance: false,
    };
    h.controller.add_node(h.now, &spec).unwrap();
    h.drain();
    h.run_for(2_000);
    let joined = h.controller.node_health(&"us-9".into()).unwrap();
    assert_eq!(joined.status, NodeStatus::Up, "probed while joining");
    assert!(joined.joining && !joined.available, "{joined:?}");
    h.request(1, "free", None, None);
    assert_eq!(
        node_of(&h, 1).as_deref(),
        Some("us-1"),
        "a node not admitted takes no players, whatever its priority"
    );
    h.controller.admit_node(h.now, &"us-9".into()).unwrap();
    h.drain();
    h.request(2, "free", None, None);
    assert_eq!(
        node_of(&h, 2).as_deref(),
        Some("us-9"),
        "once admitted, higher priority wins"
    );
    assert_eq!(
        h.controller.forget_node(h.now, &"us-9".into()),
        Err(InputError::NodeNotLeaving("us-9".into()))
    );
    h.controller.remove_node(h.now, &"us-9".into()).unwrap();
    let leaving = h.controller.node_health(&"us-9".into()).unwrap();
    assert!(leaving.leaving && !leaving.available, "{leaving:?}");
    assert_eq!(
        h.controller.forget_node(h.now, &"us-9".into()),
        Err(InputError::NodeStillHosts("us-9".into())),
        "its player is still moving off it"
    );
    h.drain();
    h.run_for(2_000);
    assert_eq!(node_of(&h, 2).as_deref(), Some("us-1"));
    assert!(
        h.controller.node_health(&"us-9".into()).is_some(),
        "an empty leaving node stays known until the shell forgets it"
    );
    h.controller.forget_node(h.now, &"us-9".into()).unwrap();
    assert!(h.controller.node_health(&"us-9".into()).is_none());
    assert!(
        h.controller
            .add_node(
                h.now,
                &NodeSpec {
                    capacity: 0,
                    ..spec
                }
            )
            .is_err()
    );
}

#[test]
fn a_leaving_node_named_again_stays_and_waits_for_admission() {
    let mut h = started(1, 100);
    let us1 = NodeId::new("us-1");
    h.request(1, "growth", None, None);
    h.controller.remove_node(h.now, &us1).unwrap();
    h.drain();
    h.run_for(2_000);
    assert_eq!(
        node_of(&h, 1).as_deref(),
        Some("eu-1"),
        "moved off as it left"
    );
    let spec = NodeSpec {
        name: us1.clone(),
        region: "us".into(),
        priority: 0,
        weight: 1,
        capacity: 50,
        maintenance: false,
    };
    assert_eq!(
        h.controller.add_node(
            h.now,
            &NodeSpec {
                region: "eu".into(),
                ..spec.clone()
            }
        ),
        Err(InputError::DuplicateNode(us1.clone())),
        "a leaving node cannot come back in another region"
    );
    h.controller.add_node(h.now, &spec).unwrap();
    let report = h.controller.node_health(&us1).unwrap();
    assert!(
        report.joining && !report.leaving && !report.available,
        "{report:?}"
    );
    assert_eq!(report.capacity, 50, "the new policy");
    h.controller.admit_node(h.now, &us1).unwrap();
    h.request(2, "growth", None, None);
    assert_eq!(node_of(&h, 2).as_deref(), Some("us-1"));
    assert_eq!(
        h.controller.add_node(h.now, &spec),
        Err(InputError::DuplicateNode(us1)),
        "a node that stays cannot join twice"
    );
}

#[test]
fn players_that_land_on_a_leaving_node_are_sent_away_when_asked_again() {
    let mut h = started(2, 100);
    h.request(1, "growth", None, None);
    let first = node_of(&h, 1).expect("placed");
    let other = if first == "us-1" { "us-2" } else { "us-1" };
    // A drain sends the guild to the other us node, which starts leaving mid-move.
    h.controller
        .drain_node(h.now, &first.as_str().into())
        .unwrap();
    h.controller.remove_node(h.now, &other.into()).unwrap();
    h.drain();
    h.run_for(2_000);
    assert_eq!(node_of(&h, 1).as_deref(), Some(other), "the move landed");
    assert_eq!(
        h.controller.forget_node(h.now, &other.into()),
        Err(InputError::NodeStillHosts(other.into()))
    );
    let removals_before = h
        .log
        .iter()
        .filter(|(_, c)| matches!(c, Command::Audit(e) if e.kind == "node_removing"))
        .count();
    h.controller.remove_node(h.now, &other.into()).unwrap();
    h.drain();
    h.run_for(2_000);
    assert!(
        node_of(&h, 1).is_some_and(|n| n.starts_with("eu-")),
        "{:?}",
        node_of(&h, 1)
    );
    let removals = h
        .log
        .iter()
        .filter(|(_, c)| matches!(c, Command::Audit(e) if e.kind == "node_removing"))
        .count();
    assert_eq!(removals, removals_before, "asking again audits nothing new");
    h.controller.forget_node(h.now, &other.into()).unwrap();
}

#[test]
fn joining_and_leaving_nodes_are_left_out_of_the_fail_open_census() {
    // Four dead joining nodes and one dead leaving one would make most of the fleet look
    // down if they counted: the controller would freeze and leave us-1's guild on it.
    let mut h = started(2, 100);
    for i in 1..=4 {
        let spec = NodeSpec {
            name: format!("apac-j{i}").as_str().into(),
            region: "apac".into(),
            priority: 0,
            weight: 1,
            capacity: 10,
            maintenance: false,
        };
        h.node(spec.name.as_str()).alive = false;
        h.controller.add_node(h.now, &spec).unwrap();
        h.drain();
    }
    h.controller.remove_node(h.now, &"apac-2".into()).unwrap();
    h.drain();
    h.kill("apac-2");
    h.run_for(5_000);
    h.request(1, "free", None, None);
    let serving = node_of(&h, 1).expect("placed");
    h.kill(&serving);
    h.run_for(10_000);
    assert!(!h.controller.is_fail_open());
    assert_eq!(
        node_of(&h, 1).as_deref(),
        Some(if serving == "us-1" { "us-2" } else { "us-1" })
    );
    assert!(
        !alerts_triggered(&h)
            .iter()
            .any(|key| key.ends_with("/apac-2")),
        "a leaving node pages nobody: {:?}",
        alerts_triggered(&h)
    );
}

#[test]
fn a_stalled_shard_goes_to_a_spare_and_the_stale_owner_is_fenced() {
    let mut h = started(1, 100);
    let now = h.now;
    for shard in 0..4 {
        let heartbeat = ShardHeartbeat {
            shard: ShardId(shard),
            process: ProcessId::new(format!("bot-{shard}")),
            epoch: 1,
        };
        h.controller
            .handle_shard_heartbeat(now, &heartbeat)
            .unwrap();
    }
    h.controller
        .handle_spare_registered(now, "spare-a".into(), Some("us".into()))
        .unwrap();
    h.drain();
    // Shards 1..3 keep beating; shard 0 goes silent.
    for second in 1..=20u64 {
        h.run_until(now.plus_ms(second * 1_000));
        for shard in 1..4 {
            let heartbeat = ShardHeartbeat {
                shard: ShardId(shard),
                process: ProcessId::new(format!("bot-{shard}")),
                epoch: 1,
            };
            h.controller
                .handle_shard_heartbeat(h.now, &heartbeat)
                .unwrap();
        }
        h.drain();
    }
    let shard0 = &h.controller.shards()[0];
    assert_eq!(
        shard0.owner.as_ref().map(ProcessId::as_str),
        Some("spare-a")
    );
    assert_eq!(shard0.epoch, 2);
    assert!(h.log.iter().any(|(_, c)| matches!(c, Command::Audit(e) if e.kind == "shard_failover" && e.fields["shard"] == "0")));
    // The old owner comes back with its old epoch: fenced, not reinstated.
    let stale = ShardHeartbeat {
        shard: ShardId(0),
        process: "bot-0".into(),
        epoch: 1,
    };
    h.controller.handle_shard_heartbeat(h.now, &stale).unwrap();
    h.drain();
    assert!(matches!(
        h.log.last().map(|(_, c)| c),
        Some(Command::FenceShardOwner { epoch: 2, .. })
    ));
    assert_eq!(
        h.controller.shards()[0]
            .owner
            .as_ref()
            .map(ProcessId::as_str),
        Some("spare-a")
    );
    assert!(
        h.controller
            .handle_shard_heartbeat(
                h.now,
                &ShardHeartbeat {
                    shard: ShardId(9),
                    ..stale
                }
            )
            .is_err()
    );
}

#[test]
fn a_stalled_shard_without_a_spare_raises_a_critical_alert() {
    let mut h = started(1, 100);
    for shard in 0..4 {
        let heartbeat = ShardHeartbeat {
            shard: ShardId(shard),
            process: ProcessId::new(format!("bot-{shard}")),
            epoch: 1,
        };
        h.controller
            .handle_shard_heartbeat(h.now, &heartbeat)
            .unwrap();
    }
    for _ in 0..20 {
        h.run_for(1_000);
        for shard in 1..4 {
            let heartbeat = ShardHeartbeat {
                shard: ShardId(shard),
                process: ProcessId::new(format!("bot-{shard}")),
                epoch: 1,
            };
            h.controller
                .handle_shard_heartbeat(h.now, &heartbeat)
                .unwrap();
        }
        h.drain();
    }
    assert!(alerts_triggered(&h).contains(&"switchyard/shard-without-spare/0".to_owned()));
    // A spare arriving later takes the shard at once.
    h.controller
        .handle_spare_registered(h.now, "late-spare".into(), None)
        .unwrap();
    h.drain();
    assert_eq!(
        h.controller.shards()[0]
            .owner
            .as_ref()
            .map(ProcessId::as_str),
        Some("late-spare")
    );
    let resolved = h.log.iter().any(|(_, c)| {
        matches!(c, Command::Alert(n) if n.action == AlertAction::Resolve && n.subject == AlertSubject::ShardWithoutSpare { shard: ShardId(0) })
    });
    assert!(resolved);
}

#[test]
fn most_shards_silent_at_once_freezes_promotions() {
    let mut h = started(1, 100);
    for shard in 0..4 {
        let heartbeat = ShardHeartbeat {
            shard: ShardId(shard),
            process: ProcessId::new(format!("bot-{shard}")),
            epoch: 1,
        };
        h.controller
            .handle_shard_heartbeat(h.now, &heartbeat)
            .unwrap();
    }
    h.controller
        .handle_spare_registered(h.now, "spare".into(), None)
        .unwrap();
    h.drain();
    h.run_for(30_000);
    assert!(h.controller.shard_promotions_frozen());
    assert!(h.controller.shards().iter().all(|s| s.epoch == 1));
}

#[test]
fn unknown_names_are_typed_errors() {
    let mut h = started(1, 100);
    let now = h.now;
    assert!(h.controller.drain_node(now, &"nope".into()).is_err());
    assert!(h.controller.fail_over_region(now, &"mars".into()).is_err());
    let bad_plan = switchyard_core::PlaybackRequest {
        guild: GuildId(1),
        plan: "platinum".into(),
        region: None,
        residency: None,
    };
    assert_eq!(
        h.controller
            .handle_playback_requested(now, &bad_plan)
            .unwrap_err()
            .to_string(),
        "unknown plan `platinum`"
    );
}

#[test]
fn a_guild_degraded_before_any_node_was_up_is_assigned_a_node_once_one_is_up() {
    let mut h = Harness::new(fast_config(), &topology(1, 100)).expect("valid");
    h.request(1, "free", None, None);
    assert!(matches!(
        h.controller.player(GuildId(1)).unwrap().placement,
        PlayerPlacement::Degraded {
            reason: DegradedReason::NoServingNode
        }
    ));
    h.drain();
    h.run_for(30_000);
    // It never played, so there is no player to move: it is assigned a node instead,
    // which its bot learns when it asks again.
    assert!(
        !h.log
            .iter()
            .any(|(_, c)| matches!(c, Command::MovePlayer(o) if o.guild == GuildId(1))),
        "a move was ordered for a guild without a player"
    );
    assert_eq!(node_of(&h, 1).as_deref(), Some("us-1"));
    assert!(h.log.iter().any(
        |(_, c)| matches!(c, Command::AssignPlayer(a) if a.guild == GuildId(1) && a.node.as_str() == "us-1")
    ));
    let asked_again = h.now;
    h.request(1, "free", None, None);
    assert_eq!(node_of(&h, 1).as_deref(), Some("us-1"));
    assert!(
        !h.commands_since(asked_again)
            .any(|c| matches!(c, Command::AssignPlayer(_) | Command::MovePlayer(_))),
        "asking again re-placed a guild that already had a node"
    );
}

/// When each notice for `key` was issued, with its action.
fn alert_log(h: &Harness, key: &str) -> Vec<(Millis, AlertAction)> {
    h.log
        .iter()
        .filter_map(|(at, c)| match c {
            Command::Alert(n) if n.dedup_key == key => Some((*at, n.action)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_node_still_down_when_its_region_recovers_is_paged_after_the_grace() {
    let mut h = started(3, 100);
    for node in ["apac-1", "apac-2", "apac-3"] {
        h.kill(node);
    }
    h.run_for(10_000);
    let region = alert_log(&h, "switchyard/region-down/apac");
    assert_eq!(region.len(), 1, "{region:?}");
    for node in ["apac-1", "apac-2", "apac-3"] {
        assert!(
            alert_log(&h, &format!("switchyard/node-down/{node}")).is_empty(),
            "{node}: one page for the region, none per node"
        );
    }

    h.revive("apac-1");
    h.revive("apac-2");
    h.run_for(5_000);
    let region = alert_log(&h, "switchyard/region-down/apac");
    let (resolved_at, action) = *region.last().expect("logged");
    assert_eq!(action, AlertAction::Resolve, "{region:?}");
    let grace = h.controller.config().alerts.region_recovery_grace_ms;
    assert_eq!(grace, 30_000, "the default");
    assert!(
        alert_log(&h, "switchyard/node-down/apac-3").is_empty(),
        "held back during the grace"
    );

    // The core wakes itself at the grace's end (the harness steps by `poll_timeout`).
    h.run_for(grace);
    assert_eq!(
        alert_log(&h, "switchyard/node-down/apac-3"),
        [(resolved_at.plus_ms(grace), AlertAction::Trigger)],
        "still down when the grace ends: paged once, then"
    );
    h.revive("apac-3");
    h.run_for(5_000);
    assert_eq!(
        alert_log(&h, "switchyard/node-down/apac-3")
            .last()
            .map(|(_, a)| *a),
        Some(AlertAction::Resolve)
    );
}
