//! A large collection (many chunks of items, decided in store batches): every user ends at the
//! presence Graph sent last for them, whatever chunk each of their items fell into, and the
//! delivered updates are cleared together.

use super::{env, swyx_id};

#[tokio::test]
async fn a_large_collection_with_users_repeated_ends_at_each_users_last_presence() {
    // 120 items: three chunks, within the test bridge's 256 KiB body limit.
    const USERS: usize = 40;
    let env = env(USERS).await;
    // Each user three times, far apart in the collection (in different chunks): Busy, then
    // DoNotDisturb, then their final presence, newest last by sequence number.
    let last = |u: usize| {
        if u.is_multiple_of(2) {
            ("Available", "Available")
        } else {
            ("Away", "Away")
        }
    };
    let mut items = Vec::new();
    for u in 0..USERS {
        items.push(env.item(u, "Busy", "Busy", false, Some("0000000001")));
    }
    for u in 0..USERS {
        items.push(env.item(u, "DoNotDisturb", "DoNotDisturb", false, Some("0000000002")));
    }
    // The newest first for half the users: a newer item earlier in the collection still wins.
    for u in 0..USERS {
        let (availability, activity) = last(u);
        let newest = env.item(u, availability, activity, false, Some("0000000003"));
        if u.is_multiple_of(3) {
            items.insert(u, newest);
        } else {
            items.push(newest);
        }
    }
    env.counting.reset();
    let (status, body) = env.send(items).await;
    assert_eq!(status, 202, "{body}");
    // Every forward was taken: nothing is left pending, cleared in one store call (one
    // request on DynamoDB per 100), not one per update.
    let calls = env.counting.counts();
    assert_eq!(calls.get("delete_pendings"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("delete_pending"), None, "{calls:?}");
    assert_eq!(env.store.count_pending().await.unwrap(), 0);
    for u in 0..USERS {
        let want = if u.is_multiple_of(2) {
            "Available"
        } else {
            "Away"
        };
        assert_eq!(
            env.connector.status_of(&swyx_id(u)),
            Some(Some(want.to_string())),
            "user {u}"
        );
    }
}
