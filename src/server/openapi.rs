//! The OpenAPI document, generated from the handler annotations and body types.

use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail, KserveErrorBody};
use super::handlers::{health, kserve, models, score};
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
        models::report,
        health::healthz,
        health::readyz,
        health::metrics,
        kserve::live,
        kserve::ready,
        kserve::server_metadata,
        kserve::model_metadata,
        kserve::version_metadata,
        kserve::model_ready,
        kserve::version_ready,
        kserve::infer,
        kserve::version_infer
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
        ErrorDetail,
        kserve::InferRequest,
        kserve::InferInput,
        kserve::RequestedOutput,
        kserve::InferResponse,
        kserve::OutputTensor,
        kserve::ModelMetadata,
        kserve::TensorMetadata,
        kserve::ServerMetadata,
        KserveErrorBody
    ))
)]
pub struct ApiDoc;
