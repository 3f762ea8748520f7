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

use crate::domain::sync::is_own_session_echo;
use crate::domain::{
    Clock, MappingRules, Observation, SwyxUpdate, SyncDecision, UserSyncState,
    decide_with_echo_guard,
};
use crate::store::optimistic::{self, Step};
use crate::store::{
    PendingDelivery, PendingStore, SpeakingStore, StoreError, StoreResult, SyncStateStore,
    UserLinkStore,
};
use crate::telemetry::with_causes;
use std::time::Duration;

/// How long maintenance leaves a freshly decided update to the request delivering it: longer than
/// any request's time budget, short enough that a crashed delivery is repaired within a minute.
pub const DELIVERY_GRACE: Duration = Duration::from_secs(15);

/// What the observation led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// A new Swyx status to send.
    Forward(SwyxUpdate),
    /// Stored; Swyx needs nothing new.
    Recorded,
    /// Older than what is stored.
    Stale,
    UnlinkedUser,
}

/// How presences are judged, besides the stored state.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    pub rules: &'a MappingRules,
    /// Swyx → Teams's clock when it runs: a Teams "In a call" may then be the bridge's own
    /// session coming back, and must not return to Swyx as Speaking.
    pub own_sessions: Option<&'a Clock>,
}

/// Judges `obs` of `entra_id` (lower case) against the stored state and stores the outcome.
/// A `Contended` error leaves the user to the next reconciliation.
pub async fn observe<S>(
    store: &S,
    judge: Judge<'_>,
    entra_id: &str,
    obs: &Observation,
) -> StoreResult<Observed>
where
    S: UserLinkStore + SyncStateStore + SpeakingStore + PendingStore + ?Sized,
{
    let Some(link) = store.get_user(entra_id).await? else {
        return Ok(Observed::UnlinkedUser);
    };
    // Only an InACall can be our own session's echo (Swyx → Teams): read its state just then.
    let own_session = match judge.own_sessions {
        Some(clock) if is_own_session_echo(&obs.presence) => store
            .get_speaking(entra_id)
            .await?
            .is_some_and(|s| s.own_session_may_be_active(clock.now())),
        _ => false,
    };
    optimistic::update(
        || format!("sync state of {entra_id}"),
        move || async move { Ok(store.get_sync_state(entra_id).await?.unwrap_or_default()) },
        |state| {
            let expected = state.revision;
            match decide_with_echo_guard(&state, obs, judge.rules, own_session) {
                SyncDecision::Stale => Step::Done(Observed::Stale),
                SyncDecision::Record(next) => {
                    Step::Write((next, expected, None), Observed::Recorded)
                }
                SyncDecision::Forward(next, action) => {
                    let update = SwyxUpdate::new(&link.swyx_user_id, entra_id, action, &next, obs);
                    Step::Write(
                        (next, expected, Some(update.clone())),
                        Observed::Forward(update),
                    )
                }
            }
        },
        move |(next, expected, update)| store_decision(store, entra_id, next, expected, update),
    )
    .await
}

/// Writes the decision, its update (if any) kept pending first; a decision that lost a race
/// withdraws its update again.
async fn store_decision<S>(
    store: &S,
    entra_id: &str,
    next: UserSyncState,
    expected: u64,
    update: Option<SwyxUpdate>,
) -> StoreResult<()>
where
    S: SyncStateStore + PendingStore + ?Sized,
{
    // The update this one replaces (still undelivered), restored if this decision loses.
    let replaced = match &update {
        Some(update) => keep_until_delivered(store, update).await?,
        None => None,
    };
    let written = store.put_sync_state(entra_id, &next, expected).await;
    // Only a refused condition proves the decision was not stored. After any other failure (a
    // timeout, say) it may have been: the update then stays pending, at worst sent once more.
    if let (Err(StoreError::Conflict { .. }), Some(update)) = (&written, &update) {
        withdraw_intent(store, update, replaced).await;
    }
    written
}

/// The update, pending until the connector confirms it; due only after [`DELIVERY_GRACE`] so
/// maintenance does not race the request that is delivering it right now. Returns the pending
/// update it replaced (one per Swyx user).
async fn keep_until_delivered<S>(
    store: &S,
    update: &SwyxUpdate,
) -> StoreResult<Option<PendingDelivery>>
where
    S: PendingStore + ?Sized,
{
    let replaced = store.get_pending(&update.swyx_user_id).await?;
    store.put_pending(&pending_until_delivered(update)).await?;
    Ok(replaced)
}

/// A fresh update as kept pending until the connector confirms it: due only after
/// [`DELIVERY_GRACE`].
pub(super) fn pending_until_delivered(update: &SwyxUpdate) -> PendingDelivery {
    PendingDelivery {
        update: update.clone(),
        attempts: 0,
        // From the receipt, on the app's clock (the same clock maintenance compares with).
        next_attempt_at: update
            .observed_at
            .plus_millis(DELIVERY_GRACE.as_millis() as i64),
        last_error: None,
    }
}

/// The decision was not stored: its update must not be sent, and the undelivered one it replaced
/// is pending again.
async fn withdraw_intent<S>(store: &S, update: &SwyxUpdate, replaced: Option<PendingDelivery>)
where
    S: PendingStore + ?Sized,
{
    let restored = async {
        store
            .delete_pending(&update.swyx_user_id, update.revision)
            .await?;
        if let Some(previous) = &replaced {
            store.put_pending(previous).await?;
        }
        StoreResult::Ok(())
    };
    if let Err(e) = restored.await {
        tracing::warn!(swyx_user = %update.swyx_user_id, revision = update.revision, error = %with_causes(&e), "could not withdraw an update that lost a concurrent decision; the next decision for this user replaces it");
    }
}
