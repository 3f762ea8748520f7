//! One observed Teams presence of one user → the sync decision, stored with an optimistic
//! write. Shared by the notification intake and reconciliation, so a presence read in bulk is
//! judged exactly like one that arrived by notification (ordering, echo guard, mapping).

use crate::domain::sync::is_own_session_echo;
use crate::domain::{
    Clock, MappingRules, Observation, SwyxUpdate, SyncDecision, decide_with_echo_guard,
};
use crate::store::optimistic::{self, Step};
use crate::store::{SpeakingStore, StoreResult, SyncStateStore, UserLinkStore};

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
    S: UserLinkStore + SyncStateStore + SpeakingStore + ?Sized,
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
                SyncDecision::Record(next) => Step::Write((next, expected), Observed::Recorded),
                SyncDecision::Forward(next, action) => {
                    let update = SwyxUpdate::new(&link.swyx_user_id, entra_id, action, &next, obs);
                    Step::Write((next, expected), Observed::Forward(update))
                }
            }
        },
        move |(next, expected)| async move { store.put_sync_state(entra_id, &next, expected).await },
    )
    .await
}
