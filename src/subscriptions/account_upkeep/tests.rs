//! One account's upkeep against `FakeGraph`'s `/subscriptions` switched to answer as a test
//! needs: a 409 whose message does not name the subscription, and creates refused with 403.

use crate::config::{SecretRef, SubscriptionsConfig};
use crate::fakes::{FakeConnector, FakeGraph, FakeLogin, GraphCall, HeldSubscription};
use crate::fakes::{ManualClock, app};
use crate::store::{AccountStore, MemoryStore, UserLink, UserLinkStore};
use crate::subscriptions::sync_accounts::{SyncAccounts, enroll};
use crate::subscriptions::upkeep::maintain;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const URL: &str = "https://bridge.example/graph/notifications";
const MIN: Duration = Duration::from_secs(60);

fn create_for_alice() -> GraphCall {
    GraphCall::Create {
        users: vec!["alice".into()],
    }
}

/// Alice linked, one sync account, on `graph`.
async fn bridge(
    graph: &Arc<FakeGraph>,
    clock: &ManualClock,
) -> (crate::app::App, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    store
        .put_user(&UserLink {
            entra_id: "alice".into(),
            swyx_user_id: "swyx-1".into(),
            email: "alice@contoso.example".into(),
            groups: Vec::new(),
        })
        .await
        .unwrap();
    let sealer = crate::graph::sealed::TokenSealer::from_key_text(
        &crate::graph::sealed::TokenSealer::generate_key_text(),
    )
    .unwrap();
    enroll(
        store.as_ref(),
        &sealer,
        "sync1",
        "refresh-1",
        clock.clock().now(),
    )
    .await
    .unwrap();
    let settings = SubscriptionsConfig {
        notification_url: URL.into(),
        lifecycle_url: URL.into(),
        certificate: SecretRef::Inline(String::new()),
        certificate_id: "cert-1".into(),
        renew_margin: Duration::from_secs(20 * 60),
        reconcile_interval: Duration::from_secs(24 * 3600),
        users_per_account: 650,
    };
    let mut app = app(
        Arc::clone(&store),
        Arc::new(FakeConnector::default()),
        clock.clock(),
    );
    app.accounts = Some(Arc::new(SyncAccounts::new(
        settings,
        String::new(),
        sealer,
        Arc::new(FakeLogin),
        graph.clone(),
        // Presence reads go to a fake of their own: `graph.calls()` holds subscription calls only.
        Arc::new(FakeGraph::default()),
        clock.clock(),
    )));
    (app, store)
}

/// A subscription of this account that the store does not know (a restored backup, a lost
/// write) and a 409 that says only "Conflict": it is found by listing and replaced by one the
/// bridge knows, and the next run has nothing left to fix.
#[tokio::test]
async fn a_409_that_names_no_subscription_is_resolved_by_listing() {
    let clock = ManualClock::default();
    let graph = Arc::new(FakeGraph::default());
    graph.unnamed_conflicts.store(true, Ordering::SeqCst);
    graph.hold(HeldSubscription {
        id: "unknown-to-the-store".into(),
        client_state: "someone else's".into(),
        users: vec!["alice".into()],
        notification_url: URL.into(),
        expires_at: clock.clock().now().plus_millis(50 * 60_000),
    });
    let (app, store) = bridge(&graph, &clock).await;

    let run = maintain(&app, MIN).await.unwrap();
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(run.adopted, 1, "{run:?}");
    let foreign = "unknown-to-the-store".to_string();
    assert_eq!(
        graph.calls(),
        [
            create_for_alice(),
            GraphCall::List,
            GraphCall::Get {
                id: foreign.clone()
            },
            GraphCall::Delete { id: foreign },
            create_for_alice(),
        ]
    );
    let held = graph.held_ids();
    assert_eq!(held.len(), 1, "the foreign one replaced: {held:?}");
    let account = store.get_account("sync1").await.unwrap().unwrap();
    assert_eq!(account.subscription_id.as_ref(), held.first());
    assert_eq!(account.last_error, None);

    clock.advance(MIN);
    let before = graph.calls().len();
    let run = maintain(&app, MIN).await.unwrap();
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(graph.calls().len(), before, "no further create, no 409");
}

/// Creates refused 403 are tried again 1, 2, 4, 8 minutes apart (maintenance runs every
/// minute), the account says when the next try is, and a success ends the wait.
#[tokio::test]
async fn creates_refused_403_are_tried_ever_less_often_until_one_succeeds() {
    let clock = ManualClock::default();
    let graph = Arc::new(FakeGraph::default());
    graph.forbid_subscriptions.store(true, Ordering::SeqCst);
    let (app, store) = bridge(&graph, &clock).await;

    let creates = || {
        let calls = graph.calls();
        calls
            .iter()
            .filter(|c| matches!(c, GraphCall::Create { .. }))
            .count()
    };
    // The minute of every create tried.
    let mut tried = Vec::new();
    for minute in 0..16 {
        if minute > 0 {
            clock.advance(MIN);
        }
        let before = creates();
        let run = maintain(&app, MIN).await.unwrap();
        assert_eq!(run.failed_accounts, ["sync1"], "minute {minute}");
        tried.extend(std::iter::repeat_n(minute, creates() - before));
    }
    assert_eq!(tried, [0, 1, 3, 7, 15], "1, 2, 4, 8 minutes apart");
    let account = store.get_account("sync1").await.unwrap().unwrap();
    let shown = account.last_error.unwrap_or_default();
    assert!(
        shown.contains("403") && shown.contains("next Graph call not before"),
        "{shown}"
    );

    graph.forbid_subscriptions.store(false, Ordering::SeqCst);
    clock.advance(16 * MIN);
    let run = maintain(&app, MIN).await.unwrap();
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(run.created, 1, "{run:?}");
    let account = store.get_account("sync1").await.unwrap().unwrap();
    assert_eq!((account.graph_backoff, account.last_error), (None, None));
}
