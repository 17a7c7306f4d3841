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
    text.push_str(&drift_gauges(&state));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

/// The drift gauges of every served model with a drift window (default thresholds).
fn drift_gauges(state: &AppState) -> String {
    let served = state.served();
    let reports: Vec<(&str, crate::drift::DriftReport)> = served
        .iter()
        .filter_map(|m| {
            let w = m.drift.as_ref()?;
            let t = crate::drift::Thresholds::default();
            let r = crate::drift::compare(&m.model, w.reference(), "model", &w.counts(), &t);
            Some((m.name.as_str(), r))
        })
        .collect();
    crate::server::metrics::render_drift(&reports)
}

/// This API's OpenAPI 3 document.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::super::openapi::ApiDoc::openapi())
}
