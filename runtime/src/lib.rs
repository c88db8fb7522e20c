//! The Switchyard daemon's shell around `switchyard-core`.
//!
//! The shared driver, the production adapters (Lavalink, Redis, alert webhooks) and the
//! HTTP API arrive with the simulation and daemon work; today this crate only hosts the
//! binary's command-line surface.
