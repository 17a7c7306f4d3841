//! Model routes: list, show, reload.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::features::Encoding;
use crate::server::error::{ApiError, ApiErrorKind};
use crate::server::handlers::extract::{AdminAccess, ScoreAccess, ServedModel};
use crate::server::state::{AppState, ReloadOutcome};

/// A served model in the list.
#[derive(Serialize, ToSchema)]
pub struct ModelSummary {
    pub name: String,
    /// Version being served.
    pub version: u32,
    /// Versions on disk.
    pub versions: Vec<u32>,
    /// Version CURRENT names on disk.
    pub current: Option<u32>,
    pub k: usize,
    pub created_at: String,
    pub as_of: Option<String>,
}

/// `GET /v1/models` body.
#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub default_model: String,
    pub models: Vec<ModelSummary>,
}

/// One input field of the model.
#[derive(Serialize, ToSchema)]
pub struct FeatureSchema {
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    /// `transactions` (computed from transactions) or `customers`.
    pub source: String,
    /// Known levels of a categorical feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<String>>,
    /// Training range of a numeric feature (original units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    pub weight: f64,
}

/// `GET /v1/models/{name}` body.
#[derive(Serialize, ToSchema)]
pub struct ModelDetail {
    #[serde(flatten)]
    pub summary: ModelSummary,
    pub custseg_version: String,
    pub seed: u64,
    pub features: Vec<FeatureSchema>,
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<crate::model::Segment>,
    #[schema(value_type = Object)]
    pub metrics: Option<Value>,
}

fn summary(state: &AppState, m: &crate::server::state::LoadedModel) -> ModelSummary {
    ModelSummary {
        name: m.name.clone(),
        version: m.version,
        versions: state.registry.versions(&m.name).unwrap_or_default(),
        current: state.registry.current(&m.name).ok().flatten(),
        k: m.model.file.k,
        created_at: m.model.file.created_at.clone(),
        as_of: m.model.file.as_of.clone(),
    }
}

/// Lists served models.
#[utoipa::path(get, path = "/v1/models", responses((status = 200, body = ModelList), (status = 401, body = crate::server::error::ErrorBody)))]
pub async fn list(_: ScoreAccess, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let models = state
        .loaded()
        .iter()
        .filter_map(|(n, _)| state.get(n))
        .map(|m| summary(&state, &m))
        .collect();
    Ok(HttpResponse::Ok().json(ModelList {
        default_model: state.config.default_model.clone(),
        models,
    }))
}

/// Shows a served model: versions, input schema, segments, metrics.
#[utoipa::path(get, path = "/v1/models/{name}", params(("name" = String, Path, description = "model name")),
    responses((status = 200, body = ModelDetail), (status = 401, body = crate::server::error::ErrorBody), (status = 404, body = crate::server::error::ErrorBody)))]
pub async fn show(
    _: ScoreAccess,
    ServedModel(m): ServedModel,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let f = &m.model.file;
    let features = f
        .features
        .features
        .iter()
        .map(|x| {
            let (kind, levels, range) = match &x.encoding {
                Encoding::Numeric { min, max, .. } => ("numeric", None, Some([*min, *max])),
                Encoding::Categorical { levels, .. } => ("categorical", Some(levels.clone()), None),
            };
            FeatureSchema {
                name: x.name.clone(),
                kind: kind.into(),
                source: match x.source {
                    crate::features::Source::Transactions => "transactions".into(),
                    crate::features::Source::Customers => "customers".into(),
                },
                levels,
                range,
                weight: x.weight,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(ModelDetail {
        summary: summary(&state, &m),
        custseg_version: f.custseg_version.clone(),
        seed: f.seed,
        features,
        segments: f.segments.clone(),
        metrics: m.metrics.as_ref().map(without_locations),
    }))
}

/// `metrics.json` as a score-scope answer shows it: no file-system paths and no raw input
/// values. The places where rows were dropped (`first_seen`, `samples`: file, row and value)
/// are left out, and so is any other text that holds a path separator; counts, indices,
/// curves and timings stay.
pub fn without_locations(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "first_seen" | "samples"))
                .filter(|(_, x)| !matches!(x, Value::String(s) if s.contains(['/', '\\'])))
                .map(|(k, x)| (k.clone(), without_locations(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|x| !matches!(x, Value::String(s) if s.contains(['/', '\\'])))
                .map(without_locations)
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Loads the version CURRENT names; the old version keeps serving if the new one is bad.
#[utoipa::path(post, path = "/v1/models/{name}/reload", params(("name" = String, Path, description = "model name")),
    responses((status = 200, body = ReloadOutcome), (status = 401, body = crate::server::error::ErrorBody),
              (status = 403, body = crate::server::error::ErrorBody), (status = 404, body = crate::server::error::ErrorBody),
              (status = 409, body = crate::server::error::ErrorBody)))]
pub async fn reload(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    if crate::store::check_name(&name).is_err()
        || state
            .registry
            .versions(&name)
            .map_or(true, |v| v.is_empty())
    {
        return Err(ApiError::new(
            ApiErrorKind::NotFound,
            "model_not_found",
            format!("no model '{name}' in the store"),
        ));
    }
    let st = state.clone();
    let outcome = web::block(move || st.reload(&name))
        .await
        .map_err(|_| {
            ApiError::new(
                ApiErrorKind::ReloadFailed,
                "reload_failed",
                "the reload was interrupted",
            )
        })?
        .map_err(|msg| ApiError::new(ApiErrorKind::ReloadFailed, "reload_failed", msg))?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// What a browser may do with a report: show its inline CSS and SVG, and nothing else (no
/// script, no request, no frame, no form).
const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                          form-action 'none'; frame-ancestors 'none'; sandbox";

/// A version's `report.html` from the store, for an operator without shell access.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/report",
    params(("name" = String, Path, description = "model name"), ("version" = String, Path, description = "a version in the store: 3 or v3")),
    responses((status = 200, content_type = "text/html", description = "the page, byte for byte as written at training"),
              (status = 401, body = crate::server::error::ErrorBody), (status = 403, body = crate::server::error::ErrorBody),
              (status = 404, body = crate::server::error::ErrorBody)))]
pub async fn report(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let not_found = || {
        ApiError::new(
            ApiErrorKind::NotFound,
            "report_not_found",
            format!("no report for model '{name}' version '{version}' in the store"),
        )
    };
    let v: u32 = version
        .strip_prefix('v')
        .unwrap_or(&version)
        .parse()
        .map_err(|_| not_found())?;
    let st = state.clone();
    let model = name.clone();
    let read = web::block(move || {
        st.registry
            .read_version_file(&model, v, "report.html", st.config.max_model_bytes)
    });
    // Which rule refused it (missing, a link out of the store, not a regular file) is the
    // store's business: the answer names no path.
    let html = read
        .await
        .map_err(|_| not_found())?
        .map_err(|_| not_found())?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", REPORT_CSP))
        .body(html))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn score_scope_metrics_carry_no_paths_or_raw_values() {
        let m = json!({
            "silhouette": 0.4,
            "data": {"transactions": {
                "rows_read": 10,
                "first_seen": {"duplicate": "/home/a/in.csv row 3 column *"},
                "samples": {"bad_date": ["/home/a/in.csv:4 column date '31/31/2020'"]},
                "date_orders": [{"file": "C:\\\\data\\\\x.csv", "order": "day-first"}],
                "files": ["/home/a/in.csv"]
            }},
            "timings": {"fit_s": 0.2}
        });
        let out = without_locations(&m);
        let text = out.to_string();
        assert!(
            !text.contains("in.csv") && !text.contains("x.csv"),
            "{text}"
        );
        assert_eq!(out["data"]["transactions"]["rows_read"], 10);
        assert_eq!(
            out["data"]["transactions"]["date_orders"][0]["order"],
            "day-first"
        );
        assert_eq!(out["timings"]["fit_s"], 0.2);
        assert_eq!(out["silhouette"], 0.4);
    }
}
