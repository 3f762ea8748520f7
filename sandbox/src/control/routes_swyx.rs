//! The Swyx side of the scenario API: users (addresses, groups), calls, hand-set statuses (and
//! whether they send `status.changed`), the connector's outages and where its events go.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

use super::api::{ApiError, ApiResult, Ctx, bad, body, not_found, ok};
use crate::swyx::{Outage, OwnStatus};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SwyxUserBody {
    swyx_user_id: String,
    name: String,
    email: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

pub(crate) async fn add_user(State(c): Ctx, b: Bytes) -> ApiResult {
    let u: SwyxUserBody = body(&b)?;
    c.swyx
        .try_add_user(
            &u.swyx_user_id,
            &u.name,
            u.email.as_deref().unwrap_or(""),
            &u.groups,
        )
        .map_err(bad)?;
    ok()
}

/// A change to a user: fields left out stay; `"email": null` removes the address.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwyxUserUpdate {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    groups: Option<Vec<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub(crate) async fn update_user(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let u: SwyxUserUpdate = body(&b)?;
    let id = c.swyx_user(&user)?;
    c.swyx
        .update_user(
            &id,
            u.name.as_deref(),
            u.email.as_ref().map(Option::as_deref),
            u.groups.as_deref(),
        )
        .map_err(bad)?;
    ok()
}

pub(crate) async fn remove_user(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let id = c.swyx_user(&user)?;
    c.swyx.remove_user(&id).map_err(not_found)?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchBody {
    enabled: bool,
}

/// Whether a status set by hand sends `status.changed` (on by default).
pub(crate) async fn status_events(State(c): Ctx, b: Bytes) -> ApiResult {
    let s: SwitchBody = body(&b)?;
    c.swyx.set_status_events(s.enabled);
    ok()
}

/// Fault injection: whether call events are lost (given up on without being sent).
pub(crate) async fn lose_call_events(State(c): Ctx, b: Bytes) -> ApiResult {
    let s: SwitchBody = body(&b)?;
    c.swyx.set_lose_call_events(s.enabled);
    ok()
}

pub(crate) async fn list(State(c): Ctx) -> ApiResult {
    Ok(axum::Json(json!({ "users": c.swyx.users() })))
}

pub(crate) async fn get(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let id = c.swyx_user(&user)?;
    let view = c
        .swyx
        .user(&id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no Swyx user {user:?}")))?;
    Ok(axum::Json(json!(view)))
}

pub(crate) async fn start_call(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let id = c.swyx_user(&user)?;
    let call_id = c.swyx.start_call(&id).await.map_err(bad)?;
    Ok(axum::Json(json!({ "callId": call_id })))
}

pub(crate) async fn end_call(
    State(c): Ctx,
    Path((user, call_id)): Path<(String, String)>,
) -> ApiResult {
    let id = c.swyx_user(&user)?;
    c.swyx
        .end_call(&id, &call_id)
        .await
        .map_err(|e| ApiError(StatusCode::NOT_FOUND, e.to_string()))?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

/// The user sets their own status by hand; answers with the `status.changed` event sent (or
/// null: no change, events off, or no bridge URL).
pub(crate) async fn set_status(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let s: StatusBody = body(&b)?;
    let status: OwnStatus = s.status.parse().map_err(bad)?;
    let id = c.swyx_user(&user)?;
    let event = c.swyx.change_own_status(&id, status).await.map_err(bad)?;
    Ok(axum::Json(json!({ "ok": true, "event": event })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageBody {
    mode: String,
    seconds: Option<u64>,
}

pub(crate) async fn outage(State(c): Ctx, b: Bytes) -> ApiResult {
    let o: OutageBody = body(&b)?;
    let mode: Outage = o.mode.parse().map_err(bad)?;
    let result = match o.seconds {
        Some(0) => return Err(bad("seconds must be at least 1")),
        Some(s) if mode != Outage::None => c.swyx.set_outage_for(mode, Duration::from_secs(s)),
        _ => c.swyx.try_set_outage(mode),
    };
    result.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
    Ok(axum::Json(
        json!({ "mode": mode, "recoversInSeconds": o.seconds.filter(|_| mode != Outage::None) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BridgeBody {
    url: String,
}

pub(crate) async fn bridge(State(c): Ctx, b: Bytes) -> ApiResult {
    let u: BridgeBody = body(&b)?;
    let parsed =
        reqwest::Url::parse(&u.url).map_err(|e| bad(format!("bad bridge URL {:?}: {e}", u.url)))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("bad bridge URL {:?}: not http(s)", u.url)));
    }
    c.swyx.set_bridge_events_url(&u.url);
    ok()
}
