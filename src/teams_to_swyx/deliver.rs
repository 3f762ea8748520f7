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
                let not_before = retry_after.map(|d| now.plus_duration(d));
                let backoff = now.plus_duration(retry_delay(attempts, rejected));
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
    use crate::domain::{PresenceValue, SwyxAction, SwyxStatus};
    use crate::fakes::ManualClock;
    use crate::outbound::retry::MAX_RETRY_AFTER;
    use crate::store::MemoryStore;
    use crate::swyx::client::{ConnectorClient, ConnectorSettings};
    use crate::swyx::signature::WebhookSecret;

    /// A connector that answers every request 503 with `retry_after` as its `Retry-After`.
    async fn unavailable_connector(retry_after: &'static str) -> ConnectorClient {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let busy = axum::Router::new().fallback(move || async move {
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                [(http::header::RETRY_AFTER, retry_after)],
            )
        });
        tokio::spawn(async move { axum::serve(listener, busy).await });
        let settings = ConnectorSettings::new(url, WebhookSecret::generate());
        ConnectorClient::new(settings, reqwest::Client::new())
    }

    /// Ten years, or 2^64 − 1 seconds (which once wrapped into a time in the past, so the
    /// update was retried at once, again and again): the update waits ten minutes at most.
    #[tokio::test]
    async fn a_connectors_absurd_retry_after_keeps_an_update_back_ten_minutes_at_most() {
        for retry_after in ["315360000", "18446744073709551615"] {
            let connector = unavailable_connector(retry_after).await;
            let store = MemoryStore::new();
            let clock = ManualClock::default().clock();
            let metrics = Default::default();
            let delivery = Delivery {
                connector: &connector,
                pending: &store,
                clock: &clock,
                metrics: &metrics,
            };
            let update = SwyxUpdate {
                swyx_user_id: "1001".into(),
                entra_id: "entra-1001".into(),
                action: SwyxAction::Set(SwyxStatus::Away),
                revision: 1,
                availability: PresenceValue::new("Away"),
                activity: PresenceValue::new("Away"),
                out_of_office: false,
                observed_at: clock.now(),
            };
            let delivered = delivery.deliver(&update, 0, Duration::from_secs(2)).await;
            assert!(
                matches!(delivered, Delivered::Pending { .. }),
                "{delivered:?}"
            );
            let pending = store.get_pending("1001").await.unwrap().unwrap();
            let now = clock.now();
            let not_before = pending.not_before.expect("the connector's wait is kept");
            assert!(
                now < not_before && not_before <= now.plus_duration(MAX_RETRY_AFTER),
                "Retry-After {retry_after}: not before {not_before}, now {now}"
            );
            assert_eq!(pending.next_attempt_at, not_before);
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(retry_delay(1, false), Duration::from_secs(5));
        assert_eq!(retry_delay(2, false), Duration::from_secs(10));
        assert_eq!(retry_delay(4, false), Duration::from_secs(40));
        assert_eq!(retry_delay(40, false), Duration::from_secs(900));
        assert_eq!(retry_delay(1, true), Duration::from_secs(900));
    }
}
