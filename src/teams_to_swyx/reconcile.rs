//! Reconciliation: read users' presence in bulk (`getPresencesByUserId`, 650 per call, app-only)
//! and repair on Swyx whatever a lost or late notification left wrong. Each presence read goes
//! through the same decision as a notification, so a read older than what is stored changes
//! nothing and an unchanged status sends nothing.

use super::decide::{DecisionStore, Judge, Observed};
use super::decide_many::observe_many;
use super::deliver::{Delivered, Delivery};
use super::ports::PresenceReader;
use crate::domain::{Observation, SwyxUpdate, Timestamp};
use crate::graph::client::GraphError;
use crate::graph::subscriptions::MAX_USERS_PER_CALL;
use crate::telemetry::with_causes;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

/// Connector requests in flight at once during a reconciliation.
const FORWARD_CONCURRENCY: usize = 16;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileSummary {
    /// Presences read from Graph.
    pub read: usize,
    /// Users whose Swyx status was wrong and was sent (or kept pending).
    pub repaired: usize,
    /// Of those, kept pending for maintenance (the connector did not take them in time).
    pub pending: usize,
    /// Users whose decision could not be stored (left to the next reconciliation).
    pub failed: usize,
    /// The budget ran out before every user was read (the caller asks again next run).
    pub unfinished: bool,
}

/// Reads and repairs `users`, judged as presences observed at `now`. Stops at the first Graph
/// failure (the caller retries the whole set later); what was read by then is applied.
pub async fn reconcile<S>(
    store: &S,
    judge: Judge<'_>,
    delivery: Delivery<'_>,
    presences: &dyn PresenceReader,
    users: &[String],
    now: Timestamp,
    budget: Duration,
) -> Result<ReconcileSummary, GraphError>
where
    S: DecisionStore + ?Sized,
{
    let started = Instant::now();
    let mut summary = ReconcileSummary::default();
    for chunk in users.chunks(MAX_USERS_PER_CALL) {
        let left = budget.saturating_sub(started.elapsed());
        if left.is_zero() {
            summary.unfinished = true;
            break;
        }
        let read = presences.get_presences(chunk, left).await?;
        summary.read += read.len();
        let observations: Vec<(String, Observation)> = read
            .into_iter()
            .map(|resource| {
                let obs = Observation {
                    presence: resource.to_presence(),
                    received_at: now,
                };
                (resource.id.to_ascii_lowercase(), obs)
            })
            .collect();
        // One batch of store reads and one of writes for the whole chunk.
        let decided = match observe_many(store, judge, &observations).await {
            Ok(decided) => decided,
            Err(e) => {
                summary.failed += observations.len();
                tracing::warn!(users = observations.len(), error = %with_causes(&e), "reconciliation could not store its decisions");
                continue;
            }
        };
        let mut forwards = Vec::new();
        for (entra_id, outcome) in decided {
            match outcome {
                Ok(Observed::Forward(update)) => forwards.push(update),
                Ok(_) => {}
                Err(e) => {
                    summary.failed += 1;
                    tracing::warn!(entra_id = %entra_id, error = %with_causes(&e), "reconciliation could not store a decision");
                }
            }
        }
        summary.repaired += forwards.len();
        let left = budget.saturating_sub(started.elapsed());
        let (delivered, pending) = send_all(delivery, forwards, left).await;
        summary.pending += pending;
        if !delivered.is_empty()
            && let Err(e) = delivery.pending.delete_pendings(&delivered).await
        {
            tracing::warn!(users = delivered.len(), error = %with_causes(&e), "delivered, but the pending entries could not be cleared; the connector will see the revisions again and ignore them");
        }
    }
    Ok(summary)
}

/// Sends the repairs with bounded concurrency; returns the (Swyx user, revision) delivered, whose
/// pending entries are to be cleared, and how many were kept pending.
async fn send_all(
    delivery: Delivery<'_>,
    updates: Vec<SwyxUpdate>,
    budget: Duration,
) -> (Vec<(String, u64)>, usize) {
    let started = Instant::now();
    let outcomes: Vec<(String, u64, bool)> = futures_util::stream::iter(updates)
        .map(|update| async move {
            let left = budget.saturating_sub(started.elapsed());
            let outcome = delivery.attempt(&update, 0, left).await;
            let pending = matches!(outcome, Delivered::Pending { .. });
            (update.swyx_user_id, update.revision, pending)
        })
        .buffer_unordered(FORWARD_CONCURRENCY)
        .collect()
        .await;
    let pending = outcomes.iter().filter(|(_, _, p)| *p).count();
    let delivered = outcomes
        .into_iter()
        .filter(|(_, _, p)| !p)
        .map(|(swyx, revision, _)| (swyx, revision))
        .collect();
    (delivered, pending)
}
