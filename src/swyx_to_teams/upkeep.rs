//! Maintenance's share of Swyx → Teams: renew the "In a call" sessions before they expire, retry
//! Graph calls that failed (a clear as soon as Graph answers; a hand-set status's preferred
//! presence), drop calls older than the
//! maximum call length, and end the calls of users whose Swyx → Teams is switched off or who are
//! no longer linked, so "In a call" never sticks.

use super::preferred_retry;
use super::session::{GraphSync, SwyxToTeams, sync_graph};
use super::switched_off::{Ending, SwitchedOff};
use crate::domain::{Directions, Timestamp, VerifyStep};
use crate::store::{Store, StoreError, StoreResult};
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

/// What one pass over the speaking users did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SpeakingSummary {
    /// Users whose Graph session now matches their calls (keep-alive, retry or clear done).
    pub synced: usize,
    pub still_pending: usize,
    /// Calls dropped because they outlived the maximum call length.
    pub overlong_calls: usize,
    /// Users whose calls were ended because Swyx → Teams is switched off for them.
    pub switched_off: usize,
    /// Users whose calls were ended because they are no longer linked (an unlink cut short, a
    /// call event that raced it).
    pub unlinked: usize,
    pub budget_exhausted: bool,
    /// Graph throttles the app: the pass stopped, and what was still due stays due for the next
    /// one (a request now would only count against the limit again).
    pub throttled: bool,
    /// The HTTP status of each setPresence Graph refused for good in this pass (for the metric).
    pub refused: Vec<u16>,
    /// Users whose Teams presence is due to be read back after a cleared session
    /// (`super::read_back`).
    pub read_back_due: Vec<String>,
}

/// Swyx → Teams upkeep: drops calls that outlived the maximum call length, renews sessions
/// before they expire, retries Graph calls that failed (a clear as soon as Graph answers), and
/// ends the calls of users for whom `directions` (or their own switch) turned Swyx → Teams off
/// and of users no longer linked (found when their session is due for renewal).
pub async fn maintain_speaking(
    s2t: &SwyxToTeams,
    store: &dyn Store,
    directions: Directions,
    budget: Duration,
) -> StoreResult<SpeakingSummary> {
    const BATCH: usize = 100;
    let started = Instant::now();
    let mut summary = SpeakingSummary::default();
    let mut tried = HashSet::new();
    let switched_off = SwitchedOff::load(store, directions).await?;
    loop {
        let now = s2t.now();
        // A live session is due again within its life at the latest: looking that far ahead
        // finds every user with an "In a call" up, for the switched-off check.
        let horizon = if switched_off.anyone() {
            Timestamp(now.millis().saturating_add(s2t.settings.expiration_ms))
        } else {
            now
        };
        let due = store.due_speaking(horizon, BATCH).await?;
        let fresh: Vec<_> = due
            .into_iter()
            .filter(|(id, _)| tried.insert(id.clone()))
            .collect();
        if fresh.is_empty() {
            return Ok(summary);
        }
        let ids: Vec<String> = fresh.iter().map(|(id, _)| id.clone()).collect();
        let ending = switched_off.ending(store, &ids).await?;
        for (entra_id, mut state) in fresh {
            let why = ending.get(&entra_id).copied();
            let ended = why.and_then(|_| state.end_all_calls(now, &s2t.settings));
            if ended.is_none() && state.due_at.is_none_or(|due| due > now) {
                continue;
            }
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                summary.budget_exhausted = true;
                return Ok(summary);
            }
            let graph_budget = left.min(s2t.request_budget);
            let hold = s2t.graph.throttle_hold();
            if !hold.is_zero() && hold >= graph_budget {
                summary.throttled = true;
                tracing::warn!(
                    wait_ms = hold.as_millis() as u64,
                    "Graph throttles the app: Swyx → Teams upkeep stops here, the rest at a later pass"
                );
                return Ok(summary);
            }
            // A hand-set status (`status.changed`) Graph has yet to take.
            match preferred_retry::retry_due(s2t, store, &entra_id, &state, graph_budget).await? {
                Some(next) => state = next,
                None if state.preferred.as_ref().is_some_and(|p| p.at <= s2t.now()) => continue,
                None => {}
            }
            let now = s2t.now();
            if state.verify_step(now) != VerifyStep::None {
                summary.read_back_due.push(entra_id.clone());
            }
            let changed = if ended.is_some() {
                if why == Some(Ending::Unlinked) {
                    summary.unlinked += 1;
                    tracing::info!(entra_id = %entra_id, "the user is no longer linked: their calls ended, \"In a call\" cleared");
                } else {
                    summary.switched_off += 1;
                    tracing::info!(entra_id = %entra_id, "Swyx → Teams is switched off: the user's calls ended, \"In a call\" cleared");
                }
                ended
            } else {
                match state.expire_calls(now, &s2t.settings) {
                    Some(next) => {
                        summary.overlong_calls += state.calls.len() - next.calls.len();
                        tracing::warn!(entra_id = %entra_id, "call(s) never ended within the maximum call length: dropped");
                        Some(next)
                    }
                    None => state.settle(now, &s2t.settings),
                }
            };
            if let Some(next) = changed {
                match store.put_speaking(&entra_id, &next, state.revision).await {
                    Ok(()) => state = next,
                    // Someone else is on this user right now; the next pass looks again.
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            match sync_graph(s2t, store, &entra_id, state, graph_budget).await? {
                GraphSync::InSync => summary.synced += 1,
                GraphSync::Refused(status) => summary.refused.push(status),
                GraphSync::Pending(reason) => {
                    summary.still_pending += 1;
                    tracing::warn!(entra_id = %entra_id, reason = %reason, "Teams presence still pending");
                }
            }
        }
    }
}
