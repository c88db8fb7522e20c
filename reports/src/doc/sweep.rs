//! The document of a sweep: how many seeds passed, RTO percentiles across them, and
//! every seed worst first with the command that replays it.

use super::{Block, Cell, Document, Section, Table, code, text};
use crate::format::{millis_or, percent};
use crate::sweep::{RtoStats, SeedResult, SweepReport, SweepSummary};

/// The sweep's report.
pub(crate) fn document(sweep: &SweepReport, summary: &SweepSummary) -> Document {
    Document {
        title: format!(
            "Switchyard sweep: {} ({} seeds)",
            sweep.scenario, summary.seeds_total
        ),
        passed: summary.seeds_failed == 0,
        sections: vec![
            overview(sweep, summary),
            Section {
                heading: "RTO across seeds".to_owned(),
                blocks: vec![
                    Block::Text(
                        "Percentiles over every recovered incident of every seed, from an \
                         HDR histogram (3 significant digits)."
                            .to_owned(),
                    ),
                    Block::Table(rto(&summary.rto)),
                ],
            },
            Section {
                heading: "Seeds, worst first".to_owned(),
                blocks: vec![Block::Table(seeds(&sweep.worst_first()))],
            },
            Section {
                heading: "Charts".to_owned(),
                blocks: vec![Block::Charts],
            },
        ],
    }
}

fn overview(sweep: &SweepReport, summary: &SweepSummary) -> Section {
    let facts = vec![
        vec![text("Scenario"), text(&sweep.scenario)],
        vec![text("Scenario file"), code(&sweep.scenario_path)],
        vec![text("Switchyard version"), text(&sweep.versions.switchyard)],
        vec![text("Seeds"), text(summary.seeds_total.to_string())],
        vec![text("Passed"), text(summary.seeds_passed.to_string())],
        vec![text("Failed"), text(summary.seeds_failed.to_string())],
        vec![text("Result"), Cell::Verdict(summary.seeds_failed == 0)],
    ];
    let mut blocks = Vec::new();
    if !sweep.description.is_empty() {
        blocks.push(Block::Text(sweep.description.clone()));
    }
    blocks.push(Block::Table(Table::new(vec!["Field", "Value"], facts, "")));
    Section {
        heading: "Overview".to_owned(),
        blocks,
    }
}

fn rto(stats: &RtoStats) -> Table {
    let row = vec![
        text(stats.recovered_incidents.to_string()),
        text(stats.unrecovered_incidents.to_string()),
        text(millis_or(stats.p50_ms, "n/a")),
        text(millis_or(stats.p90_ms, "n/a")),
        text(millis_or(stats.p99_ms, "n/a")),
        text(millis_or(stats.max_ms, "n/a")),
    ];
    Table::new(
        vec!["Recovered", "Unrecovered", "p50", "p90", "p99", "max"],
        vec![row],
        "",
    )
}

fn seeds(worst_first: &[&SeedResult]) -> Table {
    let rows = worst_first
        .iter()
        .map(|seed| {
            vec![
                text(seed.seed.to_string()),
                Cell::Verdict(seed.passed),
                text(percent(seed.availability)),
                text(millis_or(seed.rto_max_ms(), "n/a")),
                text(seed.unrecovered().to_string()),
                text(seed.violations.to_string()),
                text(failed_expectations(seed)),
                code(&seed.replay_command),
            ]
        })
        .collect();
    Table::new(
        vec![
            "Seed",
            "Result",
            "Availability",
            "Worst RTO",
            "Unrecovered",
            "Violations",
            "Failed expectations",
            "Replay",
        ],
        rows,
        "No seeds ran.",
    )
}

/// `name: measured (threshold T)` for each failed expectation, or `none`.
pub(crate) fn failed_expectations(seed: &SeedResult) -> String {
    let failed: Vec<String> = seed
        .failed_expectations()
        .map(|e| {
            format!(
                "{}: measured {} (threshold {})",
                e.name, e.measured, e.threshold
            )
        })
        .collect();
    if failed.is_empty() {
        "none".to_owned()
    } else {
        failed.join("; ")
    }
}
