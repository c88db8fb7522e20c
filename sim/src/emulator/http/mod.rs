//! The node's HTTP surface: REST routes, the websocket upgrade and optional metrics.
//!
//! Layers, outermost first: error rendering and the `Lavalink-Api-Version` header
//! (so every response carries it), fault injection, authorization, then the routes.

mod error;
mod info;
mod metrics;
mod middleware;
mod players;
mod tracks;
mod websocket;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, patch, post};

pub(crate) use error::ApiError;

use super::shared::Shared;

type AppState = Arc<Shared>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut routes = Router::new()
        .route("/version", get(info::version))
        .route("/v4/info", get(info::info))
        .route("/v4/stats", get(info::stats))
        .route("/v4/loadtracks", get(tracks::load))
        .route("/v4/decodetrack", get(tracks::decode_one))
        .route("/v4/decodetracks", post(tracks::decode_many))
        .route("/v4/sessions/{session_id}", patch(players::update_session))
        .route("/v4/sessions/{session_id}/players", get(players::list))
        .route(
            "/v4/sessions/{session_id}/players/{guild_id}",
            get(players::get)
                .patch(players::update)
                .delete(players::destroy),
        )
        .route("/v4/routeplanner/status", get(info::route_planner_status))
        .route("/v4/websocket", get(websocket::upgrade));
    if shared.config.metrics_enabled {
        routes = routes.route(&shared.config.metrics_path, get(metrics::render));
    }
    routes
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            middleware::authorize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            middleware::inject_faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            middleware::render_errors,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            shared.config.max_body_bytes,
        ))
        .with_state(shared)
}
