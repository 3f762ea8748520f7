//! Many users' observed presences judged at once (reconciliation reads 650 at a time): the
//! links and states are read in one batch each, and every decision with its pending update is
//! written in one batch, each user atomically, so the store sees a few requests per batch
//! instead of several per user (the speaking states too, for the presences that may be the
//! bridge's own "In a call"). The judgement is the one of [`super::decide`]; a user whose
//! write was refused (a notification moved their state meanwhile) is judged again alone.

use super::decide::{DecisionStore, Judge, Observed, observe, pending_until_delivered};
use crate::domain::{Observation, SwyxUpdate, SyncDecision, decide_with_echo_guard};
use crate::store::{DecisionWrite, StoreResult, UserLink};
use std::collections::HashMap;

/// Judges each (Entra id in lower case, observation) and stores the outcomes; the outcome of
/// each user, in no particular order. A failed batch read or write fails the whole call.
pub async fn observe_many<S>(
    store: &S,
    judge: Judge<'_>,
    observations: &[(String, Observation)],
) -> StoreResult<Vec<(String, StoreResult<Observed>)>>
where
    S: DecisionStore + ?Sized,
{
    let ids: Vec<String> = observations.iter().map(|(id, _)| id.clone()).collect();
    let links: HashMap<String, UserLink> = store
        .get_users(&ids)
        .await?
        .into_iter()
        .map(|l| (l.entra_id.clone(), l))
        .collect();
    // Users with switches of their own are few: all of them in one read.
    let own_switches: HashMap<String, _> = store
        .list_switches()
        .await?
        .into_iter()
        .map(|s| (s.swyx_user_id.clone(), s))
        .collect();
    let mut states: HashMap<String, _> = store.get_sync_states(&ids).await?.into_iter().collect();
    // Only an InACall can be the bridge's own session's echo: their speaking states, in one read.
    let maybe_echo: Vec<String> = observations
        .iter()
        .filter(|(_, obs)| judge.may_be_own_session(&obs.presence))
        .map(|(id, _)| id.clone())
        .collect();
    let speakings: HashMap<String, _> = if maybe_echo.is_empty() {
        HashMap::new()
    } else {
        store
            .get_speakings(&maybe_echo)
            .await?
            .into_iter()
            .collect()
    };
    let mut outcomes = Vec::with_capacity(observations.len());
    let mut writes = Vec::new();
    let mut judged: HashMap<String, Observed> = HashMap::new();
    for (entra_id, obs) in observations {
        let Some(link) = links.get(entra_id) else {
            outcomes.push((entra_id.clone(), Ok(Observed::UnlinkedUser)));
            continue;
        };
        let rules = judge.rules_for_user(link, own_switches.get(&link.swyx_user_id));
        let state = states.remove(entra_id).unwrap_or_default();
        let expected = state.revision;
        let own_session = judge.is_own_session(&obs.presence, speakings.get(entra_id));
        let (next, pending, outcome) = match decide_with_echo_guard(&state, obs, rules, own_session)
        {
            SyncDecision::Stale => {
                outcomes.push((entra_id.clone(), Ok(Observed::Stale)));
                continue;
            }
            SyncDecision::Record(next) => (next, None, Observed::Recorded),
            SyncDecision::Forward(next, action) => {
                let update = SwyxUpdate::new(&link.swyx_user_id, entra_id, action, &next, obs);
                let pending = pending_until_delivered(update.clone());
                (next, Some(pending), Observed::Forward(update))
            }
        };
        writes.push(DecisionWrite {
            entra_id: entra_id.clone(),
            state: next,
            expected_revision: expected,
            pending,
        });
        judged.insert(entra_id.clone(), outcome);
    }
    let refused = if writes.is_empty() {
        Vec::new()
    } else {
        store.put_decisions(&writes).await?
    };
    for entra_id in &refused {
        judged.remove(entra_id);
    }
    outcomes.extend(judged.into_iter().map(|(id, o)| (id, Ok(o))));
    let by_id: HashMap<&String, &Observation> =
        observations.iter().map(|(id, obs)| (id, obs)).collect();
    let again = refused.iter().filter_map(|id| Some((id, *by_id.get(id)?)));
    for (entra_id, obs) in again {
        outcomes.push((entra_id.clone(), observe(store, judge, entra_id, obs).await));
    }
    Ok(outcomes)
}
