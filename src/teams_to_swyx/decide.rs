//! One observed Teams presence of one user → the sync decision, stored with an optimistic
//! write. Shared by the notification intake and reconciliation, so a presence read in bulk is
//! judged exactly like one that arrived by notification (ordering, echo guard, mapping).

use crate::app::App;
use crate::domain::sync::is_own_session_echo;
use crate::domain::{Observation, SwyxUpdate, SyncDecision, decide_with_echo_guard};
use crate::store::StoreError;

/// Optimistic-concurrency retries for one user's state before giving up (and leaving the user to
/// the next reconciliation).
const MAX_STATE_WRITE_ATTEMPTS: usize = 8;

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
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(store_err(e)),
        }
    }
    Err(ObserveError::Contention)
}
