//! Maintenance's share of Teams → Swyx: send again the updates that could not be delivered
//! when they were decided, oldest first, several at once, within a time budget.

use super::deliver::{Delivered, Delivery};
use crate::store::StoreResult;
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Deliveries in flight at once: a connector that takes a second per request (a busy
/// SwyxServer) still drains a backlog of thousands within a few maintenance passes.
const CONCURRENCY: usize = 16;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    pub delivered: usize,
    pub superseded: usize,
    pub still_pending: usize,
    /// True when the budget ran out before every due delivery was tried.
    pub budget_exhausted: bool,
    /// True when the pass stopped early: a round of deliveries failed and none got through, so
    /// the connector is taken as down and the rest wait for the next pass (instead of each
    /// spending its timeout).
    pub connector_down: bool,
}

/// What the deliveries of one pass came to so far (shared by the ones in flight).
#[derive(Default)]
struct Tally {
    delivered: AtomicUsize,
    superseded: AtomicUsize,
    failed: AtomicUsize,
}

impl Tally {
    fn connector_down(&self) -> bool {
        let through =
            self.delivered.load(Ordering::Relaxed) + self.superseded.load(Ordering::Relaxed);
        through == 0 && self.failed.load(Ordering::Relaxed) >= CONCURRENCY
    }
}

/// Tries every due pending delivery once, in batches, until none is due, the budget is spent
/// or the connector looks down.
pub async fn deliver_pending(
    delivery: Delivery<'_>,
    budget: Duration,
) -> StoreResult<PendingSummary> {
    const BATCH: usize = 100;
    let started = Instant::now();
    let tally = Tally::default();
    let mut summary = PendingSummary::default();
    let mut tried = HashSet::new();
    loop {
        let due = delivery
            .pending
            .due_pending(delivery.clock.now(), BATCH)
            .await?;
        let fresh: Vec<_> = due
            .into_iter()
            .filter(|p| {
                tried.insert((p.update.swyx_user_id.clone(), p.update.revision, p.attempts))
            })
            .collect();
        if fresh.is_empty() {
            break;
        }
        let (delivery, tally) = (&delivery, &tally);
        let skipped: Vec<bool> = futures_util::stream::iter(fresh)
            .map(|p| async move {
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() || tally.connector_down() {
                    return true;
                }
                match delivery.deliver(&p.update, p.attempts, left).await {
                    Delivered::Now => tally.delivered.fetch_add(1, Ordering::Relaxed),
                    Delivered::Superseded => tally.superseded.fetch_add(1, Ordering::Relaxed),
                    Delivered::Pending { reason } => {
                        tracing::warn!(swyx_user = %p.update.swyx_user_id, attempts = p.attempts + 1, reason = %reason, "pending Swyx update not delivered yet");
                        tally.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                false
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        if skipped.contains(&true) {
            summary.connector_down = tally.connector_down();
            summary.budget_exhausted = !summary.connector_down;
            break;
        }
    }
    summary.delivered = tally.delivered.into_inner();
    summary.superseded = tally.superseded.into_inner();
    summary.still_pending = tally.failed.into_inner();
    Ok(summary)
}
