//! `summary.json`: the machine-readable result. A run's summary is its [`RunReport`]
//! with a `schema` field added, so it deserialises straight back into a `RunReport`;
//! a sweep's is its [`SweepReport`] plus the computed [`SweepSummary`] under `summary`.
//!
//! A run's JSON is compact: an hour's time series pretty-printed runs to megabytes of
//! one-number lines. `jq . summary.json` prints it for people.

use serde::Serialize;

use crate::model::RunReport;
use crate::sweep::{SweepReport, SweepSummary};

/// `schema` of a run's summary.json; bumped when a field changes meaning or goes.
pub const RUN_SCHEMA: &str = "switchyard.run-report.v1";
/// `schema` of a sweep's summary.json.
pub const SWEEP_SCHEMA: &str = "switchyard.sweep-report.v1";

#[derive(Serialize)]
struct RunFile<'a> {
    schema: &'static str,
    #[serde(flatten)]
    run: &'a RunReport,
}

#[derive(Serialize)]
struct SweepFile<'a> {
    schema: &'static str,
    #[serde(flatten)]
    sweep: &'a SweepReport,
    summary: &'a SweepSummary,
}

/// The run's summary.json.
pub(crate) fn run(run: &RunReport) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec(&RunFile {
        schema: RUN_SCHEMA,
        run,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The sweep's summary.json.
pub(crate) fn sweep(
    sweep: &SweepReport,
    summary: &SweepSummary,
) -> Result<Vec<u8>, serde_json::Error> {
    // A sweep has no time series, so its summary is small enough to read as it is.
    let mut bytes = serde_json::to_vec_pretty(&SweepFile {
        schema: SWEEP_SCHEMA,
        sweep,
        summary,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
