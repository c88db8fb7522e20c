//! `GET /metrics`: the Prometheus exposition (OpenMetrics text).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::metrics::CONTENT_TYPE;

pub(super) async fn metrics(State(state): State<ApiState>) -> Response {
    match &state.metrics {
        Some(metrics) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are not enabled on this server\n",
        )
            .into_response(),
    }
}
