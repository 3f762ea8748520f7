//! Notifications refused because the store failed: Graph redelivers them, but with exponential
//! backoff, so after an outage of minutes its next attempt may come minutes later (hours after
//! hours), and an endpoint it judged slow meanwhile gets everything 10 minutes late. So once the
//! store answers again, every sync account is asked for a reconciliation
//! ([`request_reconciliation`]): the next maintenance pass reads Teams back instead of waiting
//! for Graph.
//!
//! That a collection was refused cannot be written down when it happens: the store is what
//! failed. Two witnesses carry it instead, each in its process's memory, neither costing a store
//! request while the store answers (one atomic per stored collection and per pass):
//!
//! - The webhook that answered 503 ([`StoreRefusals::note`]) asks at the next collection it
//!   stores ([`StoreRefusals::store_answers_again`]), and wakes `serve`'s maintenance loop.
//! - Maintenance (every minute on Lambda, every `server.maintenance_interval_secs` in `serve`):
//!   a pass that met the store unavailable or throttled ([`crate::store::StoreError::is_outage`])
//!   says so ([`StoreRefusals::after_pass`]), and the next pass starts by asking
//!   ([`StoreRefusals::before_pass`]), so that same pass reconciles. An outage is usually met by
//!   every function at once, maintenance included, and the scheduled maintenance function keeps
//!   one warm instance (reserved concurrency 1, invoked every minute): so on Lambda what any
//!   graph-webhook instance refused during an outage that lasted into a maintenance pass, even
//!   an instance frozen or reclaimed since, is read back at the first pass after the store's
//!   return, within about a minute. In `serve` the webhook and maintenance share one app, so the
//!   next pass also asks for a refusal that no stored collection followed.
//!
//! Limits:
//! - An outage short enough to fall between two maintenance passes is witnessed only by the
//!   graph-webhook instances that refused: if none of them stores a collection again (Lambda
//!   froze or reclaimed them), Graph's redelivery and the scheduled reconciliation
//!   (`subscriptions.reconcile_interval_minutes`) are what converge.
//! - Maintenance's witness is its instance's memory: an instance replaced between the failed
//!   pass and the next (a deployment, Lambda reclaiming it, a pass that timed out) forgets it.
//! - Maintenance cannot tell whether a notification was refused: it asks after every outage it
//!   meets. To keep a part that fails every minute (a table throttled at each pass) from making
//!   every pass a reconciliation, it asks at most twice per run of failing passes: at the first
//!   pass after one met the outage, and, if the store failed again after that ask, once more
//!   after the first pass that runs through without an outage.

use crate::store::AccountStore;
use crate::subscriptions::sync_accounts::request_reconciliation;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::sync::Notify;

/// Why a reconciliation is owed (bits of [`StoreRefusals::owed`]): a collection was refused.
const REFUSED: u8 = 1;
/// A maintenance pass met the store down.
const OUTAGE: u8 = 2;

/// Maintenance has not asked since its last pass without an outage.
const NOT_ASKED: u8 = 0;
/// Maintenance asked for a reconciliation after meeting the store down, and has met no outage
/// since.
const ASKED: u8 = 1;
/// Maintenance asked, then met the store down again: asks once more after a pass without one.
const ASKED_THEN_DOWN: u8 = 2;

#[derive(Debug, Default)]
pub struct StoreRefusals {
    /// Why a reconciliation is owed (`REFUSED`, `OUTAGE`); 0 when none is.
    owed: AtomicU8,
    /// Where maintenance is in a run of passes that meet the store down (`NOT_ASKED`, …).
    outage: AtomicU8,
}

impl StoreRefusals {
    /// A collection was answered 503 for a store failure.
    pub fn note(&self) {
        self.owed.fetch_or(REFUSED, Ordering::SeqCst);
    }

    /// A collection was stored: if any was refused before, asks for a reconciliation (once; again
    /// at the next stored collection if even that could not be written) and wakes maintenance.
    /// What a maintenance pass met is left to the next pass ([`Self::before_pass`]): taken here,
    /// in `serve` every stored collection between two passes that meet the store down would ask
    /// and wake maintenance again, a reconciliation at every pass, back to back.
    pub async fn store_answers_again(&self, store: &dyn AccountStore, wake: &Notify) {
        if self.ask(store, REFUSED).await {
            wake.notify_one();
        }
    }

    /// Before a maintenance pass: asks for a reconciliation if a collection was refused or an
    /// earlier pass met the store down; the pass then reconciles. Nothing when neither happened.
    pub async fn before_pass(&self, store: &dyn AccountStore) {
        if self.ask(store, REFUSED | OUTAGE).await {
            self.outage.store(ASKED, Ordering::SeqCst);
        }
    }

    /// After a maintenance pass: whether one of its parts met the store unavailable or throttled
    /// ([`crate::store::StoreError::is_outage`]).
    pub fn after_pass(&self, met_outage: bool) {
        let owe = || self.owed.fetch_or(OUTAGE, Ordering::SeqCst);
        if met_outage {
            // Asked already in this run of failing passes: once more when it ends.
            let (from, to) = (ASKED, ASKED_THEN_DOWN);
            let was = self
                .outage
                .compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst);
            if was == Err(NOT_ASKED) {
                owe();
            }
        } else if self.outage.swap(NOT_ASKED, Ordering::SeqCst) == ASKED_THEN_DOWN {
            owe();
        }
    }

    /// Asks for a reconciliation if one is owed for a reason in `which` (`REFUSED`, `OUTAGE`);
    /// `true` when it was asked now. A failure, or a caller that gives up waiting, leaves it owed.
    async fn ask(&self, store: &dyn AccountStore, which: u8) -> bool {
        let why = self.owed.fetch_and(!which, Ordering::SeqCst) & which;
        if why == 0 {
            return false;
        }
        let owed = StillOwed(Some((self, why)));
        match request_reconciliation(store).await {
            Ok(accounts) if why & REFUSED != 0 => {
                owed.paid();
                tracing::info!(
                    accounts,
                    "the store answers again after notifications were refused: reconciliation requested"
                );
                true
            }
            Ok(accounts) => {
                owed.paid();
                tracing::info!(
                    accounts,
                    "the store answers again after a maintenance pass met it down: reconciliation requested"
                );
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the store answers again, but a reconciliation could not be requested yet");
                false
            }
        }
    }
}

/// Owes the reconciliation again when dropped before [`StillOwed::paid`]: the ask failed or its
/// future was dropped half way (Graph hung up, `serve` stopped a pass).
struct StillOwed<'a>(Option<(&'a StoreRefusals, u8)>);

impl StillOwed<'_> {
    fn paid(mut self) {
        self.0 = None;
    }
}

impl Drop for StillOwed<'_> {
    fn drop(&mut self) {
        if let Some((refusals, why)) = self.0 {
            refusals.owed.fetch_or(why, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::graph::sealed::TokenSealer;
    use crate::store::{MemoryStore, StoreResult, SyncAccount};
    use crate::subscriptions::sync_accounts::enroll;
    use futures_util::FutureExt;

    async fn asked(store: &MemoryStore, name: &str) -> bool {
        let account = store.get_account(name).await.unwrap();
        account.is_some_and(|a| a.reconcile_requested)
    }

    /// As after a reconciliation: the account no longer asked.
    async fn reconciled(store: &MemoryStore, name: &str) {
        let mut account = store.get_account(name).await.unwrap().unwrap();
        let expected = account.version;
        account.version += 1;
        account.reconcile_requested = false;
        store.put_account(&account, expected).await.unwrap();
    }

    /// A store with one sync account, not asked for a reconciliation.
    async fn one_account() -> MemoryStore {
        let store = MemoryStore::new();
        let sealer = TokenSealer::from_key_text(&TokenSealer::generate_key_text()).unwrap();
        let now = Timestamp(1_800_000_000_000);
        enroll(&store, &sealer, "sync1", "refresh", now)
            .await
            .unwrap();
        // Enrolled accounts start asked; as after their first reconciliation.
        reconciled(&store, "sync1").await;
        store
    }

    #[tokio::test]
    async fn a_reconciliation_is_asked_once_after_refusals_and_not_without_one() {
        let store = one_account().await;
        let refusals = StoreRefusals::default();
        let wake = Notify::new();
        refusals.store_answers_again(&store, &wake).await;
        assert!(!asked(&store, "sync1").await, "nothing was refused");
        refusals.note();
        refusals.store_answers_again(&store, &wake).await;
        assert!(asked(&store, "sync1").await);
        // Reconciled since: the next stored collection asks nothing more.
        reconciled(&store, "sync1").await;
        refusals.store_answers_again(&store, &wake).await;
        assert!(!asked(&store, "sync1").await, "asked once per refusal");
    }

    /// The accounts of a store whose listing waits for the runtime once, as a remote one does.
    struct Remote<'a>(&'a MemoryStore);

    #[async_trait::async_trait]
    impl AccountStore for Remote<'_> {
        async fn put_account(&self, account: &SyncAccount, expected: u64) -> StoreResult<()> {
            self.0.put_account(account, expected).await
        }
        async fn get_account(&self, name: &str) -> StoreResult<Option<SyncAccount>> {
            self.0.get_account(name).await
        }
        async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>> {
            tokio::task::yield_now().await;
            self.0.list_accounts().await
        }
        async fn delete_account(&self, name: &str) -> StoreResult<bool> {
            self.0.delete_account(name).await
        }
    }

    #[tokio::test]
    async fn an_ask_the_store_refuses_or_that_is_abandoned_is_made_at_the_next_chance() {
        let store = one_account().await;
        let refusals = StoreRefusals::default();
        let wake = Notify::new();
        refusals.note();
        store.set_unavailable(true);
        refusals.store_answers_again(&store, &wake).await;
        store.set_unavailable(false);
        assert!(!asked(&store, "sync1").await);
        // Graph hangs up while the ask waits for the store: the request's work is dropped.
        let remote = Remote(&store);
        let ask = refusals.store_answers_again(&remote, &wake);
        assert!(ask.now_or_never().is_none(), "the ask waited");
        assert!(!asked(&store, "sync1").await);
        refusals.store_answers_again(&store, &wake).await;
        assert!(asked(&store, "sync1").await, "still owed, asked now");
    }

    #[tokio::test]
    async fn maintenance_asks_after_meeting_the_store_down_and_not_at_every_failing_pass() {
        let store = one_account().await;
        let refusals = StoreRefusals::default();
        // A pass without an outage, and the next: nothing to ask.
        refusals.after_pass(false);
        refusals.before_pass(&store).await;
        assert!(!asked(&store, "sync1").await);
        // A pass meets the store down; the next one, the store back, asks (and reconciles).
        refusals.after_pass(true);
        refusals.before_pass(&store).await;
        assert!(asked(&store, "sync1").await);
        reconciled(&store, "sync1").await;
        // One part keeps failing pass after pass: no reconciliation at every pass.
        for _ in 0..5 {
            refusals.after_pass(true);
            refusals.before_pass(&store).await;
            assert!(!asked(&store, "sync1").await, "asked at every failing pass");
        }
        // The first pass through without an outage: once more, for what was refused meanwhile.
        refusals.after_pass(false);
        refusals.before_pass(&store).await;
        assert!(asked(&store, "sync1").await);
        reconciled(&store, "sync1").await;
        refusals.after_pass(false);
        refusals.before_pass(&store).await;
        assert!(!asked(&store, "sync1").await, "the outage is over");
    }

    /// `serve`: the webhook and maintenance share one `StoreRefusals`, and a collection that is
    /// stored wakes maintenance when it asks. A part that meets the store down at every pass (a
    /// throttled index) while notifications are still stored must not turn each collection into
    /// a reconciliation and an immediate pass.
    #[tokio::test]
    async fn collections_stored_between_failing_passes_do_not_reconcile_at_every_pass() {
        let store = one_account().await;
        let refusals = StoreRefusals::default();
        let wake = Notify::new();
        let mut asks = 0;
        for _ in 0..5 {
            // A pass meets the store down; then a collection is stored; then the next pass.
            refusals.after_pass(true);
            refusals.store_answers_again(&store, &wake).await;
            assert!(
                wake.notified().now_or_never().is_none(),
                "woke maintenance for a pass's outage, not for a refused collection"
            );
            refusals.before_pass(&store).await;
            if asked(&store, "sync1").await {
                asks += 1;
                reconciled(&store, "sync1").await;
            }
        }
        assert_eq!(asks, 1, "asked once for the run of failing passes");
        // The first pass through without an outage: once more, as on Lambda.
        refusals.after_pass(false);
        refusals.store_answers_again(&store, &wake).await;
        refusals.before_pass(&store).await;
        assert!(asked(&store, "sync1").await);
        // A refused collection is still the webhook's to ask for, and wakes maintenance.
        reconciled(&store, "sync1").await;
        refusals.after_pass(false);
        refusals.note();
        refusals.store_answers_again(&store, &wake).await;
        assert!(asked(&store, "sync1").await);
        assert!(wake.notified().now_or_never().is_some());
    }
}
