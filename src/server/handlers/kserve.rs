//! The KServe Open Inference Protocol v2 REST routes (`/v2/...`), on the `/v1` scoring core:
//! the same keys and scopes, body limits, budget, deadline and scoring pool
//! ([`super::score::score_with`]) and the same per-customer rules
//! ([`super::score::score_customers`]), so a customer gets the same segment either way.
//!
//! A model has one input per feature (its name, `FP64` for a numeric feature, `BYTES` for a
//! categorical one, shape `[-1]`), plus an optional `customer_id`; an input's `data` is flat or
//! nested row-major, shape `[n]` or `[n, 1]`, and `null` stands for a missing value (imputed,
//! as in `/v1`). Outputs are `segment_id` (INT64), `segment` and `tier` (BYTES), `distance`
//! (FP64) and `warnings` (BYTES: each row's `/v1` warnings as JSON text). Errors are the
//! protocol's `{"error": "..."}`; a request that does not fit the model is a 400 naming the
//! input. Tensor data travels as JSON only (no binary tensor extension).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::features::FeatureSpec;
use crate::server::error::{ApiError, ApiErrorKind, ErrorStyle};
use crate::server::handlers::extract::{ScoreAccess, ServedModel};
use crate::server::handlers::score::{
    check_batch_size, default_as_of, parse_json, score_customers, score_with, Protocol, ScoreResult,
};
use crate::server::state::{AppState, LoadedModel};

/// The `/v2` inference route.
const V2: Protocol = Protocol {
    score: infer_body,
    untyped_json: true,
    errors: ErrorStyle::Kserve,
};

/// Number datatypes a numeric feature accepts (its metadata says `FP64`).
const FLOAT_TYPES: [&str; 3] = ["FP16", "FP32", "FP64"];
/// Integer datatypes: accepted for a numeric feature and for `customer_id`.
const INT_TYPES: [&str; 8] = [
    "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
];

/// Every output, in the order a request without `outputs` gets them.
const OUTPUTS: [(&str, &str); 6] = [
    ("segment_id", "INT64"),
    ("segment", "BYTES"),
    ("tier", "BYTES"),
    ("distance", "FP64"),
    ("warnings", "BYTES"),
    ("action", "BYTES"),
];

/// The optional input that names each row's customer.
const CUSTOMER_ID: &str = "customer_id";

/// `POST /v2/models/{name}/infer` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    /// Echoed in the response.
    pub id: Option<String>,
    /// Request parameters; none changes the answer (tritonclient's `binary_data_output` is
    /// ignored: outputs are always JSON).
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// One per model feature (see the model's metadata), plus optionally `customer_id`.
    pub inputs: Vec<InferInput>,
    /// The outputs wanted, in this order; default all.
    pub outputs: Option<Vec<RequestedOutput>>,
}

/// One input tensor.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InferInput {
    pub name: String,
    /// `[n]` or `[n, 1]`.
    #[serde(default)]
    #[schema(value_type = Vec<u64>, example = json!([2]))]
    pub shape: Value,
    /// `FP64` (or another number type) for a numeric feature, `BYTES` for a categorical
    /// feature, `BYTES` or an integer type for `customer_id`.
    #[serde(default)]
    #[schema(value_type = String, example = "FP64")]
    pub datatype: Value,
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// Row-major values, flat or nested; `null` is a missing value.
    #[serde(default)]
    #[schema(value_type = Vec<Value>)]
    pub data: Value,
}

/// An output a request asks for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedOutput {
    pub name: String,
    /// Ignored (`binary_data`: outputs are always JSON).
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
}

/// `POST /v2/models/{name}/infer` answer.
#[derive(Serialize, ToSchema)]
pub struct InferResponse {
    pub model_name: String,
    /// The version that scored every row.
    pub model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outputs: Vec<OutputTensor>,
}

/// One output tensor, a value per input row in input order.
#[derive(Serialize, ToSchema)]
pub struct OutputTensor {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<usize>,
    #[schema(value_type = Vec<Value>)]
    pub data: Vec<Value>,
}

/// A tensor in model metadata.
#[derive(Serialize, ToSchema)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: String,
    /// `[-1]`: any number of rows.
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{name}` answer.
#[derive(Serialize, ToSchema)]
pub struct ModelMetadata {
    pub name: String,
    /// The served version (the only one `/versions/{version}` accepts).
    pub versions: Vec<String>,
    /// `custseg`.
    pub platform: String,
    /// One per model feature, then the optional `customer_id`.
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

/// `GET /v2` answer.
#[derive(Serialize, ToSchema)]
pub struct ServerMetadata {
    pub name: String,
    pub version: String,
    /// None: tensor data travels as JSON.
    pub extensions: Vec<String>,
}

/// A 400 about one input (or, with `row`, one of its values).
fn bad_input(name: &str, row: Option<usize>, code: &str, message: String) -> ApiError {
    let field = match row {
        Some(i) => format!("input '{name}' (row {i})"),
        None => format!("input '{name}'"),
    };
    ApiError::new(ApiErrorKind::Invalid, code, message).with_field(field)
}

/// What an input carries.
#[derive(Clone, Copy, Debug, PartialEq)]
enum InputKind {
    Numeric,
    Categorical,
    CustomerId,
}

impl InputKind {
    fn of(spec: &FeatureSpec, name: &str) -> Option<InputKind> {
        if name == CUSTOMER_ID {
            return Some(InputKind::CustomerId);
        }
        let f = spec.features.iter().find(|f| f.name == name)?;
        Some(match f.is_numeric() {
            true => InputKind::Numeric,
            false => InputKind::Categorical,
        })
    }

    /// The datatype the model's metadata names.
    fn datatype(self) -> &'static str {
        match self {
            InputKind::Numeric => "FP64",
            InputKind::Categorical | InputKind::CustomerId => "BYTES",
        }
    }

    fn accepts(self, datatype: &str) -> bool {
        match self {
            InputKind::Numeric => FLOAT_TYPES.contains(&datatype) || INT_TYPES.contains(&datatype),
            InputKind::Categorical => datatype == "BYTES",
            InputKind::CustomerId => datatype == "BYTES" || INT_TYPES.contains(&datatype),
        }
    }

    /// Whether `v` is a value of `datatype` (`null`: a missing value).
    fn fits(self, datatype: &str, v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(_) => datatype == "BYTES",
            Value::Number(n) if datatype.starts_with("UINT") => n.is_u64(),
            Value::Number(n) if datatype.starts_with("INT") => n.is_i64() || n.is_u64(),
            Value::Number(_) => FLOAT_TYPES.contains(&datatype),
            _ => false,
        }
    }
}

/// The rows of an input's shape: `[n]` or `[n, 1]`.
fn rows_of_shape(input: &InferInput) -> Result<usize, ApiError> {
    let name = &input.name;
    let dims: Option<Vec<u64>> = match &input.shape {
        Value::Array(a) => a.iter().map(Value::as_u64).collect(),
        _ => None,
    };
    let wrong = || {
        bad_input(
            name,
            None,
            "invalid_shape",
            format!(
                "shape must be [n] or [n, 1] (non-negative integers), got {}",
                input.shape
            ),
        )
    };
    match dims.as_deref() {
        Some([n]) | Some([n, 1]) => usize::try_from(*n).map_err(|_| wrong()),
        _ => Err(wrong()),
    }
}

/// Appends the values of (possibly nested) row-major `data` to `out`.
fn flatten<'a>(data: &'a Value, out: &mut Vec<&'a Value>) {
    match data {
        Value::Array(a) => a.iter().for_each(|v| flatten(v, out)),
        v => out.push(v),
    }
}

/// One checked input: its values, one per row.
fn column<'a>(spec: &FeatureSpec, input: &'a InferInput) -> Result<Vec<&'a Value>, ApiError> {
    let name = input.name.as_str();
    let kind = InputKind::of(spec, name).ok_or_else(|| {
        let names: Vec<&str> = spec.features.iter().map(|f| f.name.as_str()).collect();
        bad_input(
            name,
            None,
            "unknown_input",
            format!(
                "not an input of this model; its inputs are {} and optionally {CUSTOMER_ID}",
                names.join(", ")
            ),
        )
    })?;
    if let Some(p) = input.parameters.as_ref().and_then(|p| {
        p.keys()
            .find(|k| *k == "binary_data_size" || k.starts_with("shared_memory"))
    }) {
        return Err(bad_input(
            name,
            None,
            "unsupported_parameter",
            format!("'{p}': binary and shared-memory tensor data are not supported; send the values in \"data\""),
        ));
    }
    let datatype = input.datatype.as_str().unwrap_or("");
    if !kind.accepts(datatype) {
        return Err(bad_input(
            name,
            None,
            "wrong_datatype",
            format!(
                "datatype must be {}, got {}",
                kind.datatype(),
                input.datatype
            ),
        ));
    }
    let rows = rows_of_shape(input)?;
    if !input.data.is_array() {
        return Err(bad_input(
            name,
            None,
            "invalid_data",
            format!("data must be an array, got {}", input.data),
        ));
    }
    let mut values = Vec::new();
    flatten(&input.data, &mut values);
    if values.len() != rows {
        return Err(bad_input(
            name,
            None,
            "shape_mismatch",
            format!(
                "shape {} holds {rows} values, data has {}",
                input.shape,
                values.len()
            ),
        ));
    }
    if let Some(i) = values.iter().position(|v| !kind.fits(datatype, v)) {
        return Err(bad_input(
            name,
            Some(i),
            "wrong_datatype",
            format!("{} is not a {datatype} value", values[i]),
        ));
    }
    Ok(values)
}

/// The request's customers as `/v1` customer objects (input name → value), after checking
/// every input against the model: known, given once, every feature given, one row count.
fn customers_of(
    spec: &FeatureSpec,
    inputs: &[InferInput],
    cfg: &crate::server::ServerConfig,
) -> Result<Vec<Value>, ApiError> {
    let mut columns: Vec<(&str, Vec<&Value>)> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let name = input.name.as_str();
        if columns.iter().any(|(c, _)| *c == name) {
            return Err(bad_input(
                name,
                None,
                "duplicate_input",
                "given twice".into(),
            ));
        }
        let values = column(spec, input)?;
        if let Some((first, v)) = columns.first().filter(|(_, v)| v.len() != values.len()) {
            return Err(bad_input(
                name,
                None,
                "inconsistent_rows",
                format!(
                    "{} rows, but input '{first}' has {}: every input has one value per customer",
                    values.len(),
                    v.len()
                ),
            ));
        }
        columns.push((name, values));
    }
    if let Some(f) = spec
        .features
        .iter()
        .find(|f| !columns.iter().any(|(c, _)| *c == f.name))
    {
        let kind = InputKind::of(spec, &f.name).unwrap_or(InputKind::Numeric);
        return Err(bad_input(
            &f.name,
            None,
            "missing_input",
            format!(
                "missing: every model feature is an input ({}, shape [n])",
                kind.datatype()
            ),
        ));
    }
    let n = columns.first().map_or(0, |(_, v)| v.len());
    check_batch_size(n, cfg, "inputs")?;
    Ok((0..n)
        .map(|i| {
            let row = columns
                .iter()
                .map(|(name, v)| (name.to_string(), v[i].clone()));
            Value::Object(row.collect())
        })
        .collect())
}

/// The outputs a request names (all when it names none), checked.
fn wanted_outputs(
    requested: Option<&[RequestedOutput]>,
) -> Result<Vec<(&'static str, &'static str)>, ApiError> {
    let Some(requested) = requested else {
        return Ok(OUTPUTS.to_vec());
    };
    let mut out: Vec<(&'static str, &'static str)> = Vec::with_capacity(requested.len());
    for r in requested {
        let bad = |code: &str, message: String| {
            ApiError::new(ApiErrorKind::Invalid, code, message)
                .with_field(format!("output '{}'", r.name))
        };
        let Some(o) = OUTPUTS.iter().find(|(n, _)| *n == r.name) else {
            let names: Vec<&str> = OUTPUTS.iter().map(|(n, _)| *n).collect();
            return Err(bad(
                "unknown_output",
                format!(
                    "not an output of this model; its outputs are {}",
                    names.join(", ")
                ),
            ));
        };
        if out.contains(o) {
            return Err(bad("duplicate_output", "requested twice".into()));
        }
        out.push(*o);
    }
    Ok(out)
}

/// One output's values for every result.
fn output_data(name: &str, results: &[ScoreResult]) -> Vec<Value> {
    results
        .iter()
        .map(|r| match name {
            "segment_id" => Value::from(r.segment_id),
            "segment" => Value::from(r.segment),
            "tier" => Value::from(r.tier),
            "distance" => Value::from(r.distance),
            "action" => Value::from(r.action.as_ref().map(|a| a.code.as_ref())),
            _ => Value::from(serde_json::to_string(&r.warnings).unwrap_or_default()),
        })
        .collect()
}

/// Parses, checks and scores one infer body; returns the response body.
fn infer_body(state: &AppState, loaded: &LoadedModel, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: InferRequest = parse_json(body, state.config.max_json_depth)?;
    let wanted = wanted_outputs(request.outputs.as_deref())?;
    let customers = customers_of(&loaded.model.file.features, &request.inputs, &state.config)?;
    let as_of = default_as_of(state, loaded)?;
    let row_field = |i: usize, field: &str| match field {
        "" => format!("row {i}"),
        f => format!("input '{f}' (row {i})"),
    };
    let results = score_customers(state, loaded, &customers, as_of, &row_field)?;
    // Only a customer given by transactions can go unscored, and v2 takes features.
    if let Some(i) = results.iter().position(|r| r.segment_id.is_none()) {
        return Err(ApiError::new(
            ApiErrorKind::Invalid,
            "no_purchases",
            "this customer has no purchase to score",
        )
        .with_field(format!("row {i}")));
    }
    let outputs = wanted
        .iter()
        .map(|(name, datatype)| OutputTensor {
            name: name.to_string(),
            datatype: datatype.to_string(),
            shape: vec![results.len()],
            data: output_data(name, &results),
        })
        .collect();
    serde_json::to_vec(&InferResponse {
        model_name: loaded.name.clone(),
        model_version: loaded.version.to_string(),
        id: request.id,
        outputs,
    })
    .map_err(|e| ApiError::new(ApiErrorKind::Invalid, "unencodable", e.to_string()))
}

/// The served model a `/v2/models/{name}[/versions/{version}]` route names, once the key may
/// score: 404 when it is not loaded or `{version}` is not the served version.
fn served(
    access: Result<ScoreAccess, ApiError>,
    model: Result<ServedModel, ApiError>,
    req: &HttpRequest,
) -> Result<Arc<LoadedModel>, ApiError> {
    access.map_err(ApiError::kserve)?;
    let ServedModel(m) = model.map_err(ApiError::kserve)?;
    match req.match_info().get("version") {
        Some(v) if v != m.version.to_string() => Err(ApiError::new(
            ApiErrorKind::NotFound,
            "version_not_served",
            format!(
                "model '{}' version '{v}' is not served (the served version is {})",
                m.name, m.version
            ),
        )
        .kserve()),
        _ => Ok(m),
    }
}

fn metadata(m: &LoadedModel) -> ModelMetadata {
    let spec = &m.model.file.features;
    let tensor = |name: &str, datatype: &str| TensorMetadata {
        name: name.into(),
        datatype: datatype.into(),
        shape: vec![-1],
    };
    let mut inputs: Vec<TensorMetadata> = spec
        .features
        .iter()
        .map(|f| {
            let kind = InputKind::of(spec, &f.name).unwrap_or(InputKind::Numeric);
            tensor(&f.name, kind.datatype())
        })
        .collect();
    inputs.push(tensor(CUSTOMER_ID, "BYTES"));
    ModelMetadata {
        name: m.name.clone(),
        versions: vec![m.version.to_string()],
        platform: "custseg".into(),
        inputs,
        outputs: OUTPUTS.iter().map(|(n, d)| tensor(n, d)).collect(),
    }
}

/// Server liveness: 200 with an empty body.
#[utoipa::path(get, path = "/v2/health/live", responses((status = 200, description = "alive")))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// Server readiness: 200 once a model is loaded, else 400 (the protocol's 4xx), both with an
/// empty body.
#[utoipa::path(get, path = "/v2/health/ready", responses((status = 200, description = "ready"), (status = 400, description = "no model is loaded")))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.loaded().is_empty() {
        true => HttpResponse::BadRequest().finish(),
        false => HttpResponse::Ok().finish(),
    }
}

/// Server metadata.
#[utoipa::path(get, path = "/v2", responses((status = 200, body = ServerMetadata)))]
pub async fn server_metadata() -> HttpResponse {
    HttpResponse::Ok().json(ServerMetadata {
        name: "custseg".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: Vec::new(),
    })
}

/// Model metadata: inputs (one per feature) and outputs.
#[utoipa::path(get, path = "/v2/models/{name}", params(("name" = String, Path, description = "model name")),
    responses((status = 200, body = ModelMetadata), (status = 401, body = crate::server::error::KserveErrorBody),
              (status = 404, body = crate::server::error::KserveErrorBody)))]
pub async fn model_metadata(
    access: Result<ScoreAccess, ApiError>,
    model: Result<ServedModel, ApiError>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let m = served(access, model, &req)?;
    Ok(HttpResponse::Ok().json(metadata(&m)))
}

/// Model metadata of the served version.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}",
    params(("name" = String, Path, description = "model name"), ("version" = String, Path, description = "the served version, e.g. 3")),
    responses((status = 200, body = ModelMetadata), (status = 401, body = crate::server::error::KserveErrorBody),
              (status = 404, body = crate::server::error::KserveErrorBody)))]
pub async fn version_metadata(
    access: Result<ScoreAccess, ApiError>,
    model: Result<ServedModel, ApiError>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    model_metadata(access, model, req).await
}

/// Model readiness: 200 with an empty body when it is loaded, else 404.
#[utoipa::path(get, path = "/v2/models/{name}/ready", params(("name" = String, Path, description = "model name")),
    responses((status = 200, description = "loaded"), (status = 401, body = crate::server::error::KserveErrorBody),
              (status = 404, body = crate::server::error::KserveErrorBody)))]
pub async fn model_ready(
    access: Result<ScoreAccess, ApiError>,
    model: Result<ServedModel, ApiError>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    served(access, model, &req)?;
    Ok(HttpResponse::Ok().finish())
}

/// Readiness of the served version.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready",
    params(("name" = String, Path, description = "model name"), ("version" = String, Path, description = "the served version")),
    responses((status = 200, description = "loaded"), (status = 401, body = crate::server::error::KserveErrorBody),
              (status = 404, body = crate::server::error::KserveErrorBody)))]
pub async fn version_ready(
    access: Result<ScoreAccess, ApiError>,
    model: Result<ServedModel, ApiError>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    model_ready(access, model, req).await
}

/// Scores customers given as one input tensor per feature.
#[utoipa::path(post, path = "/v2/models/{name}/infer", request_body = InferRequest,
    params(("name" = String, Path, description = "model name")),
    responses((status = 200, body = InferResponse), (status = 400, body = crate::server::error::KserveErrorBody),
              (status = 401, body = crate::server::error::KserveErrorBody), (status = 403, body = crate::server::error::KserveErrorBody),
              (status = 404, body = crate::server::error::KserveErrorBody), (status = 413, body = crate::server::error::KserveErrorBody),
              (status = 415, body = crate::server::error::KserveErrorBody), (status = 503, body = crate::server::error::KserveErrorBody)))]
pub async fn infer(
    access: Result<ScoreAccess, ApiError>,
    model: Result<ServedModel, ApiError>,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let m = served(access, model, &req)?;
    if req
        .headers()
        .contains_key("inference-header-content-length")
    {
        return Err(ApiError::new(
            ApiErrorKind::Invalid,
            "binary_data_unsupported",
            "binary tensor data is not supported: send the values as JSON \"data\" \
             (tritonclient: set_data_from_numpy(..., binary_data=False))",
        )
        .kserve());
    }
    score_with(state, &req, payload, m, V2).await
}

/// [`infer`] with the served version named.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", request_body = InferRequest,
    params(("name" = String, Path, description = "model name"), ("version" = String, Path, description = "the served version")),
    responses((status = 200, body = InferResponse), (status = 400, body = crate::server::error::KserveErrorBody),
              (status = 401, body = crate::server::error::KserveErrorBody), (status = 404, body = crate::server::error::KserveErrorBody)))]
pub async fn version_infer(
    access: Result<ScoreAccess, ApiError>,
    model: Result<ServedModel, ApiError>,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    infer(access, model, state, req, payload).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::spec::{fit, Candidate, RawColumn};
    use crate::features::{FeatureConfig, Source};
    use serde_json::json;

    /// A numeric `age` and a categorical `plan`.
    fn spec() -> FeatureSpec {
        let cands = vec![
            Candidate {
                name: "age".into(),
                source: Source::Customers,
                column: None,
                values: RawColumn::Numbers(vec![Some(20.0), Some(40.0), Some(60.0)]),
            },
            Candidate {
                name: "plan".into(),
                source: Source::Customers,
                column: None,
                values: RawColumn::Labels(vec![Some("a".into()), Some("b".into()), None]),
            },
        ];
        fit(&cands, &FeatureConfig::default()).unwrap().0
    }

    fn customers(v: Value) -> Result<Vec<Value>, ApiError> {
        let inputs: Vec<InferInput> = serde_json::from_value(v).unwrap();
        customers_of(&spec(), &inputs, &crate::server::ServerConfig::default())
    }

    /// The error's code and field.
    fn fails(v: Value) -> (String, String) {
        let e = customers(v).unwrap_err();
        assert_eq!(e.clone().kserve().status_code(), 400, "{e}");
        (e.code, e.field.unwrap_or_default())
    }

    fn age(shape: Value, data: Value) -> Value {
        json!({"name": "age", "shape": shape, "datatype": "FP64", "data": data})
    }

    fn plan(data: Value) -> Value {
        let n = data.as_array().map_or(0, Vec::len);
        json!({"name": "plan", "shape": [n], "datatype": "BYTES", "data": data})
    }

    use actix_web::ResponseError;

    #[test]
    fn columns_become_v1_customers_flat_or_nested() {
        let rows = customers(json!([
            age(json!([2, 1]), json!([[30], [null]])),
            plan(json!(["a", "b"])),
            {"name": "customer_id", "shape": [2], "datatype": "BYTES", "data": ["c1", "c2"]}
        ]))
        .unwrap();
        assert_eq!(
            rows,
            [
                json!({"age": 30, "plan": "a", "customer_id": "c1"}),
                json!({"age": null, "plan": "b", "customer_id": "c2"})
            ]
        );
    }

    #[test]
    fn an_unknown_input_is_named() {
        let (code, field) = fails(json!([
            age(json!([1]), json!([1])),
            plan(json!(["a"])),
            {"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]}
        ]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("unknown_input", "input 'colour'")
        );
    }

    #[test]
    fn a_missing_feature_is_named() {
        let (code, field) = fails(json!([age(json!([1]), json!([1]))]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("missing_input", "input 'plan'")
        );
    }

    #[test]
    fn an_input_given_twice_is_named() {
        let (code, field) = fails(json!([plan(json!(["a"])), plan(json!(["b"]))]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("duplicate_input", "input 'plan'")
        );
    }

    #[test]
    fn a_wrong_datatype_is_named() {
        let bytes_age = json!({"name": "age", "shape": [1], "datatype": "BYTES", "data": ["30"]});
        let (code, field) = fails(json!([bytes_age, plan(json!(["a"]))]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("wrong_datatype", "input 'age'")
        );
        let fp_plan = json!({"name": "plan", "shape": [1], "datatype": "FP64", "data": [1.0]});
        let (code, field) = fails(json!([age(json!([1]), json!([1])), fp_plan]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("wrong_datatype", "input 'plan'")
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_row() {
        let (code, field) = fails(json!([
            age(json!([2]), json!([1, "x"])),
            plan(json!(["a", "b"]))
        ]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("wrong_datatype", "input 'age' (row 1)")
        );
        let int_age = json!({"name": "age", "shape": [1], "datatype": "INT64", "data": [1.5]});
        let (code, _) = fails(json!([int_age, plan(json!(["a"]))]));
        assert_eq!(code, "wrong_datatype");
    }

    #[test]
    fn shape_and_data_length_must_agree() {
        let (code, field) = fails(json!([
            age(json!([3]), json!([1, 2])),
            plan(json!(["a", "b"]))
        ]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("shape_mismatch", "input 'age'")
        );
    }

    #[test]
    fn a_shape_is_n_or_n_by_one() {
        for shape in [
            json!([2, 2]),
            json!([-1]),
            json!([]),
            json!("2"),
            Value::Null,
        ] {
            let (code, field) = fails(json!([age(shape, json!([1, 2])), plan(json!(["a", "b"]))]));
            assert_eq!(
                (code.as_str(), field.as_str()),
                ("invalid_shape", "input 'age'")
            );
        }
    }

    #[test]
    fn every_input_has_the_same_rows() {
        let (code, field) = fails(json!([age(json!([2]), json!([1, 2])), plan(json!(["a"]))]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("inconsistent_rows", "input 'plan'")
        );
    }

    #[test]
    fn binary_tensor_data_is_refused() {
        let mut a = age(json!([1]), json!([1]));
        a["parameters"] = json!({"binary_data_size": 8});
        let (code, field) = fails(json!([a, plan(json!(["a"]))]));
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("unsupported_parameter", "input 'age'")
        );
    }

    #[test]
    fn requested_outputs_are_known_and_kept_in_order() {
        let req = |names: &[&str]| -> Vec<RequestedOutput> {
            names
                .iter()
                .map(|n| RequestedOutput {
                    name: n.to_string(),
                    parameters: None,
                })
                .collect()
        };
        let got = wanted_outputs(Some(&req(&["tier", "segment_id"]))).unwrap();
        assert_eq!(got, [("tier", "BYTES"), ("segment_id", "INT64")]);
        assert_eq!(wanted_outputs(None).unwrap().len(), OUTPUTS.len());
        let e = wanted_outputs(Some(&req(&["label"]))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("output 'label'"));
        let e = wanted_outputs(Some(&req(&["tier", "tier"]))).unwrap_err();
        assert_eq!(e.code, "duplicate_output");
    }

    #[test]
    fn kserve_errors_are_a_string_naming_the_input() {
        let e = customers(json!([age(json!([1]), json!([1]))]))
            .unwrap_err()
            .kserve();
        let body = actix_web::body::to_bytes(e.error_response().into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let text = v["error"].as_str().unwrap();
        assert!(text.starts_with("input 'plan': missing"), "{text}");
    }
}
