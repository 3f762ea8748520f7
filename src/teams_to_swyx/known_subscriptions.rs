//! The subscriptions the bridge owns, as the Graph intake sees them: one strongly consistent read
//! of the whole set (one per sync account: a few dozen at most), kept briefly, instead of a read
//! per notification item. Items naming ids the bridge never made therefore cost no store
//! reads of their own: however many arrive, the store is read at most once per
//! [`MISS_REREAD_AFTER`] per process (on DynamoDB they all share one partition).

use crate::store::{StoreError, SubscriptionRecord, SubscriptionStore};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
// tokio's clock, so the tests can run on paused time.
use tokio::time::Instant;

/// How long one read serves. A subscription the store forgot (its account removed) is still
/// accepted this long; one the bridge just made is found sooner, by the re-read on a miss.
pub const FRESH_FOR: Duration = Duration::from_secs(30);
/// An id the last read did not know makes the intake read again, but not sooner than this after
/// the last read: a new subscription waits at most this long, a flood of made-up ids gets no
/// more reads than this allows.
pub const MISS_REREAD_AFTER: Duration = Duration::from_millis(500);

/// The bridge's subscriptions by id.
pub type Subscriptions = Arc<HashMap<String, SubscriptionRecord>>;

/// The cached read; shared by every request of the process.
#[derive(Default)]
pub struct KnownSubscriptions {
    /// Held across a read: concurrent requests wait for the one read instead of each making one.
    last: Mutex<Option<Snapshot>>,
}

struct Snapshot {
    /// When the read began: a read begun after a request asked is authoritative for it.
    read_at: Instant,
    by_id: Subscriptions,
}

/// The subscriptions read before a request was looked at (a Lambda function's cold start reads
/// them while it reads its secrets), for [`KnownSubscriptions::keep`].
pub struct ReadAhead {
    read_at: Instant,
    subscriptions: Vec<SubscriptionRecord>,
}

/// Reads the subscriptions ahead; `None` when the store fails (the request reads again).
pub async fn read_ahead<S>(store: &S) -> Option<ReadAhead>
where
    S: SubscriptionStore + ?Sized,
{
    let read_at = Instant::now();
    let subscriptions = store.list_subscriptions().await.ok()?;
    Some(ReadAhead {
        read_at,
        subscriptions,
    })
}

impl KnownSubscriptions {
    /// Keeps what was read ahead as the last read, unless a later read is held: it serves like
    /// any read begun at the same moment.
    pub async fn keep(&self, ahead: ReadAhead) {
        let mut last = self.last.lock().await;
        if last.as_ref().is_some_and(|s| s.read_at >= ahead.read_at) {
            return;
        }
        let by_id = ahead
            .subscriptions
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        *last = Some(Snapshot {
            read_at: ahead.read_at,
            by_id: Arc::new(by_id),
        });
    }

    /// The bridge's subscriptions, current enough to judge `ids` (an id missing from the answer
    /// is not the bridge's). Reads the store when the last read is older than [`FRESH_FOR`], or
    /// when one of `ids` is unknown and the last read began before this call (waiting for
    /// [`MISS_REREAD_AFTER`] to pass since the last read, if need be).
    pub async fn lookup<S>(&self, store: &S, ids: &[&str]) -> Result<Subscriptions, StoreError>
    where
        S: SubscriptionStore + ?Sized,
    {
        let asked = Instant::now();
        loop {
            let mut last = self.last.lock().await;
            let wait = match last.as_ref() {
                Some(s) if s.read_at.elapsed() < FRESH_FOR => {
                    let known = ids.iter().all(|id| s.by_id.contains_key(*id));
                    // Strictly later: on a coarse (or paused) clock an equal instant proves nothing.
                    if known || s.read_at > asked {
                        return Ok(Arc::clone(&s.by_id));
                    }
                    MISS_REREAD_AFTER.saturating_sub(s.read_at.elapsed())
                }
                _ => Duration::ZERO,
            };
            if wait.is_zero() {
                let read_at = Instant::now();
                let by_id: Subscriptions = Arc::new(
                    store
                        .list_subscriptions()
                        .await?
                        .into_iter()
                        .map(|s| (s.id.clone(), s))
                        .collect(),
                );
                *last = Some(Snapshot {
                    read_at,
                    by_id: Arc::clone(&by_id),
                });
                return Ok(by_id);
            }
            drop(last);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::store::{MemoryStore, StoreResult};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A memory store that counts how often the subscriptions are read.
    #[derive(Default)]
    struct Counting {
        inner: MemoryStore,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl SubscriptionStore for Counting {
        async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()> {
            self.inner.put_subscription(sub).await
        }
        async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.get_subscription(id).await
        }
        async fn list_subscriptions(&self) -> StoreResult<Vec<SubscriptionRecord>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.list_subscriptions().await
        }
        async fn delete_subscription(&self, id: &str) -> StoreResult<bool> {
            self.inner.delete_subscription(id).await
        }
    }

    fn record(id: &str) -> SubscriptionRecord {
        SubscriptionRecord {
            id: id.into(),
            client_state: "state".into(),
            expires_at: Timestamp(0),
            account: None,
            resource: String::new(),
            encryption_certificate_id: None,
            renewed_at: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn made_up_ids_cost_one_read_per_interval_however_many_arrive() {
        let store = Counting::default();
        store.put_subscription(&record("ours")).await.unwrap();
        let known = KnownSubscriptions::default();
        let started = Instant::now();
        for i in 0..1_000 {
            let id = format!("made-up-{i}");
            let found = known.lookup(&store, &["ours", id.as_str()]).await.unwrap();
            assert!(found.contains_key("ours") && !found.contains_key(&id));
        }
        // Each miss re-reads, but never sooner than MISS_REREAD_AFTER after the last read.
        let intervals = started.elapsed().as_millis() / MISS_REREAD_AFTER.as_millis();
        assert!(
            store.reads.load(Ordering::SeqCst) as u128 <= intervals + 1,
            "{} reads in {intervals} intervals",
            store.reads.load(Ordering::SeqCst)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn what_was_read_ahead_serves_the_first_lookup() {
        let store = Counting::default();
        store.put_subscription(&record("ours")).await.unwrap();
        let known = KnownSubscriptions::default();
        let ahead = read_ahead(&store).await.expect("read");
        known.keep(ahead).await;
        let found = known.lookup(&store, &["ours"]).await.unwrap();
        assert!(found.contains_key("ours"));
        assert_eq!(store.reads.load(Ordering::SeqCst), 1, "no second read");
        // It ages like any read: FRESH_FOR after it was made, the store is read again.
        tokio::time::advance(FRESH_FOR).await;
        known.lookup(&store, &["ours"]).await.unwrap();
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
        // An older read ahead never replaces a later read.
        let stale = ReadAhead {
            read_at: Instant::now() - FRESH_FOR,
            subscriptions: Vec::new(),
        };
        known.keep(stale).await;
        assert!(
            known
                .lookup(&store, &["ours"])
                .await
                .unwrap()
                .contains_key("ours")
        );
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_stored_after_the_last_read_is_found() {
        let store = Counting::default();
        let known = KnownSubscriptions::default();
        assert!(known.lookup(&store, &["new"]).await.unwrap().is_empty());
        store.put_subscription(&record("new")).await.unwrap();
        let found = known.lookup(&store, &["new"]).await.unwrap();
        assert!(found.contains_key("new"));
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
        // Known ids are served from the read until it is FRESH_FOR old.
        for _ in 0..100 {
            known.lookup(&store, &["new"]).await.unwrap();
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
        tokio::time::advance(FRESH_FOR).await;
        known.lookup(&store, &["new"]).await.unwrap();
        assert_eq!(store.reads.load(Ordering::SeqCst), 3);
    }
}
