//! The driver's ports: the narrow interfaces through which it reaches the outside world.
//!
//! Production implements them with reqwest, redis-rs over TCP and tokio; the simulation
//! implements them over turmoil's network. Everything above the ports (retry, timeouts,
//! dispatch, the Lavalink and alert protocols) is shared by both.

pub mod http;
pub mod store;
pub mod websocket;
