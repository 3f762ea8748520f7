//! Maintenance's share of Swyx → Teams: renew the "In a call" sessions before they expire, retry
//! Graph calls that failed (a clear as soon as Graph answers), and drop calls older than the
//! maximum call length, so "In a call" never sticks.

use super::session::{GraphSync, SwyxToTeams, sync_graph};
use crate::domain::VerifyStep;
use crate::store::{SpeakingStore, StoreError, StoreResult};
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
    pub budget_exhausted: bool,
    /// Users whose Teams presence is due to be read back after a cleared session
    /// (`super::read_back`).
    pub read_back_due: Vec<String>,
}

/// Swyx → Teams upkeep: drops calls that outlived the maximum call length, renews sessions
/// before they expire, and retries Graph calls that failed (a clear as soon as Graph answers).
pub async fn maintain_speaking(
    s2t: &SwyxToTeams,
    store: &dyn SpeakingStore,
    budget: Duration,
) -> StoreResult<SpeakingSummary> {
    const BATCH: usize = 100;
    let started = Instant::now();
    let mut summary = SpeakingSummary::default();
    let mut tried = HashSet::new();
    loop {
        let now = s2t.now();
        let due = store.due_speaking(now, BATCH).await?;
        let fresh: Vec<_> = due
            .into_iter()
            .filter(|(id, _)| tried.insert(id.clone()))
            .collect();
        if fresh.is_empty() {
            return Ok(summary);
        }
        for (entra_id, mut state) in fresh {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                summary.budget_exhausted = true;
                return Ok(summary);
            }
            let now = s2t.now();
            if state.verify_step(now) != VerifyStep::None {
                summary.read_back_due.push(entra_id.clone());
            }
            let changed = match state.expire_calls(now, &s2t.settings) {
                Some(next) => {
                    summary.overlong_calls += state.calls.len() - next.calls.len();
                    tracing::warn!(entra_id = %entra_id, "call(s) never ended within the maximum call length: dropped");
                    Some(next)
                }
                None => state.settle(now, &s2t.settings),
            };
            if let Some(next) = changed {
                match store.put_speaking(&entra_id, &next, state.revision).await {
                    Ok(()) => state = next,
                    // Someone else is on this user right now; the next pass looks again.
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            let graph_budget = left.min(s2t.request_budget);
            match sync_graph(s2t, store, &entra_id, state, graph_budget).await? {
                GraphSync::InSync => summary.synced += 1,
                GraphSync::Pending(reason) => {
                    summary.still_pending += 1;
                    tracing::warn!(entra_id = %entra_id, reason = %reason, "Teams presence still pending");
                }
            }
        }
    }
}
