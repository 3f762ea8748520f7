//! Presence reads and writes over HTTP
//! (<https://learn.microsoft.com/en-us/graph/api/resources/presence?view=graph-rest-1.0>):
//! get one, get many by id (≤ 650), the app's session (`setPresence`/`clearPresence`) and the
//! preferred presence (`setUserPreferredPresence`/`clearUserPreferredPresence`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::super::model::aggregate::{APP_COMBOS, canonical_combo, parse_iso_duration};
use super::super::model::auth::Principal;
use super::super::model::subscription::MAX_USERS;
use super::super::types::PreferredBy;
use super::super::wire::PresenceEntity;
use super::caller::{READ_PRESENCE, WRITE_PRESENCE, authorize, require};
use super::ctx::Ctx;
use super::error::{ApiError, ApiResult, parse_body};

const APP_SESSION_MIN: Duration = Duration::from_secs(5 * 60);
const APP_SESSION_MAX: Duration = Duration::from_secs(4 * 3600);

fn unknown_user(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("User '{id}' was not found in the tenant."),
    )
}

/// A model error: 404 for an unknown user, else 400.
fn to_api(e: anyhow::Error) -> ApiError {
    let message = e.to_string();
    if message.contains("no user") {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
    } else {
        ApiError::bad_request(message)
    }
}

/// `GET /v1.0/users/{id}/presence` and `GET /v1.0/communications/presences/{id}`
pub(crate) async fn get_user(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_PRESENCE)?;
    let entity = ctx
        .tenant
        .mutate(|inner, _| inner.presence_entity(&id))
        .ok_or_else(|| unknown_user(&id))?;
    let mut body = json!(entity);
    body["@odata.context"] = json!(format!(
        "https://graph.microsoft.com/v1.0/$metadata#users('{id}')/presence/$entity"
    ));
    Ok(Json(body).into_response())
}

/// `GET /v1.0/me/presence` (delegated only)
pub(crate) async fn get_me(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> ApiResult {
    let Principal::Delegated(me) = authorize(&ctx.tenant, &headers)?.principal else {
        return Err(ApiError::bad_request(
            "/me request is only valid with delegated authentication flow.",
        ));
    };
    let body = ctx
        .tenant
        .mutate(|inner, _| inner.presence_entity(&me))
        .ok_or_else(|| unknown_user(&me))?;
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct IdsBody {
    ids: Option<Vec<String>>,
}

/// `POST /v1.0/communications/getPresencesByUserId` (app or delegated, ≤ 650 ids). Ids the tenant
/// does not know come back as `PresenceUnknown`.
pub(crate) async fn by_user_ids(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_PRESENCE)?;
    let b: IdsBody = parse_body(&body)?;
    let ids = b.ids.unwrap_or_default();
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "ids is required and must list at least one user id",
        ));
    }
    if ids.len() > MAX_USERS {
        return Err(ApiError::bad_request(format!(
            "ids lists {} users; at most {MAX_USERS} are allowed per request",
            ids.len()
        )));
    }
    #[derive(serde::Serialize)]
    struct Collection {
        value: Vec<PresenceEntity>,
    }
    let value: Vec<PresenceEntity> = ctx.tenant.mutate(|inner, _| {
        ids.iter()
            .map(|id| {
                inner.presence_entity(id).unwrap_or_else(|| {
                    PresenceEntity::new(id, "PresenceUnknown", "PresenceUnknown", false, None)
                })
            })
            .collect()
    });
    Ok(Json(Collection { value }).into_response())
}

/// setPresence/clearPresence: the app's own session, app-only in this tenant.
fn app_only(ctx: &Ctx, headers: &HeaderMap) -> Result<(), ApiError> {
    let caller = require(&ctx.tenant, headers, &WRITE_PRESENCE)?;
    match caller.principal {
        Principal::App => Ok(()),
        Principal::Delegated(_) => Err(ApiError::forbidden(
            "setPresence/clearPresence are served to the application (Presence.ReadWrite.All) in this tenant; use an app-only token",
        )),
    }
}

fn check_session_id(ctx: &Ctx, session_id: Option<&str>) -> Result<String, ApiError> {
    let app_id = &ctx.tenant.app_id;
    match session_id {
        None | Some("") => Err(ApiError::bad_request("sessionId is required")),
        Some(s) if s.eq_ignore_ascii_case(app_id) => Ok(app_id.clone()),
        Some(s) => Err(ApiError::bad_request(format!(
            "sessionId '{s}' must be the application (client) id of the caller"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetPresenceBody {
    session_id: Option<String>,
    availability: Option<String>,
    activity: Option<String>,
    expiration_duration: Option<String>,
}

/// `POST /v1.0/users/{id}/presence/setPresence`: the app's session, PT5M..PT4H (default PT5M).
pub(crate) async fn set_presence(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    app_only(&ctx, &headers)?;
    let b: SetPresenceBody = parse_body(&body)?;
    let session = check_session_id(&ctx, b.session_id.as_deref())?;
    let (availability, activity) = (
        b.availability.unwrap_or_default(),
        b.activity.unwrap_or_default(),
    );
    let combo = canonical_combo(APP_COMBOS, &availability, &activity).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{availability}/{activity} is not supported; allowed: Available/Available, Busy/InACall, Busy/InAConferenceCall, Away/Away, DoNotDisturb/Presenting"
        ))
    })?;
    let life = match b.expiration_duration.as_deref() {
        None => APP_SESSION_MIN,
        Some(d) => parse_iso_duration(d).map_err(ApiError::bad_request)?,
    };
    if !(APP_SESSION_MIN..=APP_SESSION_MAX).contains(&life) {
        return Err(ApiError::bad_request(
            "expirationDuration must be between PT5M and PT4H",
        ));
    }
    ctx.tenant
        .mutate(|inner, step| inner.put_session(step, &id, &session, combo, Some(life)))
        .map_err(to_api)?;
    ctx.tenant.bump(|s| s.set_presence_calls += 1);
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClearPresenceBody {
    session_id: Option<String>,
}

/// `POST /v1.0/users/{id}/presence/clearPresence`: 404 if the app has no session for the user.
pub(crate) async fn clear_presence(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    app_only(&ctx, &headers)?;
    let b: ClearPresenceBody = parse_body(&body)?;
    let session = check_session_id(&ctx, b.session_id.as_deref())?;
    ctx.tenant
        .mutate(|inner, step| inner.remove_session(step, &id, &session))
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "NotFound", e.to_string()))?;
    ctx.tenant.bump(|s| s.clear_presence_calls += 1);
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreferredBody {
    availability: Option<String>,
    activity: Option<String>,
    expiration_duration: Option<String>,
}

/// `POST /v1.0/users/{id}/presence/setUserPreferredPresence`
/// (<https://learn.microsoft.com/en-us/graph/api/presence-setuserpreferredpresence?view=graph-rest-1.0>):
/// the six documented combinations only; without `expirationDuration` DoNotDisturb and Busy last
/// a day, the others seven days. Recorded as set by the application.
pub(crate) async fn set_preferred(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require(&ctx.tenant, &headers, &WRITE_PRESENCE)?;
    let b: PreferredBody = parse_body(&body)?;
    let life = b
        .expiration_duration
        .as_deref()
        .map(parse_iso_duration)
        .transpose()
        .map_err(ApiError::bad_request)?;
    if life.is_some_and(|l| l.is_zero()) {
        return Err(ApiError::bad_request("expirationDuration must be positive"));
    }
    let (availability, activity) = (
        b.availability.unwrap_or_default(),
        b.activity.unwrap_or_default(),
    );
    let set_by = PreferredBy::Application {
        app_id: ctx.tenant.app_id.clone(),
    };
    ctx.tenant
        .mutate(|inner, step| {
            inner.put_preferred(step, &id, (&availability, &activity), life, set_by)
        })
        .map_err(to_api)?;
    ctx.tenant.bump(|s| s.set_preferred_calls += 1);
    Ok(StatusCode::OK.into_response())
}

/// `POST /v1.0/users/{id}/presence/clearUserPreferredPresence`
pub(crate) async fn clear_preferred(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    require(&ctx.tenant, &headers, &WRITE_PRESENCE)?;
    ctx.tenant
        .mutate(|inner, step| inner.remove_preferred(step, &id))
        .map_err(to_api)?;
    ctx.tenant.bump(|s| s.clear_preferred_calls += 1);
    Ok(StatusCode::OK.into_response())
}
