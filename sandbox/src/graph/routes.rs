//! The HTTP surface: Graph (`/v1.0`), login (`/{tenant}/oauth2/v2.0`), the JWKS, plus the
//! cross-cutting behaviour of every route: outage (503), throttling (429) and per-route counts.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::state::{Shared, lock};
use super::{login, presence, subscriptions};
use crate::Clock;

pub(crate) const JWKS_PATH: &str = "/common/discovery/v2.0/keys";

/// A Graph error: `{"error":{"code","message","innerError":{…}}}` with its status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": Clock::format_ms(Clock::new().now_ms()),
                "request-id": uuid::Uuid::new_v4().to_string(),
                "client-request-id": uuid::Uuid::new_v4().to_string(),
            }
        }});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// Parses a JSON body into `T`, with a Graph-style 400 that names the problem.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "Empty Payload. JSON content expected.",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(login::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(login::devicecode))
        .route("/devicelogin", get(device_login_page))
        .route(JWKS_PATH, get(jwks))
        .route(
            "/common/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route(
            "/v1.0/subscriptions",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/v1.0/subscriptions/{id}",
            get(subscriptions::get_one)
                .patch(subscriptions::patch)
                .delete(subscriptions::delete),
        )
        .route(
            "/v1.0/subscriptions/{id}/reauthorize",
            post(subscriptions::reauthorize),
        )
        .route("/v1.0/users", get(presence::list_users))
        .route("/v1.0/users/{id}", get(presence::get_user_object))
        .route("/v1.0/users/{id}/presence", get(presence::get_user))
        .route("/v1.0/me/presence", get(presence::get_me))
        .route(
            "/v1.0/communications/presences/{id}",
            get(presence::get_user),
        )
        .route(
            "/v1.0/communications/getPresencesByUserId",
            post(presence::by_user_ids),
        )
        .route(
            "/v1.0/users/{id}/presence/setPresence",
            post(presence::set_presence),
        )
        .route(
            "/v1.0/users/{id}/presence/clearPresence",
            post(presence::clear_presence),
        )
        .route(
            "/v1.0/users/{id}/presence/setUserPreferredPresence",
            post(presence::set_preferred),
        )
        .route(
            "/v1.0/users/{id}/presence/clearUserPreferredPresence",
            post(presence::clear_preferred),
        )
        .route_layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .fallback(|uri: http::Uri| async move {
            ApiError::bad_request(format!(
                "Resource not found for the segment '{}'.",
                uri.path()
            ))
        })
        .with_state(shared)
}

/// Counts the request by route, then applies the outage switch and the throttle.
async fn guard(
    State(shared): State<Arc<Shared>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let key = format!("{} {route}", req.method());
    shared.bump(|s| *s.requests_by_route.entry(key).or_default() += 1);
    let is_discovery = route == JWKS_PATH || route.contains(".well-known");
    if shared.is_down() && !is_discovery {
        shared.bump(|s| s.outage_503 += 1);
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "Service unavailable (sandbox outage).",
        );
        e.retry_after = Some(5);
        return e.into_response();
    }
    if route.starts_with("/v1.0/") {
        let now = shared.clock.now_ms();
        let verdict = lock(&shared.throttle).admit(now);
        if let Err(secs) = verdict {
            shared.bump(|s| s.throttled_429 += 1);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests. The application exceeded its presence request limit.",
            );
            e.retry_after = Some(secs);
            return e.into_response();
        }
    }
    next.run(req).await
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.signer.jwks()).into_response()
}

async fn openid_configuration(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({
        "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
        "jwks_uri": format!("{}{JWKS_PATH}", shared.base_url),
        "token_endpoint": format!("{}/common/oauth2/v2.0/token", shared.base_url),
        "device_authorization_endpoint": format!("{}/common/oauth2/v2.0/devicecode", shared.base_url),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn device_login_page() -> &'static str {
    "Sandbox device login: approve the user code through the sandbox control API (approve_device_code).\n"
}
