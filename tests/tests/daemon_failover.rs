//! The `switchyard` daemon as operators run it: real processes on loopback (see
//! `ha_support`). A node process is killed: the runbook's health key and the control
//! panel mark it down within the configured bound, a critical alert reaches the webhook,
//! and its players come back on the other node of its region where they were; when the
//! node returns, they go back to it in steps. Killing `redis-server` does not stop
//! failover, and the state is written back when Redis returns. The operator routes
//! refuse a missing or wrong token on every daemon.

mod ha_support;

use std::collections::BTreeMap;
use std::time::Duration;

use ha_support::{
    Cluster, OPERATOR_TOKEN, PROBE_INTERVAL_MS, RESTORATION_DWELL_MS, eventually,
    eventually_within, node_down_bound,
};
use switchyard_core::ids::{GuildId, NodeId};
use switchyard_runtime::api::LEADER_HEADER;
use switchyard_runtime::ports::http::Method;
use switchyard_runtime::ports::store::Store;
use tokio::time::Instant;

/// The eu node holding the most guilds, the other eu node, and the guilds to move.
fn victim_and_survivor(placed: &BTreeMap<u64, String>) -> (&'static str, &'static str, Vec<u64>) {
    let on = |node: &str| placed.values().filter(|n| *n == node).count();
    let (victim, survivor) = if on("eu-1") >= on("eu-2") {
        ("eu-1", "eu-2")
    } else {
        ("eu-2", "eu-1")
    };
    let moved: Vec<u64> = placed
        .iter()
        .filter(|(_, node)| *node == victim)
        .map(|(guild, _)| *guild)
        .collect();
    assert!(moved.len() >= 2, "a node with guilds to move: {placed:?}");
    (victim, survivor, moved)
}

/// Resumed where it was when the fault was detected: at most a probe interval (plus
/// scheduling) replayed, nothing unheard skipped beyond the time the move took.
fn assert_resumed_in_place(before: &BTreeMap<u64, u64>, after: &BTreeMap<u64, (&str, u64)>) {
    for (guild, (_, now)) in after {
        let was = before[guild];
        assert!(
            now + PROBE_INTERVAL_MS + 300 >= was,
            "guild {guild} resumed at {now} ms, it had played {was} ms"
        );
        assert!(
            *now < was + 3_000,
            "guild {guild} skipped ahead to {now} ms from {was} ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_marked_down_alerted_failed_over_and_restored_gradually() {
    let mut cluster = Cluster::start("node-failover").await;
    let leader = cluster.acting_daemon().await;
    let standby = cluster.other(leader);

    // The runbook's health keys, for every node, reading `up`. One slow probe while
    // every process is still starting can make a node `degraded` for a moment (latency
    // over the warning level), so the key is awaited until it reads `up`.
    for (node, _) in ha_support::NODES {
        eventually(&format!("{node}'s health key to read up"), async || {
            cluster
                .health_status(node)
                .await
                .filter(|status| status == "up")
        })
        .await;
    }

    // Operator routes: 401 without a token, 403 with a wrong one, on both daemons; the
    // standby sends a valid request on to the leader.
    for daemon in [leader, standby] {
        let path = "/api/nodes/us-2/drain";
        let missing = cluster.call(daemon, Method::Post, path, None).await;
        assert_eq!(missing.status, 401, "{daemon} without a token");
        let wrong = cluster.call(daemon, Method::Post, path, Some("nope")).await;
        assert_eq!(wrong.status, 403, "{daemon} with a wrong token");
    }
    let redirected = cluster
        .call(
            standby,
            Method::Post,
            "/api/nodes/us-2/drain",
            Some(OPERATOR_TOKEN),
        )
        .await;
    assert_eq!(redirected.status, 503);
    assert_eq!(
        redirected.header(LEADER_HEADER),
        Some(cluster.daemons[leader].url().as_str())
    );
    let ready = |daemon| cluster.call(daemon, Method::Get, "/readyz", None);
    assert_eq!(ready(leader).await.status, 200);
    assert_eq!(ready(standby).await.status, 503);

    let placed = cluster.play(1..=8, "eu").await;
    assert!(placed.values().all(|n| n.starts_with("eu-")), "{placed:?}");
    let (victim, survivor, moved) = victim_and_survivor(&placed);
    tokio::time::sleep(Duration::from_millis(1_000)).await; // tracks play for a while
    let played = cluster.nodes[victim]
        .positions(&cluster.http)
        .await
        .expect("the victim answers");

    cluster.nodes.get_mut(victim).expect("a node").kill();
    let killed_at = Instant::now();
    eventually_within(
        "marked down in Redis and the API",
        node_down_bound(),
        async || {
            let redis = cluster.health_status(victim).await?;
            let api = cluster.panel_status(leader, victim).await?;
            (redis == "down" && api == "down").then_some(())
        },
    )
    .await;
    let detected = killed_at.elapsed();
    let panel = cluster.panel(leader).await.expect("the API answers");
    let entry = panel.iter().find(|n| n["name"] == victim).expect("listed");
    assert_eq!(entry["available"], false);

    let now_playing = cluster.wait_playing_on(&moved, &[survivor]).await;
    assert_resumed_in_place(&played, &now_playing);

    // Paged once the node-down group wait is over (failover did not wait for it).
    let alert = eventually("a critical alert at the receiver", async || {
        cluster
            .receiver
            .find(&format!("switchyard/node-down/{victim}"), "trigger")
    })
    .await;
    assert_eq!(alert["severity"], "critical");
    // The route is written once the move's PATCH is answered, a moment after the
    // player is heard.
    for guild in &moved {
        eventually("the route follows", async || {
            let route = cluster.store.route(GuildId(*guild)).await.ok()?;
            (route == Some(NodeId::new(survivor))).then_some(())
        })
        .await;
    }

    // The node returns: noticed, and its guilds go back in steps (half, then all).
    cluster.nodes.get_mut(victim).expect("a node").restart();
    eventually("the node's return noticed", async || {
        let redis = cluster.health_status(victim).await?;
        let api = cluster.panel_status(leader, victim).await?;
        (redis == "up" && api == "up").then_some(())
    })
    .await;
    let mut counts_seen = Vec::new();
    eventually_within(
        "every guild back on its node",
        Duration::from_secs(30),
        async || {
            let back = cluster.nodes[victim]
                .positions(&cluster.http)
                .await
                .map_or(0, |players| {
                    moved.iter().filter(|g| players.contains_key(g)).count()
                });
            if counts_seen.last() != Some(&back) {
                counts_seen.push(back);
            }
            (back == moved.len()).then_some(())
        },
    )
    .await;
    assert!(
        counts_seen.iter().any(|n| *n > 0 && *n < moved.len()),
        "restoration went in steps, saw {counts_seen:?} of {}",
        moved.len()
    );
    // The announcements follow the moves themselves by a write.
    let restorations: Vec<u64> = eventually("each return announced", async || {
        let times: Vec<u64> = cluster
            .moves()
            .await
            .into_iter()
            .filter(|m| m.value.to.as_str() == victim)
            .map(|m| m.value.at_ms)
            .collect();
        (times.len() >= moved.len()).then_some(times)
    })
    .await;
    assert_eq!(restorations.len(), moved.len(), "each guild returned once");
    let spread = restorations.iter().max().unwrap() - restorations.iter().min().unwrap();
    assert!(
        spread >= RESTORATION_DWELL_MS * 8 / 10,
        "steps a dwell apart, got {spread} ms"
    );
    let truth = cluster.ground_truth().await;
    for guild in &moved {
        assert_eq!(
            truth[guild].len(),
            1,
            "one live player for {guild}: {truth:?}"
        );
    }
    eprintln!("node marked down {detected:?} after its kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_goes_on_while_redis_is_down_and_the_state_is_written_back() {
    let mut cluster = Cluster::start("redis-outage").await;
    let leader = cluster.acting_daemon().await;
    let token = cluster.status(leader).await.expect("status")["leadership"]["token"]
        .as_u64()
        .expect("the leader's token");
    let placed = cluster.play(1..=8, "eu").await;
    let (victim, survivor, moved) = victim_and_survivor(&placed);
    // The leader reads the bot's snapshots every 100 ms: let it hold them. The bot
    // writes each one after its player is created, so wait for them in Redis, then for
    // several of the leader's reads.
    eventually("the leader knows every player", async || {
        let status = cluster.status(leader).await?;
        (status["players"] == 8).then_some(())
    })
    .await;
    eventually("every snapshot written", async || {
        for guild in placed.keys() {
            cluster
                .store
                .player_snapshot(GuildId(*guild))
                .await
                .ok()??;
        }
        Some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let played = cluster.nodes[victim]
        .positions(&cluster.http)
        .await
        .expect("the victim answers");

    cluster.redis.kill();
    cluster.nodes.get_mut(victim).expect("a node").kill();

    // Decisions and moves go on from memory; the API says so.
    let now_playing = cluster.wait_playing_on(&moved, &[survivor]).await;
    assert_resumed_in_place(&played, &now_playing);
    let api = cluster.panel_status(leader, victim).await;
    assert_eq!(api.as_deref(), Some("down"));
    assert_eq!(cluster.role(leader).await.as_deref(), Some("acting"));
    eventually("the leader sees Redis gone", async || {
        let status = cluster.status(leader).await?;
        (status["leadership"]["store_reachable"] == false).then_some(())
    })
    .await;

    // Redis returns empty: what the leader owes is written back, under the same lease.
    cluster.redis.restart();
    eventually("the victim's health written back", async || {
        (cluster.health_status(victim).await? == "down").then_some(())
    })
    .await;
    for guild in &moved {
        let route = eventually("the route written back", async || {
            cluster.store.route(GuildId(*guild)).await.ok()?
        })
        .await;
        assert_eq!(route.as_str(), survivor);
    }
    let records = eventually("the guild records written back", async || {
        let records = cluster.store.all_guild_records().await.ok()?;
        (records.len() == placed.len()).then_some(records)
    })
    .await;
    for guild in &moved {
        let record = &records[&GuildId(*guild)];
        assert_eq!(record.displaced_from, Some(NodeId::new(victim)));
    }
    let lease = eventually("the lease taken back", async || {
        cluster.store.leader().await.ok()?
    })
    .await;
    assert_eq!(lease.token, token, "the same term goes on");
    assert_eq!(cluster.role(leader).await.as_deref(), Some("acting"));
    let standby = cluster.other(leader);
    assert_eq!(cluster.role(standby).await.as_deref(), Some("standby"));
}
