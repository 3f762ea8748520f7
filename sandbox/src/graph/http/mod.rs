//! The Graph HTTP surface: Graph (`/v1.0`), login (`/{tenant}/oauth2/v2.0`), the JWKS, plus the
//! cross-cutting behaviour of every route: outage (503), throttling (429) and per-route counts.
//! The handlers live in one file per resource; all of them answer errors as [`ApiError`].

mod batch;
mod caller;
pub(crate) mod ctx;
mod delta;
mod error;
mod groups;
mod listing;
mod login;
mod presence;
mod subscriptions;
mod users;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde_json::json;

use super::model::throttle::Scope;
use crate::sync::lock;
use ctx::Ctx;
use error::ApiError;

pub(crate) const JWKS_PATH: &str = "/common/discovery/v2.0/keys";

/// The emulator's HTTP surface on `ctx`.
pub(crate) fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(login::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(login::devicecode))
        .route("/devicelogin", get(device_login_page))
        .route(JWKS_PATH, get(jwks))
        .route(
            "/common/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/v1.0/$batch", post(batch::batch))
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
        .route("/v1.0/users", get(users::list))
        .route("/v1.0/users/delta", get(delta::users_delta))
        .route("/v1.0/users/{id}", get(users::get_one))
        .route("/v1.0/groups", get(groups::list))
        .route("/v1.0/groups/{id}", get(groups::get_one))
        .route("/v1.0/groups/{id}/members", get(groups::direct_members))
        .route(
            "/v1.0/groups/{id}/transitiveMembers",
            get(groups::transitive_members),
        )
        .route(
            "/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user",
            get(groups::transitive_users),
        )
        .route(
            "/v1.0/groups/{id}/transitiveMembers/microsoft.graph.group",
            get(groups::transitive_groups),
        )
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
        .route_layer(axum::middleware::from_fn_with_state(ctx.clone(), guard))
        .fallback(|uri: http::Uri| async move {
            ApiError::bad_request(format!(
                "Resource not found for the segment '{}'.",
                uri.path()
            ))
        })
        .with_state(ctx)
}

/// The presence API has its own limit (1,500 requests per 30 s per app in Microsoft's pages).
fn scope_of(route: &str) -> Scope {
    if route.starts_with("/v1.0/communications/") || route.contains("/presence") {
        Scope::Presence
    } else {
        Scope::Other
    }
}

/// Counts the request by route, then applies the outage switch and the throttle (a `$batch`
/// envelope is not throttled itself: the requests inside it are, one by one).
async fn guard(
    State(ctx): State<Arc<Ctx>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let tenant = &ctx.tenant;
    let route = matched.map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let key = format!("{} {route}", req.method());
    tenant.bump(|s| *s.requests_by_route.entry(key.clone()).or_default() += 1);
    let is_discovery = route == JWKS_PATH || route.contains(".well-known");
    if tenant.is_down() && !is_discovery {
        tenant.bump(|s| s.outage_503 += 1);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "Service unavailable (sandbox outage).",
        )
        .with_retry_after(5)
        .into_response();
    }
    if route.starts_with("/v1.0/") && route != "/v1.0/$batch" {
        let now = tenant.clock.now_ms();
        let verdict = lock(&tenant.throttle).admit(scope_of(&route), now);
        if let Err(secs) = verdict {
            tenant.bump(|s| {
                s.throttled_429 += 1;
                *s.throttled_by_route.entry(key).or_default() += 1;
            });
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests. The application exceeded its request limit.",
            )
            .with_retry_after(secs)
            .into_response();
        }
    }
    next.run(req).await
}

async fn jwks(State(ctx): State<Arc<Ctx>>) -> Response {
    Json(ctx.tenant.signer.jwks()).into_response()
}

async fn openid_configuration(State(ctx): State<Arc<Ctx>>) -> Response {
    let shared = &ctx.tenant;
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
