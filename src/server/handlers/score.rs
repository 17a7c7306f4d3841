//! `POST /v1/score` and `POST /v1/models/{name}/score`.
//!
//! The whole request is validated before anything is scored: a bad customer fails the request
//! with 422 (or 413 for a limit) and `error.field` naming it, e.g. `customers[3].age`; results
//! are never partial. A valid customer without a purchase is not an error: its result has a
//! null segment and a `no_purchases` warning. Results come back in input order.

use std::borrow::Cow;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::data::dates::{format_day, parse_iso_date, today};
use crate::features::lifecycle::{RfmScores, Stage};
use crate::features::FeatureWarning;
use crate::score::request::{check_missing, prepare_with};
use crate::server::config::DefaultAsOf;
use crate::server::error::{ApiError, ApiErrorKind, ErrorStyle};
use crate::server::handlers::extract::{ScoreAccess, ServedModel};
use crate::server::limits::{PoolRefusal, Reservation, INLINE_BODY};
use crate::server::state::{AppState, LoadedModel};

/// A scoring request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// Customers: `customer_id` (optional, echoed back), feature values by name
    /// (`recency_days`, `frequency`, `monetary`, `age`, `gender`, …) and/or `transactions`:
    /// `[{"date": "2026-01-03", "amount": 19.9, "order_id": "o1"}]`, with behaviour fields
    /// (`category`, `channel`, `country`, `product`, `discount`) for models that use them;
    /// for models with event features, `events`: `[{"timestamp": "2026-01-03T10:15:00Z",
    /// "event": "view", "product": "P17", "category": "Wine"}]` (a timestamp is an RFC 3339
    /// date-time or Unix seconds).
    #[schema(value_type = Vec<Object>)]
    pub customers: Vec<Value>,
    /// Date transactions are evaluated at: ISO 8601 `YYYY-MM-DD` or an RFC 3339 date-time
    /// (its calendar day; years 1900–2200). Default: today (UTC), or the model's own as-of
    /// date under `serve --default-as-of model`; the response then says which
    /// (`as_of`, warning `as_of_defaulted`).
    #[schema(value_type = Option<String>, format = Date, example = "2026-01-31",
             pattern = r"^(19[0-9]{2}|20[0-9]{2}|21[0-9]{2}|2200)-[0-9]{2}-[0-9]{2}([Tt ].*)?$")]
    pub as_of: Option<String>,
}

// Texts are borrowed from the served model.
/// One customer's segment.
#[derive(Serialize, ToSchema)]
pub struct ScoreResult<'m> {
    /// The customer's id as sent (string or integer), or null.
    #[schema(value_type = Value)]
    pub customer_id: Value,
    /// The segment's id; null for a customer without a purchase (warning `no_purchases`),
    /// and then `segment`, `tier`, `distance`, `distances` and `margin` are null too.
    pub segment_id: Option<usize>,
    #[schema(value_type = Option<String>)]
    pub segment: Option<&'m str>,
    /// `high`, `medium` or `low`.
    #[schema(value_type = Option<String>)]
    pub tier: Option<&'static str>,
    /// What to do with the customer: the segment's playbook code (`win_back`) and goal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action<'m>>,
    /// Distance to the segment's centroid (scaled space).
    pub distance: Option<f64>,
    /// Distances to every segment, in the model's segment order (ascending segment id).
    pub distances: Option<Vec<f64>>,
    /// Runner-up distance minus `distance`: small means borderline.
    pub margin: Option<f64>,
    /// `imputed`, `unknown_category`, `out_of_range`, `far_from_centroid`, `unknown_field`,
    /// `transactions_after_as_of`, `duplicate_transactions`, `filtered_transactions`,
    /// `no_purchases`, each with the
    /// feature or field.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<FeatureWarning>,
    /// RFM quintile scores `{"r": 1-5, "f": 1-5, "m": 1-5}` (R: 5 = most recent), present when
    /// the model was trained on transactions and R, F and M were given or computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub rfm: Option<RfmScores>,
    /// `new`, `active`, `at_risk` or `churned` (recency against the customer's own purchase
    /// rhythm), present under the same conditions with tenure_days.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub lifecycle: Option<Stage>,
    /// Predicted value, present when the model has a value model: `p_alive`,
    /// `expected_orders` over the model's horizon, `expected_spend_per_order`,
    /// `predicted_clv` (discounted) and `expected_next_order` (a date, null when the customer
    /// is more likely gone than not). Exact from `transactions`; from RFM features it carries
    /// the warning `value_from_features`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueResult>,
}

/// The action a customer's segment calls for (its playbook, `model.json` `segments[].playbook`).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Action<'m> {
    /// Short, stable code (`reward_vip`, `win_back`, …).
    #[schema(value_type = String, example = "win_back")]
    pub code: Cow<'m, str>,
    /// The playbook's goal.
    #[schema(value_type = String, example = "Win back valuable customers who are slipping away")]
    pub text: Cow<'m, str>,
}

impl<'m> Action<'m> {
    fn of(seg: &'m crate::model::Segment) -> Action<'m> {
        match crate::model::playbook::of_segment(seg) {
            Cow::Borrowed(p) => Action {
                code: Cow::Borrowed(&p.code),
                text: Cow::Borrowed(&p.goal),
            },
            Cow::Owned(p) => Action {
                code: Cow::Owned(p.code),
                text: Cow::Owned(p.goal),
            },
        }
    }
}

/// A customer's predicted value.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ValueResult {
    pub p_alive: f64,
    pub expected_orders: f64,
    pub expected_spend_per_order: f64,
    pub predicted_clv: f64,
    /// `YYYY-MM-DD`, or null.
    pub expected_next_order: Option<String>,
}

impl ValueResult {
    fn of(as_of: i32, v: &crate::value::CustomerValue) -> ValueResult {
        ValueResult {
            p_alive: v.p_alive,
            expected_orders: v.expected_orders,
            expected_spend_per_order: v.expected_spend_per_order,
            predicted_clv: v.predicted_clv,
            expected_next_order: crate::features::rfm::next_order_day(as_of, v).map(format_day),
        }
    }
}

impl ScoreResult<'_> {
    /// A valid customer without a segment (no purchase before `as_of`).
    fn unscored<'m>(customer_id: Value, warnings: Vec<FeatureWarning>) -> ScoreResult<'m> {
        ScoreResult {
            customer_id,
            segment_id: None,
            segment: None,
            tier: None,
            action: None,
            distance: None,
            distances: None,
            margin: None,
            warnings,
            rfm: None,
            lifecycle: None,
            value: None,
        }
    }
}

/// A scoring response.
#[derive(Serialize, ToSchema)]
pub struct ScoreResponse<'m> {
    #[schema(value_type = String)]
    pub model: &'m str,
    pub version: u32,
    /// The as-of date used (`YYYY-MM-DD`), given or defaulted.
    pub as_of: String,
    /// Warnings about the whole request: `as_of_defaulted` (with `as_of` and `source`,
    /// `today` or `model`) when the request had no `as_of`.
    pub warnings: Vec<RequestWarning>,
    pub results: Vec<ScoreResult<'m>>,
}

/// Something noteworthy about a whole request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RequestWarning {
    /// The request had no `as_of`; `as_of` was used, taken from `source` (`today` or
    /// `model`).
    AsOfDefaulted { as_of: String, source: String },
}

/// The request's `as_of` (ISO 8601 only), or the configured default with a warning.
fn request_as_of(
    raw: Option<&str>,
    default: DefaultAsOf,
    model_as_of: Option<&str>,
) -> Result<(i32, Vec<RequestWarning>), ApiError> {
    if let Some(s) = raw {
        let day = parse_iso_date(s).ok_or_else(|| {
            ApiError::new(
                ApiErrorKind::Invalid,
                "invalid_date",
                format!("as_of: {}", crate::score::ISO_DATE_EXPECTED),
            )
            .with_field("as_of")
        })?;
        return Ok((day, Vec::new()));
    }
    let from_model = match default {
        DefaultAsOf::Model => model_as_of.and_then(parse_iso_date),
        DefaultAsOf::Today => None,
    };
    let (day, source) = match from_model {
        Some(d) => (d, "model"),
        None => (today(), "today"),
    };
    let warning = RequestWarning::AsOfDefaulted {
        as_of: format_day(day),
        source: source.into(),
    };
    Ok((day, vec![warning]))
}

/// Reads a JSON body within the byte limit, the body deadline and the shared body budget.
/// A declared `Content-Length` is reserved from the budget before anything is read; a chunked
/// body reserves as it arrives. The reservation lives as long as the body. A body without
/// `Content-Type` is JSON when `untyped_json` (KServe v2 clients such as tritonclient send
/// none).
pub async fn read_body(
    req: &HttpRequest,
    declared: Option<usize>,
    payload: &mut web::Payload,
    (state, untyped_json): (&AppState, bool),
) -> Result<(web::Bytes, Reservation), ApiError> {
    let header = req.headers().get("content-type");
    let untyped = untyped_json && header.is_none();
    let ct = header
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !untyped && essence != "application/json" && !essence.ends_with("+json") {
        return Err(ApiError::new(
            ApiErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "send Content-Type: application/json",
        ));
    }
    let limit = state.config.max_body_bytes;
    let too_large = || {
        ApiError::new(
            ApiErrorKind::TooLarge,
            "body_too_large",
            format!("the body limit is {limit} bytes"),
        )
    };
    let busy = || {
        ApiError::new(
            ApiErrorKind::Busy,
            "busy",
            "the server holds as many request bodies as it may; retry shortly",
        )
    };
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut reservation = state.body_budget.empty();
    if !reservation.grow(declared.unwrap_or(0)) {
        return Err(busy());
    }
    let timeout = std::time::Duration::from_secs(state.config.body_timeout_s);
    let deadline = tokio::time::Instant::now() + timeout;
    // Grows with what arrives: a declared length is not memory until its bytes come.
    let mut body = web::BytesMut::new();
    loop {
        let next = tokio::time::timeout_at(deadline, payload.next())
            .await
            .map_err(|_| {
                ApiError::new(
                    ApiErrorKind::Timeout,
                    "body_timeout",
                    format!(
                        "the body did not arrive within {} s",
                        state.config.body_timeout_s
                    ),
                )
            })?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ApiErrorKind::MalformedJson,
                "bad_body",
                format!("could not read the body: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        if !reservation.ensure(body.len() + chunk.len()) {
            return Err(busy());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), reservation))
}

/// The request's `Content-Length`, when it has a valid one.
fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Nesting depth of JSON text, ignoring brackets inside strings.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a JSON body into `T`: 400 for broken JSON, 422 for the wrong shape or depth.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    max_depth: usize,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ApiErrorKind::MalformedJson,
            "malformed_json",
            "the body is empty",
        ));
    }
    if json_depth(body) > max_depth {
        return Err(ApiError::new(
            ApiErrorKind::Invalid,
            "json_too_deep",
            format!("JSON nesting deeper than {max_depth} levels"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::new(ApiErrorKind::Invalid, "invalid_request", e.to_string())
        }
        _ => ApiError::new(ApiErrorKind::MalformedJson, "malformed_json", e.to_string()),
    })
}

/// Turns a read request body into the response body with the served model.
pub type BodyScorer = fn(&AppState, &LoadedModel, &[u8]) -> Result<Vec<u8>, ApiError>;

/// How a scoring route reads its body and answers: custseg's v1 JSON or the KServe v2
/// protocol. Both share the body limits and budget, the deadline, the scoring pool and
/// [`score_customers`].
#[derive(Clone, Copy)]
pub struct Protocol {
    /// Turns a read body into the response body.
    pub score: BodyScorer,
    /// Whether a body without `Content-Type` is read as JSON.
    pub untyped_json: bool,
    /// The shape of error bodies.
    pub errors: ErrorStyle,
}

/// The `/v1` scoring routes.
const V1: Protocol = Protocol {
    score: score_body,
    untyped_json: false,
    errors: ErrorStyle::Custseg,
};

/// Reads a scoring body within the limits and scores it by `protocol`, inline when it is small
/// and on the scoring pool otherwise.
pub async fn score_with(
    state: web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
    loaded: std::sync::Arc<LoadedModel>,
    protocol: Protocol,
) -> Result<HttpResponse, ApiError> {
    let style = protocol.errors;
    // A body for the pool while the pool is full: refused before it is read.
    let declared = declared_length(req);
    let small = declared.is_some_and(|n| n <= INLINE_BODY);
    if !small && state.scoring.admitted() >= state.scoring.limit() {
        return Ok(unread_body_response(&overloaded().styled(style), payload));
    }
    let mut payload = payload;
    let read = read_body(req, declared, &mut payload, (&state, protocol.untyped_json));
    let (body, reservation) = match read.await {
        Ok(read) => read,
        Err(e) => return Ok(unread_body_response(&e.styled(style), payload)),
    };
    let json = if body.len() <= INLINE_BODY {
        // Tens of microseconds: not worth a hand-off, and too short to delay health checks.
        let json = (protocol.score)(&state, &loaded, &body);
        drop(reservation);
        json
    } else {
        score_on_pool(&state, loaded, body, reservation, protocol.score).await
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(json.map_err(|e| e.styled(style))?))
}

/// Scores a large body on the scoring pool, so the HTTP worker stays free for other
/// connections and health checks.
async fn score_on_pool(
    state: &web::Data<AppState>,
    loaded: std::sync::Arc<LoadedModel>,
    body: web::Bytes,
    reservation: Reservation,
    score: BodyScorer,
) -> Result<Vec<u8>, ApiError> {
    let st = state.clone().into_inner();
    let job = move || {
        let _body_memory = reservation;
        score(&st, &loaded, &body)
    };
    state
        .scoring
        .run(job)
        .await
        .map_err(|refusal| match refusal {
            PoolRefusal::Full => overloaded(),
            PoolRefusal::Closed => ApiError::new(
                ApiErrorKind::NotReady,
                "shutting_down",
                "the server is stopping",
            ),
            PoolRefusal::Panicked => ApiError::new(
                ApiErrorKind::Internal,
                "internal_error",
                "scoring failed unexpectedly (a bug: please report it)",
            ),
        })?
}

/// 503 for a full scoring pool.
fn overloaded() -> ApiError {
    ApiError::new(
        ApiErrorKind::Busy,
        "overloaded",
        "every scoring thread is busy and the queue is full; retry shortly",
    )
}

/// The answer to a body that was not read to its end (late, too large, over the budget). The
/// unread payload rides along inside the response body, so that when the response has been
/// sent actix sees the body unfinished and closes the connection, rather than draining the
/// rest of a chunked body at whatever pace the client sends it.
fn unread_body_response(e: &ApiError, payload: web::Payload) -> HttpResponse {
    use actix_web::ResponseError;
    e.error_response()
        .map_body(|_, inner| ClosingBody {
            inner,
            _payload: payload,
        })
        .map_into_boxed_body()
}

/// A response body that keeps its request's payload open until it has been sent.
struct ClosingBody {
    inner: actix_web::body::BoxBody,
    _payload: web::Payload,
}

impl actix_web::body::MessageBody for ClosingBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> actix_web::body::BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<web::Bytes, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}

/// Parses, checks and scores one `/v1` request body; runs on the scoring pool and returns the
/// response body.
fn score_body(state: &AppState, loaded: &LoadedModel, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let cfg = &state.config;
    let request: ScoreRequest = parse_json(body, cfg.max_json_depth)?;
    check_batch_size(request.customers.len(), cfg, "customers")?;
    let (as_of, request_warnings) = request_as_of(
        request.as_of.as_deref(),
        cfg.default_as_of,
        loaded.model.file.as_of.as_deref(),
    )?;
    let v1_field = |i: usize, field: &str| match field {
        "" => format!("customers[{i}]"),
        f => format!("customers[{i}].{f}"),
    };
    let results = score_customers(state, loaded, &request.customers, as_of, &v1_field)?;
    serde_json::to_vec(&ScoreResponse {
        model: &loaded.name,
        version: loaded.version,
        as_of: format_day(as_of),
        warnings: request_warnings,
        results,
    })
    .map_err(|e| ApiError::new(ApiErrorKind::Invalid, "unencodable", e.to_string()))
}

/// 413 `too_many_customers` (naming `field`) for a request over the per-request limit.
pub fn check_batch_size(
    n: usize,
    cfg: &crate::server::ServerConfig,
    field: &str,
) -> Result<(), ApiError> {
    if n <= cfg.max_customers {
        return Ok(());
    }
    Err(ApiError::new(
        ApiErrorKind::TooLarge,
        "too_many_customers",
        format!("{n} customers, the limit is {}", cfg.max_customers),
    )
    .with_field(field))
}

/// The request's `as_of` default (today, or the model's own under `--default-as-of model`),
/// for a protocol that has no `as_of` of its own.
pub fn default_as_of(state: &AppState, loaded: &LoadedModel) -> Result<i32, ApiError> {
    let model_as_of = loaded.model.file.as_of.as_deref();
    request_as_of(None, state.config.default_as_of, model_as_of).map(|(day, _)| day)
}

/// How a protocol names a customer's field in errors: `(position, field relative to the
/// customer, "" for the customer itself)`.
pub type FieldName<'a> = &'a dyn Fn(usize, &str) -> String;

/// The scoring core every protocol shares: validates and scores each customer (an object as
/// in the `/v1` request) with the served model as of day `as_of`, in input order, counting
/// them in the metrics. The first bad customer fails the whole call (`field` names it).
pub fn score_customers<'m>(
    state: &AppState,
    loaded: &'m LoadedModel,
    customers: &[Value],
    as_of: i32,
    field: FieldName,
) -> Result<Vec<ScoreResult<'m>>, ApiError> {
    let cfg = &state.config;
    let model = &loaded.model;
    let window = model.file.params.window_days;
    let rules = &model.row_rules;
    let mut results = Vec::with_capacity(customers.len());
    // This worker's buffers, from its last request; what they remember of customers is not
    // carried from one request to the next.
    let mut scratch = SCRATCH.take();
    scratch.forget_customers();
    let mut per_segment = vec![0u64; model.file.k];
    for (i, c) in customers.iter().enumerate() {
        let p = prepare_with(
            &model.file.features,
            c,
            (as_of, window, cfg.max_transactions),
            rules,
            &model.file.params.behaviour_columns,
            model.file.params.events.as_ref(),
        )
        .and_then(|p| {
            if !p.no_purchases {
                check_missing(&model.file.features, &p, cfg.max_missing_share)?;
            }
            Ok(p)
        })
        .map_err(|e| {
            let kind = if e.code == "too_many_transactions" {
                ApiErrorKind::TooLarge
            } else {
                ApiErrorKind::Invalid
            };
            ApiError::new(kind, e.code, e.message).with_field(field(i, &e.field))
        })?;
        if p.no_purchases {
            results.push(ScoreResult::unscored(p.customer_id, p.warnings));
            continue;
        }
        let mut s = loaded
            .score(&p.raw, p.summary.as_ref(), &mut scratch)
            .map_err(|e| {
                let (code, name) = match &e {
                    crate::features::FeatureError::Unscorable { feature, .. } => {
                        ("out_of_range", feature.as_str())
                    }
                    crate::features::FeatureError::WrongType { feature, .. } if feature != "*" => {
                        ("invalid_value", feature.as_str())
                    }
                    _ => ("invalid_value", ""),
                };
                ApiError::new(ApiErrorKind::Invalid, code, e.to_string()).with_field(field(i, name))
            })?;
        let mut warnings = p.warnings;
        warnings.append(&mut s.warnings);
        let seg = &model.file.segments[s.index];
        per_segment[s.index] += 1;
        results.push(ScoreResult {
            customer_id: p.customer_id,
            segment_id: Some(seg.id),
            segment: Some(&seg.name),
            tier: Some(seg.tier.as_str()),
            action: Some(Action::of(seg)),
            distance: Some(s.distance),
            distances: Some(s.distances),
            margin: Some(s.margin),
            warnings,
            rfm: s.rfm,
            lifecycle: s.lifecycle,
            value: s.value.map(|v| ValueResult::of(as_of, &v)),
        });
    }
    SCRATCH.set(scratch);
    for (seg, n) in model.file.segments.iter().zip(per_segment) {
        if n > 0 {
            state.metrics.scored(&loaded.name, &seg.name, n);
        }
    }
    Ok(results)
}

thread_local! {
    /// Each worker's [`crate::score::Scratch`], reused by its requests.
    static SCRATCH: std::cell::Cell<crate::score::Scratch> = Default::default();
}

/// Scores customers with the default model.
#[utoipa::path(post, path = "/v1/score", request_body = ScoreRequest,
    responses((status = 200, body = ScoreResponse), (status = 400, body = crate::server::error::ErrorBody),
              (status = 401, body = crate::server::error::ErrorBody), (status = 404, body = crate::server::error::ErrorBody),
              (status = 413, body = crate::server::error::ErrorBody), (status = 415, body = crate::server::error::ErrorBody),
              (status = 422, body = crate::server::error::ErrorBody), (status = 503, body = crate::server::error::ErrorBody)))]
pub async fn score_default(
    _: ScoreAccess,
    ServedModel(model): ServedModel,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    score_with(state, &req, payload, model, V1).await
}

/// Scores customers with a named model.
#[utoipa::path(post, path = "/v1/models/{name}/score", request_body = ScoreRequest,
    params(("name" = String, Path, description = "model name")),
    responses((status = 200, body = ScoreResponse), (status = 400, body = crate::server::error::ErrorBody),
              (status = 401, body = crate::server::error::ErrorBody), (status = 404, body = crate::server::error::ErrorBody),
              (status = 413, body = crate::server::error::ErrorBody), (status = 415, body = crate::server::error::ErrorBody),
              (status = 422, body = crate::server::error::ErrorBody)))]
pub async fn score_named(
    _: ScoreAccess,
    ServedModel(model): ServedModel,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    score_with(state, &req, payload, model, V1).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"a": [1, {"b": "[[[{"}]}"#), 3);
        assert_eq!(json_depth(br#"{"a": "\"[["}"#), 1);
        assert_eq!(json_depth(b"[[[[]]]]"), 4);
    }

    #[test]
    fn empty_and_broken_json_are_400_shape_errors_422() {
        assert_eq!(
            parse_json::<ScoreRequest>(b"  ", 8).err().unwrap().kind,
            ApiErrorKind::MalformedJson
        );
        assert_eq!(
            parse_json::<ScoreRequest>(b"{\"customers\": [", 8)
                .err()
                .unwrap()
                .kind,
            ApiErrorKind::MalformedJson
        );
        assert_eq!(
            parse_json::<ScoreRequest>(b"{\"customers\": 3}", 8)
                .err()
                .unwrap()
                .kind,
            ApiErrorKind::Invalid
        );
        assert_eq!(
            parse_json::<ScoreRequest>(b"{\"customers\": [], \"x\": 1}", 8)
                .err()
                .unwrap()
                .code,
            "invalid_request"
        );
        assert_eq!(
            parse_json::<ScoreRequest>(b"[[[[[[[[[[]]]]]]]]]]", 8)
                .err()
                .unwrap()
                .code,
            "json_too_deep"
        );
    }
}
