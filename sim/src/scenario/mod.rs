//! Scenario files: what a simulated run sets up, breaks and expects.
//!
//! A file goes raw -> validated, as ripgrep's arguments do: [`raw`] mirrors the TOML
//! (serde, unknown fields rejected), `validate` checks meaning and every
//! cross-reference, and [`model`] holds the checked types the simulation consumes.
//! Every problem is a [`ScenarioError`] naming the file, line, column and field of the
//! offending value, so `sim validate` output reads like a compiler's.
//!
//! ```toml
//! name = "node-kill"
//! duration = "5m"            # durations are strings: "250ms", "30s", "5m", "1h", "1m30s"
//! [topology]                 # switchyard_core::topology::TopologySpec (no shard_count)
//! [workload]                 # guilds, plan/region shares, residency pins
//! [shards]                   # count, processes, spares per region
//! [controller]               # switchyard_core::config::ControllerConfig, as in the daemon
//! [[faults]]                 # at, kind, duration and the kind's own parameters
//! [expect]                   # rto_max, availability_min(_by_region), alerts, invariants
//! ```
//!
//! See `scenarios/region-outage.toml` for a complete, commented example.

mod document;
mod duration;
mod error;
pub mod model;
mod raw;
mod validate;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeTable;

pub use duration::{format_ms, parse_duration_ms};
pub use error::{LoadError, ScenarioError, ScenarioErrors};
pub use model::{
    Expectations, ExpectedAlert, Fault, FaultKind, FaultSchedule, Host, Invariant, LinkTarget,
    Scenario, Shards, TrackLength, WebhookFailure, Workload,
};

use document::Document;
use error::Problems;
use raw::RawScenario;

/// Reads and validates a scenario file.
pub fn load(path: impl AsRef<Path>) -> Result<Scenario, LoadError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(parse(path, &text)?)
}

/// Validates scenario text; `path` only names the file in errors.
pub fn parse(path: impl Into<PathBuf>, text: &str) -> Result<Scenario, ScenarioErrors> {
    let path = path.into();
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(error) => {
            let document = Document::unparsed(text);
            return Err(ScenarioErrors(vec![toml_error(&path, &document, &error)]));
        }
    };
    let document = Document::new(text, &root);
    let raw = match RawScenario::deserialize(toml::de::Deserializer::from(root)) {
        Ok(raw) => raw,
        Err(error) => return Err(ScenarioErrors(vec![toml_error(&path, &document, &error)])),
    };
    let mut problems = Problems::new(path, &document);
    let scenario = validate::scenario(raw, &mut problems);
    problems.finish(scenario)
}

/// A syntax or shape error from the TOML parser, located by its span.
fn toml_error(path: &Path, document: &Document<'_>, error: &toml::de::Error) -> ScenarioError {
    let span = error.span().unwrap_or(0..0);
    let position = document.position(span.start);
    // An empty span marks the whole document (a missing top-level field): no one field.
    let field = if span.is_empty() {
        ""
    } else {
        document.path_at(span.start).unwrap_or("")
    };
    ScenarioError {
        path: path.to_owned(),
        line: position.line,
        column: position.column,
        field: field.to_owned(),
        message: error.message().trim_end().to_owned(),
    }
}

/// The `*.toml` files directly in `dir`, sorted by name.
pub fn files_in(dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
