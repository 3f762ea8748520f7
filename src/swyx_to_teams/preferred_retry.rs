//! A hand-set Swyx status (`status.changed`) on its way to Teams: stored as the wanted change
//! in the user's speaking state, whose due index maintenance reads anyway, before Graph is asked,
//! and dropped only once Graph took it. The event is answered 2xx even when Graph did not take
//! it (the contract: a Graph failure does not fail an event); maintenance retries it. A newer
//! change replaces it, and every call's outcome is recorded only while its change is still the
//! one stored, so an older change never wins.
//!
//! The mark that the bridge set the user's preferred presence (it clears only one it set,
//! [`PreferredMark`]) lives in the same state and changes in the same conditional write as the
//! change: a clear that ends drops it only while its own change is still the one stored, so it
//! can never take away the mark of a newer set. Older versions kept the mark as an idempotency
//! claim ([`old_claim`]); a state without a mark of its own yet still honours one, and the
//! claim is released once the state has its own.

use super::session::SwyxToTeams;
use crate::domain::SpeakingState;
use crate::domain::Timestamp;
use crate::domain::own_status::{
    ChangedBy, PreferredChange, PreferredMark, PreferredRetry, preferred_change,
};
use crate::domain::timestamp::millis_of;
use crate::graph::client::GraphError;
use crate::store::optimistic::{self, Step};
use crate::store::{Store, StoreError, StoreResult};
use crate::telemetry::with_causes;
use std::time::Duration;

/// The idempotency claim in which older versions kept the mark that the bridge set the user's
/// preferred presence (up to 7 days): honoured while the user's state has no mark of its own.
fn old_claim(swyx_user_id: &str) -> String {
    format!("preferred-set:{swyx_user_id}")
}

/// Whether the state (none: a new one) still leaves the mark to the old claim.
fn leaves_mark_to_claim(state: Option<&SpeakingState>) -> bool {
    state.is_none_or(|s| s.preferred_mark.is_old_claim())
}

/// Whether the old claim of `swyx_user_id` is held, read only for a clear (a set makes the mark
/// the state's own at once) and only when `state` leaves the mark to it (`None`: not read, it
/// does not count).
async fn old_claim_held(
    store: &dyn Store,
    state: Option<&SpeakingState>,
    change: Option<PreferredChange>,
    swyx_user_id: &str,
    now: Timestamp,
) -> StoreResult<Option<bool>> {
    if change != Some(PreferredChange::Clear) || !leaves_mark_to_claim(state) {
        return Ok(None);
    }
    store
        .is_claimed(&old_claim(swyx_user_id), now)
        .await
        .map(Some)
}

/// After a write that gave the state a mark of its own (`before` left it to the old claim, which
/// was held or not read): the claim goes. Should that fail, it is harmless: it is never read
/// again for this state, and expires.
async fn release_old_claim(
    store: &dyn Store,
    before: Option<&SpeakingState>,
    after: &SpeakingState,
    claimed: Option<bool>,
    swyx_user_id: &str,
) {
    if !leaves_mark_to_claim(before)
        || after.preferred_mark.is_old_claim()
        || claimed == Some(false)
    {
        return;
    }
    if let Err(e) = store.release_claim(&old_claim(swyx_user_id)).await {
        tracing::warn!(swyx_user = %swyx_user_id, error = %e, "the old mark of a preferred presence stays until it expires (no longer read)");
    }
}

/// What an event's change found and left ([`store_wanted`]).
pub(super) struct Stored {
    /// Whether it is the bridge's to send: a set always; a clear only while the bridge's own
    /// preferred presence may be live. Otherwise nothing is kept (an older change kept for
    /// retry is dropped, so it is never sent after this one).
    pub ours: bool,
    /// The change kept before, which it replaced.
    pub replaced: Option<PreferredRetry>,
    /// The user made a change stamped later than this one and the bridge acted on it: this one
    /// arrived out of order and changes nothing.
    pub older: bool,
}

/// Stores `wanted` (an event's `change`, at `now`, made by the user at `made_at`) as the change
/// still to reach Teams, in place of any older one, with the mark it needs
/// ([`PreferredMark::sending`]) and `made_at` as the newest change's time: all in one conditional
/// write, before Graph is asked. A change made before the newest one acted on is stale
/// ([`Stored::older`]) and stores nothing. A user with nothing kept, nothing to clear, a mark of
/// their own and this very time stored costs one read.
pub(super) async fn store_wanted(
    store: &dyn Store,
    s2t: &SwyxToTeams,
    entra_id: &str,
    wanted: &PreferredRetry,
    change: PreferredChange,
    made_at: Timestamp,
    now: Timestamp,
) -> StoreResult<Stored> {
    let user = wanted.swyx_user_id.as_str();
    let (before, after, claimed, older) = optimistic::update(
        || format!("preferred presence of {entra_id}"),
        move || async move {
            let state = store.get_speaking(entra_id).await?;
            let claimed = old_claim_held(store, state.as_ref(), Some(change), user, now).await?;
            Ok((state, claimed))
        },
        |(state, claimed): (Option<SpeakingState>, Option<bool>)| {
            let current = state.clone().unwrap_or_default();
            if current.own_status_at.is_some_and(|newest| made_at < newest) {
                return Step::Done((state, current, claimed, true));
            }
            let mark = current
                .preferred_mark
                .sending(change, now, claimed == Some(true));
            let kept = (mark != PreferredMark::NotSet).then(|| wanted.clone());
            let newest = Some(made_at);
            if current.preferred == kept
                && current.preferred_mark == mark
                && current.own_status_at == newest
            {
                return Step::Done((state, current, claimed, false));
            }
            let mut next = current.with_preferred(kept, mark, now, &s2t.settings);
            next.own_status_at = newest;
            Step::Write(
                (next.clone(), current.revision),
                (state, next, claimed, false),
            )
        },
        move |(next, expected): (SpeakingState, u64)| async move {
            store.put_speaking(entra_id, &next, expected).await
        },
    )
    .await?;
    release_old_claim(store, before.as_ref(), &after, claimed, user).await;
    Ok(Stored {
        ours: !older && after.preferred.as_ref() == Some(wanted),
        replaced: before.and_then(|s| s.preferred),
        older,
    })
}

/// Records `left`, what is still to do once the Graph call for `sent` ended, unless a newer
/// change replaced `sent` meanwhile; the state as stored after (`None`: the user has none). A
/// clear Graph took drops the bridge's mark in the same write that drops its change: while its
/// change is stored a retry must find the preferred presence the bridge's to clear, and once a
/// newer change replaced it, that change's mark stays.
pub(super) async fn after_call(
    store: &dyn Store,
    s2t: &SwyxToTeams,
    entra_id: &str,
    sent: &PreferredRetry,
    left: Option<PreferredRetry>,
) -> StoreResult<Option<SpeakingState>> {
    let cleared = left.is_none()
        && preferred_change(sent.status, ChangedBy::User) == Some(PreferredChange::Clear);
    let now = s2t.now();
    optimistic::update(
        || format!("preferred presence of {entra_id}"),
        move || async move { store.get_speaking(entra_id).await },
        |state: Option<SpeakingState>| {
            let Some(current) = state
                .as_ref()
                .filter(|s| s.preferred.as_ref() == Some(sent))
            else {
                return Step::Done(state);
            };
            let mark = if cleared {
                PreferredMark::NotSet
            } else {
                current.preferred_mark
            };
            if current.preferred == left && current.preferred_mark == mark {
                return Step::Done(state);
            }
            let next = current.with_preferred(left.clone(), mark, now, &s2t.settings);
            Step::Write((next.clone(), current.revision), Some(next))
        },
        move |(next, expected): (SpeakingState, u64)| async move {
            store.put_speaking(entra_id, &next, expected).await
        },
    )
    .await
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
    let change = preferred_change(kept.status, ChangedBy::User);
    let claimed = old_claim_held(store, Some(state), change, &kept.swyx_user_id, now).await?;
    let mark = match change {
        Some(change) => state
            .preferred_mark
            .sending(change, now, claimed == Some(true)),
        None => state.preferred_mark,
    };
    // Sent only if it is still the newest change once that is stored (a conditional write):
    // an event's newer change stored meanwhile wins, and nobody else sends this one meanwhile.
    let sending = kept.sending(now, &s2t.settings);
    let leased = state.with_preferred(Some(sending.clone()), mark, now, &s2t.settings);
    match store.put_speaking(entra_id, &leased, state.revision).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e),
    }
    release_old_claim(store, Some(state), &leased, claimed, &kept.swyx_user_id).await;
    let done = match change {
        // Not the bridge's to clear: done.
        Some(PreferredChange::Clear) if mark == PreferredMark::NotSet => Ok(()),
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
