use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Every API error, with one mapping to status codes. Internal errors are
/// logged in full and answered with a generic message: clients never see
/// database or file system details.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    /// Missing or wrong credentials.
    Unauthorized(String),
    /// Known, but not allowed (an approver not on the list).
    Forbidden(String),
    NotFound(String),
    /// The state forbids it (an approval already answered).
    Conflict(String),
    /// A body over a size limit (after decompression too).
    TooLarge(String),
    /// A body of a type the route does not take (`text/plain` on JSON).
    UnsupportedMediaType(String),
    /// A `Host` this server does not answer for (DNS rebinding).
    MisdirectedRequest(String),
    /// Too many failed authentications from one address.
    TooManyRequests(String),
    /// The pipeline is shutting down; the client should retry elsewhere/later.
    Unavailable(String),
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
            ApiError::MisdirectedRequest(m) => (StatusCode::MISDIRECTED_REQUEST, m),
            ApiError::TooManyRequests(m) => (StatusCode::TOO_MANY_REQUESTS, m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal API error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        (status, Json(json!({"error": message}))).into_response()
    }
}

impl From<riposte_store::StoreError> for ApiError {
    fn from(e: riposte_store::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<riposte_respond::RespondError> for ApiError {
    fn from(e: riposte_respond::RespondError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Malformed request bodies and query strings answer in the API's own error
/// shape, not axum's plain text.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}
