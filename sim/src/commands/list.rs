//! `sim list [DIR]`: a table of the scenarios in a directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use switchyard_sim::exit_codes::{INVALID_INPUT, SUCCESS, exit};
use switchyard_sim::scenario::{self, Expectations, FaultSchedule, Invariant, Scenario, format_ms};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Directory holding `*.toml` scenario files.
    #[arg(default_value = "scenarios", value_name = "DIR")]
    dir: PathBuf,
}

const HEADER: [&str; 5] = ["NAME", "DURATION", "FAULTS", "EXPECTATIONS", "DESCRIPTION"];

/// Lists every scenario; a file that does not validate is listed as invalid and its
/// problems printed after the table, and the exit code is 2.
pub fn exec(args: ListArgs) -> ExitCode {
    let files = match scenario::files_in(&args.dir) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("{}: cannot read directory: {error}", args.dir.display());
            return exit(INVALID_INPUT);
        }
    };
    if files.is_empty() {
        println!("no scenarios (*.toml) in {}", args.dir.display());
        return exit(SUCCESS);
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        match scenario::load(file) {
            Ok(scenario) => rows.push(row(&scenario)),
            Err(error) => {
                rows.push(invalid_row(file));
                problems.push(error.to_string());
            }
        }
    }
    print_table(&rows);
    for problem in &problems {
        eprintln!("{problem}");
    }
    exit(if problems.is_empty() {
        SUCCESS
    } else {
        INVALID_INPUT
    })
}

fn row(scenario: &Scenario) -> [String; 5] {
    [
        scenario.name.clone(),
        format_ms(scenario.duration_ms),
        faults(&scenario.faults),
        expectations(&scenario.expect),
        scenario.description.clone(),
    ]
}

fn invalid_row(file: &Path) -> [String; 5] {
    let stem = file.file_stem().map_or_else(
        || file.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let dash = || "-".to_owned();
    [
        stem,
        dash(),
        dash(),
        dash(),
        "INVALID (errors below)".to_owned(),
    ]
}

/// `region_outage`, `node_kill, node_restart`, `partition x2`.
fn faults(schedule: &FaultSchedule) -> String {
    if schedule.is_empty() {
        return "none".to_owned();
    }
    // File order of first appearance, so the summary reads like the file.
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for fault in schedule.iter() {
        let name = fault.kind.name();
        match kinds.iter_mut().find(|(kind, _)| *kind == name) {
            Some((_, count)) => *count += 1,
            None => kinds.push((name, 1)),
        }
    }
    kinds
        .iter()
        .map(|(kind, count)| match count {
            1 => (*kind).to_owned(),
            n => format!("{kind} x{n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rto<=30s avail>=99.9% eu>=90% alerts:2 invariants:all`.
fn expectations(expect: &Expectations) -> String {
    let mut parts = Vec::new();
    if let Some(rto_ms) = expect.rto_max_ms {
        parts.push(format!("rto<={}", format_ms(rto_ms)));
    }
    if let Some(availability) = expect.availability_min {
        parts.push(format!("avail>={}", percent(availability)));
    }
    for (region, availability) in &expect.availability_min_by_region {
        parts.push(format!("{region}>={}", percent(*availability)));
    }
    if !expect.alerts.is_empty() {
        parts.push(format!("alerts:{}", expect.alerts.len()));
    }
    let invariants = if expect.invariants.len() == Invariant::ALL.len() {
        "all".to_owned()
    } else {
        expect.invariants.len().to_string()
    };
    parts.push(format!("invariants:{invariants}"));
    parts.join(" ")
}

fn percent(fraction: f64) -> String {
    // Rounded to a thousandth of a percent so 0.999 prints as 99.9, not 99.89999.
    let value = (fraction * 100_000.0).round() / 1000.0;
    format!("{value}%")
}

fn print_table(rows: &[[String; 5]]) {
    let mut widths = HEADER.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                // The description is last and not padded, so long ones do not pad lines.
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out
    };
    println!("{}", line(HEADER));
    for row in rows {
        println!("{}", line(row.each_ref().map(String::as_str)));
    }
}
