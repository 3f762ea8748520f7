//! Writing back what upkeep changed on an account: only the fields upkeep owns, onto the stored
//! account as it is now (a token rotation may have written it meanwhile).

use super::Upkeep;
use crate::store::optimistic::{self, Step};
use crate::store::{StoreError, SyncAccount};

impl Upkeep<'_> {
    /// Writes the fields upkeep owns onto the stored account (which a token rotation may have
    /// changed meanwhile), when they changed.
    pub(super) async fn save(
        &self,
        before: &SyncAccount,
        after: &SyncAccount,
    ) -> Result<(), StoreError> {
        if owned(before) == owned(after) {
            return Ok(());
        }
        self.save_fields(after).await
    }

    pub(super) async fn save_fields(&self, after: &SyncAccount) -> Result<(), StoreError> {
        let store = self.store();
        optimistic::update(
            || format!("sync account {:?}", after.name),
            move || store.get_account(&after.name),
            |stored| match stored {
                // Removed meanwhile (`accounts remove`), or already as upkeep left it.
                None => Step::Done(()),
                Some(stored) if owned(&stored) == owned(after) => Step::Done(()),
                Some(stored) => {
                    let mut next = stored.clone();
                    next.subscription_id = after.subscription_id.clone();
                    next.covered = after.covered.clone();
                    next.reconciled_at = after.reconciled_at;
                    next.reconcile_requested = after.reconcile_requested;
                    next.last_error = after.last_error.clone();
                    next.unconfirmed_client_state = after.unconfirmed_client_state.clone();
                    next.graph_backoff = after.graph_backoff.clone();
                    next.version = stored.version + 1;
                    Step::Write((next, stored.version), ())
                }
            },
            move |(next, expected)| async move { store.put_account(&next, expected).await },
        )
        .await
    }
}

type Owned = (
    Option<String>,
    Vec<String>,
    Option<crate::domain::Timestamp>,
    bool,
    Option<String>,
    Option<String>,
    Option<crate::store::GraphBackoff>,
);

/// The fields of an account that upkeep writes.
fn owned(a: &SyncAccount) -> Owned {
    (
        a.subscription_id.clone(),
        a.covered.clone(),
        a.reconciled_at,
        a.reconcile_requested,
        a.last_error.clone(),
        a.unconfirmed_client_state.clone(),
        a.graph_backoff.clone(),
    )
}
