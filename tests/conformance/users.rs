//! User links: round trip, Swyx-id uniqueness, re-linking, listing, deletion.

use super::{assert_conflict, link, state};
use presence_bridge::store::{Store, StoreError, UserLink};
use std::sync::Arc;
use tokio::sync::Barrier;

pub async fn user_links_round_trip<S: Store + 'static>(store: Arc<S>) {
    let alice = link(
        "0d9c1a4e-aaaa-4b1e-9f00-000000000001",
        "swyx-17",
        "zoë.ñúñez+tag@exämple.de",
    );
    store.put_user(&alice).await.unwrap();

    assert_eq!(
        store.get_user(&alice.entra_id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.get_user_by_swyx_id("swyx-17").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.get_user("nobody").await.unwrap(), None);
    assert_eq!(store.get_user_by_swyx_id("swyx-99").await.unwrap(), None);

    // Putting the same Entra user again replaces the link (here: a new e-mail address).
    let renamed = link(&alice.entra_id, "swyx-17", "alice@example.com");
    store.put_user(&renamed).await.unwrap();
    assert_eq!(
        store.get_user(&alice.entra_id).await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(
        store.get_user_by_swyx_id("swyx-17").await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(store.list_users().await.unwrap().len(), 1);

    // The Swyx groups a users sync saw come back as written, through every read.
    let grouped = UserLink {
        groups: vec!["Sales".into(), "Support – 2nd level".into()],
        ..renamed
    };
    store.put_user(&grouped).await.unwrap();
    let ids = [grouped.entra_id.clone()];
    assert_eq!(
        store.get_user(&grouped.entra_id).await.unwrap().as_ref(),
        Some(&grouped)
    );
    assert_eq!(
        store.get_user_by_swyx_id("swyx-17").await.unwrap().as_ref(),
        Some(&grouped)
    );
    assert_eq!(
        store.list_users().await.unwrap(),
        std::slice::from_ref(&grouped)
    );
    assert_eq!(store.get_users(&ids).await.unwrap(), [grouped]);
}

pub async fn taken_swyx_id_conflicts_and_keeps_the_old_link<S: Store + 'static>(store: Arc<S>) {
    let alice = link("alice", "swyx-1", "alice@example.com");
    let bob = link("bob", "swyx-2", "bob@example.com");
    store.put_user(&alice).await.unwrap();
    store.put_user(&bob).await.unwrap();

    // A new user, and an existing one, both trying to take Alice's Swyx id.
    assert_conflict(store.put_user(&link("carol", "swyx-1", "")).await);
    assert_conflict(store.put_user(&link("bob", "swyx-1", "")).await);

    assert_eq!(
        store.get_user_by_swyx_id("swyx-1").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.get_user("carol").await.unwrap(), None);
    assert_eq!(store.get_user("bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(store.list_users().await.unwrap(), vec![alice, bob]);
}

pub async fn relinking_moves_the_swyx_id<S: Store + 'static>(store: Arc<S>) {
    store
        .put_user(&link("alice", "swyx-1", "a@example.com"))
        .await
        .unwrap();
    store
        .put_sync_state("alice", &state(1, "Busy"), 0)
        .await
        .unwrap();

    let moved = link("alice", "swyx-2", "a@example.com");
    store.put_user(&moved).await.unwrap();
    assert_eq!(store.get_user("alice").await.unwrap(), Some(moved.clone()));
    assert_eq!(
        store.get_user_by_swyx_id("swyx-2").await.unwrap(),
        Some(moved)
    );
    assert_eq!(store.get_user_by_swyx_id("swyx-1").await.unwrap(), None);
    // The sync state belongs to the Entra user and survives the re-link.
    assert_eq!(
        store.get_sync_state("alice").await.unwrap(),
        Some(state(1, "Busy"))
    );

    // The old Swyx id is free for someone else now.
    let bob = link("bob", "swyx-1", "b@example.com");
    store.put_user(&bob).await.unwrap();
    assert_eq!(
        store.get_user_by_swyx_id("swyx-1").await.unwrap(),
        Some(bob)
    );
}

pub async fn users_listed_page_by_page_are_each_listed_once_in_order<S: Store + 'static>(
    store: Arc<S>,
) {
    let ids = ["m", "B", "ä-umlaut", "a", "Z", "a-1", "0", "日本"];
    for (i, id) in ids.iter().enumerate() {
        store
            .put_user(&link(id, &format!("swyx-{i}"), &format!("{i}@example.com")))
            .await
            .unwrap();
    }
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_users_after(after.as_deref(), 3).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 3, "a page holds at most the limit");
        after = Some(last.entra_id.clone());
        pages.push(page);
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [3, 3, 2],
        "full pages until the last"
    );
    let listed: Vec<UserLink> = pages.into_iter().flatten().collect();
    assert_eq!(
        listed,
        store.list_users().await.unwrap(),
        "the pages together are the whole list, each link whole"
    );
    // A page may start after an id that is not linked.
    let tail = store.list_users_after(Some("a-0"), 10).await.unwrap();
    let tail: Vec<&str> = tail.iter().map(|u| u.entra_id.as_str()).collect();
    assert_eq!(tail, ["a-1", "m", "ä-umlaut", "日本"]);
}

pub async fn list_users_is_ordered_by_entra_id<S: Store + 'static>(store: Arc<S>) {
    let ids = ["m", "B", "ä-umlaut", "a", "Z", "a-1", "0", "日本"];
    for (i, id) in ids.iter().enumerate() {
        store
            .put_user(&link(id, &format!("swyx-{i}"), ""))
            .await
            .unwrap();
    }
    let listed: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.entra_id)
        .collect();
    let mut expected: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

pub async fn delete_user_removes_link_and_sync_state<S: Store + 'static>(store: Arc<S>) {
    let alice = link("alice", "swyx-1", "a@example.com");
    let bob = link("bob", "swyx-2", "b@example.com");
    store.put_user(&alice).await.unwrap();
    store.put_user(&bob).await.unwrap();
    store
        .put_sync_state("alice", &state(3, "Busy"), 0)
        .await
        .unwrap();
    store
        .put_sync_state("bob", &state(1, "Busy"), 0)
        .await
        .unwrap();

    assert!(store.delete_user("alice").await.unwrap());
    assert_eq!(store.get_user("alice").await.unwrap(), None);
    assert_eq!(store.get_user_by_swyx_id("swyx-1").await.unwrap(), None);
    assert_eq!(store.get_sync_state("alice").await.unwrap(), None);
    assert!(
        !store.delete_user("alice").await.unwrap(),
        "second delete finds nothing"
    );

    // Bob is untouched; Alice's Swyx id and a fresh state (expected revision 0) are possible again.
    assert_eq!(store.list_users().await.unwrap(), vec![bob]);
    assert_eq!(
        store.get_sync_state("bob").await.unwrap(),
        Some(state(1, "Busy"))
    );
    store.put_user(&link("carol", "swyx-1", "")).await.unwrap();
    store
        .put_sync_state("alice", &state(1, "Away"), 0)
        .await
        .unwrap();
}

pub async fn concurrent_links_of_one_swyx_id_have_one_winner<S: Store + 'static>(store: Arc<S>) {
    const RACERS: usize = 6;
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .put_user(&link(&format!("user-{i}"), "swyx-shared", ""))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(()) => winners.push(format!("user-{i}")),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one link may win: {winners:?}");
    let owner = store
        .get_user_by_swyx_id("swyx-shared")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.entra_id, winners[0]);
    assert_eq!(store.list_users().await.unwrap(), vec![owner]);
}

pub async fn empty_keys_are_rejected_by_name<S: Store + 'static>(store: Arc<S>) {
    let message = |r: Result<_, StoreError>| r.map(|_: ()| ()).unwrap_err().to_string();
    assert!(message(store.put_user(&link("", "swyx-1", "")).await).contains("Entra id is empty"));
    assert!(
        message(store.put_user(&link("alice", "", "")).await).contains("Swyx user id is empty")
    );
    assert!(
        message(store.put_sync_state("", &state(1, "Busy"), 0).await).contains("Entra id is empty")
    );
    let claimed = store.claim_once("", super::at(1), super::at(0)).await;
    assert!(
        claimed
            .unwrap_err()
            .to_string()
            .contains("idempotency key is empty")
    );
    assert!(
        store.list_users().await.unwrap().is_empty(),
        "nothing was written"
    );
}
