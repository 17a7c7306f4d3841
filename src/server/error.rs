//! API errors: every failure answers `{"error": {"code", "message", "field"}}`. A bad request
//! gets a 4xx, a busy server a 503, and only a bug a 500; the status of each error kind is
//! decided in one exhaustive match.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong, with its stable snake_case code.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiErrorKind {
    /// Body is not JSON (400).
    MalformedJson,
    /// JSON of the wrong shape or a bad customer (422).
    Invalid,
    /// Body, customers or transactions over a limit (413).
    TooLarge,
    /// Content type is not JSON (415).
    UnsupportedMediaType,
    /// No or unknown API key (401).
    Unauthorized,
    /// Key lacks the scope (403).
    Forbidden,
    /// No such model or route (404).
    NotFound,
    /// Route exists, method does not (405).
    MethodNotAllowed,
    /// A reload found no valid model; the old one keeps serving (409).
    ReloadFailed,
    /// No model loaded yet (503).
    NotReady,
    /// The body did not arrive within the body deadline (408).
    Timeout,
    /// The body budget or the scoring queue is full; retry later (503 with `Retry-After`).
    Busy,
    /// A bug: scoring panicked (500). Never the answer to a bad request.
    Internal,
}

/// An error answered to a client.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

/// The error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Error details.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `invalid_type`, `too_many_customers`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending field, e.g. `customers[3].age`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(kind: ApiErrorKind, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            code: code.into(),
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.kind {
            ApiErrorKind::MalformedJson => StatusCode::BAD_REQUEST,
            ApiErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ApiErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ApiErrorKind::NotFound => StatusCode::NOT_FOUND,
            ApiErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiErrorKind::ReloadFailed => StatusCode::CONFLICT,
            ApiErrorKind::NotReady | ApiErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if self.kind == ApiErrorKind::Unauthorized {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if self.kind == ApiErrorKind::Busy {
            res.insert_header(("Retry-After", "1"));
        }
        res.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message.clone(),
                field: self.field.clone(),
            },
        })
    }
}
