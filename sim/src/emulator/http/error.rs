//! REST errors. Handlers return [`ApiError`]; the rendering layer, which knows the
//! request path and the `trace` parameter, turns it into Lavalink's error body.

use axum::Extension;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::emulator::state::StateError;

/// Spring's message when a request body cannot be deserialised.
pub(crate) const UNREADABLE_BODY: &str = "Failed to read request";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

/// Carries an error's message from the handler to the rendering layer.
#[derive(Debug, Clone)]
pub(crate) struct ErrorMessage(pub String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unreadable_body() -> Self {
        Self::bad_request(UNREADABLE_BODY)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The node is not serving (between a crash and a restart, or shutting down).
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }
}

impl From<StateError> for ApiError {
    fn from(error: StateError) -> Self {
        let status = match error {
            StateError::SessionNotFound | StateError::PlayerNotFound => StatusCode::NOT_FOUND,
            StateError::NoMatches | StateError::NotATrack => StatusCode::BAD_REQUEST,
            StateError::LoadFailed(_) | StateError::Decode(_) | StateError::VoiceConnectFailed => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Extension(ErrorMessage(self.message))).into_response()
    }
}

/// A plausible Spring stack trace for `?trace=true` (the emulator has no JVM stack).
pub(crate) fn trace_for(status: StatusCode, message: &str) -> String {
    let reason = status
        .canonical_reason()
        .unwrap_or("UNKNOWN")
        .to_uppercase()
        .replace(' ', "_");
    format!(
        "org.springframework.web.server.ResponseStatusException: {} {reason} \"{message}\"\n\
         \tat lavalink.server.util.UtilKt.socketContext(util.kt:120)\n\
         \tat lavalink.server.player.PlayerRestHandler.patchPlayer(PlayerRestHandler.kt:63)\n",
        status.as_u16()
    )
}
