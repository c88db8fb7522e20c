//! Nodes joining and leaving at run time: two `switchyard` daemons whose configuration
//! files list the nodes are sent SIGHUP after the files change, and both follow.
//!
//! A node that joins takes players only once the bot holds a session on it, and only the
//! acting daemon admits it; a node that leaves has its players moved within its region,
//! and is forgotten by the leader once empty and by the standby once it takes over. A
//! configuration that does not load changes nothing.

mod ha_support;

use std::collections::BTreeMap;
use std::time::Duration;

use ha_support::{Cluster, NodeListing, eventually};
use serde_json::Value;

/// What a daemon's control panel shows of each node: (status, available, joining,
/// leaving), by name.
async fn listed(
    cluster: &Cluster,
    daemon: &str,
) -> Option<BTreeMap<String, (String, bool, bool, bool)>> {
    let nodes = cluster.panel(daemon).await?;
    nodes
        .iter()
        .map(|n: &Value| {
            let flag = |field: &str| n[field].as_bool();
            let entry = (
                n["status"].as_str()?.to_owned(),
                flag("available")?,
                flag("joining")?,
                flag("leaving")?,
            );
            Some((n["name"].as_str()?.to_owned(), entry))
        })
        .collect()
}

fn serving(names: &[&str]) -> BTreeMap<String, (String, bool, bool, bool)> {
    names
        .iter()
        .map(|n| ((*n).to_owned(), ("up".to_owned(), true, false, false)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_join_when_the_bot_can_use_them_and_leave_after_their_players() {
    // us-3 runs and the bot holds a session on it; the daemons are not told of it yet.
    let mut cluster =
        Cluster::start_with("reload", NodeListing::ConfigFile, &[("us-3", "us")]).await;
    let leader = cluster.acting_daemon().await;
    let standby = cluster.other(leader);
    let placed = cluster.play(1..=6, "eu").await;

    // us-3 joins, and so does eu-3, a node the bot holds no session on.
    cluster.spawn_node("eu-3", "eu").await;
    let all = ["eu-1", "eu-2", "eu-3", "us-1", "us-2", "us-3"];
    cluster.list_nodes_in_configs(&all);
    for daemon in cluster.daemons.values() {
        daemon.hang_up();
    }
    let joining = || ("up".to_owned(), false, true, false);
    let mut expected = serving(&["eu-1", "eu-2", "us-1", "us-2", "us-3"]);
    expected.insert("eu-3".into(), joining());
    eventually("us-3 admitted, eu-3 up but waiting", async || {
        (listed(&cluster, leader).await? == expected).then_some(())
    })
    .await;
    // A standby admits nothing: it does not know the hot spares that register with the
    // leader alone.
    let mut on_standby = expected.clone();
    on_standby.insert("us-3".into(), joining());
    eventually(
        "both joined nodes up and waiting on the standby",
        async || (listed(&cluster, standby).await? == on_standby).then_some(()),
    )
    .await;
    // (The log is coloured: the field's name and value are looked for apart.)
    let log = |text: &str| cluster.daemons[leader].log_contains(text);
    assert!(
        log("waiting_for") && log("[\"bot-0\"]"),
        "the wait names the bot process:\n{}",
        cluster.daemon_logs()
    );
    // eu-3 is the emptiest eu node, yet a player made there could not be created.
    let later = cluster.play(7..=10, "eu").await;
    assert!(
        later.values().all(|node| node != "eu-3"),
        "a node without the bot's session took a guild: {later:?}"
    );

    // The busier of eu-1 and eu-2 leaves, with eu-3.
    let count = |node: &str| {
        placed
            .values()
            .chain(later.values())
            .filter(|n| *n == node)
            .count()
    };
    let (leaving, staying) = if count("eu-1") >= count("eu-2") {
        ("eu-1", "eu-2")
    } else {
        ("eu-2", "eu-1")
    };
    let moved: Vec<u64> = placed
        .iter()
        .chain(&later)
        .filter(|(_, node)| *node == leaving)
        .map(|(guild, _)| *guild)
        .collect();
    assert!(!moved.is_empty(), "{placed:?} {later:?}");
    let remaining = [staying, "us-1", "us-2", "us-3"];
    cluster.list_nodes_in_configs(&remaining);
    for daemon in cluster.daemons.values() {
        daemon.hang_up();
    }
    // Its players go to its region's other node, not to us.
    cluster.wait_playing_on(&moved, &[staying]).await;
    let expected = serving(&remaining);
    eventually("the leader forgets the nodes that left", async || {
        (listed(&cluster, leader).await? == expected).then_some(())
    })
    .await;
    // A standby keeps them, leaving, until it acts: it may have to adopt their players.
    let on_standby = listed(&cluster, standby)
        .await
        .expect("the standby answers");
    for node in [leaving, "eu-3"] {
        assert!(
            on_standby[node].3,
            "{node} leaving on the standby: {on_standby:?}"
        );
        assert!(
            !on_standby[node].1,
            "{node} takes no players: {on_standby:?}"
        );
    }
    let status = cluster.status(leader).await.expect("status");
    assert_eq!(status["players"], 10);

    // The node that left is listed again: the leader, which forgot it, adds it anew and
    // admits it (the bot still holds its session there); the standby, where it was still
    // leaving, keeps it, waiting for admission like any join.
    let relisted = [staying, leaving, "us-1", "us-2", "us-3"];
    cluster.list_nodes_in_configs(&relisted);
    for daemon in cluster.daemons.values() {
        daemon.hang_up();
    }
    let expected = serving(&relisted);
    eventually("the node back on the leader", async || {
        (listed(&cluster, leader).await? == expected).then_some(())
    })
    .await;
    eventually("the node back on the standby, joining", async || {
        let on_standby = listed(&cluster, standby).await?;
        let back = on_standby.get(leaving)? == &joining();
        let eu3_leaving = on_standby.get("eu-3")?.3;
        (back && eu3_leaving).then_some(())
    })
    .await;

    // A broken file is refused with a reason, and nothing changes.
    let config = cluster.scratch.path(&format!("{leader}.toml"));
    std::fs::write(&config, "[daemon\nlisten = 1").expect("config written");
    cluster.daemons[leader].hang_up();
    eventually("the refusal logged", async || {
        cluster.daemons[leader]
            .log_contains("configuration reload refused")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(listed(&cluster, leader).await, Some(expected.clone()));
    assert_eq!(cluster.role(leader).await.as_deref(), Some("acting"));

    // The leader dies: the standby takes over, forgets the empty leaving node (eu-3) and,
    // after its grace, admits the joined ones.
    cluster.daemons.get_mut(leader).expect("the leader").kill();
    eventually(
        "the standby acting without the nodes that left",
        async || {
            let acting = cluster.role(standby).await? == "acting";
            (acting && listed(&cluster, standby).await? == expected).then_some(())
        },
    )
    .await;
    let status = cluster.status(standby).await.expect("status");
    assert_eq!(status["players"], 10, "{status}");
}
