//! Two `switchyard` daemons on one Redis, as real processes (see `ha_support`): the
//! leader is killed (SIGKILL) right after it moved a dead node's players, and the standby
//! takes over without moving anything a second time (but alerting again, as it cannot
//! know what the dead leader delivered); it then acts on the next failure
//! under its own, higher token. The killed daemon comes back as a standby, and a SIGTERM
//! hands the lease back to it well before the lease would have lapsed. Operator holds
//! (a drain, a region failover) told to one leader bind the next.

mod ha_support;

use std::collections::BTreeSet;
use std::time::Duration;

use ha_support::{
    Cluster, LEASE_TTL_MS, OPERATOR_TOKEN, RENEW_INTERVAL_MS, eventually, eventually_within,
};
use switchyard_core::ids::{GuildId, NodeId, RegionId};
use switchyard_runtime::ports::http::Method;
use switchyard_runtime::ports::store::Store;
use switchyard_runtime::store_schema::OperatorHold;
use tokio::time::Instant;

/// The token a daemon acts under.
async fn acting_token(cluster: &Cluster, daemon: &str) -> Option<u64> {
    let status = cluster.status(daemon).await?;
    let leadership = &status["leadership"];
    (leadership["role"] == "acting")
        .then(|| leadership["token"].as_u64())
        .flatten()
}

/// Guilds whose moves were announced, each with how many times, for `guilds`.
async fn announced(cluster: &Cluster, guilds: &[u64]) -> Vec<(u64, usize, BTreeSet<u64>)> {
    let moves = cluster.moves().await;
    guilds
        .iter()
        .map(|guild| {
            let mine: Vec<_> = moves.iter().filter(|m| m.value.guild.0 == *guild).collect();
            let tokens = mine.iter().map(|m| m.value.leader_token).collect();
            (*guild, mine.len(), tokens)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_without_double_moves_and_a_stopped_one_hands_over() {
    let mut cluster = Cluster::start("takeover").await;
    let first = cluster.acting_daemon().await;
    let second = cluster.other(first);
    let first_token = acting_token(&cluster, first).await.expect("acting");

    let placed = cluster.play(1..=8, "eu").await;
    let on_eu1: Vec<u64> = placed
        .iter()
        .filter(|(_, node)| *node == "eu-1")
        .map(|(guild, _)| *guild)
        .collect();
    let on_eu2: Vec<u64> = placed
        .iter()
        .filter(|(_, node)| *node == "eu-2")
        .map(|(guild, _)| *guild)
        .collect();
    assert!(!on_eu1.is_empty() && !on_eu2.is_empty(), "{placed:?}");

    // eu-1 dies; the first leader moves its players to eu-2, and everything about it is
    // in Redis (announcements, routes, the bot's fresh snapshots) before that leader dies.
    cluster.nodes.get_mut("eu-1").expect("a node").kill();
    cluster.wait_playing_on(&on_eu1, &["eu-2"]).await;
    eventually("the moves announced and followed", async || {
        let counts = announced(&cluster, &on_eu1).await;
        if !counts.iter().all(|(_, n, _)| *n == 1) {
            return None;
        }
        for guild in &on_eu1 {
            let snapshot = cluster
                .store
                .player_snapshot(GuildId(*guild))
                .await
                .ok()??;
            if snapshot.node != NodeId::new("eu-2") {
                return None;
            }
        }
        Some(())
    })
    .await;

    let node_down = "switchyard/node-down/eu-1";
    eventually("the first leader's alert delivered", async || {
        (cluster.receiver.count(node_down, "trigger") == 1).then_some(())
    })
    .await;

    cluster.daemons.get_mut(first).expect("a daemon").kill();
    let killed_at = Instant::now();
    let second_token = eventually("the standby acting", async || {
        acting_token(&cluster, second).await
    })
    .await;
    let took = killed_at.elapsed();
    assert!(
        second_token > first_token,
        "{first_token} then {second_token}"
    );
    assert!(
        took < Duration::from_millis(LEASE_TTL_MS + 2_000),
        "took over in {took:?}, {}",
        cluster.daemon_logs()
    );
    // The new leader adopted every guild where it plays, and moved none again.
    eventually("every guild adopted", async || {
        let status = cluster.status(second).await?;
        (status["players"] == 8 && status["moves_in_flight"] == 0).then_some(())
    })
    .await;
    // The new leader cannot know the alert was delivered: it sends it again.
    eventually("the alert sent again by the new leader", async || {
        (cluster.receiver.count(node_down, "trigger") >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_000)).await; // room for a wrong move
    for (guild, count, tokens) in announced(&cluster, &on_eu1).await {
        assert_eq!(count, 1, "guild {guild} moved once");
        assert_eq!(tokens, BTreeSet::from([first_token]), "by the first leader");
    }
    let truth = cluster.ground_truth().await;
    for guild in placed.keys() {
        let players = &truth[guild];
        assert_eq!(players.len(), 1, "one player for {guild}: {players:?}");
        assert_eq!(players[0].0, "eu-2", "{guild}");
    }
    let audit = cluster.store.recent_audit(100).await.expect("redis");
    let takeover = audit
        .iter()
        .find(|e| {
            e.value.kind == "leader_acquired"
                && e.value.fields.get("token") == Some(&second_token.to_string())
        })
        .expect("the takeover is audited");
    assert_eq!(takeover.value.fields["holder"], second);
    assert_eq!(takeover.value.fields["adopted"], "8");

    // The new leader acts: eu-2 dies too, and its guilds leave for us, moved once each
    // under the new token.
    cluster.nodes.get_mut("eu-2").expect("a node").kill();
    let all: Vec<u64> = placed.keys().copied().collect();
    cluster.wait_playing_on(&all, &["us-1", "us-2"]).await;
    let moves = eventually("the new moves announced", async || {
        let counts = announced(&cluster, &all).await;
        let expected = |guild: &u64| if on_eu1.contains(guild) { 2 } else { 1 };
        counts
            .iter()
            .all(|(guild, n, _)| *n == expected(guild))
            .then_some(counts)
    })
    .await;
    for (guild, _, tokens) in moves {
        assert!(
            tokens.contains(&second_token),
            "{guild} moved by the new leader"
        );
    }

    // The killed daemon returns, as a standby; a SIGTERM hands the lease to it at once.
    cluster.daemons.get_mut(first).expect("a daemon").restart();
    eventually("the restarted daemon standing by", async || {
        (cluster.role(first).await? == "standby").then_some(())
    })
    .await;
    let not_ready = cluster.call(first, Method::Get, "/readyz", None).await;
    assert_eq!(not_ready.status, 503);
    assert!(
        cluster
            .daemons
            .get_mut(second)
            .expect("a daemon")
            .terminate(),
        "a clean exit on SIGTERM"
    );
    let stopped_at = Instant::now();
    let third_token = eventually_within(
        "the standby taking over from a stopped leader",
        Duration::from_millis(LEASE_TTL_MS),
        async || acting_token(&cluster, first).await,
    )
    .await;
    let handover = stopped_at.elapsed();
    assert!(third_token > second_token);
    // Released, not lapsed: well under the lease's remaining life (a TTL less at most
    // one renewal interval).
    assert!(
        handover < Duration::from_millis(LEASE_TTL_MS - RENEW_INTERVAL_MS - 500),
        "handed over in {handover:?}"
    );
    eventually("the guilds adopted again", async || {
        let status = cluster.status(first).await?;
        (status["players"] == 8).then_some(())
    })
    .await;
}

/// The operator holds in Redis.
async fn holds_in_store(cluster: &Cluster) -> Option<Vec<OperatorHold>> {
    cluster.store.operator_holds().await.ok()?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_holds_outlive_the_leader_that_was_told() {
    let mut cluster = Cluster::start("operator-holds").await;
    let first = cluster.acting_daemon().await;
    let second = cluster.other(first);
    let placed = cluster.play(1..=6, "eu").await;
    let guilds: Vec<u64> = placed.keys().copied().collect();

    // An operator drains eu-1 and fails us over, on the leader of the day.
    for path in ["/api/nodes/eu-1/drain", "/api/failover/us"] {
        let answer = cluster
            .call(first, Method::Post, path, Some(OPERATOR_TOKEN))
            .await;
        assert!(answer.status < 300, "{path}: {}", answer.status);
    }
    cluster.wait_playing_on(&guilds, &["eu-2"]).await;
    let expected = vec![
        OperatorHold::Drained {
            node: NodeId::new("eu-1"),
        },
        OperatorHold::RegionFailedOver {
            region: RegionId::new("us"),
        },
    ];
    eventually("the holds in Redis", async || {
        (holds_in_store(&cluster).await? == expected).then_some(())
    })
    .await;

    // That leader dies; the next one stands under both before it acts.
    cluster.daemons.get_mut(first).expect("a daemon").kill();
    eventually("the standby acting under the holds", async || {
        acting_token(&cluster, second).await?;
        let status = cluster.status(second).await?;
        let panel = cluster.panel(second).await?;
        let eu1 = panel.iter().find(|n| n["name"] == "eu-1")?;
        (status["players"] == 6
            && status["evacuated_regions"] == serde_json::json!(["us"])
            && eu1["drained"] == true
            && eu1["available"] == false)
            .then_some(())
    })
    .await;
    // New guilds go to eu-2 (neither the drained node nor the failed-over region), and
    // nobody moved back onto eu-1.
    let later = cluster.play(7..=8, "eu").await;
    assert!(later.values().all(|node| node == "eu-2"), "{later:?}");
    tokio::time::sleep(Duration::from_millis(1_000)).await; // room for a wrong move
    let truth = cluster.ground_truth().await;
    for guild in placed.keys().chain(later.keys()) {
        let nodes: Vec<&str> = truth[guild].iter().map(|(node, _)| *node).collect();
        assert_eq!(nodes, ["eu-2"], "guild {guild}");
    }

    // The new leader lifts the drain: Redis forgets it, and keeps the failover.
    let answer = cluster
        .call(
            second,
            Method::Post,
            "/api/nodes/eu-1/enable",
            Some(OPERATOR_TOKEN),
        )
        .await;
    assert!(answer.status < 300, "enable: {}", answer.status);
    eventually("the drain lifted in Redis", async || {
        (holds_in_store(&cluster).await? == expected[1..]).then_some(())
    })
    .await;
}
