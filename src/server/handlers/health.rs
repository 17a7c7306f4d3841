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
    let mut text = state.metrics.render(&state.loaded());
    text.push_str(&crate::server::metrics::render_gauges(&[
        (
            "custseg_scoring_jobs",
            "Scoring requests running or queued on the scoring pool.",
            state.scoring.admitted(),
        ),
        (
            "custseg_scoring_slots",
            "Scoring threads plus queue places; more jobs than this answer 503.",
            state.scoring.limit(),
        ),
        (
            "custseg_body_bytes_in_flight",
            "Bytes of request bodies held in memory across all connections.",
            state.body_budget.used(),
        ),
        (
            "custseg_body_bytes_budget",
            "The most request-body bytes held at once; more answer 503.",
            state.body_budget.limit(),
        ),
    ]));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

/// This API's OpenAPI 3 document.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::super::openapi::ApiDoc::openapi())
}
