//! API errors: every failure answers `{"error": {"code", "message", "field"}}`, or on the
//! KServe v2 routes the protocol's `{"error": "message"}`. A bad request gets a 4xx, a busy
//! server a 503, and only a bug a 500; the status of each error kind is decided in one
//! exhaustive match.

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

/// The shape of an error body: custseg's own, or the KServe Open Inference Protocol's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error": {"code", "message", "field"}}`; a bad body or customer is 422.
    #[default]
    Custseg,
    /// `{"error": "field: message"}` (the protocol's error object); a request that does not
    /// match the model is 400, as the protocol asks.
    Kserve,
}

/// An error answered to a client.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// How the body is written.
    pub style: ErrorStyle,
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
            style: ErrorStyle::Custseg,
        }
    }

    /// The same error, answered in `style`.
    pub fn styled(mut self, style: ErrorStyle) -> Self {
        self.style = style;
        self
    }

    /// The same error, answered as the KServe v2 protocol's `{"error": "..."}`.
    pub fn kserve(self) -> Self {
        self.styled(ErrorStyle::Kserve)
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
            ApiErrorKind::Invalid => match self.style {
                ErrorStyle::Custseg => StatusCode::UNPROCESSABLE_ENTITY,
                ErrorStyle::Kserve => StatusCode::BAD_REQUEST,
            },
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
        match self.style {
            ErrorStyle::Custseg => res.json(ErrorBody {
                error: ErrorDetail {
                    code: self.code.clone(),
                    message: self.message.clone(),
                    field: self.field.clone(),
                },
            }),
            ErrorStyle::Kserve => res.json(KserveErrorBody {
                error: match &self.field {
                    Some(f) => format!("{f}: {}", self.message),
                    None => self.message.clone(),
                },
            }),
        }
    }
}

/// The KServe v2 protocol's error body: `{"error": "input 'age' (row 3): expected a number"}`.
#[derive(Serialize, ToSchema)]
pub struct KserveErrorBody {
    /// What went wrong, naming the input (and row) when there is one.
    pub error: String,
}
