//! The controller's HTTP API (axum), served over any listener: tokio's in the daemon,
//! turmoil's in the simulation.
//!
//! * Bots: `POST /api/bots/players/{guild}` (where to play), `DELETE` the same (stopped),
//!   `POST /api/bots/spares/{process}` (a hot spare stands by).
//! * Status: `GET /api/control-panel/lavalink/nodes`, `/api/status`,
//!   `/api/failover-history`, `/api/alerts`; `/healthz`, `/readyz`; `/metrics`
//!   (Prometheus, OpenMetrics text).
//! * Operators, behind a bearer token: `POST /api/failover/{region}`,
//!   `/api/failover/{region}/restore`, `/api/nodes/{name}/drain`,
//!   `/api/nodes/{name}/enable`, `/api/nodes/{name}/maintenance`,
//!   `/api/control-panel/lavalink/reconcile`.

mod auth;
mod bots;
mod leader;
mod metrics;
mod operators;
mod routes;
mod status;

use std::sync::Arc;

use axum::Router;

pub use auth::ApiToken;
pub use leader::LEADER_HEADER;
pub use routes::route_list;

use crate::driver::DriverHandle;
use crate::leader::Leadership;
use crate::metrics::Metrics;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    driver: DriverHandle,
    operator_token: Option<Arc<ApiToken>>,
    bot_token: Option<Arc<ApiToken>>,
    metrics: Option<Metrics>,
    leadership: Option<Leadership>,
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
            metrics: None,
            leadership: None,
        }
    }

    /// Serves bots and operators only while `leadership` acts; a standby sends them on
    /// to the leader (see the `leader` module).
    pub fn with_leadership(mut self, leadership: Leadership) -> Self {
        self.leadership = Some(leadership);
        self
    }

    /// Serves `metrics` on `GET /metrics` (without it, that route answers 404).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

/// The API's routes (listed, with their methods, by [`route_list`]).
pub fn router(state: ApiState) -> Router {
    routes::table().into_router().with_state(state)
}
