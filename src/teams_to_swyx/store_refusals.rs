//! Notifications refused because the store failed: Graph redelivers them, but with exponential
//! backoff, so after an outage of minutes its next attempt may come minutes later (hours after
//! hours), and an endpoint it judged slow meanwhile gets everything 10 minutes late. Once the
//! store takes this process's writes again, every sync account is asked for a reconciliation:
//! the next maintenance run reads Teams back instead of waiting for Graph.

use crate::store::AccountStore;
use crate::subscriptions::sync_accounts::request_reconciliation;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct StoreRefusals(AtomicBool);

impl StoreRefusals {
    /// A collection was answered 503 for a store failure.
    pub fn note(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// A collection was stored: if any was refused before, asks for a reconciliation (once; again
    /// at the next stored collection if even that could not be written) and wakes maintenance.
    pub async fn store_answers_again(&self, store: &dyn AccountStore, wake: &Notify) {
        if !self.0.swap(false, Ordering::SeqCst) {
            return;
        }
        match request_reconciliation(store).await {
            Ok(accounts) => {
                tracing::info!(
                    accounts,
                    "the store answers again after notifications were refused: reconciliation requested"
                );
                wake.notify_one();
            }
            Err(e) => {
                self.note();
                tracing::warn!(error = %e, "the store answers again, but a reconciliation could not be requested yet");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::graph::sealed::TokenSealer;
    use crate::store::MemoryStore;
    use crate::subscriptions::sync_accounts::enroll;

    async fn asked(store: &MemoryStore, name: &str) -> bool {
        let account = store.get_account(name).await.unwrap();
        account.is_some_and(|a| a.reconcile_requested)
    }

    #[tokio::test]
    async fn a_reconciliation_is_asked_once_after_refusals_and_not_without_one() {
        let store = MemoryStore::new();
        let sealer = TokenSealer::from_key_text(&TokenSealer::generate_key_text()).unwrap();
        let now = Timestamp(1_800_000_000_000);
        let mut account = enroll(&store, &sealer, "sync1", "refresh", now)
            .await
            .unwrap();
        // Enrolled accounts start asked; as after their first reconciliation.
        let expected = account.version;
        account.version += 1;
        account.reconcile_requested = false;
        store.put_account(&account, expected).await.unwrap();
        let refusals = StoreRefusals::default();
        let wake = Notify::new();
        refusals.store_answers_again(&store, &wake).await;
        assert!(!asked(&store, "sync1").await, "nothing was refused");
        refusals.note();
        refusals.store_answers_again(&store, &wake).await;
        assert!(asked(&store, "sync1").await);
        // Reconciled since: the next stored collection asks nothing more.
        let mut account = store.get_account("sync1").await.unwrap().unwrap();
        let expected = account.version;
        account.version += 1;
        account.reconcile_requested = false;
        store.put_account(&account, expected).await.unwrap();
        refusals.store_answers_again(&store, &wake).await;
        assert!(!asked(&store, "sync1").await, "asked once per refusal");
    }
}
