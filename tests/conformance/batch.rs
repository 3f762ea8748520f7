//! The batch calls: many users' reads in one call, many decisions written in one call (each
//! user's state and pending update together or not at all), many pending entries cleared at once.
//! Counts past DynamoDB's request limits (100 keys a read, 100 items a transaction) so the
//! splitting is exercised.

use super::{T0, link, pending, state};
use presence_bridge::store::{DecisionWrite, PendingDelivery, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

const MANY: usize = 130;

fn entra(i: usize) -> String {
    format!("entra-{i:04}")
}

fn swyx(i: usize) -> String {
    format!("swyx-{i:04}")
}

/// User `i`'s decision to state `revision`, from `expected`, with its update pending.
fn decision(i: usize, revision: u64, expected: u64) -> DecisionWrite {
    let mut p: PendingDelivery = pending(&swyx(i), revision, T0 + 15_000, 0);
    p.update.entra_id = entra(i);
    DecisionWrite {
        entra_id: entra(i),
        state: state(revision, "InACall"),
        expected_revision: expected,
        pending: Some(p),
    }
}

pub async fn batch_reads_return_what_exists_and_skip_the_rest<S: Store + 'static>(store: Arc<S>) {
    for i in (0..MANY).step_by(2) {
        store
            .put_user(&link(&entra(i), &swyx(i), &format!("u{i}@example.com")))
            .await
            .unwrap();
        store
            .put_sync_state(&entra(i), &state(i as u64 + 1, "Busy"), 0)
            .await
            .unwrap();
    }
    let ids: Vec<String> = (0..MANY).map(entra).collect();

    let mut users = store.get_users(&ids).await.unwrap();
    users.sort_by(|a, b| a.entra_id.cmp(&b.entra_id));
    let want: Vec<_> = (0..MANY)
        .step_by(2)
        .map(|i| link(&entra(i), &swyx(i), &format!("u{i}@example.com")))
        .collect();
    assert_eq!(users, want);

    let states: BTreeMap<_, _> = store
        .get_sync_states(&ids)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(states.len(), MANY / 2);
    assert_eq!(states[&entra(4)], state(5, "Busy"));
    assert!(store.get_users(&[]).await.unwrap().is_empty());
    assert!(store.get_sync_states(&[]).await.unwrap().is_empty());
}

pub async fn batch_decisions_write_state_and_pending_together_or_not_at_all<S: Store + 'static>(
    store: Arc<S>,
) {
    // User 1 moved on meanwhile (its state is at 3, not 0); user 2 has a newer update pending.
    store
        .put_sync_state(&entra(1), &state(3, "Busy"), 0)
        .await
        .unwrap();
    let newer = pending(&swyx(2), 50, T0, 0);
    assert!(store.put_pending(&newer).await.unwrap());

    let decisions: Vec<DecisionWrite> = (0..MANY).map(|i| decision(i, 7, 0)).collect();
    let mut refused = store.put_decisions(&decisions).await.unwrap();
    refused.sort();
    assert_eq!(refused, [entra(1), entra(2)]);

    for i in [0, 3, 99, 100, MANY - 1] {
        assert_eq!(
            store.get_sync_state(&entra(i)).await.unwrap(),
            Some(state(7, "InACall"))
        );
        assert_eq!(
            store.get_pending(&swyx(i)).await.unwrap().as_ref(),
            decisions[i].pending.as_ref()
        );
    }
    // Refused: neither part written.
    assert_eq!(
        store.get_sync_state(&entra(1)).await.unwrap(),
        Some(state(3, "Busy"))
    );
    assert_eq!(store.get_pending(&swyx(1)).await.unwrap(), None);
    assert_eq!(store.get_sync_state(&entra(2)).await.unwrap(), None);
    assert_eq!(store.get_pending(&swyx(2)).await.unwrap(), Some(newer));
    assert_eq!(store.count_pending().await.unwrap(), MANY - 1);

    // A decision with nothing to deliver writes the state alone; a stale one is refused.
    let record = DecisionWrite {
        pending: None,
        ..decision(0, 8, 7)
    };
    let stale = decision(3, 8, 6);
    let refused = store.put_decisions(&[record, stale]).await.unwrap();
    assert_eq!(refused, [entra(3)]);
    assert_eq!(
        store.get_sync_state(&entra(0)).await.unwrap(),
        Some(state(8, "InACall"))
    );
    assert!(store.put_decisions(&[]).await.unwrap().is_empty());
}

pub async fn batch_delete_pendings_clears_only_what_was_delivered<S: Store + 'static>(
    store: Arc<S>,
) {
    for i in 0..MANY {
        assert!(
            store
                .put_pending(&pending(&swyx(i), 5, T0, 0))
                .await
                .unwrap()
        );
    }
    // Delivered revision 5 for most; 4 (older than stored) for user 0; user MANY is unknown.
    let mut delivered: Vec<(String, u64)> = (1..MANY).map(|i| (swyx(i), 5)).collect();
    delivered.push((swyx(0), 4));
    delivered.push((swyx(MANY), 5));
    let removed = store.delete_pendings(&delivered).await.unwrap();
    assert_eq!(removed, MANY - 1);
    assert_eq!(store.count_pending().await.unwrap(), 1);
    assert!(store.get_pending(&swyx(0)).await.unwrap().is_some());
    assert_eq!(store.delete_pendings(&[]).await.unwrap(), 0);
}
