//! A simulated Redis: a small RESP2/RESP3 server for the turmoil world, speaking exactly
//! the commands the `RedisStore` adapter sends, so the simulation runs the production
//! adapter (redis-rs and all) against it.
//!
//! - **Generic over its listener** ([`axum::serve::Listener`]): turmoil's listener in the
//!   simulation (`crate::emulator::TurmoilListener`), tokio's `TcpListener`
//!   on loopback in the store contract tests, which run the same suite against a real
//!   `redis-server`.
//! - **State** is one `BTreeMap` keyspace per database behind a mutex held only within a
//!   command (never across an await), so each command, and each script, is atomic as in
//!   Redis. TTLs and stream ids use `tokio::time`, which turmoil drives.
//! - **Scripts** are recognised by SHA1 or body and run natively ([`scripts`]).
//! - **Killing and restarting**: dropping the [`RedisSim::serve`] future (a crashed
//!   turmoil host, an aborted task) closes every connection. State lives in the
//!   [`RedisSim`] value: a host that builds a new one on restart starts empty, like a
//!   `redis-server --save '' --appendonly no` (what the contract tests run); persistence
//!   is not modelled.
//!
//! Connection commands: `PING`, `HELLO 2|3`, `CLIENT SETINFO|SETNAME|ID`, `SELECT`,
//! `AUTH` (any credentials), `QUIT`. Data commands: `GET`, `SET [NX|XX] [PX|EX]`, `MGET`,
//! `DEL`, `EXISTS`, `TYPE`, `PTTL`, `PEXPIRE`, `INCR`, `HSET`, `HGET`, `HDEL`, `HGETALL`,
//! `HLEN`, `SCAN [MATCH] [COUNT]` (one round), `XADD [NOMKSTREAM] [MAXLEN [~|=] n] *`
//! (trims exactly), `XRANGE`, `XREVRANGE`, `XLEN`, `EVAL`, `EVALSHA`,
//! `SCRIPT LOAD|EXISTS|FLUSH`. Anything else is an error naming the command.

mod args;
mod client;
mod commands;
mod glob;
mod keyspace;
mod resp;
mod scripts;
mod server;
mod stream;

#[cfg(test)]
mod tests;

pub use client::{TurmoilRedisDialer, turmoil_redis_store};
pub use server::RedisSim;
