//! The route table, shared by `run` and the tests.

use actix_web::web;

use super::error::{ApiError, ApiErrorKind};
use super::handlers::{health, kserve, models, score};

/// 405 with the `Allow` header RFC 9110 requires.
fn method_not_allowed(allow: &'static str) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    let mut res = ApiError::new(
        ApiErrorKind::MethodNotAllowed,
        "method_not_allowed",
        format!("this route takes {allow}"),
    )
    .error_response();
    res.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    res
}

/// Unknown routes answer a JSON 404.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ApiErrorKind::NotFound,
        "not_found",
        "no such route",
    ))
}

/// A resource whose other methods answer 405 with `Allow`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path.to_string())
        .default_service(web::to(move || async move { method_not_allowed(allow) }))
}

/// The open routes a probe or a scraper reads: `/healthz`, `/readyz`, `/metrics` and the
/// KServe v2 `/v2/health/live`, `/v2/health/ready`. They are also all the health listener
/// (`health_bind`) serves.
pub fn configure_health(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(health::metrics)))
        .service(resource("/v2/health/live", "GET").route(web::get().to(kserve::live)))
        .service(resource("/v2/health/ready", "GET").route(web::get().to(kserve::ready)));
}

/// The KServe Open Inference Protocol v2 routes besides health.
fn configure_kserve(cfg: &mut web::ServiceConfig) {
    const MODEL: &str = "/v2/models/{name}";
    const VERSION: &str = "/v2/models/{name}/versions/{version}";
    cfg.service(resource("/v2", "GET").route(web::get().to(kserve::server_metadata)))
        .service(resource(MODEL, "GET").route(web::get().to(kserve::model_metadata)))
        .service(resource(VERSION, "GET").route(web::get().to(kserve::version_metadata)))
        .service(
            resource(&format!("{MODEL}/ready"), "GET").route(web::get().to(kserve::model_ready)),
        )
        .service(
            resource(&format!("{VERSION}/ready"), "GET")
                .route(web::get().to(kserve::version_ready)),
        )
        .service(resource(&format!("{MODEL}/infer"), "POST").route(web::post().to(kserve::infer)))
        .service(
            resource(&format!("{VERSION}/infer"), "POST")
                .route(web::post().to(kserve::version_infer)),
        );
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_health(cfg);
    cfg.service(resource("/v1/score", "POST").route(web::post().to(score::score_default)))
        .service(resource("/v1/models", "GET").route(web::get().to(models::list)))
        .service(resource("/v1/models/{name}", "GET").route(web::get().to(models::show)))
        .service(
            resource("/v1/models/{name}/score", "POST").route(web::post().to(score::score_named)),
        )
        .service(resource("/v1/models/{name}/reload", "POST").route(web::post().to(models::reload)))
        .service(
            resource("/v1/models/{name}/versions/{version}/report", "GET")
                .route(web::get().to(models::report)),
        )
        .service(resource("/openapi.json", "GET").route(web::get().to(health::openapi)));
    configure_kserve(cfg);
}
