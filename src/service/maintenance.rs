//! Maintenance work shared by the scheduled Lambda and the loop in `serve`: deliver the pending
//! Swyx updates whose time has come, oldest first, within a time budget; keep the Swyx → Teams
//! sessions alive, retried and never stuck ([`run`] does both).

use super::app::App;
use super::delivery::{Delivered, deliver};
use super::subscriptions::SubscriptionSummary;
use crate::domain::Timestamp;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    pub delivered: usize,
    pub superseded: usize,
    pub still_pending: usize,
    /// True when the budget ran out before every due delivery was tried.
    pub budget_exhausted: bool,
}

/// Tries every due pending delivery once, in batches, until none is due or the budget is spent.
pub async fn deliver_pending(app: &App, budget: Duration) -> anyhow::Result<PendingSummary> {
    const BATCH: usize = 100;
    let started = Instant::now();
    let mut summary = PendingSummary::default();
    let mut tried = std::collections::HashSet::new();
    loop {
        let now = Timestamp::now();
        let due = app.store.due_pending(now, BATCH).await?;
        let fresh: Vec<_> = due
            .into_iter()
            .filter(|p| {
                tried.insert((p.update.swyx_user_id.clone(), p.update.revision, p.attempts))
            })
            .collect();
        if fresh.is_empty() {
            return Ok(summary);
        }
        for p in fresh {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                summary.budget_exhausted = true;
                return Ok(summary);
            }
            match deliver(
                app.store.as_ref(),
                &app.connector,
                &p.update,
                p.attempts,
                left,
            )
            .await
            {
                Delivered::Now => summary.delivered += 1,
                Delivered::Superseded => summary.superseded += 1,
                Delivered::Pending { reason } => {
                    summary.still_pending += 1;
                    tracing::warn!(swyx_user = %p.update.swyx_user_id, attempts = p.attempts + 1, reason = %reason, "pending Swyx update not delivered yet");
                }
            }
        }
    }
}

/// What one pass over the speaking users did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SpeakingSummary {
    /// Users whose Graph session now matches their calls (keep-alive, retry or clear done).
    pub synced: usize,
    pub still_pending: usize,
    /// Calls dropped because they outlived the maximum call length.
    pub overlong_calls: usize,
    pub budget_exhausted: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintenanceSummary {
    pub pending: PendingSummary,
    pub speaking: SpeakingSummary,
    pub subscriptions: SubscriptionSummary,
}

/// One maintenance pass for the scheduled Lambda and `serve`: Swyx → Teams sessions first (a
/// keep-alive is due at a fixed time), then subscriptions (which may leave repairs pending), then
/// the pending Swyx deliveries with what is left. A part that fails is logged and the others
/// still run.
pub async fn run(app: &App, budget: Duration) -> anyhow::Result<MaintenanceSummary> {
    let started = Instant::now();
    let left = || budget.saturating_sub(started.elapsed());
    let speaking = maintain_speaking(app, budget).await;
    let subscriptions = maintain_subscriptions(app, left()).await;
    let pending = deliver_pending(app, left()).await?;
    Ok(MaintenanceSummary {
        pending,
        speaking: speaking?,
        subscriptions: subscriptions?,
    })
}

/// Subscription maintenance within `budget`; an error of the store is logged and returned.
pub async fn maintain_subscriptions(
    app: &App,
    budget: Duration,
) -> anyhow::Result<SubscriptionSummary> {
    super::subscriptions::maintain(app, budget)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "subscription maintenance failed"))
}

/// Swyx → Teams upkeep: drops calls that outlived the maximum call length, renews sessions
/// before they expire, and retries Graph calls that failed (a clear as soon as Graph answers).
pub async fn maintain_speaking(app: &App, budget: Duration) -> anyhow::Result<SpeakingSummary> {
    use super::speaking::{GraphSync, sync_graph};
    const BATCH: usize = 100;
    let started = Instant::now();
    let mut summary = SpeakingSummary::default();
    let Some(s2t) = app.swyx_to_teams.as_deref() else {
        return Ok(summary);
    };
    let mut tried = std::collections::HashSet::new();
    loop {
        let now = s2t.now();
        let due = app.store.due_speaking(now, BATCH).await?;
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
            let changed = match state.expire_calls(now, &s2t.settings) {
                Some(next) => {
                    summary.overlong_calls += state.calls.len() - next.calls.len();
                    tracing::warn!(entra_id = %entra_id, "call(s) never ended within the maximum call length: dropped");
                    Some(next)
                }
                None => state.settle(now, &s2t.settings),
            };
            if let Some(next) = changed {
                match app
                    .store
                    .put_speaking(&entra_id, &next, state.revision)
                    .await
                {
                    Ok(()) => state = next,
                    // Someone else is on this user right now; the next pass looks again.
                    Err(crate::store::StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let graph_budget = left.min(s2t.request_budget);
            match sync_graph(s2t, app.store.as_ref(), &entra_id, state, graph_budget).await? {
                GraphSync::InSync => summary.synced += 1,
                GraphSync::Pending(reason) => {
                    summary.still_pending += 1;
                    tracing::warn!(entra_id = %entra_id, reason = %reason, "Teams presence still pending");
                }
            }
        }
    }
}
