//! Bearer tokens, compared in constant time.

use std::fmt;

use axum::http::{HeaderMap, StatusCode, header};
use subtle::ConstantTimeEq;

/// A secret bearer token. Never printed.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token; an empty one is refused.
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        (!token.is_empty()).then_some(Self(token))
    }

    fn matches(&self, presented: &str) -> bool {
        // Compares every byte whatever the first mismatch, so timing leaks nothing
        // but the length.
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// 401 when no bearer token is presented (or none is configured), 403 when it is wrong.
pub(super) fn check(expected: Option<&ApiToken>, headers: &HeaderMap) -> Result<(), StatusCode> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (expected, presented) {
        (_, None) | (None, _) => Err(StatusCode::UNAUTHORIZED),
        (Some(expected), Some(presented)) if expected.matches(presented) => Ok(()),
        (Some(_), Some(_)) => Err(StatusCode::FORBIDDEN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn missing_wrong_and_right_tokens() {
        let token = ApiToken::new("s3cret").unwrap();
        assert_eq!(
            check(Some(&token), &headers(None)),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            check(Some(&token), &headers(Some("s3cret"))),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            check(Some(&token), &headers(Some("Bearer nope"))),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(check(Some(&token), &headers(Some("Bearer s3cret"))), Ok(()));
        assert_eq!(
            check(None, &headers(Some("Bearer s3cret"))),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert!(ApiToken::new("").is_none());
        assert_eq!(format!("{token:?}"), "ApiToken(<redacted>)");
    }
}
