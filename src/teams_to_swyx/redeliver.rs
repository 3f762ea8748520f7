//! Maintenance's share of Teams → Swyx: send again the updates that could not be delivered
//! when they were decided, oldest first, several at once, within a time budget.
//!
//! Each pending update backs off on its own (5 s doubling to 15 minutes), so after a long
//! connector outage the next attempts are minutes apart. Once the connector takes one update
//! again it is back, and every update still backing off is made due at once and sent in the
//! same pass. When nothing is due, the update whose next attempt comes first is tried early, one
//! per pass, to find out whether the connector is back: recovery then takes one maintenance
//! interval, not the longest backoff. A pass whose first round of deliveries all fail stops
//! there: the connector is down, and each remaining update would only spend its timeout.

use super::deliver::{Delivered, Delivery};
use crate::domain::Timestamp;
use crate::store::{PendingDelivery, StoreResult};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Deliveries in flight at once: a connector that takes a second per request (a busy
/// SwyxServer) still drains a backlog of thousands within a few maintenance passes.
const CONCURRENCY: usize = 16;
const BATCH: usize = 100;
/// How far ahead a probe looks: the longest backoff ([`super::deliver::retry_delay`]) and then
/// some.
const PROBE_HORIZON: Duration = Duration::from_secs(16 * 60);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    pub delivered: usize,
    pub superseded: usize,
    /// Refused for good by the connector (a final 4xx): dropped.
    pub refused: usize,
    pub still_pending: usize,
    /// Updates that were backing off, made due at once because the connector took one again.
    pub made_due: usize,
    /// True when the budget ran out before every due delivery was tried.
    pub budget_exhausted: bool,
    /// True when the pass stopped early: a round of deliveries failed and none got through, so
    /// the connector is taken as down and the rest wait for the next pass.
    pub connector_down: bool,
}

/// What the deliveries of one pass came to so far (shared by the ones in flight).
#[derive(Default)]
struct Tally {
    delivered: AtomicUsize,
    superseded: AtomicUsize,
    refused: AtomicUsize,
    failed: AtomicUsize,
    /// The connector took one: every update backing off was made due.
    woken: AtomicBool,
    made_due: AtomicUsize,
}

impl Tally {
    fn through(&self) -> usize {
        self.delivered.load(Ordering::Relaxed)
            + self.superseded.load(Ordering::Relaxed)
            + self.refused.load(Ordering::Relaxed)
    }

    fn connector_down(&self) -> bool {
        self.through() == 0 && self.failed.load(Ordering::Relaxed) >= CONCURRENCY
    }

    fn anything(&self) -> bool {
        self.through() + self.failed.load(Ordering::Relaxed) > 0
    }
}

/// Tries every due pending delivery once, in batches, until none is due, the budget is spent
/// or the connector looks down; when the connector takes one, every update still backing off
/// becomes due too.
pub async fn deliver_pending(
    delivery: Delivery<'_>,
    budget: Duration,
) -> StoreResult<PendingSummary> {
    let started = Instant::now();
    let tally = Tally::default();
    let mut summary = PendingSummary::default();
    let mut tried = HashSet::new();
    let mut probed = false;
    let mut first_round = true;
    loop {
        let now = delivery.clock.now();
        // The first round reads as far ahead as a probe looks: a pass with nothing due (most of
        // them) then needs one store query, not two. What is due comes first in that order, so
        // the due part is what `due_pending(now)` would have read.
        let (due, ahead) = if std::mem::take(&mut first_round) {
            let read = delivery
                .pending
                .due_pending(probe_horizon(now), BATCH)
                .await?;
            let (due, ahead): (Vec<_>, Vec<_>) =
                read.into_iter().partition(|p| p.next_attempt_at <= now);
            (due, Some(ahead))
        } else {
            (delivery.pending.due_pending(now, BATCH).await?, None)
        };
        let mut fresh: Vec<_> = due
            .into_iter()
            .filter(|p| {
                tried.insert((p.update.swyx_user_id.clone(), p.update.revision, p.attempts))
            })
            .collect();
        if fresh.is_empty() {
            // A pass that reached the connector has its answer; otherwise one early try.
            if probed || tally.anything() {
                break;
            }
            probed = true;
            let probe = match ahead {
                Some(ahead) => ahead.into_iter().find(|p| p.may_go_early(now)),
                None => earliest_retrying(delivery, now).await?,
            };
            let Some(probe) = probe else {
                break;
            };
            tried.insert((
                probe.update.swyx_user_id.clone(),
                probe.update.revision,
                probe.attempts,
            ));
            fresh.push(probe);
        }
        let (delivery, tally) = (&delivery, &tally);
        let outcomes: Vec<StoreResult<bool>> = futures_util::stream::iter(fresh)
            .map(|p| async move {
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() || tally.connector_down() {
                    return Ok(true);
                }
                match delivery.deliver(&p.update, p.attempts, left).await {
                    Delivered::Now => tally.delivered.fetch_add(1, Ordering::Relaxed),
                    Delivered::Superseded => tally.superseded.fetch_add(1, Ordering::Relaxed),
                    // The connector answered: it is up, whatever it thought of this update.
                    Delivered::Refused { .. } => tally.refused.fetch_add(1, Ordering::Relaxed),
                    Delivered::Pending { reason } => {
                        tracing::warn!(swyx_user = %p.update.swyx_user_id, attempts = p.attempts + 1, reason = %reason, "pending Swyx update not delivered yet");
                        tally.failed.fetch_add(1, Ordering::Relaxed);
                        return Ok(false);
                    }
                };
                if !tally.woken.swap(true, Ordering::Relaxed) {
                    // The connector answered: nothing it could not take before need wait longer.
                    let made_due = delivery
                        .pending
                        .make_pending_due(delivery.clock.now())
                        .await?;
                    tally.made_due.store(made_due, Ordering::Relaxed);
                    if made_due > 0 {
                        tracing::info!(
                            made_due,
                            "connector takes updates again: every pending update is due now"
                        );
                    }
                }
                Ok(false)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut skipped = false;
        for outcome in outcomes {
            skipped |= outcome?;
        }
        if skipped {
            summary.connector_down = tally.connector_down();
            summary.budget_exhausted = !summary.connector_down;
            break;
        }
    }
    summary.delivered = tally.delivered.into_inner();
    summary.superseded = tally.superseded.into_inner();
    summary.refused = tally.refused.into_inner();
    summary.still_pending = tally.failed.into_inner();
    summary.made_due = tally.made_due.into_inner();
    Ok(summary)
}

/// The pending update backing off after a transient failure whose next attempt comes first,
/// unless the connector's `Retry-After` still holds it back.
async fn earliest_retrying(
    delivery: Delivery<'_>,
    now: Timestamp,
) -> StoreResult<Option<PendingDelivery>> {
    let ahead = delivery
        .pending
        .due_pending(probe_horizon(now), BATCH)
        .await?;
    Ok(ahead.into_iter().find(|p| p.may_go_early(now)))
}

fn probe_horizon(now: Timestamp) -> Timestamp {
    now.plus_duration(PROBE_HORIZON)
}
