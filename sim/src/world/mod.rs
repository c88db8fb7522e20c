//! The simulated world of a `sim run`: emulated Lavalink nodes, a simulated Redis, an
//! alert webhook receiver, the controller running the daemon's own driver, API and node
//! watchers, and bot processes running the bot side of the contract, all on turmoil's
//! network under the scenario's faults, measured by an independent oracle.

mod discord;
mod faults;
mod hosts;
mod incidents;
pub mod oracle;
pub mod series;
pub mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use switchyard_core::command::Command;
use switchyard_core::ids::{GuildId, NodeId, ProcessId, ShardId};
use switchyard_core::time::Millis;
use switchyard_runtime::bot::BotHandle;
use switchyard_runtime::driver::DriverHandle;

use crate::emulator::{EmulatorControl, PlayerTruth};
use crate::scenario::{Host, Scenario};
pub use faults::{FaultEffect, FaultEvent, LossStats, OperatorOutcome};
use oracle::{Availability, GuildNodes, Oracle, Sample, Violation};
use series::Series;

pub use incidents::{ATTRIBUTION_WINDOW_MS, Incident};

/// The simulation's fixed wall-clock epoch (2025-01-01T00:00:00Z), so runs are
/// byte-identical.
pub const SIM_EPOCH_UNIX_MS: u64 = 1_735_689_600_000;

/// How often the oracle samples the world.
pub const SAMPLE_INTERVAL_MS: u64 = 500;

/// State the hosts share with the world (ground truth and the controller's trace).
#[derive(Default)]
pub struct Shared {
    nodes: BTreeMap<NodeId, EmulatorControl>,
    bots: BTreeMap<ProcessId, BotHandle>,
    alerts: Vec<(Millis, Value)>,
    trace: Vec<(Millis, Command)>,
    webhook_failure: Option<u16>,
    /// The running controller's handle, for what it believes (probe latencies).
    controller: Option<DriverHandle>,
}

/// An alert the webhook receiver got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedAlert {
    /// When, in run milliseconds.
    pub at_ms: u64,
    /// Its dedup key.
    pub key: String,
    /// trigger or resolve.
    pub action: String,
    /// Its severity.
    pub severity: String,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// Simulated milliseconds.
    pub duration_ms: u64,
    /// Guilds that played.
    pub guilds: usize,
    /// Each fault's recovery.
    pub incidents: Vec<Incident>,
    /// Served / demanded overall.
    pub availability: f64,
    /// Per home region.
    pub availability_by_region: BTreeMap<String, f64>,
    /// Per plan.
    pub availability_by_plan: BTreeMap<String, f64>,
    /// Raw counts per plan.
    pub plan_samples: BTreeMap<String, Availability>,
    /// Raw counts.
    pub samples: BTreeMap<String, Availability>,
    /// Invariant violations.
    pub violations: Vec<Violation>,
    /// Alerts received.
    pub alerts: Vec<ReceivedAlert>,
    /// Controller commands, one JSON object per line (the determinism trace).
    #[serde(skip)]
    pub trace: String,
    /// The run sample by sample (for reports; too long for the JSON result).
    #[serde(skip)]
    pub series: Series,
    /// What the world did to inject each fault, in order.
    pub fault_events: Vec<FaultEvent>,
    /// How the operator's requests (drain, enable, join) ended.
    pub operator: Vec<OperatorOutcome>,
}

/// How a run departs from the scenario, for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// A deliberately broken controller policy, to show the oracle catches it. Only Rust
    /// code sets it; no scenario file can.
    pub sabotage: Option<switchyard_core::Sabotage>,
}

/// Runs a scenario with a seed; `progress` is told the simulated time now and then.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<RunOutcome, String> {
    run_with(scenario, seed, RunOptions::default(), progress)
}

/// [`run`] with options.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    options: RunOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<RunOutcome, String> {
    // Every host draws from the run's seed (the emulators' noise, the alert retries'
    // jitter), not the file's default, so that `--seed` varies the whole world.
    let scenario = &Scenario {
        seed,
        ..scenario.clone()
    };
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_millis(scenario.duration_ms + 60_000))
        .tick_duration(Duration::from_millis(scenario.tick_ms))
        .epoch(UNIX_EPOCH + Duration::from_millis(SIM_EPOCH_UNIX_MS))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(3))
        .tcp_capacity(4_096)
        .rng_seed(seed)
        .build();
    let shared = Arc::new(Mutex::new(Shared::default()));
    let guilds = Arc::new(workload::guilds(scenario, seed));
    hosts::add_redis(&mut sim);
    hosts::add_webhook(&mut sim, shared.clone());
    hosts::add_nodes(&mut sim, scenario, &shared)?;
    hosts::add_controller(&mut sim, scenario, options.sabotage, shared.clone());
    for process in &scenario.shards.processes {
        let shards: Vec<ShardId> = scenario.shards.initial_shards_of(process).collect();
        hosts::add_bot(
            &mut sim,
            scenario,
            process.clone(),
            shards,
            None,
            guilds.clone(),
            shared.clone(),
        );
    }
    for (region, spares) in &scenario.shards.spares {
        for spare in spares {
            hosts::add_bot(
                &mut sim,
                scenario,
                spare.clone(),
                Vec::new(),
                Some(Some(region.clone())),
                guilds.clone(),
                shared.clone(),
            );
        }
    }
    // Every turmoil host. Discord's voice servers are not one: nothing is sent to them,
    // and turmoil steps every link of its full mesh on every tick, so a host costs the
    // whole run whether or not it talks. Whether a node reaches them is read from the
    // scenario's partitions (`cut_from_discord`).
    let mut all_hosts: Vec<String> = ["redis", "webhook", "controller"]
        .map(String::from)
        .to_vec();
    all_hosts.extend(scenario.all_nodes().map(|n| n.name.to_string()));
    all_hosts.extend(scenario.shards.processes.iter().map(ToString::to_string));
    all_hosts.extend(scenario.shards.all_spares().map(|(_, p)| p.to_string()));

    let mut injector = faults::Injector::new(&mut sim, scenario, seed, &shared, all_hosts);
    let mut next_sample_ms = SAMPLE_INTERVAL_MS;
    let mut oracle = Oracle::with_plans(
        scenario
            .topology
            .plans
            .iter()
            .map(|plan| (plan.name.clone(), plan.regions.clone()))
            .collect(),
    )
    .with_restoration(&scenario.controller.restoration);
    let mut trace_seen = 0;
    let mut series = Series::new(SAMPLE_INTERVAL_MS);
    let check_residency = true;
    loop {
        let now_ms = u64::try_from(sim.elapsed().as_millis()).unwrap_or(u64::MAX);
        injector.advance(&mut sim, scenario, &shared, now_ms)?;
        if now_ms >= next_sample_ms {
            let sample = sample(&mut sim, scenario, &shared, now_ms);
            {
                let shared = shared.lock().expect("no panics while locked");
                oracle.observe_commands(&shared.trace[trace_seen..]);
                trace_seen = shared.trace.len();
            }
            oracle.observe(&guilds, &sample, check_residency);
            series.record_counts(now_ms, &oracle.last_sample);
            series.record_players(now_ms, &sample.players_per_node);
            record_latencies(&mut series, &shared, now_ms);
            next_sample_ms += SAMPLE_INTERVAL_MS;
            progress(now_ms);
        }
        if now_ms >= scenario.duration_ms {
            break;
        }
        sim.step()
            .map_err(|e| format!("simulation failed at {now_ms} ms: {e}"))?;
    }
    oracle.finish(scenario.duration_ms);
    let injected = injector.finish();
    Ok(outcome(
        scenario, &guilds, &oracle, &shared, series, injected,
    ))
}

/// Records the controller's latest probe latency of each node it can reach.
fn record_latencies(series: &mut Series, shared: &Arc<Mutex<Shared>>, now_ms: u64) {
    let Some(controller) = shared
        .lock()
        .expect("no panics while locked")
        .controller
        .clone()
    else {
        return;
    };
    if !controller.is_running() {
        return;
    }
    for node in controller.view().nodes() {
        if node.status != switchyard_core::health::NodeStatus::Down
            && let Some(latency_ms) = node.latency_ms
        {
            series.record_latency(now_ms, node.node.as_str(), latency_ms);
        }
    }
}

fn cut_from_discord(scenario: &Scenario, node: &NodeId, now_ms: u64) -> bool {
    scenario
        .faults
        .iter()
        .filter(|f| f.is_active_at(now_ms))
        .any(|fault| match &fault.kind {
            crate::scenario::FaultKind::Partition { a, b, .. } => {
                let node_host = Host::Node(node.clone());
                (a.contains(&node_host) && b.contains(&Host::Discord))
                    || (b.contains(&node_host) && a.contains(&Host::Discord))
            }
            _ => false,
        })
}

fn sample(
    sim: &mut turmoil::Sim<'static>,
    scenario: &Scenario,
    shared: &Arc<Mutex<Shared>>,
    now_ms: u64,
) -> Sample {
    let mut reachable_nodes = BTreeSet::new();
    let mut node_regions = BTreeMap::new();
    for node in scenario.all_nodes() {
        node_regions.insert(node.name.clone(), node.region.clone());
        if sim.is_host_running(node.name.as_str())
            && !cut_from_discord(scenario, &node.name, now_ms)
        {
            reachable_nodes.insert(node.name.clone());
        }
    }
    let running: BTreeSet<ProcessId> = scenario
        .shards
        .processes
        .iter()
        .chain(scenario.shards.all_spares().map(|(_, p)| p))
        .filter(|p| sim.is_host_running(p.as_str()))
        .cloned()
        .collect();
    let shared = shared.lock().expect("no panics while locked");
    let running_nodes: Vec<(&NodeId, &EmulatorControl)> = shared
        .nodes
        .iter()
        .filter(|(name, _)| sim.is_host_running(name.as_str()))
        .collect();
    let mut truths = player_truths(&running_nodes);
    // By guild, each guild's players still in node order (a stable sort): the sorts
    // below, which want the same order, then find it almost done.
    truths.sort_by_key(|(_, truth)| truth.guild_id);
    let superseded = discord::superseded_connections(&truths);
    for (node, guild) in &superseded {
        shared.nodes[node].close_voice(
            Some(guild.0),
            discord::SUPERSEDED_CLOSE_CODE,
            discord::SUPERSEDED_REASON,
            true,
        );
    }
    let (audible, players) = locate_players(&truths, &reachable_nodes, &superseded);
    let players_per_node = count_players(&running_nodes, &players);
    let shard_owners = shard_owners(&shared, &running);
    Sample {
        at_ms: now_ms,
        audible,
        players,
        players_per_node,
        reachable_nodes,
        node_regions,
        shard_owners,
    }
}

/// Every player of the running nodes, node by node (in name order) as each node lists
/// them: what the node is doing right now.
fn player_truths<'a>(
    running_nodes: &[(&'a NodeId, &EmulatorControl)],
) -> Vec<(&'a NodeId, PlayerTruth)> {
    let mut truths = Vec::new();
    let mut node_truths = Vec::new();
    for (name, control) in running_nodes {
        node_truths.clear();
        control.player_truths(&mut node_truths);
        truths.extend(node_truths.iter().map(|truth| (*name, *truth)));
    }
    truths
}

/// The nodes where each guild is heard, and those where it has a live player.
fn locate_players(
    truths: &[(&NodeId, PlayerTruth)],
    reachable_nodes: &BTreeSet<NodeId>,
    superseded: &[(NodeId, GuildId)],
) -> (GuildNodes, GuildNodes) {
    // Usually empty; a set when it is not, as every player is looked up in it.
    let superseded: BTreeSet<(&NodeId, GuildId)> = superseded
        .iter()
        .map(|(node, guild)| (node, *guild))
        .collect();
    let mut audible = Vec::new();
    let mut players = Vec::new();
    for (name, player) in truths {
        let guild = GuildId(player.guild_id);
        if player.has_track {
            players.push((guild, (*name).clone()));
        }
        if !reachable_nodes.contains(*name) || superseded.contains(&(*name, guild)) {
            continue;
        }
        // Between two tracks a connected player has no track for a moment: nothing is
        // demanded then, so it counts as serving the guild.
        if player.audible || (player.voice_connected && !player.has_track) {
            audible.push((guild, (*name).clone()));
        }
    }
    (GuildNodes::new(audible), GuildNodes::new(players))
}

/// How many live players each running node holds.
fn count_players(
    running_nodes: &[(&NodeId, &EmulatorControl)],
    players: &GuildNodes,
) -> BTreeMap<String, u32> {
    let mut counts: BTreeMap<&NodeId, u32> =
        running_nodes.iter().map(|(name, _)| (*name, 0)).collect();
    for (_, node) in players.iter() {
        *counts.entry(node).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(node, count)| (node.to_string(), count))
        .collect()
}

/// Shards with live, acting owners among the running, unstalled bots, and how many.
fn shard_owners(shared: &Shared, running: &BTreeSet<ProcessId>) -> BTreeMap<ShardId, usize> {
    let mut shard_owners: BTreeMap<ShardId, usize> = BTreeMap::new();
    for (process, bot) in &shared.bots {
        if !running.contains(process) || bot.state().is_stalled() {
            continue;
        }
        for (shard, _) in bot.state().owned_shards() {
            if bot.state().shard(shard).is_some_and(|s| s.is_acting()) {
                *shard_owners.entry(shard).or_default() += 1;
            }
        }
    }
    shard_owners
}

fn outcome(
    scenario: &Scenario,
    guilds: &[workload::GuildPlan],
    oracle: &Oracle,
    shared: &Arc<Mutex<Shared>>,
    series: Series,
    (fault_events, operator): (Vec<FaultEvent>, Vec<OperatorOutcome>),
) -> RunOutcome {
    let shared = shared.lock().expect("no panics while locked");
    let incidents = incidents::incidents(scenario, oracle, &shared.trace);
    let alerts = shared
        .alerts
        .iter()
        .map(|(at, body)| ReceivedAlert {
            at_ms: at.as_ms(),
            key: body["dedup_key"].as_str().unwrap_or_default().to_owned(),
            action: body["action"].as_str().unwrap_or_default().to_owned(),
            severity: body["severity"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    let trace = shared
        .trace
        .iter()
        .map(|(at, command)| {
            format!(
                "{} {}\n",
                at.as_ms(),
                serde_json::to_string(command).unwrap_or_default()
            )
        })
        .collect();
    RunOutcome {
        duration_ms: scenario.duration_ms,
        guilds: guilds.len(),
        incidents,
        availability: oracle.overall.ratio(),
        availability_by_region: oracle
            .by_region
            .iter()
            .map(|(r, a)| (r.to_string(), a.ratio()))
            .collect(),
        samples: std::iter::once(("overall".to_owned(), oracle.overall))
            .chain(oracle.by_region.iter().map(|(r, a)| (r.to_string(), *a)))
            .collect(),
        availability_by_plan: oracle
            .by_plan
            .iter()
            .map(|(p, a)| (p.to_string(), a.ratio()))
            .collect(),
        plan_samples: oracle
            .by_plan
            .iter()
            .map(|(p, a)| (p.to_string(), *a))
            .collect(),
        violations: oracle.violations.clone(),
        alerts,
        trace,
        series,
        fault_events,
        operator,
    }
}
