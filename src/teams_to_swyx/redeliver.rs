//! Maintenance's share of Teams → Swyx: send again the updates that could not be delivered
//! when they were decided, oldest first, within a time budget.

use super::deliver::{Delivered, Delivery};
use crate::store::StoreResult;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    pub delivered: usize,
    pub superseded: usize,
    pub still_pending: usize,
    /// True when the budget ran out before every due delivery was tried.
    pub budget_exhausted: bool,
}

/// Tries every due pending delivery once, in batches, until none is due or the budget is spent.
pub async fn deliver_pending(
    delivery: Delivery<'_>,
    budget: Duration,
) -> StoreResult<PendingSummary> {
    const BATCH: usize = 100;
    let started = Instant::now();
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
            return Ok(summary);
        }
        for p in fresh {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                summary.budget_exhausted = true;
                return Ok(summary);
            }
            match delivery.deliver(&p.update, p.attempts, left).await {
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
