//! One observed Teams presence of one user → the sync decision, stored with an optimistic
//! write. Shared by the notification intake and reconciliation, so a presence read in bulk is
//! judged exactly like one that arrived by notification (ordering, echo guard, mapping).
//!
//! A decision to send is stored together with its undelivered update, in one atomic write
//! ([`SyncStateStore::put_decision`]), and only the connector's answer clears the update
//! (`deliver`). So a process killed, a Lambda timed out or a request cancelled between deciding
//! and delivering leaves the update for maintenance to send (after [`DELIVERY_GRACE`]), instead
//! of a stored decision that stands in for a delivery nobody made; Graph's redelivery of the
//! same notification is then rightly stale.

use crate::domain::sync::is_own_session_echo;
use crate::domain::{
    Clock, Directions, MappingRules, Observation, RuleOverride, SpeakingState, SwyxUpdate,
    SyncDecision, TeamsPresence, Timestamp, UserKeys, UserSyncState, decide_with_echo_guard,
    rejudge, rules_for,
};
use crate::store::optimistic::{self, Step};
use crate::store::{
    DecisionInputStore, DecisionInputs, PendingDelivery, PendingStore, SpeakingStore, StoreResult,
    SwitchStore, SyncStateStore, UserLink, UserLinkStore, UserSwitches,
};
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
    /// The default rules, and the users judged by rules of their own.
    pub rules: &'a MappingRules,
    pub overrides: &'a [RuleOverride],
    /// Swyx → Teams's clock when it runs: a Teams "In a call" may then be the bridge's own
    /// session coming back, and must not return to Swyx as Speaking.
    pub own_sessions: Option<&'a Clock>,
    /// The directions of users without switches of their own; a user's own are read with
    /// the link.
    pub directions: Directions,
}

/// The store ports a decision reads and writes.
pub trait DecisionStore:
    UserLinkStore + DecisionInputStore + SwitchStore + SyncStateStore + SpeakingStore + PendingStore
{
}

impl<T> DecisionStore for T where
    T: UserLinkStore
        + DecisionInputStore
        + SwitchStore
        + SyncStateStore
        + SpeakingStore
        + PendingStore
        + ?Sized
{
}

impl<'a> Judge<'a> {
    /// What a presence is judged by for one user: their rules (an override's, else the
    /// default), or `None` when Teams → Swyx is switched off for them (`own`: their switches).
    pub fn rules_for_user(
        &self,
        link: &UserLink,
        own: Option<&UserSwitches>,
    ) -> Option<&'a MappingRules> {
        let own = own.map(|s| s.switches).unwrap_or_default();
        let user = UserKeys {
            swyx_user_id: &link.swyx_user_id,
            entra_id: &link.entra_id,
            email: &link.email,
            groups: &link.groups,
        };
        self.directions
            .for_user(&own)
            .teams_to_swyx
            .then(|| rules_for(self.rules, self.overrides, &user))
    }

    /// Only an InACall can be the bridge's own session's echo (Swyx → Teams): its speaking state
    /// is read just then.
    pub fn may_be_own_session(&self, presence: &TeamsPresence) -> bool {
        self.own_sessions.is_some() && is_own_session_echo(presence)
    }

    /// Whether `presence` is the bridge's own session coming back, by the user's speaking state.
    pub fn is_own_session(
        &self,
        presence: &TeamsPresence,
        speaking: Option<&SpeakingState>,
    ) -> bool {
        match self.own_sessions {
            Some(clock) if is_own_session_echo(presence) => {
                speaking.is_some_and(|s| s.own_session_may_be_active(clock.now()))
            }
            _ => false,
        }
    }
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
    S: DecisionStore + ?Sized,
{
    observe_on(store, judge, entra_id, obs, None).await
}

/// [`observe`] on the user's decision inputs read ahead (`Some(None)`: not linked), where given:
/// a cold start read them while it read its secrets. Judged as on inputs read now: the write is
/// conditional on the state's revision, so a state that moved since is read and judged again.
pub async fn observe_on<S>(
    store: &S,
    judge: Judge<'_>,
    entra_id: &str,
    obs: &Observation,
    read_ahead: Option<Option<DecisionInputs>>,
) -> StoreResult<Observed>
where
    S: DecisionStore + ?Sized,
{
    let read = match read_ahead {
        Some(read) => read,
        None => {
            let with_speaking = judge.may_be_own_session(&obs.presence);
            store.get_decision_inputs(entra_id, with_speaking).await?
        }
    };
    let Some(read) = read else {
        return Ok(Observed::UnlinkedUser);
    };
    let rules = judge.rules_for_user(&read.link, read.switches.as_ref());
    let own_session = judge.is_own_session(&obs.presence, read.speaking.as_ref());
    let decide = |state: &UserSyncState| decide_with_echo_guard(state, obs, rules, own_session);
    store_outcome(store, entra_id, &read.link, read.state, decide, obs.clone()).await
}

/// Judges the user's last seen presence again at `now` with their current switches and rules:
/// after an operator changed them, so Swyx follows without waiting for Teams to change.
pub async fn observe_again<S>(
    store: &S,
    judge: Judge<'_>,
    entra_id: &str,
    now: Timestamp,
) -> StoreResult<Observed>
where
    S: DecisionStore + ?Sized,
{
    // The last presence is known only once read: the speaking state is read along in case.
    let with_speaking = judge.own_sessions.is_some();
    let Some(read) = store.get_decision_inputs(entra_id, with_speaking).await? else {
        return Ok(Observed::UnlinkedUser);
    };
    let Some(last) = read.state.as_ref().and_then(|s| s.last_presence.clone()) else {
        return Ok(Observed::Stale);
    };
    let rules = judge.rules_for_user(&read.link, read.switches.as_ref());
    let own_session = judge.is_own_session(&last, read.speaking.as_ref());
    let decide = |state: &UserSyncState| rejudge(state, now, rules, own_session);
    let obs = Observation {
        presence: last,
        received_at: now,
    };
    store_outcome(store, entra_id, &read.link, read.state, decide, obs).await
}

/// Decides on `read` (the state read with the link) and writes; a lost race reads the state
/// again and decides again.
async fn store_outcome<S>(
    store: &S,
    entra_id: &str,
    link: &UserLink,
    read: Option<UserSyncState>,
    decide: impl Fn(&UserSyncState) -> SyncDecision,
    obs: Observation,
) -> StoreResult<Observed>
where
    S: DecisionStore + ?Sized,
{
    let obs = &obs;
    let mut first = Some(read.unwrap_or_default());
    optimistic::update(
        || format!("sync state of {entra_id}"),
        move || {
            let first = first.take();
            async move {
                match first {
                    Some(state) => Ok(state),
                    None => Ok(store.get_sync_state(entra_id).await?.unwrap_or_default()),
                }
            }
        },
        |state| {
            let expected = state.revision;
            match decide(&state) {
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

/// Writes the decision; one that sends an update stores it pending in the same atomic write,
/// cleared only when the connector confirms it. It is due only after [`DELIVERY_GRACE`], so
/// maintenance does not race the request that is delivering it right now.
async fn store_decision<S>(
    store: &S,
    entra_id: &str,
    next: UserSyncState,
    expected: u64,
    update: Option<SwyxUpdate>,
) -> StoreResult<()>
where
    S: SyncStateStore + ?Sized,
{
    let Some(update) = update else {
        return store.put_sync_state(entra_id, &next, expected).await;
    };
    store
        .put_decision(entra_id, &next, expected, &pending_until_delivered(update))
        .await
}

/// A fresh update as kept pending until the connector confirms it: due only after
/// [`DELIVERY_GRACE`].
pub(crate) fn pending_until_delivered(update: SwyxUpdate) -> PendingDelivery {
    PendingDelivery {
        // From the receipt, on the app's clock (the same clock maintenance compares with).
        next_attempt_at: update.observed_at.plus_duration(DELIVERY_GRACE),
        update,
        attempts: 0,
        last_error: None,
        rejected: false,
        not_before: None,
    }
}
