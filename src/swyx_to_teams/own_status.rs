//! `status.changed`: a status the user set in SwyxIt! reaches Teams as a preferred presence
//! ("Do not disturb" → DoNotDisturb, "Away" → Away, back to available → cleared), when
//! `swyx_status_to_teams` is on for the user (off by default). Only changes the user made by hand
//! count (`domain::own_status`): one the connector made from a Teams-derived status — the bridge's
//! own — never goes back to Teams.
//!
//! Nothing is stored but the replay claim and a mark that the bridge set a preferred presence
//! (so it never clears one the user chose in Teams): Teams holds the result. A Graph call that fails within
//! the request's budget releases the claim and answers 503, so the connector's retry (same
//! webhook-id) is acted on.

use super::intake::{REPLAY_MEMORY_MS, accepted, store_unavailable};
use super::session::SwyxToTeams;
use crate::app::App;
use crate::domain::own_status::{ChangedBy, OwnSwyxStatus, PreferredChange, preferred_change};
use crate::entry::http::{HttpResponse, error, json};
use crate::swyx::wire::{OwnStatus, StatusOrigin};
use crate::telemetry::with_causes;
use http::StatusCode;
use std::time::Instant;

/// Graph's longest default life of a preferred presence (the others: DoNotDisturb and Busy, a
/// day), so the bridge's mark outlives every preferred presence it set.
const PREFERRED_MAX_LIFE_MS: i64 = 7 * 24 * 60 * 60_000;

/// The fields of a verified `status.changed` event.
pub struct OwnStatusEvent<'a> {
    pub swyx_user_id: &'a str,
    pub webhook_id: &'a str,
    pub status: OwnStatus,
    pub origin: StatusOrigin,
}

pub async fn handle(
    app: &App,
    s2t: &SwyxToTeams,
    event: OwnStatusEvent<'_>,
    started: Instant,
) -> HttpResponse {
    let user = event.swyx_user_id;
    let Some(change) = preferred_change(own(event.status), by(event.origin)) else {
        return accepted("ignored", "not set by the user by hand");
    };
    let link = match app.store.get_user_by_swyx_id(user).await {
        Ok(Some(link)) => link,
        Ok(None) => return accepted("ignored", "Swyx user is not linked"),
        Err(e) => return store_unavailable(&e),
    };
    let switches = match app.store.get_switches(user).await {
        Ok(s) => s.map(|s| s.switches).unwrap_or_default(),
        Err(e) => return store_unavailable(&e),
    };
    if !app.directions.for_user(&switches).swyx_status_to_teams {
        return accepted(
            "ignored",
            "Swyx DND/Away → Teams is switched off for this user",
        );
    }
    let now = s2t.now();
    let key = format!("swyx-event:{}", event.webhook_id);
    match app
        .store
        .claim_once(&key, now.plus_millis(REPLAY_MEMORY_MS), now)
        .await
    {
        Ok(true) => {}
        Ok(false) => return accepted("ignored", "webhook-id already seen"),
        Err(e) => return store_unavailable(&e),
    }
    let budget = s2t.request_budget.saturating_sub(started.elapsed());
    let entra_id = link.entra_id.as_str();
    // The bridge clears only a preferred presence it set itself (one the user chose in Teams is
    // theirs): a mark, kept as long as Graph's longest default expiry, says it may be live.
    let mark = format!("preferred-set:{user}");
    let done = match change {
        PreferredChange::Set(availability, activity) => {
            let marked = async {
                app.store.release_claim(&mark).await?;
                let until = now.plus_millis(PREFERRED_MAX_LIFE_MS);
                app.store.claim_once(&mark, until, now).await
            };
            if let Err(e) = marked.await {
                let _ = app.store.release_claim(&key).await;
                return store_unavailable(&e);
            }
            s2t.graph
                .set_preferred(entra_id, availability, activity, budget)
                .await
        }
        PreferredChange::Clear => match app.store.release_claim(&mark).await {
            Ok(true) => {
                let cleared = s2t.graph.clear_preferred(entra_id, budget).await;
                if cleared.is_err() {
                    // Still the bridge's to clear when the connector retries.
                    let until = now.plus_millis(PREFERRED_MAX_LIFE_MS);
                    let _ = app.store.claim_once(&mark, until, now).await;
                }
                cleared
            }
            Ok(false) => {
                return accepted("ignored", "no preferred presence set by the bridge");
            }
            Err(e) => {
                let _ = app.store.release_claim(&key).await;
                return store_unavailable(&e);
            }
        },
    };
    match done {
        Ok(()) => {
            tracing::info!(swyx_user = %user, change = ?change, "Swyx status applied to Teams as preferred presence");
            json(
                StatusCode::OK,
                &serde_json::json!({ "status": "applied", "graph": "done" }),
            )
        }
        Err(e) => {
            tracing::warn!(swyx_user = %user, error = %with_causes(&e), "preferred presence not set; the connector retries");
            if let Err(release) = app.store.release_claim(&key).await {
                tracing::error!(error = %release, "could not release the webhook-id of an event that was not applied");
            }
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Graph did not take the preferred presence; retry later",
            )
        }
    }
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
