//! core (being written)
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

pub use controller::{
    ActiveAlert, Controller, InputError, PlaybackRequest, PlayerPlacement, PlayerView,
};
