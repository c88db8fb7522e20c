//! Scenario files: what a simulated run sets up, breaks and expects.
//!
//! A file goes raw -> validated, as ripgrep's arguments do: `raw` mirrors the TOML
//! (serde, unknown fields rejected), `validate` checks meaning and every cross-reference,
//! and [`model`] holds the checked types the simulation consumes: millisecond integers,
//! resolved names, shares that sum to 1. Every problem is a [`ScenarioError`] naming the
//! file, line, column and field of the offending value
//! (`scenarios/x.toml:14:9: faults[2].node: unknown node "eu-9" (known: ...)`), and one
//! pass reports all of them.
//!
//! # Format
//!
//! `scenarios/region-outage.toml` is a complete, commented example. Durations are
//! strings with a unit: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1m30s"`.
//!
//! | key / section | meaning |
//! |---|---|
//! | `name`, `description` | identity; `name` is 1-64 of `[A-Za-z0-9._-]` |
//! | `seed` | default seed (0 when absent); `--seed` overrides it |
//! | `duration`, `tick` | simulated run length; turmoil tick (default `"10ms"`, at most `"1s"`); the run and every fault instant are whole ticks |
//! | `[topology]` | `switchyard_core::topology::TopologySpec` without `shard_count` (that is `shards.count`) |
//! | `[workload]` | `guilds`, `playing` (share, default 1), `start_within` (default 0), `plans`/`regions` (shares summing to 1; `plans` may be omitted with one plan, `regions` means "no preference" when omitted), `residency` (share of all guilds pinned to each region, total at most 1), `track_length = [min, max]` (default 3m-6m) |
//! | `[shards]` | `count` (1-1024), `processes` (1..=count, owners `bot-0`.. round robin), `spares = { region = n }` (named `spare-<region>-<i>`), `heartbeat_interval` (default 5s, below `controller.shards.stall_after_ms`) |
//! | `[controller]` | `switchyard_core::config::ControllerConfig`, the daemon's section; validated by the core |
//! | `[[faults]]` | `at`, `kind`, optional `duration` and the kind's parameters (below) |
//! | `[expect]` | `rto_max`, `availability_min`, `availability_min_by_region`, `alerts = [{ key, within, after }]`, `invariants` (`"all"`, the default, or a list of [`Invariant`] names) |
//!
//! Fault kinds and their parameters. `duration` absent means the fault lasts to the end
//! of the run; every fault must heal inside the run. Faults may overlap: a node that
//! two faults hold down (a region outage and a longer kill of one of its nodes, say)
//! starts again only when the last of them ends.
//!
//! | kind | parameters |
//! |---|---|
//! | `node_kill` | `node`; `duration` = restart after |
//! | `node_restart` | `node`, `downtime` (graceful: websockets close with 1001) |
//! | `region_outage` | `region` (all its nodes die) |
//! | `partition` | `a`, `b` (host lists), `oneway` (drop a -> b only); `duration` required |
//! | `latency` | `hosts` or `links = [[x, y], ...]`, `latency`, `jitter`; `duration` required |
//! | `message_loss` | `hosts` or `links`, `rate` in (0, 1] (per TCP segment; a loss stalls the link for TCP's retransmission timeout, as retransmitting TCP would); `duration` required |
//! | `node_slow` | `node`, at least one of `cpu_load` (0-1), `deficit` (frames/min, <= 3000), `response_latency` |
//! | `node_flapping` | `node`, `period`, `down` (killed at the start of each period, restarted after `down`; default half the period) |
//! | `shard_stall` / `shard_kill` | `shard` (kill: the shard's initial owner process dies) |
//! | `redis_outage`, `controller_crash` | none |
//! | `webhook_outage` | `status` (4xx/5xx or `"drop"`) or `rate_limit = true` (429 + Retry-After) |
//! | `node_drain` | `node` (an operator drains it through the API; `duration` = re-enabled after) |
//! | `node_leave` | `node` (no duration; an operator takes it out of the controller's configuration: its players move away, then it is forgotten; its process keeps running) |
//! | `node_join` | `node`, `region`, `capacity`, optional `priority`, `weight` (no duration; the node is down until `at`, then starts and is added to the controller) |
//! | `rolling_restart` | `region`, `every`, `downtime` (<= `every`); nodes restart gracefully one at a time |
//!
//! Hosts (in `a`, `b`, `hosts`, `links`): a node name, `"region:<name>"` (every node of
//! the region at the fault's start, joined ones included), a bot process (`bot-0`,
//! `spare-eu-0`), `"controller"`, `"redis"`, `"webhook"` or `"discord"` (Discord's voice
//! servers: a node partitioned from them is not heard; no traffic goes to them, so
//! latency or loss on their links changes nothing).
//!
//! Alert keys are the core's dedup keys (`switchyard/region-down/eu`,
//! `switchyard/node-down/eu-1`, `switchyard/residency-degraded/eu`,
//! `switchyard/controller-isolated`, ...) and must name things that exist. `within` counts
//! from the start of fault `after` (an index into `[[faults]]`, from 0; the first fault
//! when absent).

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
