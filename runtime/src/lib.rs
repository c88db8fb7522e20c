//! The Switchyard daemon's shell around `switchyard-core`, and the driver the simulation
//! shares with it.
//!
//! The driver and production adapters are being built; today this crate holds the ports
//! the driver talks through.

pub mod adapters;
pub mod alerts;
pub mod api;
pub mod bot;
pub mod config;
pub mod daemon;
pub mod driver;
pub mod lavalink;
pub mod leader;
pub mod metrics;
pub mod ports;
pub mod store_schema;
