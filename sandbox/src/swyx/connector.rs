//! The connector's HTTP side of the contract 1.1 (bridge → connector), signed in the Standard
//! Webhooks format: `PUT` and `GET /v1/users/{swyxUserId}/teams-status`, and `GET /v1/users`
//! in pages (`cursor`, `limit` 1..1000, 500 by default, ordered by `swyxUserId`) with each
//! user's groups and the Teams-derived status the connector has applied.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::Arc;

use super::model::{ApplyOutcome, TeamsStatusRequest, User, check_swyx_user_id};
use super::shared::{Answer, Outage, Shared};
use super::webhook::VerifyError;
use crate::sync::lock;

const DEFAULT_LIMIT: usize = 500;
const MAX_LIMIT: usize = 1000;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/users", get(list_users))
        .route(
            "/v1/users/{swyx_user_id}/teams-status",
            get(get_status).put(put_status),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such route in the connector contract",
            )
        })
        .layer(middleware::from_fn_with_state(shared.clone(), outage_gate))
        .with_state(shared)
}

fn error(status: StatusCode, reason: &str) -> Response {
    (status, axum::Json(json!({ "error": reason }))).into_response()
}

/// `Outage::Unavailable`: every request gets 503 with Retry-After, as a connector whose
/// SwyxServer is unreachable would answer.
async fn outage_gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let retry_after = {
        let outage = lock(&shared.outage);
        if outage.mode != Outage::Unavailable {
            None
        } else {
            let left = outage
                .recover_at
                .map(|t| t.saturating_duration_since(tokio::time::Instant::now()));
            // Whole seconds, at least 1; 5 when nobody said how long it lasts.
            Some(left.map_or(5, |d| {
                (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
            }))
        }
    };
    let Some(secs) = retry_after else {
        return next.run(req).await;
    };
    lock(&shared.state).stats.requests_during_outage += 1;
    let mut resp = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "SwyxServer is unavailable (sandbox outage)",
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// Verifies the signature; Err is the answer to send (401, or the replayed first answer).
fn admit(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<String, Answer> {
    let now = shared.clock.now_secs();
    match shared.inbound.verify(headers, body, now) {
        Ok(id) => match shared.inbound.replayed(&id) {
            Some(first) => {
                lock(&shared.state).stats.refused_replay += 1;
                Err(first)
            }
            None => Ok(id),
        },
        Err(e) => {
            let mut st = lock(&shared.state);
            match e {
                VerifyError::StaleTimestamp => st.stats.refused_stale_timestamp += 1,
                _ => st.stats.refused_bad_signature += 1,
            }
            Err((StatusCode::UNAUTHORIZED, json!({ "error": e.to_string() })))
        }
    }
}

/// Sends `answer` and remembers it for replays of `id`.
fn answer(shared: &Shared, id: String, answer: Answer) -> Response {
    shared
        .inbound
        .remember(id, shared.clock.now_secs(), answer.clone());
    (answer.0, axum::Json(answer.1)).into_response()
}

/// `teamsStatus` of the contract: what was applied (`null`/0 when nothing was).
fn status_state(id: &str, u: &User) -> Value {
    let slot = u.teams.as_ref();
    json!({
        "swyxUserId": id,
        "status": slot.and_then(|t| t.status),
        "revision": slot.map_or(0, |t| t.revision),
    })
}

fn bad_request(shared: &Shared, reason: String) -> Answer {
    lock(&shared.state).stats.bad_request += 1;
    (StatusCode::BAD_REQUEST, json!({ "error": reason }))
}

/// One page of users after the cursor.
fn page_of_users(shared: &Shared, uri: &Uri) -> Answer {
    let pairs: Vec<(String, String)> = uri
        .query()
        .and_then(|q| reqwest::Url::parse(&format!("http://connector/?{q}")).ok())
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return bad_request(
                    shared,
                    format!("limit {l:?} must be a whole number from 1 to {MAX_LIMIT}"),
                );
            }
        },
    };
    let after = match get("cursor") {
        None => None,
        Some(c) => match URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(id) if !c.is_empty() => Some(id),
            _ => {
                return bad_request(
                    shared,
                    format!("cursor {c:?} is not one this connector gave out"),
                );
            }
        },
    };
    // Contract 1.2: `speaking=true` lists only the users speaking now (`speakingOnly`).
    let speaking_only = match get("speaking") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return bad_request(shared, format!("speaking {v:?} must be true or false"));
        }
    };
    let mut st = lock(&shared.state);
    st.stats.user_list_requests += 1;
    use std::ops::Bound::{Excluded, Unbounded};
    let start = after.map_or(Unbounded, Excluded);
    let page: Vec<(&String, &User)> = st
        .users
        .range((start, Unbounded))
        .filter(|(_, u)| !speaking_only || u.speaking_call.is_some())
        .take(limit + 1)
        .collect();
    let next = (page.len() > limit).then(|| URL_SAFE_NO_PAD.encode(page[limit - 1].0));
    let users: Vec<Value> = page
        .iter()
        .take(limit)
        .map(|(id, u)| {
            json!({
                "swyxUserId": id,
                "name": u.name,
                "email": u.email,
                "groups": u.groups,
                "teamsStatus": status_state(id, u),
                // The speaking period's id, as `speaking.started` named it.
                "speaking": u.speaking_call.iter().collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut list = json!({ "users": users, "nextCursor": next });
    if speaking_only {
        list["speakingOnly"] = json!(true);
    }
    (StatusCode::OK, list)
}

async fn list_users(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let id = match admit(&shared, &headers, &body) {
        Ok(id) => id,
        Err((status, body)) => return (status, axum::Json(body)).into_response(),
    };
    let result = page_of_users(&shared, &uri);
    answer(&shared, id, result)
}

/// `GET /v1/users/{swyxUserId}/teams-status`: what the slot holds (404 for an unknown user).
async fn get_status(
    State(shared): State<Arc<Shared>>,
    Path(swyx_user_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match admit(&shared, &headers, &body) {
        Ok(id) => id,
        Err((status, body)) => return (status, axum::Json(body)).into_response(),
    };
    let result = match check_swyx_user_id(&swyx_user_id) {
        Err(reason) => bad_request(&shared, reason),
        Ok(()) => {
            let mut st = lock(&shared.state);
            st.stats.status_reads += 1;
            match st
                .users
                .get(&swyx_user_id)
                .map(|u| status_state(&swyx_user_id, u))
            {
                Some(state) => (StatusCode::OK, state),
                None => {
                    st.stats.unknown_user += 1;
                    (
                        StatusCode::NOT_FOUND,
                        json!({ "error": format!("no Swyx user {swyx_user_id:?}") }),
                    )
                }
            }
        }
    };
    answer(&shared, id, result)
}

async fn put_status(
    State(shared): State<Arc<Shared>>,
    Path(swyx_user_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match admit(&shared, &headers, &body) {
        Ok(id) => id,
        Err((status, body)) => return (status, axum::Json(body)).into_response(),
    };
    let delay = *lock(&shared.answer_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let result = decide(&shared, &swyx_user_id, &body);
    answer(&shared, id, result)
}

fn decide(shared: &Shared, path_user: &str, body: &[u8]) -> Answer {
    if let Err(reason) = check_swyx_user_id(path_user) {
        return bad_request(shared, reason);
    }
    let req = match parse_request(path_user, body) {
        Ok(req) => req,
        Err(reason) => {
            lock(&shared.state).stats.bad_request += 1;
            return (StatusCode::BAD_REQUEST, json!({ "error": reason }));
        }
    };
    let mut st = lock(&shared.state);
    match st.apply(&req, shared.clock.now_ms()) {
        ApplyOutcome::Applied | ApplyOutcome::Repeated => {
            let slot = st.users.get(path_user).and_then(|u| u.teams.as_ref());
            let effective = st.users.get(path_user).map(|u| u.effective());
            (
                StatusCode::OK,
                json!({
                    "swyxUserId": path_user,
                    "status": slot.and_then(|s| s.status),
                    "revision": slot.map_or(req.revision, |s| s.revision),
                    "effectiveStatus": effective,
                }),
            )
        }
        ApplyOutcome::Superseded { applied } => (
            StatusCode::CONFLICT,
            json!({ "error": format!("revision {} is lower than the applied revision {applied}", req.revision) }),
        ),
        ApplyOutcome::UnknownUser => (
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no Swyx user {path_user:?}") }),
        ),
    }
}

fn parse_request(path_user: &str, body: &[u8]) -> Result<TeamsStatusRequest, String> {
    let req: TeamsStatusRequest =
        serde_json::from_slice(body).map_err(|e| format!("malformed teams-status body: {e}"))?;
    if req.swyx_user_id != path_user {
        return Err("swyxUserId in the body differs from the path".into());
    }
    time::OffsetDateTime::parse(
        &req.observed_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|_| {
        format!(
            "observedAt {:?} is not an RFC 3339 date-time",
            truncate(&req.observed_at)
        )
    })?;
    Ok(req)
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
