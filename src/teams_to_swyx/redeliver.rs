//! Maintenance's share of Teams → Swyx: send again the updates that could not be delivered
//! when they were decided, oldest first, within a time budget.
//!
//! Each pending update backs off on its own (5 s doubling to 15 minutes), so after a long
//! connector outage the next attempts are minutes apart. Once the connector takes one update
//! again it is back, and every update still backing off is made due at once and sent in the
//! same pass. When nothing is due, the update whose next attempt comes first is tried early, one
//! per pass, to find out whether the connector is back: recovery then takes one maintenance
//! interval, not the longest backoff.

use super::deliver::{Delivered, Delivery};
use crate::domain::Timestamp;
use crate::store::{PendingDelivery, StoreResult};
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    pub delivered: usize,
    pub superseded: usize,
    pub still_pending: usize,
    /// Updates that were backing off, made due at once because the connector took one again.
    pub made_due: usize,
    /// True when the budget ran out before every due delivery was tried.
    pub budget_exhausted: bool,
}

const BATCH: usize = 100;
/// How far ahead a probe looks: the longest backoff ([`super::deliver::retry_delay`]) and then
/// some.
const PROBE_HORIZON: Duration = Duration::from_secs(16 * 60);

/// Tries every due pending delivery once, in batches, until none is due or the budget is spent;
/// when the connector takes one, every update still backing off becomes due too.
pub async fn deliver_pending(
    delivery: Delivery<'_>,
    budget: Duration,
) -> StoreResult<PendingSummary> {
    let started = Instant::now();
    let mut summary = PendingSummary::default();
    let mut tried = HashSet::new();
    let mut probed = false;
    let mut woken = false;
    loop {
        let now = delivery.clock.now();
        let due = delivery.pending.due_pending(now, BATCH).await?;
        let mut fresh: Vec<_> = due
            .into_iter()
            .filter(|p| {
                tried.insert((p.update.swyx_user_id.clone(), p.update.revision, p.attempts))
            })
            .collect();
        if fresh.is_empty() {
            // A pass that reached the connector has its answer; otherwise one early try.
            if probed || woken || summary != PendingSummary::default() {
                return Ok(summary);
            }
            probed = true;
            let Some(probe) = earliest_retrying(delivery, now).await? else {
                return Ok(summary);
            };
            tried.insert((
                probe.update.swyx_user_id.clone(),
                probe.update.revision,
                probe.attempts,
            ));
            fresh.push(probe);
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
                    continue;
                }
            }
            if !woken {
                // The connector answered: nothing it could not take before need wait any longer.
                woken = true;
                summary.made_due = delivery
                    .pending
                    .make_pending_due(delivery.clock.now())
                    .await?;
                if summary.made_due > 0 {
                    tracing::info!(
                        made_due = summary.made_due,
                        "connector takes updates again: every pending update is due now"
                    );
                }
            }
        }
    }
}

/// The pending update backing off after a transient failure whose next attempt comes first.
async fn earliest_retrying(
    delivery: Delivery<'_>,
    now: Timestamp,
) -> StoreResult<Option<PendingDelivery>> {
    let horizon = now.plus_millis(PROBE_HORIZON.as_millis() as i64);
    let ahead = delivery.pending.due_pending(horizon, BATCH).await?;
    Ok(ahead.into_iter().find(PendingDelivery::retrying))
}
