//! `sim check-determinism FILE [--seed N]`: runs a scenario twice with one seed and
//! compares the controller's full command trace byte for byte. Exit 0 when identical,
//! 1 with the first differing line when not.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use switchyard_sim::exit_codes;
use switchyard_sim::scenario;
use switchyard_sim::world;

/// Arguments of `sim check-determinism`.
#[derive(Debug, Args)]
pub struct CheckDeterminismArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Seed (defaults to the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs `sim check-determinism`.
pub fn exec(args: CheckDeterminismArgs) -> ExitCode {
    let scenario = match scenario::load(&args.file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(exit_codes::INVALID_INPUT);
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let mut traces = Vec::new();
    for run in 1..=2 {
        let started = Instant::now();
        match world::run(&scenario, seed, &mut |_| {}) {
            Ok(outcome) => {
                eprintln!(
                    "run {run}: {} trace lines in {:.1} s",
                    outcome.trace.lines().count(),
                    started.elapsed().as_secs_f64()
                );
                traces.push(outcome.trace);
            }
            Err(error) => {
                eprintln!("sim check-determinism: internal error: {error}");
                return ExitCode::from(exit_codes::INTERNAL_ERROR);
            }
        }
    }
    let (first, second) = (&traces[0], &traces[1]);
    if first == second {
        println!(
            "deterministic: {} (seed {seed}) gave the same {} bytes twice",
            scenario.name,
            first.len()
        );
        return ExitCode::from(exit_codes::SUCCESS);
    }
    let line = first
        .lines()
        .zip(second.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| first.lines().count().min(second.lines().count()));
    println!(
        "NOT deterministic: {} (seed {seed}) diverged at trace line {}",
        scenario.name,
        line + 1
    );
    println!("  first:  {}", first.lines().nth(line).unwrap_or("<end>"));
    println!("  second: {}", second.lines().nth(line).unwrap_or("<end>"));
    println!(
        "replay with: sim check-determinism {} --seed {seed}",
        args.file.display()
    );
    ExitCode::from(exit_codes::EXPECTATION_FAILED)
}
