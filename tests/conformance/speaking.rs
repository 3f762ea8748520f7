//! Swyx → Teams speaking state: round trip, optimistic concurrency, and the due index that
//! maintenance reads.

use super::{T0, assert_conflict, at};
use presence_bridge::domain::own_status::{OwnSwyxStatus, PreferredMark, PreferredRetry};
use presence_bridge::domain::{CallEvent, Session, SpeakingSettings, SpeakingState};
use presence_bridge::store::Store;
use std::sync::Arc;
use tokio::sync::Barrier;

/// A state with one active call, as the intake writes it; `due_at` overridden when given.
pub(super) fn speaking(revision: u64, call: &str, due: Option<i64>) -> SpeakingState {
    let mut st = SpeakingState::default()
        .apply_event(
            CallEvent::Started,
            call,
            at(0),
            at(0),
            &SpeakingSettings::default(),
        )
        .expect("a first start changes the state");
    st.revision = revision;
    st.due_at = due.map(at);
    st
}

pub async fn speaking_state_round_trips_with_revisions<S: Store + 'static>(store: Arc<S>) {
    assert_eq!(store.get_speaking("alice").await.unwrap(), None);
    let mut first = speaking(1, "call-ä 1", Some(10_000));
    first.ended.insert("old".into(), at(-5));
    first.session = Session::Unsure {
        expires_at: at(300_000),
    };
    // A hand-set status still on its way to Teams, and the mark of the bridge's own preferred
    // presence: written and read back with the rest, in the one conditional write.
    let dnd = OwnSwyxStatus::DoNotDisturb;
    let why = "503 Service Unavailable – réessayer".to_string();
    first.preferred = Some(PreferredRetry::failed(
        None,
        "1001",
        dnd,
        at(1),
        Some(5_000),
        why,
    ));
    first.preferred_mark = PreferredMark::Set {
        until: at(604_800_000),
    };
    store.put_speaking("alice", &first, 0).await.unwrap();
    assert_eq!(
        store.get_speaking("alice").await.unwrap(),
        Some(first.clone())
    );

    // Wrong expectation, or a revision that does not grow: refused, nothing written.
    assert_conflict(
        store
            .put_speaking("alice", &speaking(2, "x", None), 0)
            .await,
    );
    assert_conflict(
        store
            .put_speaking("alice", &speaking(3, "x", None), 2)
            .await,
    );
    assert_conflict(
        store
            .put_speaking("alice", &speaking(1, "x", None), 1)
            .await,
    );
    assert_conflict(store.put_speaking("bob", &speaking(2, "x", None), 1).await);
    assert_eq!(store.get_speaking("alice").await.unwrap(), Some(first));
    assert_eq!(store.get_speaking("bob").await.unwrap(), None);

    let mut second = speaking(2, "call-2", None);
    second.preferred_mark = PreferredMark::NotSet;
    store.put_speaking("alice", &second, 1).await.unwrap();
    assert_eq!(store.get_speaking("alice").await.unwrap(), Some(second));
    assert!(
        store
            .put_speaking("", &speaking(1, "x", None), 0)
            .await
            .is_err()
    );
}

pub async fn due_speaking_is_earliest_first_and_follows_updates<S: Store + 'static>(store: Arc<S>) {
    store
        .put_speaking("u3", &speaking(1, "c", Some(300)), 0)
        .await
        .unwrap();
    store
        .put_speaking("u1", &speaking(1, "c", Some(100)), 0)
        .await
        .unwrap();
    store
        .put_speaking("u2", &speaking(1, "c", Some(200)), 0)
        .await
        .unwrap();
    store
        .put_speaking("idle", &speaking(1, "c", None), 0)
        .await
        .unwrap();
    store
        .put_speaking("later", &speaking(1, "c", Some(10_000)), 0)
        .await
        .unwrap();

    let ids = |v: Vec<(String, SpeakingState)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.due_speaking(at(300), 10).await.unwrap()),
        ["u1", "u2", "u3"]
    );
    assert_eq!(
        ids(store.due_speaking(at(250), 10).await.unwrap()),
        ["u1", "u2"]
    );
    assert_eq!(
        ids(store.due_speaking(at(300), 2).await.unwrap()),
        ["u1", "u2"]
    );
    assert!(store.due_speaking(at(300), 0).await.unwrap().is_empty());
    assert!(store.due_speaking(at(99), 10).await.unwrap().is_empty());
    assert!(store.due_speaking(at(-T0), 10).await.unwrap().is_empty());

    // The state comes back whole, and a write moves the user in (or out of) the index.
    let due = store.due_speaking(at(100), 10).await.unwrap();
    assert_eq!(due, vec![("u1".to_string(), speaking(1, "c", Some(100)))]);
    store
        .put_speaking("u1", &speaking(2, "c", None), 1)
        .await
        .unwrap();
    store
        .put_speaking("u2", &speaking(2, "c", Some(50_000)), 1)
        .await
        .unwrap();
    assert_eq!(
        ids(store.due_speaking(at(20_000), 10).await.unwrap()),
        ["u3", "later"]
    );
}

pub async fn concurrent_speaking_writers_have_one_winner<S: Store + 'static>(store: Arc<S>) {
    store
        .put_speaking("alice", &speaking(1, "c0", None), 0)
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .put_speaking("alice", &speaking(2, &format!("c{i}"), None), 1)
                .await
                .is_ok()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    assert_eq!(
        store.get_speaking("alice").await.unwrap().unwrap().revision,
        2
    );
}
