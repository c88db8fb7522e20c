//! Leaf adapters: the ports implemented over real protocols.
//!
//! The Redis adapter runs in production and, over turmoil's network against the
//! simulated RESP server, in the simulation: only its dialer differs.

pub(crate) mod redis_codec;
pub mod redis_reconnect;
pub mod redis_scripts;
pub mod redis_store;
pub mod reqwest_http;

pub use redis_reconnect::{ClientDialer, Dial, Dialed, ReconnectPolicy, ReconnectingConnection};
pub use redis_scripts::ScriptKind;
pub use redis_store::{ProductionRedisStore, RedisStore, RedisStoreConfig};
