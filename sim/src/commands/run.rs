//! `sim run FILE [--seed N] [--json PATH] [--report-dir DIR]`: runs a scenario in the
//! simulated world and checks its expectations. Exit 0 when every expectation held, 1 when one failed (with
//! the command that replays the run), 2 for invalid input, 3 for an internal error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use switchyard_sim::exit_codes;
use switchyard_sim::scenario::{self, Invariant, Scenario};
use switchyard_sim::world::{self, Incident, RunOutcome};

/// Arguments of `sim run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Seed (defaults to the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write the machine-readable result here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a report here: summary.json, report.md, report.html, junit.xml and charts.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

/// One expectation's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// What was expected.
    pub expectation: String,
    /// Its threshold.
    pub threshold: String,
    /// What was measured.
    pub measured: String,
    /// Whether it held.
    pub passed: bool,
}

/// The machine-readable result of a run.
#[derive(Debug, Serialize)]
pub struct RunReport<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Seed used.
    pub seed: u64,
    /// Wall-clock time of the run.
    pub wall_ms: u128,
    /// What the oracle measured.
    pub outcome: &'a RunOutcome,
    /// Each expectation's verdict.
    pub expectations: Vec<Verdict>,
    /// Whether every expectation held.
    pub passed: bool,
    /// The command that replays this run.
    pub replay: String,
}

fn percent(ratio: f64) -> String {
    format!("{:.3} %", ratio * 100.0)
}

/// Checks the scenario's expectations against what the oracle measured.
pub fn verdicts(scenario: &Scenario, outcome: &RunOutcome) -> Vec<Verdict> {
    let expect = &scenario.expect;
    let mut out = Vec::new();
    if let Some(rto_max_ms) = expect.rto_max_ms {
        for incident in &outcome.incidents {
            out.push(Verdict {
                expectation: format!("rto of faults[{}] ({})", incident.fault, strike(incident)),
                threshold: format!("< {}", scenario::format_ms(rto_max_ms)),
                measured: incident
                    .rto_ms
                    .map_or("never recovered".to_owned(), scenario::format_ms),
                passed: incident.rto_ms.is_some_and(|rto| rto < rto_max_ms),
            });
        }
    }
    if let Some(min) = expect.availability_min {
        out.push(Verdict {
            expectation: "availability".into(),
            threshold: format!(">= {}", percent(min)),
            measured: percent(outcome.availability),
            passed: outcome.availability >= min,
        });
    }
    for (region, min) in &expect.availability_min_by_region {
        let measured = outcome
            .availability_by_region
            .get(region.as_str())
            .copied()
            .unwrap_or(1.0);
        out.push(Verdict {
            expectation: format!("availability in {region}"),
            threshold: format!(">= {}", percent(*min)),
            measured: percent(measured),
            passed: measured >= *min,
        });
    }
    for alert in &expect.alerts {
        let received = outcome
            .alerts
            .iter()
            .find(|a| a.key == alert.key && a.action == "trigger" && a.at_ms <= alert.deadline_ms);
        out.push(Verdict {
            expectation: format!("alert {}", alert.key),
            threshold: format!(
                "within {} of faults[{}]",
                scenario::format_ms(alert.within_ms),
                alert.after_fault
            ),
            measured: received.map_or("not received in time".to_owned(), |a| {
                format!("at {}", scenario::format_ms(a.at_ms))
            }),
            passed: received.is_some(),
        });
    }
    // Only the invariants the scenario holds the run to count; the others are still
    // reported with the violations.
    let checked = &expect.invariants;
    let violations = outcome
        .violations
        .iter()
        .filter(|v| checked.iter().any(|i| i.name() == v.invariant))
        .count();
    let ignored = outcome.violations.len() - violations;
    let all = checked.len() == Invariant::ALL.len();
    out.push(Verdict {
        expectation: if all {
            "invariants".into()
        } else {
            let names: Vec<&str> = checked.iter().map(|i| i.name()).collect();
            format!("invariants {}", names.join(", "))
        },
        threshold: "no violation".into(),
        measured: if ignored == 0 {
            format!("{violations} violation(s)")
        } else {
            format!("{violations} violation(s), {ignored} of unchecked invariants")
        },
        passed: violations == 0,
    });
    out
}

/// Runs `sim run`.
pub fn exec(args: RunArgs) -> ExitCode {
    let scenario = match scenario::load(&args.file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(exit_codes::INVALID_INPUT);
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let started = Instant::now();
    let mut last_percent = 0;
    let mut progress = |now_ms: u64| {
        let percent = now_ms * 100 / scenario.duration_ms.max(1);
        if percent >= last_percent + 10 {
            last_percent = percent - percent % 10;
            eprintln!(
                "  {} simulated ({last_percent} %)",
                scenario::format_ms(now_ms)
            );
        }
    };
    let outcome = match world::run(&scenario, seed, &mut progress) {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("sim run: internal error: {error}");
            return ExitCode::from(exit_codes::INTERNAL_ERROR);
        }
    };
    let wall_ms = started.elapsed().as_millis();
    let expectations = verdicts(&scenario, &outcome);
    let passed = expectations.iter().all(|v| v.passed);
    let replay = format!("sim run {} --seed {seed}", args.file.display());
    print_summary(
        &scenario,
        seed,
        wall_ms,
        &outcome,
        &expectations,
        passed,
        &replay,
    );
    if let Some(path) = &args.json {
        let report = RunReport {
            scenario: &scenario.name,
            seed,
            wall_ms,
            outcome: &outcome,
            expectations,
            passed,
            replay: replay.clone(),
        };
        let json = serde_json::to_string_pretty(&report).expect("the report is plain data");
        if let Err(error) = std::fs::write(path, json) {
            eprintln!("sim run: cannot write {}: {error}", path.display());
            return ExitCode::from(exit_codes::INTERNAL_ERROR);
        }
    }
    if let Some(dir) = &args.report_dir {
        let report_started = Instant::now();
        let facts = super::report::RunFacts {
            scenario: &scenario,
            path: &args.file,
            seed,
            wall_ms: u64::try_from(wall_ms).unwrap_or(u64::MAX),
            outcome: &outcome,
            verdicts: &verdicts(&scenario, &outcome),
            replay: &replay,
        };
        match switchyard_reports::write_run_report(dir, &super::report::run_report(&facts)) {
            // The time is printed so the report's cost can be measured on real runs.
            Ok(written) => eprintln!(
                "report written to {} in {} ms",
                written.dir.display(),
                report_started.elapsed().as_millis()
            ),
            Err(error) => {
                eprintln!("sim run: {error}");
                return ExitCode::from(exit_codes::INTERNAL_ERROR);
            }
        }
    }
    ExitCode::from(if passed {
        exit_codes::SUCCESS
    } else {
        exit_codes::EXPECTATION_FAILED
    })
}

fn print_summary(
    scenario: &Scenario,
    seed: u64,
    wall_ms: u128,
    outcome: &RunOutcome,
    expectations: &[Verdict],
    passed: bool,
    replay: &str,
) {
    println!(
        "scenario {} (seed {seed}): {} simulated in {:.1} s wall ({:.0}x real time), {} guilds",
        scenario.name,
        scenario::format_ms(outcome.duration_ms),
        wall_ms as f64 / 1000.0,
        outcome.duration_ms as f64 / wall_ms.max(1) as f64,
        outcome.guilds
    );
    for incident in &outcome.incidents {
        let rto = incident
            .rto_ms
            .map_or("never recovered".to_owned(), scenario::format_ms);
        let slowest = incident
            .recovery
            .slowest_guild
            .map(|guild| format!(", slowest guild {guild}"))
            .unwrap_or_default();
        println!(
            "  incident faults[{}] {} at {}: RTO {rto} ({} guilds interrupted{slowest})",
            incident.fault,
            strike(incident),
            scenario::format_ms(incident.at_ms),
            incident.recovery.interrupted,
        );
    }
    println!("  availability {}", percent(outcome.availability));
    for (region, ratio) in &outcome.availability_by_region {
        println!("    {region}: {}", percent(*ratio));
    }
    println!("  alerts received: {}", outcome.alerts.len());
    for violation in outcome.violations.iter().take(10) {
        println!(
            "  VIOLATION at {}: {} — {}",
            scenario::format_ms(violation.at_ms),
            violation.invariant,
            violation.detail
        );
    }
    for verdict in expectations {
        let mark = if verdict.passed { "pass" } else { "FAIL" };
        println!(
            "  [{mark}] {}: {} (expected {})",
            verdict.expectation, verdict.measured, verdict.threshold
        );
    }
    if passed {
        println!("PASSED");
    } else {
        println!("FAILED — replay with: {replay}");
    }
}

/// An incident's fault kind, with the node when it is one strike of a repeated fault
/// (`rolling_restart of eu-2`).
fn strike(incident: &Incident) -> String {
    match &incident.node {
        Some(node) => format!("{} of {node}", incident.kind),
        None => incident.kind.clone(),
    }
}
