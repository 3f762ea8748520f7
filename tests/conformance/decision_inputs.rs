//! A decision's reads in one call (a Teams presence's, a Swyx event's): the same records the
//! separate reads give, for the one user asked about, whatever the backend does to read them
//! together.

use super::speaking::speaking;
use super::{at, link, state};
use presence_bridge::domain::DirectionSwitches;
use presence_bridge::store::{DecisionInputs, Store, StoreError, SwyxEventInputs, UserSwitches};
use std::sync::Arc;

pub async fn decision_inputs_are_the_users_own_records_read_together<S: Store + 'static>(
    store: Arc<S>,
) {
    assert_eq!(
        store.get_decision_inputs("alice", true).await.unwrap(),
        None
    );
    let empty = store.get_decision_inputs("", false).await;
    assert!(
        matches!(&empty, Err(StoreError::Invalid { .. })),
        "{empty:?}"
    );

    // Linked, nothing else yet.
    let alice = link("alice", "1001", "alice@example.com");
    store.put_user(&alice).await.unwrap();
    let bare = DecisionInputs {
        link: alice.clone(),
        switches: None,
        state: None,
        speaking: None,
    };
    assert_eq!(
        store.get_decision_inputs("alice", true).await.unwrap(),
        Some(bare)
    );

    // Bob's records next to Alice's, so a backend that mixed users up would show it.
    let bob = link("bob", "1002", "bob@example.com");
    store.put_user(&bob).await.unwrap();
    store
        .put_sync_state("bob", &state(1, "Bob"), 0)
        .await
        .unwrap();
    store
        .put_speaking("bob", &speaking(1, "bob's call", None), 0)
        .await
        .unwrap();
    store
        .put_switches(&UserSwitches {
            swyx_user_id: "1002".into(),
            switches: DirectionSwitches {
                teams_to_swyx: Some(true),
                ..DirectionSwitches::default()
            },
        })
        .await
        .unwrap();
    let alices_switches = UserSwitches {
        swyx_user_id: "1001".into(),
        switches: DirectionSwitches {
            teams_to_swyx: Some(false),
            ..DirectionSwitches::default()
        },
    };
    store.put_switches(&alices_switches).await.unwrap();
    store
        .put_sync_state("alice", &state(1, "Alice"), 0)
        .await
        .unwrap();
    store
        .put_speaking("alice", &speaking(1, "alice's call", None), 0)
        .await
        .unwrap();

    let read = store.get_decision_inputs("alice", true).await.unwrap();
    assert_eq!(
        read,
        Some(DecisionInputs {
            link: alice.clone(),
            switches: Some(alices_switches.clone()),
            state: Some(state(1, "Alice")),
            speaking: Some(speaking(1, "alice's call", None)),
        })
    );
    // The same as the separate reads.
    let read = read.unwrap();
    assert_eq!(store.get_sync_state("alice").await.unwrap(), read.state);
    assert_eq!(store.get_speaking("alice").await.unwrap(), read.speaking);
    // Without the speaking state when it is not asked for.
    assert_eq!(
        store.get_decision_inputs("alice", false).await.unwrap(),
        Some(DecisionInputs {
            speaking: None,
            ..read
        })
    );
    // Records of a user no longer linked are not a decision's inputs.
    assert!(store.delete_user("bob").await.unwrap());
    assert_eq!(store.get_decision_inputs("bob", true).await.unwrap(), None);

    // Linked anew to another Swyx user: that user's switches, not the ones read before (a
    // backend that remembers which Swyx user a link named must not answer from it).
    let moved = link("alice", "1003", "alice@example.com");
    store.put_user(&moved).await.unwrap();
    let moved_switches = UserSwitches {
        swyx_user_id: "1003".into(),
        switches: DirectionSwitches {
            swyx_to_teams: Some(false),
            ..DirectionSwitches::default()
        },
    };
    store.put_switches(&moved_switches).await.unwrap();
    for _ in 0..2 {
        let read = store.get_decision_inputs("alice", false).await.unwrap();
        let read = read.expect("linked");
        assert_eq!(
            (read.link, read.switches),
            (moved.clone(), Some(moved_switches.clone()))
        );
    }
    // Unlinked, then linked back: the first Swyx user's switches again.
    assert!(store.delete_user("alice").await.unwrap());
    assert_eq!(
        store.get_decision_inputs("alice", true).await.unwrap(),
        None
    );
    store.put_user(&alice).await.unwrap();
    let read = store.get_decision_inputs("alice", false).await.unwrap();
    assert_eq!(read.and_then(|r| r.switches), Some(alices_switches));
}

pub async fn swyx_event_inputs_are_the_link_switches_and_replay_check_read_together<
    S: Store + 'static,
>(
    store: Arc<S>,
) {
    let none = SwyxEventInputs {
        link: None,
        switches: None,
        replayed: false,
    };
    let now = at(0);
    assert_eq!(
        store
            .get_swyx_event_inputs("1001", "swyx-event:a", now)
            .await
            .unwrap(),
        none
    );
    for (swyx, key) in [("", "swyx-event:a"), ("1001", "")] {
        let refused = store.get_swyx_event_inputs(swyx, key, now).await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid { .. })),
            "{refused:?}"
        );
    }

    // Another user's records and another event's claim next to them.
    let alice = link("alice", "1001", "alice@example.com");
    store.put_user(&alice).await.unwrap();
    store
        .put_user(&link("bob", "1002", "bob@example.com"))
        .await
        .unwrap();
    let own = UserSwitches {
        swyx_user_id: "1001".into(),
        switches: DirectionSwitches {
            swyx_to_teams: Some(false),
            ..DirectionSwitches::default()
        },
    };
    store.put_switches(&own).await.unwrap();
    assert!(
        store
            .claim_once("swyx-event:b", at(60_000), now)
            .await
            .unwrap()
    );
    let read = |swyx: &'static str, key: &'static str, when| {
        let store = Arc::clone(&store);
        async move { store.get_swyx_event_inputs(swyx, key, when).await.unwrap() }
    };
    assert_eq!(
        read("1001", "swyx-event:a", now).await,
        SwyxEventInputs {
            link: Some(alice.clone()),
            switches: Some(own.clone()),
            replayed: false,
        }
    );
    assert_eq!(
        read("1001", "swyx-event:b", now).await,
        SwyxEventInputs {
            link: Some(alice.clone()),
            switches: Some(own),
            replayed: true,
        }
    );
    // Bob has no switches; the claim is read for whichever user; an expired claim is free.
    let bob = read("1002", "swyx-event:b", at(60_000)).await;
    assert_eq!(bob.switches, None);
    assert_eq!(bob.link.map(|l| l.entra_id), Some("bob".to_string()));
    assert!(!bob.replayed, "expired at 60 s");
    assert_eq!(
        read("1003", "swyx-event:b", now).await,
        SwyxEventInputs {
            replayed: true,
            ..none
        }
    );
}
