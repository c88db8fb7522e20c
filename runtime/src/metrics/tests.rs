//! The event metrics, the leader hook and build info, read back through a strict parse
//! of the exposition. (The scrape-time figures are tested with a running driver in
//! `runtime/tests/metrics_scrape.rs`.)

use std::time::Duration;

use serde_json::json;
use switchyard_core::history::FailoverRecord;
use switchyard_core::ids::{NodeId, RegionId};
use switchyard_tests::exposition::{Exposition, parse};

use super::Metrics;

fn scrape(metrics: &Metrics) -> Exposition {
    let text = metrics.encode();
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn record(id: u64, trigger: serde_json::Value, outcome: &str, planned: u32) -> FailoverRecord {
    serde_json::from_value(json!({
        "id": id,
        "trigger": trigger,
        "started_at": 1_000,
        "finished_at": if outcome == "in_progress" { json!(null) } else { json!(13_500) },
        "planned": planned,
        "moved": planned,
        "failed_attempts": 0,
        "degraded": 0,
        "outcome": outcome,
    }))
    .expect("a valid record")
}

#[test]
fn known_nodes_start_at_zero_and_probes_count_and_time() {
    let metrics = Metrics::new();
    let (a, eu) = (NodeId::new("eu-1"), RegionId::new("eu"));
    metrics.node_known(&a, &eu);
    let labels = [("node", "eu-1"), ("region", "eu")];
    let before = scrape(&metrics);
    for name in [
        "switchyard_probes_total",
        "switchyard_probe_failures_total",
        "switchyard_moves_attempted_total",
        "switchyard_moves_succeeded_total",
        "switchyard_moves_failed_total",
        "switchyard_probe_duration_seconds_count",
    ] {
        assert_eq!(before.value(name, &labels), Some(0.0), "{name}");
    }

    metrics.probe_completed(&a, &eu, Duration::from_micros(1_800), true);
    metrics.probe_completed(&a, &eu, Duration::from_millis(40), true);
    metrics.probe_completed(&a, &eu, Duration::from_secs(2), false);
    let after = scrape(&metrics);
    assert_eq!(after.value("switchyard_probes_total", &labels), Some(3.0));
    assert_eq!(
        after.value("switchyard_probe_failures_total", &labels),
        Some(1.0)
    );
    // Failed probes say nothing about latency: only the two successes are timed.
    let family = after.family("switchyard_probe_duration_seconds").unwrap();
    assert_eq!(
        (family.kind.as_str(), family.unit.as_deref()),
        ("histogram", Some("seconds"))
    );
    assert_eq!(
        after.value("switchyard_probe_duration_seconds_count", &labels),
        Some(2.0)
    );
    let sum = after
        .value("switchyard_probe_duration_seconds_sum", &labels)
        .unwrap();
    assert!(
        (sum - 0.0418).abs() < 1e-9,
        "seconds, not milliseconds: {sum}"
    );
    let bucket = |le: &str| {
        after.value(
            "switchyard_probe_duration_seconds_bucket",
            &[("node", "eu-1"), ("le", le)],
        )
    };
    assert_eq!(bucket("0.001"), Some(0.0));
    assert_eq!(bucket("0.0025"), Some(1.0));
    assert_eq!(bucket("0.05"), Some(2.0));
    assert_eq!(bucket("+Inf"), Some(2.0));
}

#[test]
fn moves_count_attempts_successes_and_failures_per_target() {
    let metrics = Metrics::new();
    let (a, b, eu) = (
        NodeId::new("eu-1"),
        NodeId::new("eu-2"),
        RegionId::new("eu"),
    );
    for _ in 0..3 {
        metrics.move_started(&a, &eu);
    }
    metrics.move_started(&b, &eu);
    metrics.move_finished(&a, &eu, true);
    metrics.move_finished(&a, &eu, false);
    metrics.move_finished(&b, &eu, true);
    let scraped = scrape(&metrics);
    let value = |name: &str, node: &str| scraped.value(name, &[("node", node), ("region", "eu")]);
    assert_eq!(value("switchyard_moves_attempted_total", "eu-1"), Some(3.0));
    assert_eq!(value("switchyard_moves_succeeded_total", "eu-1"), Some(1.0));
    assert_eq!(value("switchyard_moves_failed_total", "eu-1"), Some(1.0));
    assert_eq!(value("switchyard_moves_attempted_total", "eu-2"), Some(1.0));
    assert_eq!(value("switchyard_moves_failed_total", "eu-2"), None);
    assert_eq!(
        scraped.family("switchyard_moves_failed").unwrap().kind,
        "counter"
    );
}

#[test]
fn a_finished_incident_is_counted_once_and_timed_when_it_moved_players() {
    let metrics = Metrics::new();
    let node_down = json!({"kind": "node_down", "node": "eu-1"});
    metrics.failover_recorded(&record(1, node_down.clone(), "in_progress", 4));
    let scraped = scrape(&metrics);
    assert_eq!(
        scraped.value("switchyard_failover_duration_seconds_count", &[]),
        Some(0.0),
        "the unlabelled histogram is there from the start"
    );
    assert!(
        scraped
            .matching("switchyard_failovers_total", &[])
            .is_empty()
    );

    // The core republishes a finished record; it still counts once.
    let done = record(1, node_down, "completed", 4);
    metrics.failover_recorded(&done);
    metrics.failover_recorded(&done);
    // An incident that planned no move is counted but not timed.
    metrics.failover_recorded(&record(2, json!({"kind": "policy"}), "completed", 0));
    let scraped = scrape(&metrics);
    let labels = [("trigger", "node_down"), ("outcome", "completed")];
    assert_eq!(
        scraped.value("switchyard_failovers_total", &labels),
        Some(1.0)
    );
    assert_eq!(
        scraped.value(
            "switchyard_failovers_total",
            &[("trigger", "policy"), ("outcome", "completed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scraped.value("switchyard_failover_duration_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        scraped.value("switchyard_failover_duration_seconds_sum", &[]),
        Some(12.5)
    );
    assert_eq!(
        scraped.value(
            "switchyard_failover_duration_seconds_bucket",
            &[("le", "10.0")]
        ),
        Some(0.0)
    );
    assert_eq!(
        scraped.value(
            "switchyard_failover_duration_seconds_bucket",
            &[("le", "15.0")]
        ),
        Some(1.0)
    );
}

#[test]
fn the_leader_gauge_follows_the_hook_and_build_info_names_the_version() {
    let metrics = Metrics::new();
    assert_eq!(scrape(&metrics).value("switchyard_leader", &[]), Some(0.0));
    metrics.clone().set_leader(true);
    assert_eq!(scrape(&metrics).value("switchyard_leader", &[]), Some(1.0));
    metrics.set_leader(false);
    let scraped = scrape(&metrics);
    assert_eq!(scraped.value("switchyard_leader", &[]), Some(0.0));
    assert_eq!(scraped.family("switchyard_leader").unwrap().kind, "gauge");
    assert_eq!(
        scraped.value(
            "switchyard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
}

#[test]
fn every_family_follows_the_naming_conventions() {
    let metrics = Metrics::new();
    metrics.node_known(&NodeId::new("n"), &RegionId::new("r"));
    metrics.failover_recorded(&record(1, json!({"kind": "recovery"}), "partial", 1));
    let scraped = scrape(&metrics);
    assert!(scraped.families.len() >= 10);
    for family in scraped.families.values() {
        assert!(family.name.starts_with("switchyard_"), "{}", family.name);
        assert!(!family.help.is_empty(), "{} has no help", family.name);
        for unit in ["_ms", "milliseconds", "_minutes"] {
            assert!(
                !family.name.contains(unit),
                "{}: not a base unit",
                family.name
            );
        }
        if family.kind == "histogram" {
            assert_eq!(family.unit.as_deref(), Some("seconds"), "{}", family.name);
        }
    }
}
