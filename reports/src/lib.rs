//! Reports people look at and CI reads, made from a Switchyard simulation run or sweep.
//!
//! This crate knows nothing of the simulator: the caller fills the plain input model
//! below from whatever it measured, then calls one writer. All times are run
//! milliseconds (since the simulated run started) in fields named `*_ms`.
//!
//! # A run
//!
//! Fill a [`RunReport`]:
//!
//! - identity: `scenario`, `scenario_path`, `description`, `seed`,
//!   `versions: Versions { switchyard }`, `replay_command`;
//! - size: `duration_ms` (simulated), `wall_ms` (real), `guilds`;
//! - `incidents`: one [`IncidentReport`] per fault (`fault` index, `kind`, `target`,
//!   `at_ms`, `detected_at_ms`, `first_recovery_ms`, `last_recovery_ms`, `rto_ms`,
//!   `players_moved`; the `Option`s are `None` when the thing never happened);
//! - `availability`: [`AvailabilityReport`] with `overall`, `by_region` and `by_plan`,
//!   each a [`Ratio`] of served / demanded guild samples ([`Ratio::from_counts`]);
//! - `violations` ([`ViolationReport`]), `alerts` ([`AlertReport`]);
//! - `expectations`: [`ExpectationReport`] with `name`, `threshold` and `measured` as a
//!   [`Measure`] (number or text) and a [`Verdict`]; `passed` is the run's verdict;
//! - `series`: [`TimeSeries`] sampled every `sample_interval_ms`: `fault_windows`,
//!   `availability_by_region`, `served_demanded`, `players_per_node`,
//!   `probe_latency_ms_by_node`. Series may be long: charts thin them for drawing, and
//!   `summary.json` keeps them whole.
//!
//! Then [`write_run_report`] writes into a directory (created if missing):
//!
//! | file | what |
//! |---|---|
//! | `summary.json` | the `RunReport` plus `"schema": "switchyard.run-report.v1"` |
//! | `report.md` | the same for people, charts linked |
//! | `report.html` | the same, self-contained: charts embedded, nothing fetched |
//! | `junit.xml` | one test case per expectation; failures carry measured value and replay command |
//! | `availability_by_region.{svg,png}` | availability per home region, fault windows shaded |
//! | `served_vs_demanded.{svg,png}` | served and demanded guilds |
//! | `players_per_node.{svg,png}` | players per node (moves show as steps) |
//! | `probe_latency.{svg,png}` | probe latency per node |
//!
//! # A sweep
//!
//! Build a [`SweepReport`] from the seeds' runs with [`SweepReport::from_runs`] (or fill
//! its `seeds` with [`SeedResult`]s directly) and call [`write_sweep_report`]. It writes
//! `summary.json` (the sweep plus a [`SweepSummary`]: counts, `worst_first_seeds`, and
//! [`RtoStats`] p50/p90/p99/max over every recovered incident, from an hdrhistogram),
//! `report.md`, `report.html`, `junit.xml` (one test case per seed) and
//! `rto_distribution.{svg,png}`. Seeds are ranked worst first: failed before passed,
//! then lowest availability, then unrecovered incidents, then longest RTO.
//!
//! ```no_run
//! # fn demo(runs: Vec<switchyard_reports::RunReport>) -> Result<(), switchyard_reports::ReportError> {
//! use std::path::Path;
//! use switchyard_reports::{SweepReport, write_run_report, write_sweep_report};
//!
//! let written = write_run_report(Path::new("out/run"), &runs[0])?;
//! println!("open {}", written.report_html.display());
//! if let Some(sweep) = SweepReport::from_runs(&runs) {
//!     write_sweep_report(Path::new("out/sweep"), &sweep)?;
//! }
//! # Ok(()) }
//! ```
//!
//! Errors are [`ReportError`]s, each naming the file it failed on. Writing is
//! deterministic: the same input gives the same bytes.

mod charts;
mod doc;
mod error;
mod format;
mod html;
mod json;
mod junit;
mod markdown;
mod model;
mod sweep;

use std::path::{Path, PathBuf};

pub use crate::error::ReportError;
pub use crate::json::{RUN_SCHEMA, SWEEP_SCHEMA};
pub use crate::model::{
    AlertReport, AvailabilityReport, ExpectationReport, FaultWindow, IncidentReport, Measure,
    Ratio, RunReport, TimeSeries, Verdict, Versions, ViolationReport,
};
pub use crate::sweep::{RtoStats, SeedResult, SweepReport, SweepSummary};

use crate::charts::ChartFiles;
use crate::error::{create_dir, write_file};

/// The files a writer produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The report directory.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary_json: PathBuf,
    /// `report.md`.
    pub report_md: PathBuf,
    /// `report.html`.
    pub report_html: PathBuf,
    /// `junit.xml`.
    pub junit_xml: PathBuf,
    /// Each chart, in the order the reports show them.
    pub charts: Vec<Chart>,
}

/// One chart's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// File stem, e.g. `availability_by_region`.
    pub name: String,
    /// Its caption.
    pub title: String,
    /// The SVG.
    pub svg: PathBuf,
    /// The PNG.
    pub png: PathBuf,
}

/// Writes a run's report into `dir`, creating it if needed and replacing earlier
/// report files there.
pub fn write_run_report(dir: &Path, run: &RunReport) -> Result<Written, ReportError> {
    create_dir(dir)?;
    let charts = charts::run::charts(&run.series)
        .iter()
        .map(|chart| charts::write(dir, chart))
        .collect::<Result<Vec<_>, _>>()?;
    let contents = Contents {
        summary_json: json::run(run),
        document: doc::run::document(run),
        junit_xml: junit::run(run),
    };
    write_contents(dir, contents, charts)
}

/// Writes a sweep's report into `dir`, creating it if needed and replacing earlier
/// report files there.
pub fn write_sweep_report(dir: &Path, sweep: &SweepReport) -> Result<Written, ReportError> {
    create_dir(dir)?;
    let summary = sweep.summarize();
    let chart = charts::sweep::rto_distribution(&summary.rto);
    let charts = vec![charts::write(dir, &chart)?];
    let contents = Contents {
        summary_json: json::sweep(sweep, &summary),
        document: doc::sweep::document(sweep, &summary),
        junit_xml: junit::sweep(sweep),
    };
    write_contents(dir, contents, charts)
}

/// What both kinds of report write besides their charts. Serialisation results are
/// kept unmapped until the file they belong to is known, so errors can name it.
struct Contents {
    summary_json: Result<Vec<u8>, serde_json::Error>,
    document: doc::Document,
    junit_xml: Result<String, quick_xml::SeError>,
}

fn write_contents(
    dir: &Path,
    contents: Contents,
    charts: Vec<ChartFiles>,
) -> Result<Written, ReportError> {
    let summary_json = dir.join("summary.json");
    let bytes = contents.summary_json.map_err(|source| ReportError::Json {
        path: summary_json.clone(),
        source,
    })?;
    write_file(&summary_json, &bytes)?;
    let report_md = dir.join("report.md");
    write_file(
        &report_md,
        markdown::render(&contents.document, &charts).as_bytes(),
    )?;
    let report_html = dir.join("report.html");
    write_file(
        &report_html,
        html::render(&contents.document, &charts).as_bytes(),
    )?;
    let junit_xml = dir.join("junit.xml");
    let xml = contents.junit_xml.map_err(|source| ReportError::Xml {
        path: junit_xml.clone(),
        source,
    })?;
    write_file(&junit_xml, xml.as_bytes())?;
    Ok(Written {
        dir: dir.to_owned(),
        summary_json,
        report_md,
        report_html,
        junit_xml,
        charts: charts.into_iter().map(Chart::from).collect(),
    })
}

impl From<ChartFiles> for Chart {
    fn from(files: ChartFiles) -> Self {
        Chart {
            name: files.name,
            title: files.title,
            svg: files.svg,
            png: files.png,
        }
    }
}
