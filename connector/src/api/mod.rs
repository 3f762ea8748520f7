//! The connector side of the contract (`infra/connector-openapi.yaml`, 1.2), served to the bridge:
//! `PUT`/`GET /v1/users/{swyxUserId}/teams-status` and `GET /v1/users` (paged), every request
//! signed in the Standard Webhooks format. One error type ([`ApiError`]) decides every refusal's
//! status code and names the problem; a refused request changes nothing.

mod auth;
mod status_slot;
mod users;

use crate::directory::Directory;
use crate::speaking::Engine;
use crate::status::StatusBoard;
use crate::store::Store;
use crate::writer::Writer;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swyx_contract::wire::ErrorBody;

pub use auth::Admission;

/// A teams-status body is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

pub struct ApiState {
    pub store: Arc<Store>,
    pub directory: Directory,
    pub writer: Writer,
    pub engine: Arc<Engine>,
    pub status: Arc<StatusBoard>,
    pub admission: Admission,
    /// One change at a time per user: two revisions must not race through the writer.
    user_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ApiState {
    pub fn new(
        store: Arc<Store>,
        directory: Directory,
        writer: Writer,
        engine: Arc<Engine>,
        status: Arc<StatusBoard>,
        admission: Admission,
    ) -> Self {
        Self {
            store,
            directory,
            writer,
            engine,
            status,
            admission,
            user_locks: Mutex::default(),
        }
    }

    fn user_lock(&self, user: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.user_locks.lock().unwrap_or_else(|e| e.into_inner());
        // Forget locks nobody holds, so the map stays as small as the set of busy users.
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(user.to_string()).or_default().clone()
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/v1/users", get(users::list))
        .route(
            "/v1/users/{swyx_user_id}/teams-status",
            get(status_slot::get).put(status_slot::put),
        )
        .fallback(|| async { ApiError::NotFound("no such route in the connector contract".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Every refusal, with the contract's status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Superseded(String),
    #[error("{reason}")]
    RetryLater { reason: String, after: Duration },
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Superseded(_) => StatusCode::CONFLICT,
            Self::RetryLater { .. } | Self::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let after = match &self {
            Self::RetryLater { after, .. } => Some(after.as_secs().max(1)),
            Self::Internal(_) => Some(1),
            _ => None,
        };
        let mut resp = (
            status,
            axum::Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response();
        if let Some(secs) = after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
