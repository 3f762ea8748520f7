//! What the scenario API's handlers share: the emulators they drive, the error answer
//! (`{"error": "..."}` with a status), JSON body parsing, and turning a short name into a user.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;

use super::resolve::{Resolved, resolve};
use super::types::GraphHandleLike;
use crate::swyx::SwyxEmulator;

pub(crate) struct Ctl {
    pub graph: Option<GraphHandleLike>,
    pub swyx: SwyxEmulator,
}

pub(crate) type Ctx = State<Arc<Ctl>>;

/// An error answer: the status and a message naming the problem.
pub(crate) struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(crate) type ApiResult = Result<axum::Json<Value>, ApiError>;

pub(crate) fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, format!("{e:#}"))
}

pub(crate) fn not_found(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("{e:#}"))
}

pub(crate) fn ok() -> ApiResult {
    Ok(axum::Json(json!({ "ok": true })))
}

/// Parses a JSON body, naming what is wrong with it (axum's own rejection is plain text).
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("bad JSON body: {e}")))
}

impl Ctl {
    pub fn graph(&self) -> Result<&GraphHandleLike, ApiError> {
        self.graph.as_ref().ok_or_else(|| {
            ApiError(
                StatusCode::NOT_IMPLEMENTED,
                "this sandbox runs without a Graph emulator".into(),
            )
        })
    }

    /// The Graph user id that `name` means (see [`resolve`]).
    pub fn teams_user(&self, name: &str) -> Result<(&GraphHandleLike, String), ApiError> {
        let graph = self.graph()?;
        match graph.resolve_user(name) {
            // A stand-in that knows no users passes names through.
            Resolved::None if graph.users().is_empty() => Ok((graph, name.to_string())),
            found => Ok((graph, one(found, "Teams", name)?)),
        }
    }

    pub fn swyx_user(&self, name: &str) -> Result<String, ApiError> {
        let users = self.swyx.users();
        let found = resolve(
            name,
            users
                .iter()
                .map(|u| (u.swyx_user_id.as_str(), u.email.as_deref())),
        );
        one(found, "Swyx", name)
    }
}

pub(crate) fn one(found: Resolved, side: &str, name: &str) -> Result<String, ApiError> {
    match found {
        Resolved::One(id) => Ok(id),
        Resolved::None => Err(not_found(format!("no {side} user {name:?}"))),
        Resolved::Ambiguous(ids) => Err(bad(format!(
            "{side} user {name:?} is ambiguous: {}",
            ids.join(", ")
        ))),
    }
}
