//! Turns a run's outcome into the report model of `switchyard-reports`.

use std::path::Path;

use switchyard_reports::{
    AlertReport, AvailabilityReport, ExpectationReport, FaultWindow, IncidentReport, Measure,
    Ratio, RunReport, TimeSeries, Verdict as ReportVerdict, Versions, ViolationReport,
};
use switchyard_sim::scenario::{FaultKind, Host, LinkTarget, Scenario};
use switchyard_sim::world::RunOutcome;
use switchyard_sim::world::oracle::Availability;

use super::run::Verdict;

/// Everything about one run a report shows.
pub struct RunFacts<'a> {
    /// The scenario run.
    pub scenario: &'a Scenario,
    /// Where it was read from.
    pub path: &'a Path,
    /// The seed.
    pub seed: u64,
    /// Wall-clock time the run took.
    pub wall_ms: u64,
    /// What the oracle measured.
    pub outcome: &'a RunOutcome,
    /// Each expectation's verdict.
    pub verdicts: &'a [Verdict],
    /// The command that replays the run.
    pub replay: &'a str,
}

fn ratio(counts: Option<&Availability>) -> Ratio {
    counts.map_or(Ratio::from_counts(0, 0), |c| {
        Ratio::from_counts(c.served, c.demanded)
    })
}

fn hosts(hosts: &[Host]) -> String {
    hosts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn links(target: &LinkTarget) -> String {
    match target {
        LinkTarget::Hosts(list) => hosts(list),
        LinkTarget::Links(pairs) => pairs
            .iter()
            .map(|(a, b)| format!("{a}<->{b}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// What a fault is aimed at, in a few words.
pub fn fault_target(kind: &FaultKind) -> String {
    match kind {
        FaultKind::NodeKill { node }
        | FaultKind::NodeRestart { node }
        | FaultKind::NodeSlow { node, .. }
        | FaultKind::NodeFlapping { node, .. }
        | FaultKind::NodeDrain { node }
        | FaultKind::NodeLeave { node } => node.to_string(),
        FaultKind::RegionOutage { region, .. } => format!("region {region}"),
        FaultKind::Partition { a, b, oneway } => {
            let arrow = if *oneway { "->" } else { "<->" };
            format!("[{}] {arrow} [{}]", hosts(a), hosts(b))
        }
        FaultKind::Latency { target, .. } | FaultKind::MessageLoss { target, .. } => links(target),
        FaultKind::ShardStall { shard } => format!("shard {shard}"),
        FaultKind::ShardKill { shard, owner } => format!("shard {shard} ({owner})"),
        FaultKind::RedisOutage => "redis".into(),
        FaultKind::WebhookOutage { .. } => "webhook".into(),
        FaultKind::ControllerCrash => "controller".into(),
        FaultKind::NodeJoin { spec } => spec.name.to_string(),
        other => other.name().to_owned(),
    }
}

fn expectation(verdict: &Verdict) -> ExpectationReport {
    ExpectationReport {
        name: verdict.expectation.clone(),
        threshold: Measure::Text(verdict.threshold.clone()),
        measured: Measure::Text(verdict.measured.clone()),
        verdict: if verdict.passed {
            ReportVerdict::Pass
        } else {
            ReportVerdict::Fail
        },
    }
}

/// The report of one run.
pub fn run_report(facts: &RunFacts<'_>) -> RunReport {
    let RunFacts {
        scenario, outcome, ..
    } = facts;
    let incidents = outcome
        .incidents
        .iter()
        .map(|incident| IncidentReport {
            fault: incident.fault,
            kind: incident.kind.clone(),
            target: match &incident.node {
                Some(node) => node.to_string(),
                None => scenario
                    .faults
                    .get(incident.fault)
                    .map(|f| fault_target(&f.kind))
                    .unwrap_or_default(),
            },
            at_ms: incident.at_ms,
            detected_at_ms: incident.detected_at_ms,
            first_recovery_ms: incident.recovery.first_recovery_ms,
            last_recovery_ms: incident.recovery.last_recovery_ms,
            rto_ms: incident.rto_ms,
            players_moved: incident.players_moved,
        })
        .collect();
    let fault_windows = scenario
        .faults
        .iter()
        .map(|fault| FaultWindow {
            label: format!("faults[{}] {}", fault.index, fault.kind.name()),
            start_ms: fault.at_ms,
            end_ms: fault.until_ms.unwrap_or(outcome.duration_ms),
        })
        .collect();
    let series = &outcome.series;
    let passed = facts.verdicts.iter().all(|v| v.passed);
    RunReport {
        scenario: scenario.name.clone(),
        scenario_path: facts.path.display().to_string(),
        description: scenario.description.clone(),
        seed: facts.seed,
        versions: Versions {
            switchyard: env!("CARGO_PKG_VERSION").to_owned(),
        },
        duration_ms: outcome.duration_ms,
        wall_ms: facts.wall_ms,
        guilds: outcome.guilds as u64,
        replay_command: facts.replay.to_owned(),
        incidents,
        availability: AvailabilityReport {
            overall: ratio(outcome.samples.get("overall")),
            by_region: outcome
                .availability_by_region
                .keys()
                .map(|region| (region.clone(), ratio(outcome.samples.get(region))))
                .collect(),
            by_plan: outcome
                .plan_samples
                .iter()
                .map(|(plan, counts)| (plan.clone(), ratio(Some(counts))))
                .collect(),
        },
        violations: outcome
            .violations
            .iter()
            .map(|v| ViolationReport {
                at_ms: v.at_ms,
                invariant: v.invariant.clone(),
                detail: v.detail.clone(),
            })
            .collect(),
        alerts: outcome
            .alerts
            .iter()
            .map(|a| AlertReport {
                at_ms: a.at_ms,
                key: a.key.clone(),
                action: a.action.clone(),
                severity: a.severity.clone(),
            })
            .collect(),
        expectations: facts.verdicts.iter().map(expectation).collect(),
        passed,
        series: TimeSeries {
            sample_interval_ms: series.sample_interval_ms,
            fault_windows,
            availability_by_region: series.availability_by_region.clone(),
            served_demanded: series.served_demanded.clone(),
            players_per_node: series.players_per_node.clone(),
            probe_latency_ms_by_node: series.probe_latency_ms_by_node.clone(),
        },
    }
}
