//! The controller's HTTP API (axum), served over any listener: tokio's in the daemon,
//! turmoil's in the simulation.
//!
//! * Bots: `POST /api/bots/players/{guild}` (where to play), `DELETE` the same (stopped),
//!   `POST /api/bots/spares/{process}` (a hot spare stands by).
//! * Status: `GET /api/control-panel/lavalink/nodes`, `/api/status`,
//!   `/api/failover-history`, `/api/alerts`; `/healthz`, `/readyz`.
//! * Operators, behind a bearer token: `POST /api/failover/{region}`,
//!   `/api/failover/{region}/restore`, `/api/nodes/{name}/drain`,
//!   `/api/nodes/{name}/enable`, `/api/nodes/{name}/maintenance`,
//!   `/api/control-panel/lavalink/reconcile`.

mod auth;
mod bots;
mod operators;
mod status;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

pub use auth::ApiToken;

use crate::driver::DriverHandle;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    driver: DriverHandle,
    operator_token: Option<Arc<ApiToken>>,
    bot_token: Option<Arc<ApiToken>>,
}

impl ApiState {
    /// State for a driver. Without an operator token the operator routes answer 401 to
    /// everyone (they are never open); without a bot token the bot routes are open.
    pub fn new(
        driver: DriverHandle,
        operator_token: Option<ApiToken>,
        bot_token: Option<ApiToken>,
    ) -> Self {
        Self {
            driver,
            operator_token: operator_token.map(Arc::new),
            bot_token: bot_token.map(Arc::new),
        }
    }
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .route("/api/control-panel/lavalink/nodes", get(status::nodes))
        .route("/api/status", get(status::status))
        .route("/api/failover-history", get(status::failover_history))
        .route("/api/alerts", get(status::alerts))
        .route("/api/bots/players/{guild}", post(bots::request_playback))
        .route("/api/bots/players/{guild}", delete(bots::stop_playback))
        .route("/api/bots/spares/{process}", post(bots::register_spare))
        .route("/api/failover/{region}", post(operators::fail_over_region))
        .route(
            "/api/failover/{region}/restore",
            post(operators::restore_region),
        )
        .route("/api/nodes/{name}/drain", post(operators::drain))
        .route("/api/nodes/{name}/enable", post(operators::enable))
        .route(
            "/api/nodes/{name}/maintenance",
            post(operators::maintenance),
        )
        .route(
            "/api/control-panel/lavalink/reconcile",
            post(operators::reconcile),
        )
        .with_state(state)
}
