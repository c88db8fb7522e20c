//! `sim validate FILE...`: checks scenario files without running them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use switchyard_sim::exit_codes::{INVALID_INPUT, SUCCESS, exit};
use switchyard_sim::scenario::{self, format_ms};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Prints one `ok` line per valid file on stdout and every problem, one per line, on
/// stderr; exits 2 when any file is invalid.
pub fn exec(args: ValidateArgs) -> ExitCode {
    let mut all_valid = true;
    for file in &args.files {
        match scenario::load(file) {
            Ok(scenario) => println!(
                "{}: ok ({}, {}, {} faults)",
                file.display(),
                scenario.name,
                format_ms(scenario.duration_ms),
                scenario.faults.len()
            ),
            Err(error) => {
                all_valid = false;
                eprintln!("{error}");
            }
        }
    }
    exit(if all_valid { SUCCESS } else { INVALID_INPUT })
}
