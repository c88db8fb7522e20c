//! The one table of routes: it builds the router and lists the routes, so the list the
//! OpenAPI document is checked against cannot drift from what is served.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{delete, get, post};

use super::{ApiState, bots, metrics, operators, status};

/// A router under construction, with the routes added so far.
pub(super) struct RouteTable {
    router: Router<ApiState>,
    list: Vec<(Method, &'static str)>,
}

impl RouteTable {
    fn new() -> Self {
        Self {
            router: Router::new(),
            list: Vec::new(),
        }
    }

    fn get<H: Handler<T, ApiState>, T: 'static>(mut self, path: &'static str, h: H) -> Self {
        self.list.push((Method::GET, path));
        self.router = self.router.route(path, get(h));
        self
    }

    fn post<H: Handler<T, ApiState>, T: 'static>(mut self, path: &'static str, h: H) -> Self {
        self.list.push((Method::POST, path));
        self.router = self.router.route(path, post(h));
        self
    }

    fn delete<H: Handler<T, ApiState>, T: 'static>(mut self, path: &'static str, h: H) -> Self {
        self.list.push((Method::DELETE, path));
        self.router = self.router.route(path, delete(h));
        self
    }

    pub(super) fn into_router(self) -> Router<ApiState> {
        self.router
    }
}

/// Every route the API serves.
pub(super) fn table() -> RouteTable {
    RouteTable::new()
        .get("/healthz", status::healthz)
        .get("/readyz", status::readyz)
        .get("/metrics", metrics::metrics)
        .get("/api/control-panel/lavalink/nodes", status::nodes)
        .get("/api/status", status::status)
        .get("/api/failover-history", status::failover_history)
        .get("/api/alerts", status::alerts)
        .post("/api/bots/players/{guild}", bots::request_playback)
        .delete("/api/bots/players/{guild}", bots::stop_playback)
        .post("/api/bots/spares/{process}", bots::register_spare)
        .post("/api/failover/{region}", operators::fail_over_region)
        .post("/api/failover/{region}/restore", operators::restore_region)
        .post("/api/nodes/{name}/drain", operators::drain)
        .post("/api/nodes/{name}/enable", operators::enable)
        .post("/api/nodes/{name}/maintenance", operators::maintenance)
        .post(
            "/api/control-panel/lavalink/reconcile",
            operators::reconcile,
        )
}

/// Every route the API serves, as (method, path with `{param}` placeholders).
pub fn route_list() -> Vec<(Method, &'static str)> {
    table().list
}
