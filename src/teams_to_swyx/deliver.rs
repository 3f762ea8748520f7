//! Delivering Swyx updates: send now within a budget; what cannot be delivered stays pending in
//! the store (one per Swyx user, newest wins) for the maintenance work to retry with backoff,
//! never before the connector's `Retry-After`. A 4xx the contract calls final (all but 409 and
//! 429) drops the update: asking again would be refused again, and a later Teams change makes a
//! new one.

use super::ports::SwyxConnector;
use crate::domain::{Clock, SwyxUpdate};
use crate::metrics::Metrics;
use crate::store::{PendingDelivery, PendingStore};
use crate::swyx::client::{ConnectorError, DeliveryOutcome};
use std::time::Duration;

/// How a delivery attempt ended, for logs and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Now,
    /// The connector already had a newer revision: nothing to do.
    Superseded,
    /// Kept pending; retried by maintenance.
    Pending {
        reason: String,
    },
    /// Refused for good (a 4xx other than 409 and 429): dropped, not retried.
    Refused {
        status: u16,
        reason: String,
    },
}

/// Backoff for the n-th failed attempt: 5 s doubling to at most 15 minutes. An update that was
/// not sent (a bad base URL or user id) waits the maximum: an operator has to fix it, and it
/// stays visible.
pub fn retry_delay(attempts: u32, rejected: bool) -> Duration {
    const MAX: Duration = Duration::from_secs(15 * 60);
    if rejected {
        return MAX;
    }
    let secs = 5u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(10));
    Duration::from_secs(secs).min(MAX)
}

/// Where Swyx updates go: the connector now, or the pending deliveries when it cannot take them.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    pub connector: &'a dyn SwyxConnector,
    pub pending: &'a dyn PendingStore,
    /// Times the next attempt of what stays pending.
    pub clock: &'a Clock,
    /// Counts the updates the connector refused for good.
    pub metrics: &'a Metrics,
}

impl Delivery<'_> {
    /// Sends `update` now; on failure records it pending (unless a newer one is already
    /// pending), to be tried again after a backoff that grows with `previous_attempts`.
    pub async fn deliver(
        &self,
        update: &SwyxUpdate,
        previous_attempts: u32,
        budget: Duration,
    ) -> Delivered {
        let delivered = self.attempt(update, previous_attempts, budget).await;
        if !matches!(delivered, Delivered::Pending { .. }) {
            let cleared = self
                .pending
                .delete_pending(&update.swyx_user_id, update.revision)
                .await;
            if let Err(e) = cleared {
                tracing::warn!(swyx_user = %update.swyx_user_id, error = %e, "delivered, but the pending entry could not be cleared; the connector will see the revision again and ignore it");
            }
        }
        delivered
    }

    /// As [`Self::deliver`], but a delivered update's pending entry is left for the caller to
    /// clear (with [`PendingStore::delete_pendings`], many at once).
    pub async fn attempt(
        &self,
        update: &SwyxUpdate,
        previous_attempts: u32,
        budget: Duration,
    ) -> Delivered {
        // With no budget left nothing is sent, and the update is kept pending.
        match self.connector.send_update(update, budget).await {
            Ok(DeliveryOutcome::Applied) => Delivered::Now,
            Ok(DeliveryOutcome::Superseded) => Delivered::Superseded,
            Err(ConnectorError::Rejected { status, answer, .. })
                if (400..500).contains(&status) =>
            {
                tracing::warn!(swyx_user = %update.swyx_user_id, revision = update.revision, status, answer = %answer, "the connector refused the Swyx update for good: dropped");
                self.metrics.count_update_refused();
                Delivered::Refused {
                    status,
                    reason: answer,
                }
            }
            Err(e) => {
                let rejected = !e.is_transient();
                let attempts = previous_attempts + 1;
                let reason = e.to_string();
                let now = self.clock.now();
                let retry_after = match &e {
                    ConnectorError::Unavailable { source, .. } => source.retry_after(),
                    _ => None,
                };
                let not_before = retry_after.map(|d| now.plus_millis(d.as_millis() as i64));
                let backoff = now.plus_millis(retry_delay(attempts, rejected).as_millis() as i64);
                let pending = PendingDelivery {
                    update: update.clone(),
                    attempts,
                    next_attempt_at: not_before.map_or(backoff, |t| t.max(backoff)),
                    last_error: Some(reason.clone()),
                    rejected,
                    not_before,
                };
                if let Err(se) = self.pending.put_pending(&pending).await {
                    tracing::error!(swyx_user = %update.swyx_user_id, revision = update.revision, error = %se, "could not record a pending delivery; reconciliation will repair it");
                }
                Delivered::Pending { reason }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(retry_delay(1, false), Duration::from_secs(5));
        assert_eq!(retry_delay(2, false), Duration::from_secs(10));
        assert_eq!(retry_delay(4, false), Duration::from_secs(40));
        assert_eq!(retry_delay(40, false), Duration::from_secs(900));
        assert_eq!(retry_delay(1, true), Duration::from_secs(900));
    }
}
