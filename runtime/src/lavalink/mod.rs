//! Lavalink v4: the wire types the controller reads and writes, and a REST client over
//! the [`HttpClient`](crate::ports::http::HttpClient) port.

pub mod client;
pub mod watcher;
pub mod wire;

pub use client::{LavalinkClient, LavalinkError, NodeEndpoint, ProbeReport};
