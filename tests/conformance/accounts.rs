//! Sync accounts: exact round trip of large records, optimistic concurrency on the version, list
//! order; lifecycle requests waiting for maintenance.

use super::{T0, assert_conflict, at};
use presence_bridge::domain::Timestamp;
use presence_bridge::store::{GraphBackoff, LifecycleRequest, Store, StoreError, SyncAccount};
use std::sync::Arc;
use tokio::sync::Barrier;

/// Graph's limit of users per presence subscription, which bounds both lists.
const MAX_USERS: usize = 650;

fn guid(i: usize) -> String {
    format!("{i:08x}-5a1e-4c0d-9e7f-{:012x}", i * 7919)
}

/// A fully populated account at `version`; `note` tells accounts of the same version apart.
/// Its lists hold 650 users each (about 50 KB), overlapping by half.
pub fn account(name: &str, version: u64, note: &str) -> SyncAccount {
    let mut assigned: Vec<String> = (0..MAX_USERS).map(guid).collect();
    let mut covered: Vec<String> = (MAX_USERS / 2..MAX_USERS + MAX_USERS / 2)
        .map(guid)
        .collect();
    assigned.sort();
    covered.sort();
    SyncAccount {
        name: name.to_string(),
        sealed_refresh_token: format!("v1.{}", "QUJD".repeat(400)),
        version,
        assigned,
        covered,
        subscription_id: Some(format!("sub-of-{name}")),
        unconfirmed_client_state: Some(format!("{:064x}", version)),
        added_at: Timestamp(T0),
        reconciled_at: Some(at(90_000)),
        reconcile_requested: true,
        last_error: Some(format!(
            "AADSTS50076: Anmeldung für {name} abgelaufen ({note})"
        )),
        graph_backoff: Some(GraphBackoff {
            not_before: at(120_000),
            refusals: 3,
        }),
    }
}

fn minimal_account(name: &str, version: u64) -> SyncAccount {
    SyncAccount {
        name: name.to_string(),
        sealed_refresh_token: "sealed".to_string(),
        version,
        assigned: Vec::new(),
        covered: Vec::new(),
        subscription_id: None,
        unconfirmed_client_state: None,
        added_at: at(-1),
        reconciled_at: None,
        reconcile_requested: false,
        last_error: None,
        graph_backoff: None,
    }
}

pub async fn accounts_round_trip_exactly<S: Store + 'static>(store: Arc<S>) {
    assert_eq!(store.get_account("sync-01").await.unwrap(), None);
    assert!(store.list_accounts().await.unwrap().is_empty());

    let full = account("sync-01", 1, "first");
    assert_eq!(full.assigned.len(), MAX_USERS);
    assert_eq!(full.covered.len(), MAX_USERS);
    store.put_account(&full, 0).await.unwrap();
    assert_eq!(store.get_account("sync-01").await.unwrap(), Some(full));

    // An update empties what was set; 2^53 + 1 is the first version a float would round.
    let big = (1u64 << 53) + 1;
    let emptied = minimal_account("sync-01", big);
    store.put_account(&emptied, 1).await.unwrap();
    assert_eq!(
        store.get_account("sync-01").await.unwrap(),
        Some(emptied.clone())
    );
    let refilled = account("sync-01", big + 1, "refilled");
    store.put_account(&refilled, big).await.unwrap();
    assert_eq!(
        store.get_account("sync-01").await.unwrap(),
        Some(refilled.clone())
    );

    // Accounts do not share records.
    let other = minimal_account("sync-02", 1);
    store.put_account(&other, 0).await.unwrap();
    assert_eq!(store.get_account("sync-02").await.unwrap(), Some(other));
    assert_eq!(store.get_account("sync-01").await.unwrap(), Some(refilled));
}

pub async fn creating_an_existing_account_conflicts<S: Store + 'static>(store: Arc<S>) {
    let first = account("sync-01", 1, "first");
    store.put_account(&first, 0).await.unwrap();
    match store
        .put_account(&account("sync-01", 1, "second add"), 0)
        .await
    {
        Err(StoreError::Conflict { what }) => assert!(what.contains("sync-01"), "{what}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_conflict(
        store
            .put_account(&account("sync-01", 9, "second add"), 0)
            .await,
    );
    assert_eq!(store.get_account("sync-01").await.unwrap(), Some(first));

    // Expecting an account where there is none writes nothing either.
    assert_conflict(store.put_account(&minimal_account("sync-02", 4), 3).await);
    assert_eq!(store.get_account("sync-02").await.unwrap(), None);
}

pub async fn stale_account_version_conflicts_and_keeps_the_stored_one<S: Store + 'static>(
    store: Arc<S>,
) {
    store
        .put_account(&account("sync-01", 1, "added"), 0)
        .await
        .unwrap();
    let current = account("sync-01", 2, "reconciled");
    store.put_account(&current, 1).await.unwrap();

    // A maintenance run that read version 1, and one that is ahead of the store.
    match store.put_account(&account("sync-01", 2, "stale"), 1).await {
        Err(StoreError::Conflict { what }) => assert!(what.contains("sync-01"), "{what}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_conflict(store.put_account(&account("sync-01", 5, "ahead"), 4).await);
    assert_eq!(store.get_account("sync-01").await.unwrap(), Some(current));
}

pub async fn account_version_must_grow<S: Store + 'static>(store: Arc<S>) {
    let stored = account("sync-01", 3, "stored");
    store.put_account(&stored, 0).await.unwrap();
    assert_conflict(store.put_account(&account("sync-01", 3, "same"), 3).await);
    assert_conflict(store.put_account(&account("sync-01", 2, "lower"), 3).await);
    assert_conflict(store.put_account(&minimal_account("sync-02", 0), 0).await);
    assert_eq!(store.get_account("sync-01").await.unwrap(), Some(stored));
    assert_eq!(store.get_account("sync-02").await.unwrap(), None);
}

/// Two maintenance runs (or a run and the CLI) writing one account they read at the same version.
pub async fn concurrent_account_writers_have_one_winner<S: Store + 'static>(store: Arc<S>) {
    const WRITERS: usize = 6;
    const ROUNDS: u64 = 4;
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(WRITERS));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                tokio::spawn(async move {
                    let mine = account("sync-01", round + 1, &format!("writer-{w}"));
                    barrier.wait().await;
                    store.put_account(&mine, round).await.map(|()| mine)
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
        assert_eq!(store.get_account("sync-01").await.unwrap(), winners.pop());
    }
}

/// Enough full accounts (about 50 KB each) to exceed one DynamoDB query page of 1 MB.
pub async fn list_accounts_is_ordered_by_name_and_delete_reports_existence<S: Store + 'static>(
    store: Arc<S>,
) {
    const ACCOUNTS: usize = 25;
    let mut names: Vec<String> = (0..ACCOUNTS)
        .map(|i| format!("sync-{:02}", (i * 7) % ACCOUNTS))
        .collect();
    names.extend(["Sync-Z", "sync-ä", "sync-z"].map(String::from));
    for name in &names {
        store.put_account(&account(name, 1, name), 0).await.unwrap();
    }
    names.sort();
    let listed: Vec<SyncAccount> = store.list_accounts().await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        names,
        "ordered by name, bytewise"
    );
    assert_eq!(listed[0], account("Sync-Z", 1, "Sync-Z"), "listed in full");

    assert!(store.delete_account("sync-07").await.unwrap());
    assert!(!store.delete_account("sync-07").await.unwrap());
    assert!(!store.delete_account("never-added").await.unwrap());
    assert_eq!(store.get_account("sync-07").await.unwrap(), None);
    names.retain(|n| n != "sync-07");
    let listed: Vec<String> = store
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(listed, names);

    // A deleted name can be added again from scratch.
    store
        .put_account(&minimal_account("sync-07", 1), 0)
        .await
        .unwrap();
}

fn request(subscription_id: &str, event: &str, received_at: i64) -> LifecycleRequest {
    LifecycleRequest {
        subscription_id: subscription_id.to_string(),
        event: event.to_string(),
        received_at: at(received_at),
    }
}

pub async fn lifecycle_requests_replace_per_event_and_list_oldest_first<S: Store + 'static>(
    store: Arc<S>,
) {
    assert!(store.list_lifecycle_requests().await.unwrap().is_empty());
    let puts = [
        request("sub-b", "reauthorizationRequired", 300),
        request("sub-a", "missed", 500),
        request("sub-c", "subscriptionRemoved", 100),
        request("sub-a", "reauthorizationRequired", 200),
        // Replaces the first one: same subscription and event.
        request("sub-b", "reauthorizationRequired", 400),
    ];
    for r in &puts {
        store.put_lifecycle_request(r).await.unwrap();
    }
    assert_eq!(
        store.list_lifecycle_requests().await.unwrap(),
        vec![
            request("sub-c", "subscriptionRemoved", 100),
            request("sub-a", "reauthorizationRequired", 200),
            request("sub-b", "reauthorizationRequired", 400),
            request("sub-a", "missed", 500),
        ]
    );
}

pub async fn delete_lifecycle_request_keeps_one_received_meanwhile<S: Store + 'static>(
    store: Arc<S>,
) {
    store
        .put_lifecycle_request(&request("sub-a", "reauthorizationRequired", 100))
        .await
        .unwrap();
    store
        .put_lifecycle_request(&request("sub-a", "missed", 100))
        .await
        .unwrap();

    // Maintenance read it at 100, then Graph sent it again at 250 while the PATCH ran.
    store
        .put_lifecycle_request(&request("sub-a", "reauthorizationRequired", 250))
        .await
        .unwrap();
    assert!(
        !store
            .delete_lifecycle_request("sub-a", "reauthorizationRequired", at(100))
            .await
            .unwrap(),
        "the newer request stays"
    );
    assert_eq!(
        store.list_lifecycle_requests().await.unwrap(),
        vec![
            request("sub-a", "missed", 100),
            request("sub-a", "reauthorizationRequired", 250),
        ]
    );

    // Handled up to a later time: removed, and only that event.
    assert!(
        store
            .delete_lifecycle_request("sub-a", "reauthorizationRequired", at(250))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_lifecycle_request("sub-a", "reauthorizationRequired", at(250))
            .await
            .unwrap(),
        "already removed"
    );
    assert!(
        !store
            .delete_lifecycle_request("sub-b", "missed", at(1_000))
            .await
            .unwrap(),
        "never stored"
    );
    assert_eq!(
        store.list_lifecycle_requests().await.unwrap(),
        vec![request("sub-a", "missed", 100)]
    );
    assert!(
        store
            .delete_lifecycle_request("sub-a", "missed", at(5_000))
            .await
            .unwrap()
    );
    assert!(store.list_lifecycle_requests().await.unwrap().is_empty());
}

pub async fn account_and_lifecycle_keys_are_rejected_by_name<S: Store + 'static>(store: Arc<S>) {
    let message = |r: Result<(), StoreError>| r.unwrap_err().to_string();
    assert!(
        message(store.put_account(&minimal_account("", 1), 0).await)
            .contains("sync account name is empty")
    );
    assert!(
        message(store.put_lifecycle_request(&request("", "missed", 0)).await)
            .contains("subscription id is empty")
    );
    // `#` would let two (subscription, event) pairs share a key in a single-table layout.
    for event in ["", "missed#x", "missed "] {
        let msg = message(
            store
                .put_lifecycle_request(&request("sub-a", event, 0))
                .await,
        );
        assert!(msg.contains("lifecycle event"), "{msg}");
    }
    assert!(
        store
            .delete_lifecycle_request("sub-a", "x#y", at(0))
            .await
            .is_err()
    );
    assert!(store.list_accounts().await.unwrap().is_empty());
    assert!(store.list_lifecycle_requests().await.unwrap().is_empty());
}
