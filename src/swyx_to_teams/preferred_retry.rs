//! A hand-set Swyx status (`status.changed`) on its way to Teams: stored as the wanted change
//! in the user's speaking state, whose due index maintenance reads anyway, before Graph is asked,
//! and dropped only once Graph took it. The event is answered 2xx even when Graph did not take
//! it (the contract: a Graph failure does not fail an event); maintenance retries it. A newer
//! change replaces it, and every call's outcome is recorded only while its change is still the
//! one stored, so an older change never wins.

use super::session::SwyxToTeams;
use crate::domain::SpeakingState;
use crate::domain::Timestamp;
use crate::domain::own_status::{ChangedBy, PreferredChange, PreferredRetry, preferred_change};
use crate::domain::timestamp::millis_of;
use crate::graph::client::GraphError;
use crate::store::optimistic::{self, Step};
use crate::store::{Store, StoreError, StoreResult};
use crate::telemetry::with_causes;
use std::time::Duration;

/// The mark that says the bridge set the user's preferred presence (only then it clears one).
pub(super) fn mark(swyx_user_id: &str) -> String {
    format!("preferred-set:{swyx_user_id}")
}

/// Which kept change a [`keep`] may replace.
#[derive(Clone, Copy)]
pub(super) enum Replacing<'a> {
    /// Whatever is kept: the user's newest change supersedes it.
    Any,
    /// Only this one (the change whose Graph call just ended): a newer one stays.
    Only(&'a PreferredRetry),
}

/// What a [`keep`] found and left.
pub(super) struct Kept {
    /// The change kept before.
    pub before: Option<PreferredRetry>,
    /// The user's state as stored after (`None`: the user has none).
    pub state: Option<SpeakingState>,
}

/// Records `wanted` as the change still to reach Teams (`None`: nothing left to do) in place
/// of what `replacing` allows. A user with nothing kept and nothing wanted costs one read.
pub(super) async fn keep(
    store: &dyn Store,
    s2t: &SwyxToTeams,
    entra_id: &str,
    replacing: Replacing<'_>,
    wanted: Option<PreferredRetry>,
) -> StoreResult<Kept> {
    optimistic::update(
        || format!("preferred presence of {entra_id}"),
        move || async move { store.get_speaking(entra_id).await },
        |state: Option<SpeakingState>| {
            let before = state.as_ref().and_then(|s| s.preferred.clone());
            let allowed = match replacing {
                Replacing::Any => true,
                Replacing::Only(sent) => before.as_ref() == Some(sent),
            };
            if !allowed || before == wanted {
                return Step::Done(Kept { before, state });
            }
            let state = state.unwrap_or_default();
            let next = state.with_preferred(wanted.clone(), s2t.now(), &s2t.settings);
            let kept = Kept {
                before,
                state: Some(next.clone()),
            };
            Step::Write((next, state.revision), kept)
        },
        move |(next, expected): (SpeakingState, u64)| async move {
            store.put_speaking(entra_id, &next, expected).await
        },
    )
    .await
}

/// Records `left`, what is still to do once the Graph call for `sent` ended, unless a newer
/// change replaced `sent` meanwhile; the state as stored after. A cleared preferred presence's
/// mark goes only then: until its change is dropped, a retry must find it the bridge's to clear.
pub(super) async fn after_call(
    store: &dyn Store,
    s2t: &SwyxToTeams,
    entra_id: &str,
    sent: &PreferredRetry,
    left: Option<PreferredRetry>,
) -> StoreResult<Option<SpeakingState>> {
    let done = left.is_none();
    let kept = keep(store, s2t, entra_id, Replacing::Only(sent), left).await?;
    let cleared = preferred_change(sent.status, ChangedBy::User) == Some(PreferredChange::Clear);
    if done
        && cleared
        && kept.before.as_ref() == Some(sent)
        && let Err(e) = store.release_claim(&mark(&sent.swyx_user_id)).await
    {
        tracing::warn!(entra_id = %entra_id, error = %e, "preferred presence cleared, but its mark stays until it expires");
    }
    Ok(kept.state)
}

/// Asks Graph for `change`.
pub(super) async fn send(
    s2t: &SwyxToTeams,
    entra_id: &str,
    change: PreferredChange,
    budget: Duration,
) -> Result<(), GraphError> {
    match change {
        PreferredChange::Set(availability, activity) => {
            s2t.graph
                .set_preferred(entra_id, availability, activity, budget)
                .await
        }
        PreferredChange::Clear => s2t.graph.clear_preferred(entra_id, budget).await,
    }
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
    // Sent only if it is still the newest change once that is stored (a conditional write):
    // an event's newer change stored meanwhile wins, and nobody else sends this one meanwhile.
    let sending = kept.sending(now, &s2t.settings);
    let leased = state.with_preferred(Some(sending.clone()), now, &s2t.settings);
    match store.put_speaking(entra_id, &leased, state.revision).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e),
    }
    let done = match preferred_change(kept.status, ChangedBy::User) {
        // Not the bridge's to clear: done.
        Some(PreferredChange::Clear)
            if !store.is_claimed(&mark(&kept.swyx_user_id), now).await? =>
        {
            Ok(())
        }
        Some(change) => send(s2t, entra_id, change, budget).await,
        None => Ok(()),
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
    after_call(store, s2t, entra_id, &sending, still).await
}
