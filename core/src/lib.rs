//! Switchyard's failover core: every decision, no IO.
//!
//! The core is a deterministic state machine. It never reads a clock, opens a socket or
//! draws an unseeded random number (`clippy.toml` forbids it), so the same inputs always
//! give the same commands, in production and in simulation alike.
//!
//! # Contract
//!
//! * **Inputs** are the `handle_*` methods of [`Controller`] (probe outcomes, node stats,
//!   websocket closes, playback requests, player positions, move outcomes, shard
//!   heartbeats, spares) and the operator methods (`drain_node`, `enable_node`,
//!   `set_maintenance`, `fail_over_region`, `restore_region`, and for nodes joining and
//!   leaving at run time `add_node`, `admit_node`, `remove_node`, `forget_node`).
//!   Every input carries `now` as [`time::Millis`]; time never goes backwards.
//! * **Commands** come out of [`Controller::poll_command`]: probe a node, publish its
//!   health, assign or move a player, report a guild degraded, promote or fence a shard
//!   owner, trigger or resolve an alert, append to the audit stream, record a failover.
//!   The core decides; the shell acts and reports outcomes back as inputs. After every
//!   input, drain commands until `None`.
//! * **Deadlines**: [`Controller::poll_timeout`] gives the next instant at which
//!   [`Controller::handle_timeout`] has work (probes due, probe or move deadlines,
//!   restoration steps, shard stalls, degraded retries). Calling it early or twice is
//!   harmless.
//! * **Errors**: a bad configuration or topology is a [`config::ConfigError`] naming the
//!   field; an input naming something unknown is an [`InputError`]. Broken invariants
//!   are bugs and panic with the reason.
//!
//! # The drive loop
//!
//! ```
//! use switchyard_core::{Controller, command::Command, config::ControllerConfig};
//! use switchyard_core::time::Millis;
//! use switchyard_core::topology::{NodeSpec, RegionSpec, TopologySpec};
//!
//! let topology = TopologySpec {
//!     regions: vec![RegionSpec { name: "eu".into(), priority: 0 }],
//!     nodes: vec![NodeSpec {
//!         name: "eu-1".into(), region: "eu".into(), priority: 0, weight: 1,
//!         capacity: 100, maintenance: false,
//!     }],
//!     plans: vec![],
//!     shard_count: 1,
//! };
//! let mut core = Controller::new(Millis(0), ControllerConfig::default(), &topology)?;
//! let mut now = Millis(0);
//! for _ in 0..3 {
//!     // 1. Run whatever is due, then drain every command and act on it.
//!     core.handle_timeout(now);
//!     while let Some(command) = core.poll_command() {
//!         if let Command::Probe { node } = command {
//!             // The shell probes the node, then reports the outcome as an input.
//!             core.handle_probe_ok(now, &node, 12, None)?;
//!         }
//!     }
//!     // 2. Sleep until the next deadline (or an input arrives), then go round again.
//!     now = core.poll_timeout().unwrap_or(now.plus_ms(1_000));
//! }
//! assert!(core.nodes()[0].available);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`harness::Harness`] runs this loop against a scripted world with a fake clock, for
//! tests and benchmarks.
pub mod alerts;
pub mod command;
pub mod config;
mod controller;
pub mod harness;
pub mod health;
pub mod history;
pub mod ids;
pub mod penalty;
pub mod shards;
pub mod time;
pub mod topology;

#[doc(hidden)]
pub use controller::Sabotage;
pub use controller::{
    ActiveAlert, Controller, InputError, NodeHold, PlaybackRequest, PlayerAdoption,
    PlayerPlacement, PlayerView,
};
