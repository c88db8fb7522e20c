//! Shared helpers for the workspace-level integration tests.

pub mod redis_server;
