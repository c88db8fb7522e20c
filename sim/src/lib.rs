//! Switchyard's simulation side: the Lavalink v4 emulator, the turmoil world, scenarios
//! and the oracle.

pub mod emulator;
pub mod exit_codes;
pub mod net;
pub mod redis_sim;
pub mod scenario;
pub mod world;
