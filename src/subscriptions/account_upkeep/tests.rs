//! One account's upkeep against a small stand-in for Graph's `/subscriptions` (one presence
//! subscription per delegated user, 409 on a second) whose answers a test sets: a 409 whose
//! message does not name the subscription, and creates refused with 403.

use crate::config::{SecretRef, SubscriptionsConfig};
use crate::domain::Timestamp;
use crate::fakes::{FakeConnector, FakeGraph, FakeLogin, ManualClock, app, lock};
use crate::graph::client::GraphError;
use crate::graph::subscriptions::{ListedSubscription, NewSubscription, SubscriptionInfo};
use crate::store::{AccountStore, MemoryStore, UserLink, UserLinkStore};
use crate::subscriptions::ports::SubscriptionApi;
use crate::subscriptions::sync_accounts::{SyncAccounts, enroll};
use crate::subscriptions::upkeep::maintain;
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const URL: &str = "https://bridge.example/graph/notifications";
const MIN: Duration = Duration::from_secs(60);

struct Sub {
    id: String,
    client_state: String,
    users: Vec<String>,
    url: String,
    expires_at: Timestamp,
}

/// Graph's subscriptions of one delegated user: a second create is refused 409 with
/// `conflict_message`; while `forbid_writes` is set, creates and renewals are refused 403.
struct OneUserGraph {
    subs: Mutex<Vec<Sub>>,
    conflict_message: String,
    forbid_writes: AtomicBool,
    clock: ManualClock,
    /// (minutes since the start, call)
    calls: Mutex<Vec<(i64, String)>>,
}

impl OneUserGraph {
    fn new(clock: &ManualClock, conflict_message: &str) -> Self {
        Self {
            subs: Mutex::new(Vec::new()),
            conflict_message: conflict_message.into(),
            forbid_writes: AtomicBool::new(false),
            clock: clock.clone(),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, call: String) {
        let minutes = (self.clock.clock().now().millis() - crate::fakes::T0) / 60_000;
        lock(&self.calls).push((minutes, call));
    }

    fn calls(&self) -> Vec<String> {
        lock(&self.calls).iter().map(|(_, c)| c.clone()).collect()
    }

    fn listed(s: &Sub) -> ListedSubscription {
        ListedSubscription {
            info: SubscriptionInfo {
                id: s.id.clone(),
                expires_at: s.expires_at,
                encryption_certificate_id: Some("cert-1".into()),
            },
            client_state: Some(s.client_state.clone()),
            user_ids: Some(s.users.clone()),
            notification_url: Some(s.url.clone()),
        }
    }

    fn forbidden() -> GraphError {
        GraphError::Refused {
            status: 403,
            message: "Forbidden: the request is not authorized for this user or application".into(),
        }
    }
}

#[async_trait]
impl SubscriptionApi for OneUserGraph {
    async fn create_subscription(
        &self,
        _token: &str,
        sub: &NewSubscription<'_>,
        _budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        self.record("create".into());
        if self.forbid_writes.load(Ordering::SeqCst) {
            return Err(Self::forbidden());
        }
        let mut subs = lock(&self.subs);
        if !subs.is_empty() {
            return Err(GraphError::Refused {
                status: 409,
                message: self.conflict_message.clone(),
            });
        }
        let id = format!("made-{}", self.calls().len());
        subs.push(Sub {
            id: id.clone(),
            client_state: sub.client_state.into(),
            users: sub.user_ids.to_vec(),
            url: sub.notification_url.into(),
            expires_at: sub.expires_at,
        });
        Ok(SubscriptionInfo {
            id,
            expires_at: sub.expires_at,
            encryption_certificate_id: Some(sub.certificate_id.into()),
        })
    }

    async fn renew_subscription(
        &self,
        _token: &str,
        id: &str,
        expires_at: Timestamp,
        _certificate: Option<(&str, &str)>,
        _budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        self.record(format!("renew {id}"));
        if self.forbid_writes.load(Ordering::SeqCst) {
            return Err(Self::forbidden());
        }
        let mut subs = lock(&self.subs);
        let s = subs
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(GraphError::Refused {
                status: 404,
                message: "not found".into(),
            })?;
        s.expires_at = expires_at;
        Ok(Self::listed(s).info)
    }

    async fn delete_subscription(
        &self,
        _token: &str,
        id: &str,
        _budget: Duration,
    ) -> Result<(), GraphError> {
        self.record(format!("delete {id}"));
        lock(&self.subs).retain(|s| s.id != id);
        Ok(())
    }

    async fn list_subscriptions(
        &self,
        _token: &str,
        _budget: Duration,
    ) -> Result<Vec<ListedSubscription>, GraphError> {
        self.record("list".into());
        Ok(lock(&self.subs).iter().map(Self::listed).collect())
    }

    async fn get_subscription(
        &self,
        _token: &str,
        id: &str,
        _budget: Duration,
    ) -> Result<ListedSubscription, GraphError> {
        self.record(format!("get {id}"));
        lock(&self.subs)
            .iter()
            .find(|s| s.id == id)
            .map(Self::listed)
            .ok_or(GraphError::Refused {
                status: 404,
                message: "not found".into(),
            })
    }
}

/// Alice linked, one sync account, on `graph`.
async fn bridge(
    graph: &Arc<OneUserGraph>,
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
    let graph = Arc::new(OneUserGraph::new(&clock, "Conflict"));
    lock(&graph.subs).push(Sub {
        id: "unknown-to-the-store".into(),
        client_state: "someone else's".into(),
        users: vec!["alice".into()],
        url: URL.into(),
        expires_at: clock.clock().now().plus_millis(50 * 60_000),
    });
    let (app, store) = bridge(&graph, &clock).await;

    let run = maintain(&app, MIN).await.unwrap();
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(run.adopted, 1, "{run:?}");
    assert_eq!(
        graph.calls(),
        [
            "create",
            "list",
            "get unknown-to-the-store",
            "delete unknown-to-the-store",
            "create"
        ]
    );
    let subs = lock(&graph.subs)
        .iter()
        .map(|s| s.id.clone())
        .collect::<Vec<_>>();
    let account = store.get_account("sync1").await.unwrap().unwrap();
    assert_eq!(account.subscription_id.as_ref(), subs.first());
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
    let graph = Arc::new(OneUserGraph::new(&clock, "Conflict"));
    graph.forbid_writes.store(true, Ordering::SeqCst);
    let (app, store) = bridge(&graph, &clock).await;

    for minute in 0..16 {
        if minute > 0 {
            clock.advance(MIN);
        }
        let run = maintain(&app, MIN).await.unwrap();
        assert_eq!(run.failed_accounts, ["sync1"], "minute {minute}");
    }
    let tried: Vec<i64> = lock(&graph.calls)
        .iter()
        .filter(|(_, call)| call == "create")
        .map(|(m, _)| *m)
        .collect();
    assert_eq!(tried, [0, 1, 3, 7, 15], "1, 2, 4, 8 minutes apart");
    let account = store.get_account("sync1").await.unwrap().unwrap();
    let shown = account.last_error.unwrap_or_default();
    assert!(
        shown.contains("403") && shown.contains("next Graph call not before"),
        "{shown}"
    );

    graph.forbid_writes.store(false, Ordering::SeqCst);
    clock.advance(16 * MIN);
    let run = maintain(&app, MIN).await.unwrap();
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(run.created, 1, "{run:?}");
    let account = store.get_account("sync1").await.unwrap().unwrap();
    assert_eq!((account.graph_backoff, account.last_error), (None, None));
}
