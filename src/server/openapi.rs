//! The OpenAPI document, generated from the handler annotations and body types.

use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail};
use super::handlers::{health, models, score};
use super::state::ReloadOutcome;

#[derive(OpenApi)]
#[openapi(
    info(title = "custseg", description = "Customer segmentation scoring API"),
    paths(
        score::score_default,
        score::score_named,
        models::list,
        models::show,
        models::reload,
        health::healthz,
        health::readyz,
        health::metrics
    ),
    components(schemas(
        score::ScoreRequest,
        score::ScoreResponse,
        score::ScoreResult,
        score::ValueResult,
        score::Action,
        score::RequestWarning,
        models::ModelList,
        models::ModelSummary,
        models::ModelDetail,
        models::FeatureSchema,
        ReloadOutcome,
        ErrorBody,
        ErrorDetail
    ))
)]
pub struct ApiDoc;
