//! Presence reads and writes over HTTP (research §6), and the state changes they share with the
//! scenario operations of [`super::GraphEmulator`].

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::aggregate::{
    APP_COMBOS, PREFERRED_COMBOS, Preferred, Session, canonical_combo, parse_iso_duration,
    preferred_default_life,
};
use super::auth::{Principal, authorize};
use super::routes::{ApiError, ApiResult, parse_body};
use super::state::{Inner, Shared};
use super::sub_rules::MAX_USERS;

const APP_SESSION_MIN: Duration = Duration::from_secs(5 * 60);
const APP_SESSION_MAX: Duration = Duration::from_secs(4 * 3600);

/// Sets (or replaces) a session and re-aggregates.
pub(crate) fn put_session(
    inner: &mut Inner,
    tenant: &str,
    user: &str,
    session_id: &str,
    (availability, activity): (&str, &str),
    life: Option<Duration>,
    now: i64,
) -> anyhow::Result<()> {
    if availability.trim().is_empty() || activity.trim().is_empty() {
        anyhow::bail!("availability and activity must not be empty");
    }
    let touched = inner.next_touch();
    let is_app = life.is_some();
    inner.user_mut(user)?.presence.sessions.insert(
        session_id.to_owned(),
        Session {
            availability: availability.to_owned(),
            activity: activity.to_owned(),
            expires_ms: life.map(|l| now + l.as_millis() as i64),
            is_app,
            touched,
        },
    );
    inner.refresh(tenant, user, now);
    Ok(())
}

/// Ends a session; errors if there is none by that id.
pub(crate) fn remove_session(
    inner: &mut Inner,
    tenant: &str,
    user: &str,
    session_id: &str,
    now: i64,
) -> anyhow::Result<()> {
    if inner
        .user_mut(user)?
        .presence
        .sessions
        .remove(session_id)
        .is_none()
    {
        anyhow::bail!("user '{user}' has no presence session '{session_id}'");
    }
    inner.refresh(tenant, user, now);
    Ok(())
}

/// `setUserPreferredPresence` semantics: only its six combinations; default life by availability.
pub(crate) fn put_preferred(
    inner: &mut Inner,
    tenant: &str,
    user: &str,
    availability: &str,
    activity: &str,
    life: Option<Duration>,
    now: i64,
) -> anyhow::Result<()> {
    let (availability, activity) = canonical_combo(PREFERRED_COMBOS, availability, activity).ok_or_else(|| {
        anyhow::anyhow!(
            "{availability}/{activity} is not a preferred presence; allowed: Available/Available, Busy/Busy, DoNotDisturb/DoNotDisturb, BeRightBack/BeRightBack, Away/Away, Offline/OffWork"
        )
    })?;
    let life = life.unwrap_or_else(|| preferred_default_life(availability));
    inner.user_mut(user)?.presence.preferred = Some(Preferred {
        availability: availability.to_owned(),
        activity: activity.to_owned(),
        expires_ms: now + life.as_millis() as i64,
    });
    inner.refresh(tenant, user, now);
    Ok(())
}

pub(crate) fn remove_preferred(
    inner: &mut Inner,
    tenant: &str,
    user: &str,
    now: i64,
) -> anyhow::Result<()> {
    inner.user_mut(user)?.presence.preferred = None;
    inner.refresh(tenant, user, now);
    Ok(())
}

fn presence_json(inner: &Inner, id: &str) -> Option<Value> {
    let p = inner.users.get(id)?.view();
    Some(json!({
        "id": id,
        "availability": p.availability,
        "activity": p.activity,
        "statusMessage": null,
        "outOfOfficeSettings": { "message": null, "isOutOfOffice": p.out_of_office },
        "sequenceNumber": p.sequence_number,
    }))
}

fn unknown_user(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("User '{id}' was not found in the tenant."),
    )
}

/// `GET /v1.0/users/{id}/presence` and `GET /v1.0/communications/presences/{id}`
pub(crate) async fn get_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&shared, &headers)?;
    let mut body = shared
        .mutate(|inner, _| presence_json(inner, &id))
        .ok_or_else(|| unknown_user(&id))?;
    body["@odata.context"] = json!(format!(
        "https://graph.microsoft.com/v1.0/$metadata#users('{id}')/presence/$entity"
    ));
    Ok(Json(body).into_response())
}

/// `GET /v1.0/me/presence` (delegated only)
pub(crate) async fn get_me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let Principal::Delegated(me) = authorize(&shared, &headers)? else {
        return Err(ApiError::bad_request(
            "/me request is only valid with delegated authentication flow.",
        ));
    };
    let body = shared
        .mutate(|inner, _| presence_json(inner, &me))
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
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&shared, &headers)?;
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
    let value: Vec<Value> = shared.mutate(|inner, _| {
        ids.iter()
            .map(|id| {
                presence_json(inner, id).unwrap_or_else(|| {
                    json!({ "id": id, "availability": "PresenceUnknown", "activity": "PresenceUnknown",
                            "outOfOfficeSettings": { "message": null, "isOutOfOffice": false } })
                })
            })
            .collect()
    });
    Ok(Json(json!({ "value": value })).into_response())
}

fn app_only(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<(), ApiError> {
    match authorize(shared, headers)? {
        Principal::App => Ok(()),
        Principal::Delegated(_) => Err(ApiError::forbidden(
            "setPresence/clearPresence are served to the application (Presence.ReadWrite.All) in this tenant; use an app-only token",
        )),
    }
}

fn check_session_id(shared: &Shared, session_id: Option<&str>) -> Result<String, ApiError> {
    match session_id {
        None | Some("") => Err(ApiError::bad_request("sessionId is required")),
        Some(s) if s.eq_ignore_ascii_case(&shared.app_id) => Ok(shared.app_id.clone()),
        Some(s) => Err(ApiError::bad_request(format!(
            "sessionId '{s}' must be the application (client) id of the caller"
        ))),
    }
}

fn to_api(e: anyhow::Error) -> ApiError {
    let message = e.to_string();
    if message.contains("no user") {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
    } else {
        ApiError::bad_request(message)
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
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    app_only(&shared, &headers)?;
    let b: SetPresenceBody = parse_body(&body)?;
    let session = check_session_id(&shared, b.session_id.as_deref())?;
    let (availability, activity) = (
        b.availability.unwrap_or_default(),
        b.activity.unwrap_or_default(),
    );
    let (availability, activity) = canonical_combo(APP_COMBOS, &availability, &activity).ok_or_else(|| {
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
    let tenant = shared.tenant_id.clone();
    shared
        .mutate(|inner, now| {
            put_session(
                inner,
                &tenant,
                &id,
                &session,
                (availability, activity),
                Some(life),
                now,
            )
        })
        .map_err(to_api)?;
    shared.bump(|s| s.set_presence_calls += 1);
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClearPresenceBody {
    session_id: Option<String>,
}

/// `POST /v1.0/users/{id}/presence/clearPresence`: 404 if the app has no session for the user.
pub(crate) async fn clear_presence(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    app_only(&shared, &headers)?;
    let b: ClearPresenceBody = parse_body(&body)?;
    let session = check_session_id(&shared, b.session_id.as_deref())?;
    let tenant = shared.tenant_id.clone();
    shared
        .mutate(|inner, now| remove_session(inner, &tenant, &id, &session, now))
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "NotFound", e.to_string()))?;
    shared.bump(|s| s.clear_presence_calls += 1);
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
pub(crate) async fn set_preferred(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&shared, &headers)?;
    let b: PreferredBody = parse_body(&body)?;
    let life = b
        .expiration_duration
        .as_deref()
        .map(parse_iso_duration)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let (availability, activity) = (
        b.availability.unwrap_or_default(),
        b.activity.unwrap_or_default(),
    );
    let tenant = shared.tenant_id.clone();
    shared
        .mutate(|inner, now| {
            put_preferred(inner, &tenant, &id, &availability, &activity, life, now)
        })
        .map_err(to_api)?;
    shared.bump(|s| s.set_preferred_calls += 1);
    Ok(StatusCode::OK.into_response())
}

/// `POST /v1.0/users/{id}/presence/clearUserPreferredPresence`
pub(crate) async fn clear_preferred(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&shared, &headers)?;
    let tenant = shared.tenant_id.clone();
    shared
        .mutate(|inner, now| remove_preferred(inner, &tenant, &id, now))
        .map_err(to_api)?;
    shared.bump(|s| s.clear_preferred_calls += 1);
    Ok(StatusCode::OK.into_response())
}

fn user_json(id: &str, upn: &str, display_name: &str) -> Value {
    json!({ "id": id, "userPrincipalName": upn, "displayName": display_name, "mail": upn })
}

/// `GET /v1.0/users` (one page, for linking users by UPN).
pub(crate) async fn list_users(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    authorize(&shared, &headers)?;
    let mut value: Vec<(String, Value)> = shared.mutate(|inner, _| {
        inner
            .users
            .iter()
            .map(|(id, u)| (id.clone(), user_json(id, &u.upn, &u.display_name)))
            .collect()
    });
    value.sort_by(|a, b| a.0.cmp(&b.0));
    let value: Vec<Value> = value.into_iter().map(|(_, v)| v).collect();
    Ok(Json(json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": value })).into_response())
}

/// `GET /v1.0/users/{id}`
pub(crate) async fn get_user_object(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&shared, &headers)?;
    shared
        .mutate(|inner, _| {
            inner
                .users
                .get(&id)
                .map(|u| user_json(&id, &u.upn, &u.display_name))
        })
        .map(|v| Json(v).into_response())
        .ok_or_else(|| unknown_user(&id))
}
