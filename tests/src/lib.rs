//! Shared helpers for the workspace-level integration tests.

pub mod exposition;
pub mod redis_server;
