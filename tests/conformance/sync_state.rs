//! Per-user sync state: exact round trip and optimistic concurrency on the revision.

use super::{assert_conflict, state};
use presence_bridge::domain::UserSyncState;
use presence_bridge::store::{Store, StoreError};
use std::sync::Arc;
use tokio::sync::Barrier;

pub async fn sync_state_round_trips_exactly<S: Store + 'static>(store: Arc<S>) {
    assert_eq!(store.get_sync_state("alice").await.unwrap(), None);

    // Near u64::MAX the neighbours differ only in the last bits: a float anywhere would merge them.
    let big = u64::MAX - 1;
    store
        .put_sync_state("alice", &state(big, "Präsentation 🎤"), 0)
        .await
        .unwrap();
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(big, "Präsentation 🎤"))
    );
    assert_conflict(
        store
            .put_sync_state("alice", &state(u64::MAX, "x"), big - 1)
            .await,
    );
    store
        .put_sync_state("alice", &state(u64::MAX, "Busy"), big)
        .await
        .unwrap();
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(u64::MAX, "Busy"))
    );

    // A minimal state (all options empty) stays minimal; users do not share state.
    let minimal = UserSyncState {
        revision: 1,
        ..UserSyncState::default()
    };
    store.put_sync_state("bob", &minimal, 0).await.unwrap();
    assert_eq!(store.get_sync_state("bob").await.unwrap(), Some(minimal));
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(u64::MAX, "Busy"))
    );
}

pub async fn stale_expected_revision_conflicts_and_writes_nothing<S: Store + 'static>(
    store: Arc<S>,
) {
    // Expecting a stored state where there is none.
    assert_conflict(store.put_sync_state("alice", &state(6, "Busy"), 5).await);
    assert_eq!(store.get_sync_state("alice").await.unwrap(), None);

    store
        .put_sync_state("alice", &state(1, "Busy"), 0)
        .await
        .unwrap();
    store
        .put_sync_state("alice", &state(2, "InACall"), 1)
        .await
        .unwrap();

    // A writer that read revision 1 (stale), and one that thinks nothing is stored.
    assert_conflict(store.put_sync_state("alice", &state(2, "Stale"), 1).await);
    assert_conflict(store.put_sync_state("alice", &state(1, "Stale"), 0).await);
    // One that is ahead of the store.
    assert_conflict(store.put_sync_state("alice", &state(4, "Ahead"), 3).await);
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(2, "InACall"))
    );
}

pub async fn revision_must_grow<S: Store + 'static>(store: Arc<S>) {
    store
        .put_sync_state("alice", &state(3, "Busy"), 0)
        .await
        .unwrap();
    assert_conflict(store.put_sync_state("alice", &state(3, "Same"), 3).await);
    assert_conflict(store.put_sync_state("alice", &state(2, "Lower"), 3).await);
    assert_conflict(store.put_sync_state("bob", &state(0, "Zero"), 0).await);
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(3, "Busy"))
    );
    assert_eq!(store.get_sync_state("bob").await.unwrap(), None);
}

/// Webhook invocations racing on one user: per round, every writer read the same revision.
pub async fn concurrent_writers_with_one_expected_revision_have_one_winner<S: Store + 'static>(
    store: Arc<S>,
) {
    const WRITERS: usize = 8;
    const ROUNDS: u64 = 5;
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(WRITERS));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mine = state(round + 1, &format!("writer-{w}"));
                    store
                        .put_sync_state("alice", &mine, round)
                        .await
                        .map(|()| mine)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(written) => winners.push(written),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one writer may win"
        );
        assert_eq!(store.get_sync_state("alice").await.unwrap(), winners.pop());
    }
}

/// A decision and its update are one write: both stored, or on a conflict neither (the update
/// already pending for the user stays as it was).
pub async fn a_decision_and_its_update_are_written_together_or_not_at_all<S: Store + 'static>(
    store: Arc<S>,
) {
    let first = super::pending("swyx-1", 5, super::T0, 0);
    store
        .put_decision("alice", &state(5, "Busy"), 0, &first)
        .await
        .unwrap();
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(5, "Busy"))
    );
    assert_eq!(
        store.get_pending("swyx-1").await.unwrap(),
        Some(first.clone())
    );

    // A decision that read an older revision loses: its update is not pending either.
    let lost = super::pending("swyx-1", 7, super::T0, 0);
    assert_conflict(
        store
            .put_decision("alice", &state(7, "InACall"), 3, &lost)
            .await,
    );
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(5, "Busy"))
    );
    assert_eq!(store.get_pending("swyx-1").await.unwrap(), Some(first));

    // The next decision replaces the user's pending update, whatever it was.
    let next = super::pending("swyx-1", 6, super::T0 + 1, 2);
    store
        .put_decision("alice", &state(6, "Away"), 5, &next)
        .await
        .unwrap();
    assert_eq!(store.get_pending("swyx-1").await.unwrap(), Some(next));
    assert_eq!(
        store
            .get_sync_state("alice")
            .await
            .unwrap()
            .map(|s| s.revision),
        Some(6)
    );
}

/// Concurrent decisions on one expected revision: exactly one wins, and the pending update is the
/// winner's.
pub async fn concurrent_decisions_leave_the_winners_update_pending<S: Store + 'static>(
    store: Arc<S>,
) {
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (1..=8u64)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let update = super::pending("swyx-9", 10 + i, super::T0, 0);
                let won = store
                    .put_decision("zoe", &state(10 + i, "Busy"), 0, &update)
                    .await;
                (i, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (i, won) = t.await.unwrap();
        match won {
            Ok(()) => winners.push(i),
            Err(e) => assert_conflict::<()>(Err(e)),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let revision = 10 + winners[0];
    assert_eq!(
        store
            .get_sync_state("zoe")
            .await
            .unwrap()
            .map(|s| s.revision),
        Some(revision)
    );
    assert_eq!(
        store
            .get_pending("swyx-9")
            .await
            .unwrap()
            .map(|p| p.update.revision),
        Some(revision)
    );
}
