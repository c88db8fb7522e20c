//! `sim sweep FILE --seeds A..B [--jobs N] [--report-dir DIR]`: runs a scenario once per
//! seed (in parallel, one simulation per worker thread), shows progress, and sums up:
//! pass/fail per seed, the worst seeds first with the commands that replay them, and RTO
//! percentiles across every incident of every seed. Exit 0 when every seed passed, 1
//! when one failed, 2 for invalid input, 3 for an internal error.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use switchyard_reports::{RunReport, SweepReport};
use switchyard_sim::exit_codes;
use switchyard_sim::scenario::{self, Scenario};
use switchyard_sim::world;

use super::report::{RunFacts, run_report};
use super::run::verdicts;

/// Most seeds one sweep runs; a typo such as `1..1000000` should not run for days.
pub const SEEDS_MAX: u64 = 10_000;

/// An inclusive range of seeds: `A..B` or `A..=B` (both include `B`), or one seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRange(pub RangeInclusive<u64>);

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bound = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{part}` is not a seed (a whole number)"))
        };
        let (first, last) = match text.split_once("..") {
            Some((a, b)) => (bound(a)?, bound(b.strip_prefix('=').unwrap_or(b))?),
            None => {
                let seed = bound(text)?;
                (seed, seed)
            }
        };
        if first > last {
            return Err(format!(
                "the range {text} is empty (write the lower seed first)"
            ));
        }
        if last - first >= SEEDS_MAX {
            return Err(format!(
                "the range {text} has more than {SEEDS_MAX} seeds; split the sweep"
            ));
        }
        Ok(Self(first..=last))
    }
}

/// Arguments of `sim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Seeds to run, inclusive: `1..20` runs seeds 1 to 20.
    #[arg(long)]
    pub seeds: SeedRange,
    /// Simulations run at once (default: the machine's cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write the sweep's report here: summary.json, report.md, report.html, junit.xml
    /// and the RTO distribution chart.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

/// Runs `sim sweep`.
pub fn exec(args: SweepArgs) -> ExitCode {
    let scenario = match scenario::load(&args.file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(exit_codes::INVALID_INPUT);
        }
    };
    let seeds: Vec<u64> = args.seeds.0.clone().collect();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, seeds.len());
    let runs = match run_all(&scenario, &args.file, &seeds, jobs) {
        Ok(runs) => runs,
        Err(error) => {
            eprintln!("sim sweep: internal error: {error}");
            return ExitCode::from(exit_codes::INTERNAL_ERROR);
        }
    };
    let sweep = SweepReport::from_runs(&runs).expect("a seed range is never empty");
    print_summary(&scenario, &sweep);
    if let Some(dir) = &args.report_dir {
        let report_started = Instant::now();
        match switchyard_reports::write_sweep_report(dir, &sweep) {
            Ok(written) => eprintln!(
                "report written to {} in {} ms",
                written.dir.display(),
                report_started.elapsed().as_millis()
            ),
            Err(error) => {
                eprintln!("sim sweep: {error}");
                return ExitCode::from(exit_codes::INTERNAL_ERROR);
            }
        }
    }
    ExitCode::from(if sweep.seeds.iter().all(|s| s.passed) {
        exit_codes::SUCCESS
    } else {
        exit_codes::EXPECTATION_FAILED
    })
}

/// Runs every seed on `jobs` worker threads; the reports come back in seed order.
fn run_all(
    scenario: &Scenario,
    path: &std::path::Path,
    seeds: &[u64],
    jobs: usize,
) -> Result<Vec<RunReport>, String> {
    let bar = ProgressBar::new(seeds.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} seeds  {elapsed} elapsed, ~{eta} left")
            .expect("the template is valid"),
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<RunReport, String>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let report = run_one(scenario, path, seed);
                    if let Ok(run) = &report {
                        let line = seed_line(&SweepLine::from(run));
                        // Without a terminal the bar is hidden (CI logs): print plainly.
                        if bar.is_hidden() {
                            eprintln!("{line}");
                        } else {
                            bar.println(line);
                        }
                    }
                    bar.inc(1);
                    results.lock().expect("no panics while locked").push(report);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut runs = results
        .into_inner()
        .expect("no panics while locked")
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    runs.sort_by_key(|run| run.seed);
    Ok(runs)
}

fn run_one(scenario: &Scenario, path: &std::path::Path, seed: u64) -> Result<RunReport, String> {
    let started = Instant::now();
    let outcome =
        world::run(scenario, seed, &mut |_| {}).map_err(|e| format!("seed {seed}: {e}"))?;
    let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let verdicts = verdicts(scenario, &outcome);
    let replay = format!("sim run {} --seed {seed}", path.display());
    Ok(run_report(&RunFacts {
        scenario,
        path,
        seed,
        wall_ms,
        outcome: &outcome,
        verdicts: &verdicts,
        replay: &replay,
    }))
}

/// The figures of one seed's line.
struct SweepLine {
    seed: u64,
    passed: bool,
    availability: f64,
    rto_max: Option<Option<u64>>,
    violations: usize,
}

impl From<&RunReport> for SweepLine {
    fn from(run: &RunReport) -> Self {
        let rtos = run.incidents.iter().map(|i| i.rto_ms);
        Self {
            seed: run.seed,
            passed: run.passed,
            availability: run.availability.overall.ratio,
            // `None`: no incident; `Some(None)`: one never recovered.
            rto_max: rtos.clone().reduce(|a, b| match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            }),
            violations: run.violations.len(),
        }
    }
}

fn seed_line(line: &SweepLine) -> String {
    let rto = match line.rto_max {
        None => "no incident".to_owned(),
        Some(None) => "never recovered".to_owned(),
        Some(Some(ms)) => format!("worst RTO {}", scenario::format_ms(ms)),
    };
    format!(
        "  seed {:>5}: {}  availability {:.3} %, {rto}, {} violation(s)",
        line.seed,
        if line.passed { "pass" } else { "FAIL" },
        line.availability * 100.0,
        line.violations
    )
}

fn print_summary(scenario: &Scenario, sweep: &SweepReport) {
    let summary = sweep.summarize();
    println!(
        "sweep {}: {} seeds, {} passed, {} failed",
        scenario.name, summary.seeds_total, summary.seeds_passed, summary.seeds_failed
    );
    let ms = |v: Option<u64>| v.map_or("-".to_owned(), scenario::format_ms);
    println!(
        "  RTO over {} recovered incidents: p50 {}, p90 {}, p99 {}, max {}{}",
        summary.rto.recovered_incidents,
        ms(summary.rto.p50_ms),
        ms(summary.rto.p90_ms),
        ms(summary.rto.p99_ms),
        ms(summary.rto.max_ms),
        if summary.rto.unrecovered_incidents > 0 {
            format!("; {} never recovered", summary.rto.unrecovered_incidents)
        } else {
            String::new()
        }
    );
    let failed: Vec<_> = sweep
        .worst_first()
        .into_iter()
        .filter(|s| !s.passed)
        .collect();
    if !failed.is_empty() {
        println!("  failed seeds, worst first:");
        for seed in failed {
            let reasons: Vec<String> = seed.failed_expectations().map(|e| e.name.clone()).collect();
            println!(
                "    seed {}: {} — replay with: {}",
                seed.seed,
                reasons.join(", "),
                seed.replay_command
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_are_inclusive_and_checked() {
        assert_eq!("1..3".parse::<SeedRange>().unwrap().0, 1..=3);
        assert_eq!("1..=3".parse::<SeedRange>().unwrap().0, 1..=3);
        assert_eq!("7".parse::<SeedRange>().unwrap().0, 7..=7);
        assert!("3..1".parse::<SeedRange>().unwrap_err().contains("empty"));
        assert!("a..3".parse::<SeedRange>().unwrap_err().contains("`a`"));
        assert!(
            "0..20000"
                .parse::<SeedRange>()
                .unwrap_err()
                .contains("split")
        );
    }
}
