//! Pending Swyx deliveries: one per Swyx user, newest revision wins, due order and limit.

use super::{T0, at, pending};
use presence_bridge::store::Store;
use std::sync::Arc;
use tokio::sync::Barrier;

pub async fn pending_same_revision_replaces_and_older_is_refused<S: Store + 'static>(
    store: Arc<S>,
) {
    assert_eq!(store.get_pending("swyx-1").await.unwrap(), None);
    assert!(
        store
            .put_pending(&pending("swyx-1", 5, T0, 0))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_pending("swyx-1").await.unwrap(),
        Some(pending("swyx-1", 5, T0, 0))
    );

    // A retry of the same revision updates attempts, error and next attempt.
    let retry = pending("swyx-1", 5, T0 + 30_000, 1);
    assert!(store.put_pending(&retry).await.unwrap());
    assert_eq!(
        store.get_pending("swyx-1").await.unwrap(),
        Some(retry.clone())
    );

    // An older update arriving late must not replace the newer one.
    assert!(
        !store
            .put_pending(&pending("swyx-1", 4, T0, 0))
            .await
            .unwrap()
    );
    assert_eq!(store.get_pending("swyx-1").await.unwrap(), Some(retry));

    // A newer one replaces it; still one per Swyx user.
    let big = pending("swyx-1", u64::MAX, T0 + 1, 0);
    assert!(store.put_pending(&big).await.unwrap());
    assert!(
        !store
            .put_pending(&pending("swyx-1", u64::MAX - 1, T0, 0))
            .await
            .unwrap()
    );
    assert_eq!(store.get_pending("swyx-1").await.unwrap(), Some(big));
    assert_eq!(store.count_pending().await.unwrap(), 1);
}

pub async fn delete_pending_only_if_not_newer<S: Store + 'static>(store: Arc<S>) {
    assert!(
        !store.delete_pending("swyx-1", 10).await.unwrap(),
        "nothing to delete"
    );

    store
        .put_pending(&pending("swyx-1", 5, T0, 0))
        .await
        .unwrap();
    // Revision 4 was delivered, but 5 was stored meanwhile: it stays.
    assert!(!store.delete_pending("swyx-1", 4).await.unwrap());
    assert!(store.get_pending("swyx-1").await.unwrap().is_some());
    assert!(store.delete_pending("swyx-1", 5).await.unwrap());
    assert_eq!(store.get_pending("swyx-1").await.unwrap(), None);

    // Delivering a later revision also clears an older pending one.
    store
        .put_pending(&pending("swyx-2", 7, T0, 0))
        .await
        .unwrap();
    assert!(store.delete_pending("swyx-2", 9).await.unwrap());
    assert_eq!(store.count_pending().await.unwrap(), 0);
}

pub async fn due_pending_is_oldest_first_and_limited<S: Store + 'static>(store: Arc<S>) {
    // Inserted out of order; `swyx-b` and `swyx-a` share a time.
    let entries = [
        ("swyx-c", 3_000),
        ("swyx-future", 60_000),
        ("swyx-b", 1_000),
        ("swyx-now", 5_000),
        ("swyx-a", 1_000),
        ("swyx-old", -86_400_000),
    ];
    for (i, (swyx, offset)) in entries.iter().enumerate() {
        store
            .put_pending(&pending(swyx, i as u64 + 1, T0 + offset, 0))
            .await
            .unwrap();
    }
    let names = |due: Vec<presence_bridge::store::PendingDelivery>| -> Vec<String> {
        due.into_iter().map(|p| p.update.swyx_user_id).collect()
    };

    let due = store.due_pending(at(5_000), 100).await.unwrap();
    assert_eq!(
        due[0],
        pending("swyx-old", 6, T0 - 86_400_000, 0),
        "returns whole records"
    );
    assert_eq!(
        names(due),
        ["swyx-old", "swyx-a", "swyx-b", "swyx-c", "swyx-now"]
    );
    assert_eq!(
        names(store.due_pending(at(5_000), 2).await.unwrap()),
        ["swyx-old", "swyx-a"]
    );
    assert_eq!(
        names(store.due_pending(at(4_999), 100).await.unwrap()),
        ["swyx-old", "swyx-a", "swyx-b", "swyx-c"]
    );
    assert!(store.due_pending(at(5_000), 0).await.unwrap().is_empty());
    assert!(
        store
            .due_pending(at(-86_400_001), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Rescheduling moves an entry in the order.
    store
        .put_pending(&pending("swyx-old", 6, T0 + 4_000, 1))
        .await
        .unwrap();
    assert_eq!(
        names(store.due_pending(at(5_000), 100).await.unwrap()),
        ["swyx-a", "swyx-b", "swyx-c", "swyx-old", "swyx-now"]
    );
}

pub async fn count_and_due_cover_many_entries<S: Store + 'static>(store: Arc<S>) {
    const N: usize = 60;
    for i in 0..N {
        // Every third one is not due yet.
        let offset = if i % 3 == 0 { 3_600_000 } else { i as i64 };
        store
            .put_pending(&pending(&format!("swyx-{i:03}"), 1, T0 + offset, 0))
            .await
            .unwrap();
    }
    assert_eq!(
        store.count_pending().await.unwrap(),
        N,
        "due or not, all count"
    );
    let due = store.due_pending(at(1_000), usize::MAX).await.unwrap();
    assert_eq!(due.len(), N - N / 3);
    assert!(
        due.windows(2)
            .all(|w| w[0].next_attempt_at <= w[1].next_attempt_at)
    );
    assert_eq!(
        store.due_pending(at(1_000), 25).await.unwrap(),
        due[..25].to_vec()
    );
}

/// Updates for one Swyx user stored concurrently and out of order: the newest survives.
pub async fn concurrent_pending_puts_keep_the_newest<S: Store + 'static>(store: Arc<S>) {
    const REVISIONS: u64 = 16;
    let barrier = Arc::new(Barrier::new(REVISIONS as usize));
    let tasks: Vec<_> = (1..=REVISIONS)
        .rev()
        .map(|rev| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store.put_pending(&pending("swyx-1", rev, T0, 0)).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        store.get_pending("swyx-1").await.unwrap(),
        Some(pending("swyx-1", REVISIONS, T0, 0))
    );
    assert_eq!(store.count_pending().await.unwrap(), 1);
}

/// The connector is back: every update backing off after a transient failure is due at once,
/// attempts kept; fresh decisions in their grace and rejected updates keep their time.
pub async fn making_pending_due_moves_only_what_backs_off<S: Store + 'static>(store: Arc<S>) {
    let backing_off = [
        pending("swyx-a", 3, T0 + 320_000, 7),
        pending("swyx-b", 4, T0 + 5_000, 1),
    ];
    let already_due = pending("swyx-c", 2, T0 - 1_000, 2);
    let in_grace = pending("swyx-d", 5, T0 + 15_000, 0);
    let mut rejected = pending("swyx-e", 6, T0 + 900_000, 1);
    rejected.rejected = true;
    for p in backing_off
        .iter()
        .chain([&already_due, &in_grace, &rejected])
    {
        store.put_pending(p).await.unwrap();
    }

    assert_eq!(store.make_pending_due(at(0)).await.unwrap(), 2);

    for p in &backing_off {
        let stored = store.get_pending(&p.update.swyx_user_id).await.unwrap();
        let mut expected = p.clone();
        expected.next_attempt_at = at(0);
        assert_eq!(stored, Some(expected), "due now, attempts and error kept");
    }
    for p in [&already_due, &in_grace, &rejected] {
        let stored = store.get_pending(&p.update.swyx_user_id).await.unwrap();
        assert_eq!(stored.as_ref(), Some(p), "left as it was");
    }
    let due: Vec<String> = store
        .due_pending(at(0), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.update.swyx_user_id)
        .collect();
    assert_eq!(due, ["swyx-c", "swyx-a", "swyx-b"]);
    assert_eq!(
        store.make_pending_due(at(0)).await.unwrap(),
        0,
        "nothing left"
    );
    assert_eq!(store.count_pending().await.unwrap(), 5);
}
