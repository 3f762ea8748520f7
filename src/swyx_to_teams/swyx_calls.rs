//! Maintenance compares the calls the bridge holds with what Swyx says (contract 1.2: the
//! connector lists who is speaking now, `GET /v1/users?speaking=true`) and repairs every
//! difference, so a call event the connector gave up on costs at most one maintenance interval:
//! a call the bridge holds that Swyx no longer lists has ended ("In a call" cleared when none is
//! left), a call Swyx lists that the bridge never heard of has started ("In a call" set). Both
//! go through the user's call set and [`sync_graph`], like an event, so the no-echo and
//! read-back rules hold and there is never more than the one session per user.
//!
//! Races: the time the bridge asked is taken before the request; a user whose calls an event
//! changed after (or just before) it is left to the next pass (`SpeakingState::reconcile_calls`).
//! Users not linked and users with Swyx → Teams switched off (the sessions upkeep ends their
//! calls for both) and users the connector lists without call state are left alone.

use super::session::{GraphSync, SwyxToTeams, sync_graph};
use super::switched_off::SwitchedOff;
use crate::domain::{CallRepair, Directions, SpeakingState, SwyxCalls, Timestamp};
use crate::metrics::Metrics;
use crate::store::optimistic::{self, Step};
use crate::store::{Store, StoreResult};
use crate::teams_to_swyx::ports::SwyxConnector;
use crate::telemetry::with_causes;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// Users with calls read at most: far more than a site has in calls at once.
const MAX_HOLDERS: usize = 20_000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CallTruthSummary {
    /// The connector reported call state (contract 1.2) and it was compared.
    pub compared: bool,
    /// Calls the bridge held that Swyx no longer listed: ended.
    pub ended: usize,
    /// Calls Swyx listed that the bridge did not hold: started.
    pub started: usize,
    /// Repaired users whose Graph call is left to the sessions upkeep (failed or no time).
    pub pending: usize,
    /// The connector could not be asked this time (logged; the next pass asks again).
    pub unreadable: bool,
    pub budget_exhausted: bool,
}

/// One comparison of every user's calls with the connector's, within `budget`.
pub async fn repair_calls(
    s2t: &SwyxToTeams,
    store: &dyn Store,
    connector: &dyn SwyxConnector,
    directions: Directions,
    metrics: &Metrics,
    budget: Duration,
) -> StoreResult<CallTruthSummary> {
    let started = Instant::now();
    let mut summary = CallTruthSummary::default();
    if budget.is_zero() {
        summary.budget_exhausted = true;
        return Ok(summary);
    }
    let switched_off = SwitchedOff::load(store, directions).await?;
    let asked_at = s2t.now();
    let (speaking, unknown) = match connector.speaking_now(budget / 2).await {
        Ok(SwyxCalls::Reported { speaking, unknown }) => (speaking, unknown),
        Ok(SwyxCalls::NotReported) => return Ok(summary),
        Err(e) => {
            tracing::warn!(error = %with_causes(&e), "the connector's call state could not be read; compared again at the next pass");
            summary.unreadable = true;
            return Ok(summary);
        }
    };
    summary.compared = true;
    // Entra id → the calls Swyx lists for the user, for every user whose calls may differ.
    let mut wanted: HashMap<String, BTreeSet<String>> = HashMap::new();
    let now = s2t.now();
    let horizon = Timestamp(now.millis().saturating_add(s2t.settings.max_call_ms));
    // Every state with a call is due within the maximum call length (its overlong check).
    let holders: Vec<(String, SpeakingState)> = store
        .due_speaking(horizon, MAX_HOLDERS)
        .await?
        .into_iter()
        .filter(|(_, state)| state.is_speaking())
        .collect();
    if holders.len() == MAX_HOLDERS {
        tracing::warn!(
            holders = MAX_HOLDERS,
            "more users in calls than one pass compares; the rest at a later pass"
        );
    }
    let ids: Vec<String> = holders.iter().map(|(id, _)| id.clone()).collect();
    let swyx_of: HashMap<String, String> = store
        .get_users(&ids)
        .await?
        .into_iter()
        .map(|l| (l.entra_id, l.swyx_user_id))
        .collect();
    let mut held_by_swyx = std::collections::HashSet::new();
    for (entra_id, state) in &holders {
        // Not linked: the sessions upkeep ends the calls.
        let Some(swyx) = swyx_of.get(entra_id) else {
            continue;
        };
        held_by_swyx.insert(swyx.clone());
        if unknown.contains(swyx) {
            continue;
        }
        let listed = speaking.get(swyx).cloned().unwrap_or_default();
        if !state.calls.keys().eq(listed.iter()) {
            wanted.insert(entra_id.clone(), listed);
        }
    }
    for (swyx, calls) in &speaking {
        if held_by_swyx.contains(swyx) {
            continue;
        }
        if let Some(link) = store.get_user_by_swyx_id(swyx).await? {
            wanted.insert(link.entra_id, calls.clone());
        }
    }
    let ids: Vec<String> = wanted.keys().cloned().collect();
    let ending = switched_off.ending(store, &ids).await?;
    let mut users: Vec<_> = wanted
        .into_iter()
        .filter(|(id, _)| !ending.contains_key(id))
        .collect();
    users.sort();
    for (entra_id, listed) in users {
        let left = budget.saturating_sub(started.elapsed());
        if left.is_zero() {
            summary.budget_exhausted = true;
            break;
        }
        let Some((state, repair)) = repair_one(s2t, store, &entra_id, &listed, asked_at).await?
        else {
            continue;
        };
        summary.ended += repair.ended;
        summary.started += repair.started;
        metrics.count_calls_repaired(repair.ended, repair.started);
        tracing::warn!(
            entra_id = %entra_id,
            ended = repair.ended,
            started = repair.started,
            "call state differed from Swyx's (a call event was lost): repaired"
        );
        let graph_budget = left.min(s2t.request_budget);
        let hold = s2t.graph.throttle_hold();
        if !hold.is_zero() && hold >= graph_budget {
            // Repaired all the same; Graph gets it from the sessions' upkeep once it lets us.
            summary.pending += 1;
            continue;
        }
        match sync_graph(s2t, store, &entra_id, state, graph_budget).await? {
            GraphSync::InSync => {}
            GraphSync::Refused(status) => metrics.count_set_presence_refused(status),
            GraphSync::Pending(reason) => {
                summary.pending += 1;
                tracing::warn!(entra_id = %entra_id, reason = %reason, "Teams presence still pending");
            }
        }
    }
    Ok(summary)
}

/// Brings one user's stored calls in line with `listed` (conditional write, re-read on a race).
async fn repair_one(
    s2t: &SwyxToTeams,
    store: &dyn Store,
    entra_id: &str,
    listed: &BTreeSet<String>,
    asked_at: Timestamp,
) -> StoreResult<Option<(SpeakingState, CallRepair)>> {
    optimistic::update(
        || format!("speaking state of {entra_id}"),
        move || async move { Ok(store.get_speaking(entra_id).await?.unwrap_or_default()) },
        |state| match state.reconcile_calls(listed, asked_at, s2t.now(), &s2t.settings) {
            None => Step::Done(None),
            Some((next, repair)) => {
                Step::Write((next.clone(), state.revision), Some((next, repair)))
            }
        },
        move |(next, expected)| async move { store.put_speaking(entra_id, &next, expected).await },
    )
    .await
}
