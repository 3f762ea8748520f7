//! A store decorator that counts the requests made through it, per port method: how the bench
//! and the tests see how many store round trips a use case costs (a batch call counts once on
//! every backend that serves it in one request), and how the maintenance Lambda knows whether a
//! pass wrote to the store at all ([`CountingStore::writes`]).

use super::Store;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// How the names of the ports' reads begin; every other method may write.
const READS: [&str; 5] = ["get_", "list_", "count_", "due_", "is_"];

/// Every port of `inner`, each call counted under its method's name.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl std::fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingStore")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, method: &'static str) {
        self.count_requests(method, 1);
    }

    /// A call a backend serves in `requests` requests.
    fn count_requests(&self, method: &'static str, requests: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(method).or_default() += requests;
    }

    /// Calls so far, by method.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Calls so far, all methods together.
    pub fn total(&self) -> u64 {
        self.counts().values().sum()
    }

    /// Calls so far that may have written: every method but the reads (`get_…`, `list_…`,
    /// `count_…`, `due_…`, `is_…`).
    pub fn writes(&self) -> u64 {
        self.counts()
            .iter()
            .filter(|(method, _)| !READS.iter().any(|read| method.starts_with(read)))
            .map(|(_, n)| n)
            .sum()
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

mod ports;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::store::prelude::*;
    use crate::store::{MemoryStore, UserLink};

    #[tokio::test]
    async fn only_the_calls_that_may_write_count_as_writes() {
        let store = CountingStore::new(Arc::new(MemoryStore::new()));
        store.get_user("e1").await.unwrap();
        store.list_subscriptions().await.unwrap();
        store.count_pending().await.unwrap();
        store.due_pending(Timestamp(0), 10).await.unwrap();
        store.is_claimed("k", Timestamp(0)).await.unwrap();
        assert_eq!((store.total(), store.writes()), (5, 0));
        let link = UserLink {
            entra_id: "e1".into(),
            swyx_user_id: "1001".into(),
            email: "e1@example.com".into(),
            groups: Vec::new(),
        };
        store.put_user(&link).await.unwrap();
        store
            .claim_once("k", Timestamp(60_000), Timestamp(0))
            .await
            .unwrap();
        store.delete_user("e1").await.unwrap();
        assert_eq!(store.writes(), 3);
    }
}
