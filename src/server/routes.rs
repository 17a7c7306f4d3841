//! The route table, shared by `run` and the tests.

use actix_web::web;

use super::error::{ApiError, ApiErrorKind};
use super::handlers::{health, models, score};

async fn method_not_allowed() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ApiErrorKind::MethodNotAllowed,
        "method_not_allowed",
        "this route does not take that method",
    ))
}

/// Unknown routes answer a JSON 404.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ApiErrorKind::NotFound,
        "not_found",
        "no such route",
    ))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let resource =
        |path: &str| web::resource(path.to_string()).default_service(web::to(method_not_allowed));
    cfg.service(resource("/v1/score").route(web::post().to(score::score_default)))
        .service(resource("/v1/models").route(web::get().to(models::list)))
        .service(resource("/v1/models/{name}").route(web::get().to(models::show)))
        .service(resource("/v1/models/{name}/score").route(web::post().to(score::score_named)))
        .service(resource("/v1/models/{name}/reload").route(web::post().to(models::reload)))
        .service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/metrics").route(web::get().to(health::metrics)))
        .service(resource("/openapi.json").route(web::get().to(health::openapi)));
}
