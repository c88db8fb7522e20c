//! The document of one run.

use super::{Block, Cell, Document, Section, Table, code, text};
use crate::format::{millis_or, percent, seconds, seconds_or};
use crate::model::{AvailabilityReport, RunReport, Verdict};

/// The run's report: overview, expectations, incidents, availability, violations,
/// alerts and charts.
pub(crate) fn document(run: &RunReport) -> Document {
    Document {
        title: format!("Switchyard run: {} (seed {})", run.scenario, run.seed),
        passed: run.passed,
        sections: vec![
            overview(run),
            Section {
                heading: "Expectations".to_owned(),
                blocks: vec![Block::Table(expectations(run))],
            },
            Section {
                heading: "Incidents".to_owned(),
                blocks: vec![Block::Table(incidents(run))],
            },
            Section {
                heading: "Availability".to_owned(),
                blocks: vec![Block::Table(availability(&run.availability))],
            },
            Section {
                heading: "Invariant violations".to_owned(),
                blocks: vec![Block::Table(violations(run))],
            },
            Section {
                heading: "Alerts received".to_owned(),
                blocks: vec![Block::Table(alerts(run))],
            },
            Section {
                heading: "Charts".to_owned(),
                blocks: vec![Block::Charts],
            },
        ],
    }
}

fn overview(run: &RunReport) -> Section {
    let facts = vec![
        vec![text("Scenario"), text(&run.scenario)],
        vec![text("Scenario file"), code(&run.scenario_path)],
        vec![text("Seed"), text(run.seed.to_string())],
        vec![text("Switchyard version"), text(&run.versions.switchyard)],
        vec![text("Simulated time"), text(seconds(run.duration_ms))],
        vec![text("Wall time"), text(seconds(run.wall_ms))],
        vec![text("Guilds"), text(run.guilds.to_string())],
        vec![
            text("Availability"),
            text(percent(run.availability.overall.ratio)),
        ],
        vec![text("Result"), Cell::Verdict(run.passed)],
    ];
    let mut blocks = Vec::new();
    if !run.description.is_empty() {
        blocks.push(Block::Text(run.description.clone()));
    }
    blocks.push(Block::Table(Table::new(vec!["Field", "Value"], facts, "")));
    blocks.push(Block::Text("Replay this run with:".to_owned()));
    blocks.push(Block::Command(run.replay_command.clone()));
    Section {
        heading: "Overview".to_owned(),
        blocks,
    }
}

fn expectations(run: &RunReport) -> Table {
    let rows = run
        .expectations
        .iter()
        .map(|e| {
            vec![
                code(&e.name),
                text(e.threshold.to_string()),
                text(e.measured.to_string()),
                Cell::Verdict(e.verdict == Verdict::Pass),
            ]
        })
        .collect();
    Table::new(
        vec!["Expectation", "Threshold", "Measured", "Verdict"],
        rows,
        "The scenario states no expectations.",
    )
}

fn incidents(run: &RunReport) -> Table {
    let rows = run
        .incidents
        .iter()
        .map(|i| {
            vec![
                text(i.fault.to_string()),
                code(&i.kind),
                text(&i.target),
                text(seconds(i.at_ms)),
                text(seconds_or(i.detected_at_ms, "not detected")),
                text(seconds_or(i.first_recovery_ms, "none")),
                text(seconds_or(i.last_recovery_ms, "none")),
                text(millis_or(i.rto_ms, "never recovered")),
                text(i.players_moved.to_string()),
            ]
        })
        .collect();
    Table::new(
        vec![
            "Fault",
            "Kind",
            "Target",
            "Injected",
            "Detected",
            "First recovery",
            "Last recovery",
            "RTO",
            "Players moved",
        ],
        rows,
        "No faults were injected.",
    )
}

/// Overall first, then regions, then plans, each labelled with its scope.
pub(crate) fn availability(availability: &AvailabilityReport) -> Table {
    let scoped = std::iter::once(("overall".to_owned(), &availability.overall))
        .chain(
            availability
                .by_region
                .iter()
                .map(|(r, a)| (format!("region {r}"), a)),
        )
        .chain(
            availability
                .by_plan
                .iter()
                .map(|(p, a)| (format!("plan {p}"), a)),
        );
    let rows = scoped
        .map(|(scope, ratio)| {
            vec![
                text(scope),
                text(ratio.served.to_string()),
                text(ratio.demanded.to_string()),
                text(percent(ratio.ratio)),
            ]
        })
        .collect();
    Table::new(
        vec![
            "Scope",
            "Served samples",
            "Demanded samples",
            "Availability",
        ],
        rows,
        "",
    )
}

fn violations(run: &RunReport) -> Table {
    let rows = run
        .violations
        .iter()
        .map(|v| vec![text(seconds(v.at_ms)), code(&v.invariant), text(&v.detail)])
        .collect();
    Table::new(vec!["At", "Invariant", "Detail"], rows, "None.")
}

fn alerts(run: &RunReport) -> Table {
    let rows = run
        .alerts
        .iter()
        .map(|a| {
            vec![
                text(seconds(a.at_ms)),
                code(&a.key),
                text(&a.action),
                text(&a.severity),
            ]
        })
        .collect();
    Table::new(vec!["At", "Key", "Action", "Severity"], rows, "None.")
}
