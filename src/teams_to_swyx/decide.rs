//! One observed Teams presence of one user → the sync decision, stored with an optimistic
//! write. Shared by the notification intake and reconciliation, so a presence read in bulk is
//! judged exactly like one that arrived by notification (ordering, echo guard, mapping).
//!
//! A decision to send is stored together with its undelivered update: the update is kept
//! pending *before* the decision is written, and only the connector's answer clears it
//! (`deliver`). So a process killed, a Lambda timed out or a request cancelled between deciding
//! and delivering leaves the update for maintenance to send (after [`DELIVERY_GRACE`]), instead
//! of a stored decision that stands in for a delivery nobody made; Graph's redelivery of the
//! same notification is then rightly stale.

use crate::app::App;
use crate::domain::Timestamp;
use crate::domain::sync::is_own_session_echo;
use crate::domain::{Observation, SwyxUpdate, SyncDecision, decide_with_echo_guard};
use crate::store::{PendingDelivery, StoreError};
use std::time::Duration;

/// Optimistic-concurrency retries for one user's state before giving up (and leaving the user to
/// the next reconciliation).
const MAX_STATE_WRITE_ATTEMPTS: usize = 8;

/// How long maintenance leaves a freshly decided update to the request delivering it: longer than
/// any request's time budget, short enough that a crashed delivery is repaired within a minute.
pub const DELIVERY_GRACE: Duration = Duration::from_secs(15);

/// What the observation led to.
#[derive(Debug)]
pub enum Observed {
    /// A new Swyx status to send.
    Forward(SwyxUpdate),
    /// Stored; Swyx needs nothing new.
    Recorded,
    /// Older than what is stored.
    Stale,
    UnlinkedUser,
}

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("store")]
    Store(#[source] StoreError),
    #[error("too many concurrent updates of this user; left to reconciliation")]
    Contention,
}

/// `entra_id` lower case.
pub async fn observe(
    app: &App,
    entra_id: &str,
    obs: &Observation,
) -> Result<Observed, ObserveError> {
    let store_err = ObserveError::Store;
    let Some(link) = app.store.get_user(entra_id).await.map_err(store_err)? else {
        return Ok(Observed::UnlinkedUser);
    };
    // Only an InACall can be our own session's echo (Swyx → Teams): read its state just then.
    let own_session = match app.swyx_to_teams.as_deref() {
        Some(s2t) if is_own_session_echo(&obs.presence) => app
            .store
            .get_speaking(entra_id)
            .await
            .map_err(store_err)?
            .is_some_and(|s| s.own_session_may_be_active(s2t.now())),
        _ => false,
    };
    for _ in 0..MAX_STATE_WRITE_ATTEMPTS {
        let state = app
            .store
            .get_sync_state(entra_id)
            .await
            .map_err(store_err)?
            .unwrap_or_default();
        let (next, outcome) = match decide_with_echo_guard(&state, obs, &app.rules, own_session) {
            SyncDecision::Stale => return Ok(Observed::Stale),
            SyncDecision::Record(next) => (next, None),
            SyncDecision::Forward(next, action) => {
                let update = SwyxUpdate::new(&link.swyx_user_id, entra_id, action, &next, obs);
                (next, Some(update))
            }
        };
        // The update this one replaces (still undelivered), restored if this decision loses.
        let replaced = match &outcome {
            Some(update) => keep_until_delivered(app, update).await.map_err(store_err)?,
            None => None,
        };
        match app
            .store
            .put_sync_state(entra_id, &next, state.revision)
            .await
        {
            Ok(()) => {
                return Ok(match outcome {
                    Some(update) => Observed::Forward(update),
                    None => Observed::Recorded,
                });
            }
            Err(StoreError::Conflict(_)) => {
                // Another writer decided first; decide again on what it stored.
                if let Some(update) = &outcome {
                    withdraw_intent(app, update, replaced).await;
                }
                continue;
            }
            Err(e) => {
                if let Some(update) = &outcome {
                    withdraw_intent(app, update, replaced).await;
                }
                return Err(store_err(e));
            }
        }
    }
    Err(ObserveError::Contention)
}

/// The update, pending until the connector confirms it; due only after [`DELIVERY_GRACE`] so
/// maintenance does not race the request that is delivering it right now. Returns the pending
/// update it replaced (one per Swyx user).
async fn keep_until_delivered(
    app: &App,
    update: &SwyxUpdate,
) -> Result<Option<PendingDelivery>, StoreError> {
    let replaced = app.store.get_pending(&update.swyx_user_id).await?;
    let pending = PendingDelivery {
        update: update.clone(),
        attempts: 0,
        next_attempt_at: Timestamp::now().plus_millis(DELIVERY_GRACE.as_millis() as i64),
        last_error: None,
    };
    app.store.put_pending(&pending).await?;
    Ok(replaced)
}

/// The decision was not stored: its update must not be sent, and the undelivered one it replaced
/// is pending again.
async fn withdraw_intent(app: &App, update: &SwyxUpdate, replaced: Option<PendingDelivery>) {
    let restored = async {
        app.store
            .delete_pending(&update.swyx_user_id, update.revision)
            .await?;
        if let Some(previous) = &replaced {
            app.store.put_pending(previous).await?;
        }
        Ok::<_, StoreError>(())
    };
    if let Err(e) = restored.await {
        tracing::warn!(swyx_user = %update.swyx_user_id, revision = update.revision, error = %e, "could not withdraw an update that lost a concurrent decision; the next decision for this user replaces it");
    }
}
