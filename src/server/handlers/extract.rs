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

/// A request whose key has the scope (or the server has no keys): [`ScoreAccess`] or
/// [`AdminAccess`].
pub struct Access<const ADMIN: bool>;

/// A request whose key may score.
pub type ScoreAccess = Access<false>;
/// A request whose key may administer models.
pub type AdminAccess = Access<true>;

impl<const ADMIN: bool> FromRequest for Access<ADMIN> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let scope = if ADMIN { Scope::Admin } else { Scope::Score };
        ready(allowed(req, scope).map(|()| Access))
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
