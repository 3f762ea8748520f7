//! `status.changed`: a status the user set in SwyxIt! reaches Teams as a preferred presence
//! ("Do not disturb" → DoNotDisturb, "Away" → Away, back to available → cleared), when
//! `swyx_status_to_teams` is on for the user (off by default). Only changes the user made by hand
//! count (`domain::own_status`): one the connector made from a Teams-derived status — the bridge's
//! own — never goes back to Teams.
//!
//! Stored: the replay claim, and in the user's speaking state, in one conditional write, the
//! change itself with the mark that the bridge set a preferred presence (so it never clears one
//! the user chose in Teams; `preferred_retry`), from before Graph is asked until Graph took it:
//! a request that dies midway (SIGKILL, a Lambda timeout) leaves the newest change for
//! maintenance, never an older one; when Graph does not take it, it stays for maintenance and
//! the event is still answered 2xx, as the contract says of a Graph failure.
//! The replay claim is taken only once the change is stored, so a store failure (503) or a
//! process that dies mid-request leaves the connector's retry (same webhook-id) free to act.

use super::intake::{
    EarlyInputs, REPLAY_MEMORY_MS, accepted, event_inputs, replay_key, store_unavailable,
};
use super::preferred_retry;
use super::session::SwyxToTeams;
use crate::app::App;
use crate::domain::Timestamp;
use crate::domain::own_status::{ChangedBy, OwnSwyxStatus, PreferredRetry, preferred_change};
use crate::domain::timestamp::millis_of;
use crate::entry::http::{HttpResponse, json};
use crate::swyx::wire::{OwnStatus, StatusOrigin};
use crate::telemetry::with_causes;
use http::StatusCode;
use std::time::Instant;

/// The fields of a verified `status.changed` event.
pub struct OwnStatusEvent<'a> {
    pub swyx_user_id: &'a str,
    pub webhook_id: &'a str,
    pub status: OwnStatus,
    pub origin: StatusOrigin,
    /// The event's `at`: when the user made the change, by the connector's clock.
    pub at: Timestamp,
}

pub async fn handle(
    app: &App,
    s2t: &SwyxToTeams,
    event: OwnStatusEvent<'_>,
    early: Option<EarlyInputs>,
    started: Instant,
) -> HttpResponse {
    let user = event.swyx_user_id;
    let Some(change) = preferred_change(own(event.status), by(event.origin)) else {
        return accepted("ignored", "not set by the user by hand");
    };
    let now = s2t.now();
    // The webhook-id is recorded only once Graph answered: a process that dies before leaves
    // the connector's retry free to act. A retry racing the first attempt sends the same change
    // twice, which Graph treats as one.
    let key = replay_key(event.webhook_id);
    let read = match event_inputs(app, user, &key, now, early).await {
        Ok(read) => read,
        Err(e) => return store_unavailable(&e),
    };
    let Some(link) = read.link else {
        return accepted("ignored", "Swyx user is not linked");
    };
    let switches = read.switches.map(|s| s.switches).unwrap_or_default();
    if !app.directions.for_user(&switches).swyx_status_to_teams {
        return accepted(
            "ignored",
            "Swyx DND/Away → Teams is switched off for this user",
        );
    }
    if read.replayed {
        return accepted("ignored", "webhook-id already seen");
    }
    let budget = s2t.request_budget.saturating_sub(started.elapsed());
    let entra_id = link.entra_id.as_str();
    let store = app.store.as_ref();
    // Stored before Graph is asked, in place of any older change: whatever happens to this
    // request, maintenance sends this change (after the grace), never the older one. The bridge
    // clears only a preferred presence it set itself (one the user chose in Teams is theirs): a
    // mark stored with the change, kept as long as Graph's longest default expiry, says it may
    // be live.
    let wanted = PreferredRetry::wanted(user, own(event.status), now, &s2t.settings);
    // A connector clock ahead of ours must not make one change outrank every later one.
    let made_at = event.at.min(now);
    let stored = preferred_retry::store_wanted(store, s2t, entra_id, &wanted, change, made_at, now);
    let replaced = match stored.await {
        Ok(stored) if stored.older => {
            tracing::info!(swyx_user = %user, status = ?event.status, "Swyx status change older than one already acted on (delivered out of order): ignored");
            return accepted("ignored", "older than a status change already applied");
        }
        // Nothing to clear; an older change kept for retry was dropped, never sent after this.
        Ok(stored) if !stored.ours => {
            return accepted("ignored", "no preferred presence set by the bridge");
        }
        Ok(stored) => stored.replaced,
        Err(e) => return store_unavailable(&e),
    };
    let done = preferred_retry::send(s2t, entra_id, change, budget).await;
    // What maintenance is to retry: this change when Graph did not take it.
    let (kept, graph) = match done {
        Ok(()) => (None, "done"),
        Err(e) => {
            let retry_after = e.retry_after().map(millis_of);
            let status = own(event.status);
            let why = with_causes(&e);
            tracing::warn!(swyx_user = %user, error = %why, "preferred presence not set; maintenance retries");
            let retry = PreferredRetry::failed(None, user, status, now, retry_after, why);
            (Some(retry), "pending")
        }
    };
    let pending = kept.is_some();
    let left = wanted.after_call(kept, replaced.as_ref(), now);
    if let Err(e) = preferred_retry::after_call(store, s2t, entra_id, &wanted, left).await {
        // The change stays stored as it was before Graph was asked: maintenance sends it again.
        tracing::warn!(swyx_user = %user, error = %e, "outcome of a preferred presence not recorded; maintenance sends it again");
    }
    if pending {
        app.metrics.count_own_status_failed();
    } else {
        app.metrics.count_own_status_applied();
        tracing::info!(swyx_user = %user, change = ?change, "Swyx status applied to Teams as preferred presence");
    }
    if let Err(e) = app
        .store
        .claim_once(&key, now.plus_millis(REPLAY_MEMORY_MS), now)
        .await
    {
        // Applied (or kept) all the same; a replay would set the same presence again.
        tracing::warn!(webhook_id = %event.webhook_id, error = %e, "webhook-id of an applied event not recorded");
    }
    json(
        StatusCode::OK,
        &serde_json::json!({ "status": "applied", "graph": graph }),
    )
}

fn own(s: OwnStatus) -> OwnSwyxStatus {
    match s {
        OwnStatus::Available => OwnSwyxStatus::Available,
        OwnStatus::Away => OwnSwyxStatus::Away,
        OwnStatus::DoNotDisturb => OwnSwyxStatus::DoNotDisturb,
        OwnStatus::LoggedOff => OwnSwyxStatus::LoggedOff,
    }
}

fn by(o: StatusOrigin) -> ChangedBy {
    match o {
        StatusOrigin::User => ChangedBy::User,
        StatusOrigin::Teams => ChangedBy::Teams,
        StatusOrigin::System => ChangedBy::System,
    }
}
