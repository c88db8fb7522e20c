//! Shared helpers for the workspace-level integration tests.

pub mod exposition;
pub mod processes;
pub mod redis_server;
