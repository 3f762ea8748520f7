//! Swyx connector event intake (`POST /swyx/events`), framework-neutral like the Graph webhook.
//!
//! Order: method (405) → size → Standard Webhooks signature (401) → the webhook-id's length (400)
//! → JSON and `type` (an unknown type: 2xx, ignored and logged) → the members of a known type
//! (400 naming the one missing, or the id too long for the store to keep) → user
//! (2xx and ignored: the connector must not retry those) → replay (`claim_once`; 2xx
//! and ignored, as the contract says) → the user's call set (conditional write; the webhook-id
//! is recorded only after it, while Graph is called, so a failure or a crash before leaves the
//! connector's retry free to act) → Graph within the request's budget; what Graph does not take
//! now stays pending for maintenance.
//!
//! At a Lambda function's cold start the first store read is made early ([`read_early`]), while
//! the function reads its secrets, and used once the signature checked out.

use super::end_calls::end_calls;
use super::own_status::{self, OwnStatusEvent};
use super::session::{GraphSync, SwyxToTeams, sync_graph};
use crate::app::App;
use crate::domain::CallEvent;
use crate::domain::{SpeakingState, Timestamp};
use crate::entry::http::{HttpRequest, HttpResponse, error, json, post_only};
use crate::store::optimistic::{self, Step};
use crate::store::{SpeakingStore, Store, StoreError, StoreResult, SwyxEventInputs};
use crate::swyx::signature::HEADER_ID;
use crate::swyx::wire::{EventKind, ParsedEvent, SwyxEvent};
use http::{Method, StatusCode};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use swyx_contract::wire::check_swyx_user_id;

/// Accepted webhook-ids are remembered this long: longer than the 5-minute tolerance and than any
/// connector retry series (which keeps the id and re-signs with a fresh timestamp).
pub(super) const REPLAY_MEMORY_MS: i64 = 60 * 60_000;
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The longest `webhook-id` and `callId` taken, in characters (the connector's are tens): both
/// are stored (the replay claim's key, the user's call set), and a DynamoDB key holds at most
/// 2,048 bytes. Past it, the store's refusal would be a 503 the connector retries for ever,
/// holding back every later event of its in-order outbox; a 400 it drops.
const MAX_ID_CHARS: usize = 256;

pub(super) fn accepted(status: &str, detail: &str) -> HttpResponse {
    json(
        StatusCode::OK,
        &serde_json::json!({ "status": status, "detail": detail }),
    )
}

/// The store read an event starts with (its user's link and switches, and whether its
/// webhook-id was seen), made at a Lambda function's cold start while the function reads its
/// secrets: before the signature is checked, so it only reads. [`handle_with`] uses it only for
/// the very user and webhook-id it was read for, once the signature checked out.
pub struct EarlyInputs {
    swyx_user_id: String,
    replay_key: String,
    inputs: SwyxEventInputs,
}

/// Starts the early read for a request that looks like an event (the right method, size,
/// webhook-id and JSON); `None` for anything else, which then reads nothing before it is checked.
/// A read that fails is dropped: the event reads again once verified.
pub fn read_early(
    store: Arc<dyn Store>,
    req: &HttpRequest,
    now: Timestamp,
) -> Option<impl Future<Output = Option<EarlyInputs>> + Send + use<>> {
    if req.method() != Method::POST || req.body().len() > MAX_EVENT_BYTES {
        return None;
    }
    let webhook_id = req.headers().get(HEADER_ID)?.to_str().ok()?;
    if webhook_id.is_empty() || webhook_id.len() > MAX_ID_CHARS {
        return None;
    }
    let replay_key = replay_key(webhook_id);
    let ParsedEvent::Known(event) = parse_event(req.body()).ok()? else {
        return None;
    };
    let swyx_user_id = event.swyx_user_id;
    Some(async move {
        let inputs = store
            .get_swyx_event_inputs(&swyx_user_id, &replay_key, now)
            .await
            .ok()?;
        Some(EarlyInputs {
            swyx_user_id,
            replay_key,
            inputs,
        })
    })
}

/// The replay claim of an event's webhook-id.
pub(super) fn replay_key(webhook_id: &str) -> String {
    format!("swyx-event:{webhook_id}")
}

/// The link, the switches and the replay check of a verified event, in one store call (one
/// DynamoDB request), unless `early` read them already for this very user and webhook-id.
pub(super) async fn event_inputs(
    app: &App,
    swyx_user_id: &str,
    replay_key: &str,
    now: Timestamp,
    early: Option<EarlyInputs>,
) -> StoreResult<SwyxEventInputs> {
    match early {
        Some(e) if e.swyx_user_id == swyx_user_id && e.replay_key == replay_key => Ok(e.inputs),
        _ => {
            app.store
                .get_swyx_event_inputs(swyx_user_id, replay_key, now)
                .await
        }
    }
}

pub async fn handle(app: &App, req: HttpRequest) -> HttpResponse {
    handle_with(app, req, None).await
}

/// [`handle`], with what [`read_early`] read for this request.
pub async fn handle_with(app: &App, req: HttpRequest, early: Option<EarlyInputs>) -> HttpResponse {
    let started = Instant::now();
    let Some(s2t) = app.swyx_to_teams.as_deref() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Swyx → Teams is not configured (connector.event_secrets / CONNECTOR_EVENT_SECRETS)",
        );
    };
    if req.method() != Method::POST {
        return post_only(req.method(), "the connector POSTs events here");
    }
    let body = req.body();
    let limit = MAX_EVENT_BYTES.min(app.settings.max_body_bytes);
    if body.len() > limit {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body of {} bytes exceeds the limit of {limit} bytes",
                body.len()
            ),
        );
    }
    let now = s2t.now();
    let message = match s2t.verifier.verify(req.headers(), body, now.secs()) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(reason = %e, "Swyx event refused: signature");
            return error(StatusCode::UNAUTHORIZED, format!("signature: {e}"));
        }
    };
    if message.id.chars().count() > MAX_ID_CHARS {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`webhook-id` is longer than {MAX_ID_CHARS} characters"),
        );
    }
    let event = match parse_event(body) {
        Ok(ParsedEvent::Known(e)) => e,
        Ok(ParsedEvent::Unknown { kind }) => {
            // Ignored as the contract says (a newer connector), but a connector that misnames a
            // type it means (`speaking.stopped`) must be visible to the operator.
            tracing::warn!(event_type = %kind, webhook_id = %message.id, "Swyx event of a type the bridge does not know: ignored");
            app.metrics.count_unknown_event_type();
            return accepted("ignored", "unknown event type");
        }
        Err(problem) => return error(StatusCode::BAD_REQUEST, problem),
    };
    let at = Timestamp(event.at_unix_ms);
    let (kind, call_id) = match &event.kind {
        EventKind::SpeakingStarted { call_id } => (CallEvent::Started, call_id.as_str()),
        EventKind::SpeakingEnded { call_id } => (CallEvent::Ended, call_id.as_str()),
        EventKind::StatusChanged { status, origin } => {
            let event = OwnStatusEvent {
                swyx_user_id: &event.swyx_user_id,
                webhook_id: &message.id,
                status: *status,
                origin: *origin,
                at,
            };
            return own_status::handle(app, s2t, event, early, started).await;
        }
    };
    let replay_key = replay_key(&message.id);
    let read = match event_inputs(app, &event.swyx_user_id, &replay_key, now, early).await {
        Ok(read) => read,
        Err(e) => return store_unavailable(&e),
    };
    let Some(link) = read.link else {
        tracing::info!(swyx_user = %event.swyx_user_id, "Swyx event for a user who is not linked: ignored");
        return accepted("ignored", "Swyx user is not linked");
    };
    let own = read.switches.map(|s| s.switches).unwrap_or_default();
    if !app.directions.for_user(&own).swyx_to_teams {
        // Switched off: nothing reaches Teams, and an "In a call" the bridge set before the
        // switch (a call it would never see end) is cleared now.
        let budget = s2t.request_budget.saturating_sub(started.elapsed());
        if let Err(e) = end_calls(app, &link.entra_id, budget).await {
            return store_unavailable(&e);
        }
        tracing::info!(swyx_user = %event.swyx_user_id, "Swyx event ignored: Swyx → Teams is switched off for this user");
        return accepted("ignored", "Swyx → Teams is switched off for this user");
    }
    // The webhook-id is recorded only once the event is applied: a process that dies before
    // (SIGKILL, a Lambda timeout) or a store that fails leaves the connector's retry (same id)
    // free to act. A retry racing the first attempt is harmless: applying an event twice is
    // applying it once (the call set remembers started and ended calls).
    if read.replayed {
        tracing::info!(webhook_id = %message.id, "Swyx event replayed: not acted on again");
        return accepted("ignored", "webhook-id already seen");
    }

    let entra_id = link.entra_id;
    let store = app.store.as_ref();
    // A new process's first Graph call needs a token: it is fetched while the call set is
    // written (a cached token makes this nothing).
    let budget = s2t.request_budget.saturating_sub(started.elapsed());
    let (applied, ()) = tokio::join!(
        apply(store, s2t, &entra_id, kind, call_id, at),
        s2t.graph.get_ready(budget)
    );
    let record_id = async {
        let until = now.plus_millis(REPLAY_MEMORY_MS);
        if let Err(e) = app.store.claim_once(&replay_key, until, now).await {
            // Applied all the same; a replay would find the call set unchanged.
            tracing::warn!(webhook_id = %message.id, error = %e, "webhook-id of an applied event not recorded");
        }
    };
    let state = match applied {
        Ok(Some(state)) => state,
        Ok(None) => {
            record_id.await;
            return accepted("unchanged", "duplicate or superseded event");
        }
        Err(e) => return store_unavailable(&e),
    };
    // Only an event that calls Graph has a Swyx → Teams latency (a second call changes nothing).
    let calls_graph = state.needed_op(s2t.now(), &s2t.settings).is_some();
    let budget = s2t.request_budget.saturating_sub(started.elapsed());
    // The webhook-id is recorded while Graph is called, not before: Teams shows the call one
    // store round trip sooner.
    let (synced, ()) = tokio::join!(sync_graph(s2t, store, &entra_id, state, budget), record_id);
    let graph = match synced {
        Ok(GraphSync::InSync) => {
            if calls_graph {
                app.metrics.observe_swyx_to_teams(started.elapsed());
            }
            "done"
        }
        Ok(GraphSync::Pending(reason)) => {
            tracing::warn!(swyx_user = %event.swyx_user_id, reason = %reason, "Teams presence left pending");
            "pending"
        }
        Ok(GraphSync::Refused(status)) => {
            app.metrics.count_set_presence_refused(status);
            "refused"
        }
        Err(e) => {
            // The event itself is stored; maintenance finds the user by its due time.
            tracing::error!(error = %e, "recording the Graph outcome failed");
            "pending"
        }
    };
    tracing::info!(
        swyx_user = %event.swyx_user_id,
        event_type = ?kind,
        graph,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Swyx event applied"
    );
    json(
        StatusCode::OK,
        &serde_json::json!({ "status": "applied", "graph": graph }),
    )
}

/// The event's type first, then the members that type needs (see [`SwyxEvent::parse`]), then
/// whether its ids can be kept: `swyxUserId` as the contract's `SwyxUserId` schema says,
/// `callId` up to [`MAX_ID_CHARS`].
pub(crate) fn parse_event(body: &[u8]) -> Result<ParsedEvent, String> {
    let parsed = SwyxEvent::parse(body)?;
    if let ParsedEvent::Known(event) = &parsed {
        check_swyx_user_id(&event.swyx_user_id).map_err(|e| format!("`swyxUserId`: {e}"))?;
        if let EventKind::SpeakingStarted { call_id } | EventKind::SpeakingEnded { call_id } =
            &event.kind
            && call_id.chars().count() > MAX_ID_CHARS
        {
            return Err(format!("`callId` is longer than {MAX_ID_CHARS} characters"));
        }
    }
    Ok(parsed)
}

pub(super) fn store_unavailable(e: &StoreError) -> HttpResponse {
    tracing::error!(error = %e, "Swyx event not processed: store");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store unavailable; retry later",
    )
}

/// Applies the event to the user's call set; `None` when it changes nothing.
pub(super) async fn apply(
    store: &dyn SpeakingStore,
    s2t: &SwyxToTeams,
    entra_id: &str,
    kind: CallEvent,
    call_id: &str,
    at: Timestamp,
) -> StoreResult<Option<SpeakingState>> {
    optimistic::update(
        || format!("speaking state of {entra_id}"),
        move || async move { Ok(store.get_speaking(entra_id).await?.unwrap_or_default()) },
        |state| match state.apply_event(kind, call_id, at, s2t.now(), &s2t.settings) {
            None => Step::Done(None),
            Some(next) => Step::Write((next.clone(), state.revision), Some(next)),
        },
        move |(next, expected)| async move { store.put_speaking(entra_id, &next, expected).await },
    )
    .await
}
