//! Writes the report of a synthetic hour-long region outage (500 ms samples, 9 nodes,
//! 3 regions) and prints how long it took:
//!
//! ```sh
//! cargo run --release -p switchyard-reports --example synthetic_report -- /tmp/report
//! ```

#[path = "../tests/common/synthetic.rs"]
mod synthetic;

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "report".to_owned()),
    );
    let run = synthetic::run(3_600_000, 500, 0.999);
    let started = Instant::now();
    let written = switchyard_reports::write_run_report(&dir, &run)?;
    println!(
        "run report in {} ms: {}",
        started.elapsed().as_millis(),
        written.report_html.display()
    );
    let runs: Vec<_> = (0..20u64)
        .map(|seed| {
            let mut run = synthetic::run(600_000, 500, 0.99);
            run.seed = seed;
            run.incidents[0].rto_ms = Some(4_000 + seed * 350);
            // Every seventh seed misses its availability bound.
            run.passed = seed % 7 != 3;
            if !run.passed {
                run.expectations[0].verdict = switchyard_reports::Verdict::Fail;
            }
            run.replay_command = format!("sim run scenarios/region-outage.toml --seed {seed}");
            run
        })
        .collect();
    let sweep = switchyard_reports::SweepReport::from_runs(&runs).expect("20 runs");
    let started = Instant::now();
    let written = switchyard_reports::write_sweep_report(&dir.join("sweep"), &sweep)?;
    println!(
        "sweep report in {} ms: {}",
        started.elapsed().as_millis(),
        written.report_html.display()
    );
    Ok(())
}
