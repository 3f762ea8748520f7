//! A hand-set Swyx status (`status.changed`) that Graph did not take within its request: the
//! event is answered 2xx (the contract: a Graph failure does not fail an event) and the wanted
//! change is kept in the user's speaking state, whose due index maintenance reads anyway, until
//! Graph takes it. A newer change, taken or kept, replaces it, so an older one never wins.

use super::session::SwyxToTeams;
use crate::domain::SpeakingState;
use crate::domain::Timestamp;
use crate::domain::own_status::{ChangedBy, PreferredChange, PreferredRetry, preferred_change};
use crate::domain::timestamp::millis_of;
use crate::store::optimistic::{self, Step};
use crate::store::{SpeakingStore, Store, StoreError, StoreResult};
use crate::telemetry::with_causes;
use std::time::Duration;

/// The mark that says the bridge set the user's preferred presence (only then it clears one).
pub(super) fn mark(swyx_user_id: &str) -> String {
    format!("preferred-set:{swyx_user_id}")
}

/// Records `wanted` as the change still to reach Teams (`None`: nothing left to do, dropping
/// an older one). A user with nothing kept and nothing wanted costs one read.
pub(super) async fn keep(
    store: &dyn SpeakingStore,
    s2t: &SwyxToTeams,
    entra_id: &str,
    wanted: Option<PreferredRetry>,
) -> StoreResult<()> {
    optimistic::update(
        || format!("preferred presence of {entra_id}"),
        move || async move { store.get_speaking(entra_id).await },
        |state: Option<SpeakingState>| {
            if state.as_ref().and_then(|s| s.preferred.as_ref()) == wanted.as_ref() {
                return Step::Done(());
            }
            let state = state.unwrap_or_default();
            let next = state.with_preferred(wanted.clone(), s2t.now(), &s2t.settings);
            Step::Write((next, state.revision), ())
        },
        move |(next, expected): (SpeakingState, u64)| async move {
            store.put_speaking(entra_id, &next, expected).await
        },
    )
    .await
}

/// Maintenance: sends the kept change if it is due; the state as stored after, or `None` when
/// nothing was due or another writer got there first (the next pass looks again).
pub(super) async fn retry_due(
    s2t: &SwyxToTeams,
    store: &dyn Store,
    entra_id: &str,
    state: &SpeakingState,
    budget: Duration,
) -> StoreResult<Option<SpeakingState>> {
    let now: Timestamp = s2t.now();
    let Some(kept) = state.preferred.as_ref().filter(|p| p.at <= now) else {
        return Ok(None);
    };
    let mark = mark(&kept.swyx_user_id);
    let done = match preferred_change(kept.status, ChangedBy::User) {
        Some(PreferredChange::Set(availability, activity)) => {
            s2t.graph
                .set_preferred(entra_id, availability, activity, budget)
                .await
        }
        Some(PreferredChange::Clear) if store.is_claimed(&mark, now).await? => {
            let cleared = s2t.graph.clear_preferred(entra_id, budget).await;
            if cleared.is_ok()
                && let Err(e) = store.release_claim(&mark).await
            {
                tracing::warn!(entra_id = %entra_id, error = %e, "preferred presence cleared, but its mark stays until it expires");
            }
            cleared
        }
        // Not the bridge's to clear (or nothing to do): done.
        _ => Ok(()),
    };
    let still = match done {
        Ok(()) => {
            tracing::info!(entra_id = %entra_id, status = ?kept.status, "Swyx status reached Teams as preferred presence (retried)");
            None
        }
        Err(e) => {
            let retry_after = e.retry_after().map(millis_of);
            let error = with_causes(&e);
            tracing::warn!(entra_id = %entra_id, attempts = kept.attempts + 1, error = %error, "preferred presence still not set; retried later");
            let status = kept.status;
            let user = kept.swyx_user_id.clone();
            Some(PreferredRetry::failed(
                Some(kept),
                &user,
                status,
                now,
                retry_after,
                error,
            ))
        }
    };
    let next = state.with_preferred(still, now, &s2t.settings);
    match store.put_speaking(entra_id, &next, state.revision).await {
        Ok(()) => Ok(Some(next)),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
