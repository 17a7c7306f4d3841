//! What API handlers take instead of checking by hand: the key's scope and the served model.
//! Actix runs extractors in argument order, so a handler that lists the scope first answers
//! 401/403 before it looks anything up.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::server::auth::Scope;
use crate::server::error::{ApiError, ApiErrorKind};
use crate::server::state::{AppState, LoadedModel};

fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>().ok_or_else(|| {
        ApiError::new(
            ApiErrorKind::Internal,
            "internal",
            "the server state is missing",
        )
    })
}

fn allowed(req: &HttpRequest, scope: Scope) -> Result<(), ApiError> {
    app_state(req)?.auth.check(req, scope)
}

/// A request whose key may score (or the server has no keys).
pub struct ScoreAccess;

impl FromRequest for ScoreAccess {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(allowed(req, Scope::Score).map(|()| ScoreAccess))
    }
}

/// A request whose key may administer models (or the server has no keys).
pub struct AdminAccess;

impl FromRequest for AdminAccess {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(allowed(req, Scope::Admin).map(|()| AdminAccess))
    }
}

/// The served model a request names with `{name}` in its path: 404 `model_not_found` when
/// none of that name is loaded. On a route without a name it is the default model, and its
/// absence is 503 `not_ready` (the route exists; the server cannot answer it yet).
pub struct ServedModel(pub Arc<LoadedModel>);

impl ServedModel {
    fn of(req: &HttpRequest) -> Result<ServedModel, ApiError> {
        let state = app_state(req)?;
        match req.match_info().get("name") {
            Some(name) => state.get(name).map(ServedModel).ok_or_else(|| {
                ApiError::new(
                    ApiErrorKind::NotFound,
                    "model_not_found",
                    format!("no model '{name}' is loaded"),
                )
            }),
            None => {
                let name = &state.config.default_model;
                state.get(name).map(ServedModel).ok_or_else(|| {
                    ApiError::new(
                        ApiErrorKind::NotReady,
                        "not_ready",
                        format!("the default model '{name}' is not loaded"),
                    )
                })
            }
        }
    }
}

impl FromRequest for ServedModel {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(ServedModel::of(req))
    }
}
