//! Test support for the store tests: a real `redis-server` and the simulated one, each
//! on a free loopback port, each killable and restartable to inject an outage.

#![allow(dead_code)] // Each test binary uses a different part.

pub mod sim_server;

pub use sim_server::SimRedisServer;
pub use switchyard_tests::redis_server::RedisServer;
