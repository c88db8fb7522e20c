//! Nodes joining and leaving at run time: two `switchyard` daemons whose configuration
//! files list the nodes are sent SIGHUP after the files change. Both follow: a new node
//! is probed and shown, a removed node's players move within its region before it is
//! forgotten. A configuration that does not load changes nothing.

mod ha_support;

use std::collections::BTreeSet;
use std::time::Duration;

use ha_support::{Cluster, NodeListing, eventually};

/// The node names a daemon's control panel lists, with whether each is up.
async fn listed(cluster: &Cluster, daemon: &str) -> Option<BTreeSet<(String, bool)>> {
    let nodes = cluster.panel(daemon).await?;
    nodes
        .iter()
        .map(|n| Some((n["name"].as_str()?.to_owned(), n["status"] == "up")))
        .collect()
}

fn all_up(names: &[&str]) -> BTreeSet<(String, bool)> {
    names.iter().map(|n| ((*n).to_owned(), true)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_and_removes_nodes_on_every_daemon() {
    let mut cluster = Cluster::start_with("reload", NodeListing::ConfigFile).await;
    let leader = cluster.acting_daemon().await;
    let standby = cluster.other(leader);
    let placed = cluster.play(1..=6, "eu").await;
    let on = |node: &str| -> Vec<u64> {
        placed
            .iter()
            .filter(|(_, n)| *n == node)
            .map(|(g, _)| *g)
            .collect()
    };
    let (leaving, staying) = if on("eu-1").len() >= on("eu-2").len() {
        ("eu-1", "eu-2")
    } else {
        ("eu-2", "eu-1")
    };
    let moved = on(leaving);
    assert!(!moved.is_empty(), "{placed:?}");

    // us-3 joins and the busier eu node leaves, in one edit of both files.
    cluster.spawn_node("us-3", "us");
    cluster.list_nodes_in_configs(&[staying, "us-1", "us-2", "us-3"]);
    for daemon in cluster.daemons.values() {
        daemon.hang_up();
    }
    let expected = all_up(&[staying, "us-1", "us-2", "us-3"]);
    for daemon in [leader, standby] {
        eventually("the new node up and the old one gone", async || {
            (listed(&cluster, daemon).await? == expected).then_some(())
        })
        .await;
    }
    // The leaving node's players went to its region's other node, not to us.
    cluster.wait_playing_on(&moved, &[staying]).await;
    let status = cluster.status(leader).await.expect("status");
    assert_eq!(status["players"], 6);

    // A broken file is refused with a reason, and nothing changes.
    let config = cluster.scratch.path(&format!("{leader}.toml"));
    std::fs::write(&config, "[daemon\nlisten = 1").expect("config written");
    cluster.daemons[leader].hang_up();
    eventually("the refusal logged", async || {
        cluster.daemons[leader]
            .log_tail()
            .contains("configuration reload refused")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(listed(&cluster, leader).await, Some(expected));
    assert_eq!(cluster.role(leader).await.as_deref(), Some("acting"));
}
