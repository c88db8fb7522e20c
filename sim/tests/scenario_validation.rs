//! Raw -> validated: what a valid file becomes, and where each kind of mistake is
//! reported (line, column and field of the offending value).

use switchyard_core::alerts::AlertSubject;
use switchyard_core::ids::{NodeId, ProcessId, RegionId, ShardId};
use switchyard_sim::scenario::{self, FaultKind, Host, Invariant, LinkTarget, ScenarioErrors};

const BASE: &str = r#"name = "tiny"
description = "A small scenario for validation tests."
seed = 1
duration = "10m"
tick = "10ms"

[topology]
[[topology.regions]]
name = "us"
priority = 10
[[topology.regions]]
name = "eu"
priority = 8
[[topology.nodes]]
name = "us-1"
region = "us"
capacity = 100
[[topology.nodes]]
name = "eu-1"
region = "eu"
capacity = 100
[[topology.plans]]
name = "free"
regions = ["us"]
[[topology.plans]]
name = "growth"
regions = ["us", "eu"]

[workload]
guilds = 100
playing = 0.9
start_within = "30s"
plans = { free = 0.5, growth = 0.5 }
regions = { us = 0.6, eu = 0.4 }
residency = { eu = 0.1 }

[shards]
count = 4
processes = 2
spares = { us = 1 }
heartbeat_interval = "2s"

[controller.health]
probe_interval_ms = 1000
rise = 2

[[faults]]
at = "1m"
kind = "node_kill"
node = "us-1"
duration = "2m"

[[faults]]
at = "5m"
kind = "partition"
a = ["controller"]
b = ["region:eu"]
duration = "1m"

[expect]
rto_max = "30s"
availability_min = 0.999
alerts = [ { key = "switchyard/node-down/us-1", within = "20s" } ]
invariants = "all"
"#;

fn errors(text: &str) -> ScenarioErrors {
    match scenario::parse("tiny.toml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors,
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[test]
fn the_base_scenario_validates_into_checked_types() {
    let s = scenario::parse("tiny.toml", BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.duration_ms, s.tick_ms, s.seed), (600_000, 10, 1));
    assert_eq!(s.topology.shard_count, 4, "taken from [shards].count");
    assert_eq!(s.workload.start_within_ms, 30_000);
    assert_eq!(s.workload.plans.len(), 2);
    assert_eq!(s.workload.track_length_ms.min_ms, 180_000, "the default");
    assert_eq!(s.controller.health.rise, 2);
    assert_eq!(s.controller.health.fall, 3, "defaults fill the rest");
    assert_eq!(
        s.shards.processes,
        [ProcessId::new("bot-0"), ProcessId::new("bot-1")]
    );
    assert_eq!(s.shards.initial_owner(ShardId(3)), &ProcessId::new("bot-1"));
    assert_eq!(
        s.shards.initial_shards_of(&ProcessId::new("bot-0")).count(),
        2
    );
    assert_eq!(
        s.shards.spares[&RegionId::new("us")],
        [ProcessId::new("spare-us-0")]
    );

    let kill = s.faults.get(0).expect("fault 0");
    assert_eq!((kill.at_ms, kill.until_ms), (60_000, Some(180_000)));
    assert_eq!(
        kill.kind,
        FaultKind::NodeKill {
            node: NodeId::new("us-1")
        }
    );
    assert!(kill.is_active_at(60_000) && !kill.is_active_at(180_000));
    let partition = s.faults.get(1).expect("fault 1");
    assert_eq!(
        partition.kind,
        FaultKind::Partition {
            a: vec![Host::Controller],
            b: vec![Host::Node(NodeId::new("eu-1"))],
            oneway: false,
        }
    );

    assert_eq!(s.expect.rto_max_ms, Some(30_000));
    let alert = &s.expect.alerts[0];
    assert_eq!((alert.after_fault, alert.deadline_ms), (0, 80_000));
    assert_eq!(
        alert.subject,
        AlertSubject::NodeDown {
            node: NodeId::new("us-1"),
            region: RegionId::new("us")
        }
    );
    assert_eq!(s.expect.invariants.len(), Invariant::ALL.len());
}

#[test]
fn every_fault_kind_parses() {
    let faults = r#"
[[faults]]
at = "10s"
kind = "node_join"
node = "eu-2"
region = "eu"
capacity = 50

[[faults]]
at = "20s"
kind = "node_restart"
node = "eu-2"
downtime = "30s"

[[faults]]
at = "1m"
kind = "latency"
links = [["controller", "region:eu"]]
latency = "100ms"
jitter = "20ms"
duration = "1m"

[[faults]]
at = "1m"
kind = "message_loss"
hosts = ["redis", "bot-1"]
rate = 0.2
duration = "1m"

[[faults]]
at = "2m"
kind = "node_slow"
node = "us-1"
cpu_load = 0.95
deficit = 600
response_latency = "300ms"

[[faults]]
at = "2m"
kind = "node_flapping"
node = "us-1"
period = "20s"
duration = "2m"

[[faults]]
at = "3m"
kind = "shard_stall"
shard = 1

[[faults]]
at = "3m"
kind = "shard_kill"
shard = 3
duration = "1m"

[[faults]]
at = "4m"
kind = "redis_outage"
duration = "30s"

[[faults]]
at = "4m"
kind = "webhook_outage"
status = 503
duration = "30s"

[[faults]]
at = "4m30s"
kind = "webhook_outage"
status = "drop"

[[faults]]
at = "5m"
kind = "webhook_outage"
rate_limit = true
duration = "1m"

[[faults]]
at = "6m"
kind = "controller_crash"

[[faults]]
at = "6m"
kind = "node_drain"
node = "eu-1"
duration = "1m"

[[faults]]
at = "7m"
kind = "rolling_restart"
region = "eu"
every = "1m"
downtime = "20s"

[[faults]]
at = "9m"
kind = "region_outage"
region = "eu"

[[faults]]
at = "9m30s"
kind = "node_leave"
node = "us-1"
"#;
    let (head, _) = BASE.split_once("[[faults]]").expect("base has faults");
    let (_, expect) = BASE.split_once("[expect]").expect("base has expectations");
    let text = format!("{head}{faults}\n[expect]{expect}");
    let s = scenario::parse("tiny.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = s.faults.iter().map(|f| f.kind.name()).collect();
    assert_eq!(kinds.len(), 17, "{kinds:?}");
    let latency = s.faults.get(2).expect("latency");
    let FaultKind::Latency { target, .. } = &latency.kind else {
        panic!("{latency:?}");
    };
    // `region:eu` at 1m includes eu-2, which joined at 10s.
    assert_eq!(
        *target,
        LinkTarget::Links(vec![
            (Host::Controller, Host::Node(NodeId::new("eu-1"))),
            (Host::Controller, Host::Node(NodeId::new("eu-2"))),
        ])
    );
    let restart = s.faults.get(1).expect("restart");
    assert_eq!(restart.until_ms, Some(50_000));
    let shard_kill = s.faults.get(7).expect("shard kill");
    assert!(
        matches!(&shard_kill.kind, FaultKind::ShardKill { owner, .. } if owner.as_str() == "bot-1")
    );
    let rolling = s.faults.get(14).expect("rolling restart");
    // Two EU nodes: restarts at 7m and 8m, the last back 20 s later.
    assert_eq!(rolling.until_ms, Some(8 * 60_000 + 20_000));
    assert_eq!(s.faults.get(15).expect("outage").until_ms, None);
    let leave = s.faults.get(16).expect("leave");
    assert_eq!(leave.until_ms, None, "an instant");
    assert!(
        !s.topology_at(10 * 60_000)
            .nodes
            .iter()
            .any(|n| n.name.as_str() == "us-1"),
        "a controller starting after the leave is not configured with it"
    );
    assert_eq!(s.faults.by_start()[0].kind.name(), "node_join");
}

/// One broken variant of BASE: replace `from` with `to`, then expect an error whose
/// position is that of the `nth` occurrence of `needle` (0-based) plus `shift`
/// characters, at `field`, with a message containing `message`.
struct Case {
    what: &'static str,
    from: &'static str,
    to: &'static str,
    needle: &'static str,
    nth: usize,
    shift: usize,
    field: &'static str,
    message: &'static str,
}

const fn case(
    what: &'static str,
    from: &'static str,
    to: &'static str,
    needle: &'static str,
    field: &'static str,
    message: &'static str,
) -> Case {
    Case {
        what,
        from,
        to,
        needle,
        nth: 0,
        shift: 0,
        field,
        message,
    }
}

const CASES: &[Case] = &[
    Case {
        nth: 0,
        shift: 7,
        ..case(
            "syntax error",
            "seed = 1",
            "seed = = 1",
            "seed = = 1",
            "",
            "",
        )
    },
    case(
        "unknown field",
        "rise = 2",
        "rsie = 2",
        "rsie",
        "controller.health.rsie",
        "unknown field `rsie`",
    ),
    case(
        "unknown top-level field",
        "seed = 1",
        "seed = 1\nsead = 2",
        "sead",
        "sead",
        "unknown field `sead`",
    ),
    case(
        "unknown node in a fault",
        "node = \"us-1\"",
        "node = \"eu-9\"",
        "\"eu-9\"",
        "faults[0].node",
        "unknown node \"eu-9\" (known: us-1, eu-1)",
    ),
    case(
        "shares not summing to 1",
        "{ free = 0.5, growth = 0.5 }",
        "{ free = 0.5, growth = 0.4 }",
        "{ free",
        "workload.plans",
        "shares must sum to 1, they sum to 0.9",
    ),
    case(
        "unknown plan in the workload",
        "{ free = 0.5, growth = 0.5 }",
        "{ free = 0.5, gold = 0.5 }",
        "gold",
        "workload.plans.gold",
        "unknown plan \"gold\" (known: free, growth)",
    ),
    case(
        "fault past the end of the run",
        "duration = \"2m\"",
        "duration = \"12m\"",
        "\"12m\"",
        "faults[0].duration",
        "past the end of the run (10m)",
    ),
    case(
        "fault starting after the run",
        "at = \"5m\"",
        "at = \"11m\"",
        "\"11m\"",
        "faults[1].at",
        "when the run (10m) is over",
    ),
    case(
        "bad duration string",
        "start_within = \"30s\"",
        "start_within = \"30 sec\"",
        "\"30 sec\"",
        "workload.start_within",
        "bad duration \"30 sec\"",
    ),
    case(
        "duration as a bare number",
        "tick = \"10ms\"",
        "tick = 10",
        "10\n",
        "tick",
        "expected a duration like",
    ),
    Case {
        shift: 7,
        ..case(
            "bad controller value",
            "rise = 2",
            "rise = 0",
            "rise = 0",
            "controller.health.rise",
            "must be greater than zero",
        )
    },
    case(
        "topology error mapped to its line",
        "regions = [\"us\", \"eu\"]",
        "regions = [\"us\", \"mars\"]",
        "\"mars\"",
        "topology.plans[1].regions[1]",
        "unknown region `mars`",
    ),
    case(
        "node capacity zero",
        "capacity = 100\n[[topology.nodes]]",
        "capacity = 0\n[[topology.nodes]]",
        "0\n[[topology.nodes]]",
        "topology.nodes[0].capacity",
        "must be greater than zero",
    ),
    case(
        "shard count written in the topology",
        "[topology]\n",
        "[topology]\nshard_count = 4\n",
        "4\n[[topology.regions]]",
        "topology.shard_count",
        "the shard count is `shards.count`",
    ),
    case(
        "unknown fault kind",
        "kind = \"node_kill\"",
        "kind = \"node_kil\"",
        "\"node_kil\"",
        "faults[0].kind",
        "unknown variant `node_kil`",
    ),
    case(
        "a leave lasts no time",
        "kind = \"node_kill\"\nnode = \"us-1\"\nduration = \"2m\"",
        "kind = \"node_leave\"\nnode = \"us-1\"\nduration = \"2m\"",
        "\"2m\"\n\n",
        "faults[0].duration",
        "`node_leave` takes no `duration` (it takes: node)",
    ),
    case(
        "parameter another kind takes",
        "node = \"us-1\"\n",
        "node = \"us-1\"\nregion = \"eu\"\n",
        "\"eu\"\nduration",
        "faults[0].region",
        "`node_kill` takes no `region` (it takes: node, duration)",
    ),
    Case {
        nth: 1,
        ..case(
            "partition without a duration",
            "b = [\"region:eu\"]\nduration = \"1m\"\n",
            "b = [\"region:eu\"]\n",
            "[[faults]]",
            "faults[1]",
            "`partition` needs `duration`",
        )
    },
    case(
        "partition host of an unknown region",
        "b = [\"region:eu\"]",
        "b = [\"region:mars\"]",
        "\"region:mars\"",
        "faults[1].b[0]",
        "unknown region \"mars\"",
    ),
    Case {
        nth: 1,
        ..case(
            "host on both sides of a partition",
            "b = [\"region:eu\"]",
            "b = [\"region:eu\", \"controller\"]",
            "\"controller\"]",
            "faults[1].b[1]",
            "host \"controller\" is on both sides",
        )
    },
    case(
        "discord cut from something other than nodes",
        "b = [\"region:eu\"]",
        "b = [\"discord\"]",
        "[\"controller\"]",
        "faults[1].a",
        "\"discord\" can only be cut from nodes (only they send it audio), not from \"controller\"",
    ),
    case(
        "fault start off the tick",
        "at = \"1m\"",
        "at = \"60005ms\"",
        "\"60005ms\"",
        "faults[0].at",
        "not a whole number of ticks",
    ),
    case(
        "alert key naming an unknown node",
        "switchyard/node-down/us-1",
        "switchyard/node-down/us-9",
        "\"switchyard/node-down/us-9\"",
        "expect.alerts[0].key",
        "unknown node \"us-9\"",
    ),
    case(
        "malformed alert key",
        "switchyard/node-down/us-1",
        "node-down/us-1",
        "\"node-down/us-1\"",
        "expect.alerts[0].key",
        "alert keys start with \"switchyard/\"",
    ),
    Case {
        shift: 8,
        ..case(
            "alert after a fault that does not exist",
            "within = \"20s\" }",
            "within = \"20s\", after = 5 }",
            "after = 5",
            "expect.alerts[0].after",
            "there is no fault 5",
        )
    },
    case(
        "unknown invariant",
        "invariants = \"all\"",
        "invariants = [\"residency\", \"teleport\"]",
        "\"teleport\"",
        "expect.invariants[1]",
        "unknown invariant \"teleport\"",
    ),
    case(
        "availability out of range",
        "availability_min = 0.999",
        "availability_min = 99.9",
        "99.9",
        "expect.availability_min",
        "must be between 0 and 1",
    ),
    case(
        "residency in an unknown region",
        "residency = { eu = 0.1 }",
        "residency = { mars = 0.1 }",
        "mars",
        "workload.residency.mars",
        "unknown region \"mars\" (known: us, eu)",
    ),
    case(
        "no shards",
        "count = 4",
        "count = 0",
        "0\nprocesses",
        "shards.count",
        "must be between 1 and",
    ),
    case(
        "heartbeats slower than the stall threshold",
        "heartbeat_interval = \"2s\"",
        "heartbeat_interval = \"20s\"",
        "\"20s\"",
        "shards.heartbeat_interval",
        "must be shorter than `controller.shards.stall_after_ms` (15s)",
    ),
    case(
        "shard out of range",
        "kind = \"node_kill\"\nnode = \"us-1\"",
        "kind = \"shard_stall\"\nshard = 4",
        "4\nduration",
        "faults[0].shard",
        "shard 4 is out of range (the bot runs 4 shards, 0..=3)",
    ),
    case(
        "wrong type",
        "guilds = 100",
        "guilds = \"many\"",
        "\"many\"",
        "workload.guilds",
        "invalid type: string \"many\"",
    ),
];

#[test]
fn each_mistake_is_reported_at_its_value() {
    let mut failures = Vec::new();
    for case in CASES {
        assert!(
            BASE.contains(case.from),
            "{}: BASE lacks {:?}",
            case.what,
            case.from
        );
        let text = BASE.replacen(case.from, case.to, 1);
        let offset = text
            .match_indices(case.needle)
            .nth(case.nth)
            .unwrap_or_else(|| panic!("{}: no {:?} in the text", case.what, case.needle))
            .0;
        let (line, column) = line_column(&text, offset + case.shift);
        let found = errors(&text);
        let matched = found.iter().any(|e| {
            e.line == line
                && e.column == column
                && e.field == case.field
                && e.message.contains(case.message)
        });
        if !matched {
            failures.push(format!(
                "{}: expected {line}:{column}: {}: ...{}...\n  got:\n    {}",
                case.what,
                case.field,
                case.message,
                found.to_string().replace('\n', "\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn display_names_file_line_column_and_field() {
    let text = BASE.replacen("node = \"us-1\"", "node = \"eu-9\"", 1);
    let errors = errors(&text);
    let (line, _) = line_column(&text, text.find("\"eu-9\"").expect("present"));
    assert_eq!(
        errors.to_string(),
        format!("tiny.toml:{line}:8: faults[0].node: unknown node \"eu-9\" (known: us-1, eu-1)")
    );
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = BASE
        .replacen("guilds = 100", "guilds = 0", 1)
        .replacen("node = \"us-1\"", "node = \"eu-9\"", 1)
        .replacen("rto_max = \"30s\"", "rto_max = \"0s\"", 1);
    let errors = errors(&text);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["workload.guilds", "faults[0].node", "expect.rto_max"],
        "{errors}"
    );
    assert_eq!(errors.to_string().lines().count(), 3);
}
