//! Cross-cutting layers: error bodies and the version header, faults, authorization.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::{ApiError, ErrorMessage, trace_for};
use crate::emulator::protocol::ErrorBody;
use crate::emulator::server::wait_true;

/// Sent on every response, including 401s, upgrades and metrics.
const API_VERSION_HEADER: &str = "Lavalink-Api-Version";
const WEBSOCKET_PATH: &str = "/v4/websocket";

/// Adds the version header and renders [`ApiError`]s as Lavalink error bodies.
pub(crate) async fn render_errors(
    State(shared): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let trace = request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.eq_ignore_ascii_case("trace=true"))
    });
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from_static("4"));
    let Some(ErrorMessage(message)) = response.extensions_mut().remove::<ErrorMessage>() else {
        return response;
    };
    let status = response.status();
    let body = ErrorBody {
        timestamp: shared.wall_ms_now(),
        status: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Unknown").to_owned(),
        trace: trace.then(|| trace_for(status, &message)),
        message,
        path,
    };
    let json = serde_json::to_vec(&body).expect("an error body is strings and numbers");
    *response.body_mut() = Body::from(json);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

/// Applies the standing faults: hang, added latency, injected 5xx errors.
pub(crate) async fn inject_faults(
    State(shared): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let fault = shared.draw_request_fault();
    if fault.hang {
        let mut hang = shared.hang_watch();
        let mut shutdown = shared.shutdown_watch();
        tokio::select! {
            biased;
            () = wait_true(&mut shutdown) => return ApiError::unavailable().into_response(),
            _ = hang.wait_for(|hung| !*hung) => {}
        }
    }
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    if let Some(status) = fault.error_status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return ApiError::new(status, "Emulated server error (fault injection)").into_response();
    }
    next.run(request).await
}

/// `Authorization` on every route: missing gets 401, wrong gets 403 (401 on the
/// websocket, whose handshake interceptor only knows 401). Both without a body.
pub(crate) async fn authorize(
    State(shared): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let config = &shared.config;
    let path = request.uri().path();
    if config.metrics_enabled && path == config.metrics_path {
        return next.run(request).await;
    }
    let status = match request.headers().get(header::AUTHORIZATION) {
        Some(value) if value.as_bytes() == config.password.as_bytes() => {
            return next.run(request).await;
        }
        Some(_) if path != WEBSOCKET_PATH => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    tracing::warn!(path, %status, "authorization failed");
    status.into_response()
}

/// Spring's answer for an unmapped path.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    let path = uri.path().trim_start_matches('/');
    ApiError::new(StatusCode::NOT_FOUND, format!("No static resource {path}."))
}

pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Request method '{method}' is not supported"),
    )
}
