//! `PUT` and `GET /v1/users/{swyxUserId}/teams-status`: the revision rule and the writer.
//!
//! PUT: a lower revision than the one applied gets 409 and changes nothing; the same revision
//! again gets 200 with what is held, without running the writer twice; a higher one goes to the
//! writer, and only an applied change is recorded (so `teamsStatus` reflects what was applied).

use super::{ApiError, ApiState};
use crate::clock::now_ms;
use crate::store::Slot;
use crate::writer::{StatusChange, WriteOutcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use swyx_contract::wire::{TeamsStatusRequest, TeamsStatusState, check_swyx_user_id};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn checked_id(id: &str) -> Result<(), ApiError> {
    check_swyx_user_id(id).map_err(|e| ApiError::BadRequest(format!("swyxUserId in the path: {e}")))
}

pub(super) fn held(state: &ApiState, user: &str) -> Result<TeamsStatusState, ApiError> {
    let slot = state
        .store
        .slot(user)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(TeamsStatusState {
        swyx_user_id: user.to_string(),
        status: slot.as_ref().and_then(|s| s.status),
        revision: slot.map_or(0, |s| s.revision),
    })
}

pub async fn get(
    State(state): State<Arc<ApiState>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.admission.verify(&headers, &body)?;
    checked_id(&user)?;
    if state.directory.current().get(&user).is_none() {
        return Err(ApiError::NotFound(format!("no Swyx user {user:?}")));
    }
    Ok(axum::Json(held(&state, &user)?).into_response())
}

pub async fn put(
    State(state): State<Arc<ApiState>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match state.admission.verify(&headers, &body) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let lock = state.user_lock(&user);
    let _one_at_a_time = lock.lock().await;
    if let Some((status, body)) = state.admission.replayed(&id) {
        metrics::counter!("connector_requests_replayed_total").increment(1);
        return (status, axum::Json(body)).into_response();
    }
    let started = std::time::Instant::now();
    let result = decide(&state, &user, &body).await;
    metrics::histogram!("connector_put_seconds").record(started.elapsed().as_secs_f64());
    let (status, json) = match &result {
        Ok(held) => (
            StatusCode::OK,
            serde_json::to_value(held).unwrap_or_default(),
        ),
        Err(e) => (e.status(), serde_json::json!({ "error": e.to_string() })),
    };
    metrics::counter!("connector_status_requests_total", "answer" => status.as_u16().to_string())
        .increment(1);
    // Only what was decided is remembered: the contract makes the retry of a message answered
    // 5xx or 429 a new attempt, never a replay of that answer (nor a 2xx it was not).
    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
        state.admission.remember(id, (status, json));
    }
    match result {
        Ok(held) => axum::Json(held).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn decide(state: &ApiState, user: &str, body: &[u8]) -> Result<TeamsStatusState, ApiError> {
    checked_id(user)?;
    let req: TeamsStatusRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed teams-status body: {e}")))?;
    if req.swyx_user_id != user {
        return Err(ApiError::BadRequest(
            "swyxUserId in the body differs from the path".into(),
        ));
    }
    // The contract's revision is an int64 (the store keeps it as one): a larger one would wrap
    // negative there and slip past the revision rule.
    if i64::try_from(req.revision).is_err() {
        return Err(ApiError::BadRequest(format!(
            "revision {} is above the largest the contract allows ({})",
            req.revision,
            i64::MAX
        )));
    }
    if OffsetDateTime::parse(&req.observed_at, &Rfc3339).is_err() {
        let shown: String = req.observed_at.chars().take(64).collect();
        return Err(ApiError::BadRequest(format!(
            "observedAt {shown:?} is not an RFC 3339 date-time"
        )));
    }
    let snapshot = state.directory.current();
    let Some(entry) = snapshot.get(user) else {
        return Err(ApiError::NotFound(format!("no Swyx user {user:?}")));
    };
    let current = held(state, user)?;
    if req.revision < current.revision {
        return Err(ApiError::Superseded(format!(
            "revision {} is lower than the applied revision {}",
            req.revision, current.revision
        )));
    }
    if req.revision == current.revision && current.revision > 0 {
        return Ok(current);
    }
    let change = StatusChange {
        swyx_user_id: user.to_string(),
        status: req.status,
        revision: req.revision,
        teams: req.teams,
        observed_at: req.observed_at,
        email: entry.email.clone(),
        sip_uri: entry.sip_uri.clone(),
    };
    let started = std::time::Instant::now();
    let outcome = state.writer.apply(&change).await;
    metrics::histogram!("connector_writer_seconds", "writer" => state.writer.kind())
        .record(started.elapsed().as_secs_f64());
    match outcome {
        WriteOutcome::Applied => {
            let at = now_ms();
            let slot = Slot {
                status: change.status,
                revision: change.revision,
                applied_at_ms: at,
            };
            state
                .store
                .put_slot(user, &slot)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            state.engine.note_applied(user, change.status, at);
            tracing::info!(swyx_user_id = %user, status = change.status_word(), revision = change.revision, writer = state.writer.kind(), "Teams-derived status applied");
            Ok(TeamsStatusState {
                swyx_user_id: user.to_string(),
                status: change.status,
                revision: change.revision,
            })
        }
        WriteOutcome::Superseded => Err(ApiError::Superseded(format!(
            "the {} writer reports a newer status for Swyx user {user:?}",
            state.writer.kind()
        ))),
        WriteOutcome::UnknownUser => Err(ApiError::NotFound(format!(
            "the {} writer reports no Swyx user {user:?}",
            state.writer.kind()
        ))),
        WriteOutcome::RetryLater { after, reason } => {
            state.status.writer_error(format!(
                "user {user}, revision {}: {reason}",
                change.revision
            ));
            Err(ApiError::RetryLater {
                reason: format!("the status was not applied: {reason}"),
                after,
            })
        }
    }
}
