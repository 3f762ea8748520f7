//! Subscriptions and idempotency keys.

use super::{T0, at, subscription};
use presence_bridge::domain::Timestamp;
use presence_bridge::store::{Store, SubscriptionRecord};
use std::sync::Arc;
use tokio::sync::Barrier;

pub async fn subscriptions_crud_and_list_order<S: Store + 'static>(store: Arc<S>) {
    assert_eq!(store.get_subscription("sub-b").await.unwrap(), None);
    assert!(store.list_subscriptions().await.unwrap().is_empty());

    let full = SubscriptionRecord {
        account: Some("sync-01@contoso.onmicrosoft.com".to_string()),
        encryption_certificate_id: Some("cert-2026".to_string()),
        renewed_at: Some(Timestamp(T0 + 1_800_000)),
        ..subscription("sub-b", T0 + 3_600_000)
    };
    let minimal = subscription("sub-a", T0 + 60_000);
    let third = subscription("sub-c", T0);
    for s in [&full, &third, &minimal] {
        store.put_subscription(s).await.unwrap();
    }
    assert_eq!(
        store.get_subscription("sub-b").await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.get_subscription("sub-a").await.unwrap(),
        Some(minimal.clone())
    );
    assert_eq!(
        store.list_subscriptions().await.unwrap(),
        vec![minimal.clone(), full.clone(), third.clone()]
    );

    // Renewal replaces the record.
    let renewed = SubscriptionRecord {
        expires_at: Timestamp(T0 + 7_200_000),
        renewed_at: Some(Timestamp(T0 + 3_500_000)),
        ..full
    };
    store.put_subscription(&renewed).await.unwrap();
    assert_eq!(
        store.get_subscription("sub-b").await.unwrap(),
        Some(renewed.clone())
    );

    assert!(store.delete_subscription("sub-c").await.unwrap());
    assert!(!store.delete_subscription("sub-c").await.unwrap());
    assert_eq!(store.get_subscription("sub-c").await.unwrap(), None);
    assert_eq!(
        store.list_subscriptions().await.unwrap(),
        vec![minimal, renewed]
    );
}

pub async fn claim_once_first_then_remembered_then_free_after_expiry<S: Store + 'static>(
    store: Arc<S>,
) {
    let key = "hmac:5f2b…/nonce-🔑";
    assert!(
        store.claim_once(key, at(1_500), at(0)).await.unwrap(),
        "first claim"
    );
    assert!(
        !store.claim_once(key, at(1_500), at(1)).await.unwrap(),
        "replay"
    );
    assert!(
        !store.claim_once(key, at(9_000), at(1_499)).await.unwrap(),
        "replay just before expiry"
    );
    // Other keys are independent.
    assert!(store.claim_once("other", at(1_500), at(1)).await.unwrap());

    // Expired (the item may still exist: DynamoDB deletes lazily), so it can be claimed again ...
    assert!(
        store.claim_once(key, at(5_000), at(1_500)).await.unwrap(),
        "claim at expiry"
    );
    // ... and is then remembered until the new expiry.
    assert!(!store.claim_once(key, at(9_000), at(4_999)).await.unwrap());
    assert!(store.claim_once(key, at(9_000), at(5_000)).await.unwrap());
}

pub async fn a_released_claim_can_be_claimed_again<S: Store + 'static>(store: Arc<S>) {
    let key = "webhook-id:msg_2Lh9…";
    assert!(store.claim_once(key, at(10_000), at(0)).await.unwrap());
    assert!(store.release_claim(key).await.unwrap(), "it was held");
    assert!(
        store.claim_once(key, at(10_000), at(1)).await.unwrap(),
        "free again after release"
    );
    assert!(!store.claim_once(key, at(10_000), at(2)).await.unwrap());
    assert!(!store.release_claim("never-claimed").await.unwrap());
}

pub async fn a_claim_is_seen_without_being_taken_until_it_expires<S: Store + 'static>(
    store: Arc<S>,
) {
    let key = "swyx-event:msg_seen";
    assert!(
        !store.is_claimed(key, at(0)).await.unwrap(),
        "never claimed"
    );
    assert!(
        store.claim_once(key, at(0), at(0)).await.unwrap(),
        "looking did not take it"
    );
    assert!(store.release_claim(key).await.unwrap());
    assert!(store.claim_once(key, at(2_000), at(1)).await.unwrap());
    assert!(store.is_claimed(key, at(1_999)).await.unwrap(), "held");
    assert!(!store.is_claimed(key, at(2_000)).await.unwrap(), "expired");
    assert!(store.release_claim(key).await.unwrap());
    assert!(!store.is_claimed(key, at(1)).await.unwrap(), "released");
}

pub async fn concurrent_claims_of_one_key_have_one_winner<S: Store + 'static>(store: Arc<S>) {
    const RACERS: usize = 8;
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim_once("delivery-42", at(60_000), at(0)).await
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        firsts += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(
        firsts, 1,
        "a replayed webhook must be accepted exactly once"
    );
}
