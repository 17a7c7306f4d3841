//! Liveness, readiness, metrics and the OpenAPI document.

use actix_web::{web, HttpResponse};
use serde_json::json;
use utoipa::OpenApi;

use crate::server::error::{ApiError, ApiErrorKind};
use crate::server::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// At least one model is loaded.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, body = crate::server::error::ErrorBody)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let loaded = state.loaded();
    if loaded.is_empty() {
        return Err(ApiError::new(
            ApiErrorKind::NotReady,
            "not_ready",
            "no model is loaded",
        ));
    }
    let models: Vec<_> = loaded
        .iter()
        .map(|(n, v)| json!({"name": n, "version": v}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "models": models})))
}

/// Prometheus text metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&state.loaded()))
}

/// This API's OpenAPI 3 document.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::super::openapi::ApiDoc::openapi())
}
