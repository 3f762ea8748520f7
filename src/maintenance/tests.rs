//! One maintenance pass as the parts share it: budgets, and what each part leaves the others.

use super::*;
use crate::config::{SecretRef, SubscriptionsConfig};
use crate::domain::{CallEvent, SpeakingSettings, SpeakingState, SwyxAction, SwyxUpdate};
use crate::domain::{ECHO_WINDOW_MS, GraphOp, GraphOutcome, TeamsPresence, UserSyncState};
use crate::domain::{HeldStatus, PresenceValue, SwyxStatus};
use crate::fakes::{FakeConnector, FakeGraph, FakeLogin, GraphCall, app, tokio_clock};
use crate::graph::sealed::TokenSealer;
use crate::store::{
    AccountStore, MemoryStore, PendingDelivery, PendingStore, SpeakingStore, SubscriptionRecord,
    SubscriptionStore, SyncStateStore, UserLink, UserLinkStore,
};
use crate::subscriptions::sync_accounts::{SyncAccounts, enroll};
use crate::swyx::signature::Verifier;
use crate::swyx_to_teams::session::SwyxToTeams;
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[test]
fn shares_carry_unused_time_forward_and_never_exceed_the_run() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut b = Budget::new(Duration::from_secs(40));
        assert_eq!(b.next(50), Duration::from_secs(20));
        // The first part used 5 s: the second gets its own share and the 15 s left over.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.next(25), Duration::from_secs(25));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(
            b.next(25),
            Duration::from_secs(5),
            "only what is left of the run"
        );
    });
    assert_eq!(SHARES_PERCENT.iter().sum::<u32>(), 100);
}

/// One sync account whose subscription expires in two minutes, 40 users in Swyx calls while
/// Graph times out on every presence session call, and one Swyx update waiting.
async fn busy_bridge(graph: &Arc<FakeGraph>) -> (App, Arc<FakeConnector>) {
    let (app, connector, store) = alice_and_her_sync_account(graph).await;
    let now = app.clock.now();
    let speaking = SpeakingSettings::default();
    for i in 0..40 {
        let mut state = SpeakingState::default()
            .apply_event(CallEvent::Started, "call", now, now, &speaking)
            .unwrap();
        state.due_at = Some(now);
        store
            .put_speaking(&format!("caller-{i:02}"), &state, 0)
            .await
            .unwrap();
    }
    let update = SwyxUpdate {
        swyx_user_id: "swyx-1".into(),
        entra_id: "alice".into(),
        action: SwyxAction::Set(SwyxStatus::Away),
        revision: 7,
        availability: PresenceValue::new("Away"),
        activity: PresenceValue::new("Away"),
        out_of_office: false,
        observed_at: now,
    };
    let waiting = PendingDelivery {
        update,
        attempts: 1,
        next_attempt_at: now,
        last_error: None,
        rejected: false,
        not_before: None,
    };
    store.put_pending(&waiting).await.unwrap();
    (app, connector)
}

/// Alice linked and covered by one sync account, reconciled just now (every 15 minutes), whose
/// subscription expires in two minutes.
async fn alice_and_her_sync_account(
    graph: &Arc<FakeGraph>,
) -> (App, Arc<FakeConnector>, Arc<MemoryStore>) {
    let clock = tokio_clock();
    let store = store_with_alice().await;
    let connector = Arc::new(FakeConnector::default());
    let accounts = alices_sync_account(&store, graph, &clock, 2 * 60_000, true).await;
    let mut app = app(store.clone(), Arc::clone(&connector), clock.clone());
    app.swyx_to_teams = Some(Arc::new(SwyxToTeams {
        graph: graph.clone(),
        verifier: Verifier::new(Vec::new(), Duration::from_secs(300)),
        settings: SpeakingSettings::default(),
        request_budget: Duration::from_millis(1_500),
        clock: clock.clone(),
    }));
    app.accounts = Some(accounts);
    (app, connector, store)
}

/// Sync account `sync1`, enrolled for Alice and covering her, reconciled now (every 15 minutes;
/// `asked`: whether it still asks for a reconciliation), its subscription `sub-1` expiring
/// `expires_in_ms` from now.
pub(super) async fn alices_sync_account(
    store: &Arc<MemoryStore>,
    graph: &Arc<FakeGraph>,
    clock: &crate::domain::Clock,
    expires_in_ms: i64,
    asked: bool,
) -> Arc<SyncAccounts> {
    let now = clock.now();
    let sealer = TokenSealer::from_key_text(&TokenSealer::generate_key_text()).unwrap();
    let mut account = enroll(store.as_ref(), &sealer, "sync1", "refresh-1", now)
        .await
        .unwrap();
    let expected = account.version;
    account.version += 1;
    account.assigned = vec!["alice".into()];
    account.covered = vec!["alice".into()];
    account.subscription_id = Some("sub-1".into());
    account.reconciled_at = Some(now);
    account.reconcile_requested = asked;
    store.put_account(&account, expected).await.unwrap();
    store
        .put_subscription(&SubscriptionRecord {
            id: "sub-1".into(),
            client_state: LIFECYCLE_STATE.into(),
            expires_at: now.plus_millis(expires_in_ms),
            account: Some("sync1".into()),
            resource: "/communications/presences".into(),
            encryption_certificate_id: Some("cert-1".into()),
            renewed_at: None,
        })
        .await
        .unwrap();
    let settings = SubscriptionsConfig {
        notification_url: "https://bridge.example/graph/notifications".into(),
        lifecycle_url: "https://bridge.example/graph/lifecycle".into(),
        certificate: SecretRef::Inline(String::new()),
        certificate_id: "cert-1".into(),
        renew_margin: Duration::from_secs(10 * 60),
        reconcile_interval: Duration::from_secs(15 * 60),
        users_per_account: 650,
    };
    Arc::new(SyncAccounts::new(
        settings,
        String::new(),
        sealer,
        Arc::new(FakeLogin),
        graph.clone(),
        graph.clone(),
        clock.clone(),
    ))
}

pub(super) async fn store_with_alice() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let link = UserLink {
        entra_id: "alice".into(),
        swyx_user_id: "swyx-1".into(),
        email: String::new(),
        groups: Vec::new(),
    };
    store.put_user(&link).await.unwrap();
    store
}

/// Swaps the busy bridge's store for one that holds only Alice's link.
async fn alice_alone(app: &mut App) -> Arc<MemoryStore> {
    let store = store_with_alice().await;
    app.store = store.clone();
    store
}

#[tokio::test(start_paused = true)]
async fn a_teams_call_hidden_by_the_bridges_session_reaches_swyx_after_the_clear() {
    let graph = Arc::new(FakeGraph::default());
    let (mut app, connector) = busy_bridge(&graph).await;
    let store = alice_alone(&mut app).await;
    let now = app.clock.now();
    // Alice is Available on Swyx; during her Swyx call Teams showed Busy/InACall, taken as
    // the bridge's own session; she also joined a Teams call meanwhile.
    let held = UserSyncState {
        revision: 1,
        last_received_at: Some(now),
        last_presence: Some(TeamsPresence::new("Busy", "InACall")),
        teams_status: Some(SwyxStatus::Available),
        echo_held: true,
        ..Default::default()
    };
    store.put_sync_state("alice", &held, 0).await.unwrap();
    let speaking = SpeakingSettings::default();
    let call = SpeakingState::default()
        .apply_event(CallEvent::Started, "c", now, now, &speaking)
        .unwrap()
        .after_graph(GraphOp::Set, &GraphOutcome::Done, now, &speaking);
    let cleared = call
        .apply_event(CallEvent::Ended, "c", now, now, &speaking)
        .unwrap()
        .after_graph(GraphOp::Clear, &GraphOutcome::Done, now, &speaking);
    store.put_speaking("alice", &cleared, 0).await.unwrap();
    graph.show("alice", "Busy", "InACall");

    // Within the echo window nothing is read: Teams may still show the cleared session.
    run(&app, Duration::from_secs(10)).await;
    assert!(connector.received().is_empty());
    assert!(!graph.calls().contains(&GraphCall::Read { users: 1 }));

    tokio::time::advance(Duration::from_millis(ECHO_WINDOW_MS as u64)).await;
    let summary = run(&app, Duration::from_secs(10)).await;
    assert_eq!(summary.read_back.repaired, 1, "{summary:?}");
    let sent = connector.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].action, SwyxAction::Set(SwyxStatus::Speaking));
    let state = store.get_speaking("alice").await.unwrap().unwrap();
    assert_eq!(state.due_at, None, "read back once, nothing left to do");
}

#[tokio::test(start_paused = true)]
async fn a_slow_graph_on_call_upkeep_leaves_renewal_and_redelivery_their_shares() {
    let graph = Arc::new(FakeGraph::default());
    graph.slow_sessions.store(true, Ordering::SeqCst);
    let (app, connector) = busy_bridge(&graph).await;
    let started = Instant::now();
    let budget = Duration::from_secs(40);

    let summary = run(&app, budget).await;

    assert!(started.elapsed() <= budget, "{:?}", started.elapsed());
    assert_eq!(summary.subscriptions.renewed, 1, "{summary:?}");
    let calls = graph.calls();
    assert_eq!(
        calls[0],
        GraphCall::Renew { id: "sub-1".into() },
        "renewal first"
    );
    let sub = app.store.get_subscription("sub-1").await.unwrap().unwrap();
    assert!(sub.expires_at > app.clock.now().plus_millis(50 * 60_000));
    // Call upkeep stopped at its share: 40 users × 1.5 s do not fit in 30 s.
    let tried = calls
        .iter()
        .filter(|c| !matches!(c, GraphCall::Renew { .. } | GraphCall::Read { .. }))
        .count();
    assert!((15..40).contains(&tried), "{tried} session calls");
    assert!(summary.speaking.budget_exhausted);
    assert_eq!(summary.speaking.still_pending, tried);
    // The waiting Swyx update still went out in the time left.
    assert_eq!(summary.pending.delivered, 1);
    assert_eq!(connector.received().len(), 1);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
}

#[tokio::test(start_paused = true)]
async fn a_lost_call_end_is_cleared_in_teams_by_the_next_run() {
    let graph = Arc::new(FakeGraph::default());
    let (mut app, connector) = busy_bridge(&graph).await;
    let store = alice_alone(&mut app).await;
    let now = app.clock.now();
    let speaking = SpeakingSettings::default();
    let in_call = SpeakingState::default()
        .apply_event(CallEvent::Started, "c1", now, now, &speaking)
        .unwrap()
        .after_graph(GraphOp::Set, &GraphOutcome::Done, now, &speaking);
    store.put_speaking("alice", &in_call, 0).await.unwrap();
    // The call ended in Swyx; the connector gave up on `speaking.ended`.
    connector.speaking("swyx-1", &[]);
    tokio::time::advance(Duration::from_secs(60)).await;

    let summary = run(&app, Duration::from_secs(10)).await;

    assert_eq!(summary.calls.ended, 1, "{summary:?}");
    let clear = GraphCall::ClearPresence {
        user: "alice".into(),
    };
    assert_eq!(graph.calls().iter().filter(|c| **c == clear).count(), 1);
    let state = store.get_speaking("alice").await.unwrap().unwrap();
    assert!(!state.is_speaking());
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
}

/// Alice's bridge a reconciliation after Teams showed her Away: Swyx holds Away, then loses it
/// (its connector restored from a backup), and the next reconciliation is due.
async fn swyx_lost_alices_away(graph: &Arc<FakeGraph>) -> (App, Arc<FakeConnector>) {
    let (app, connector, _) = alice_and_her_sync_account(graph).await;
    graph.show("alice", "Away", "Away");
    tokio::time::advance(Duration::from_secs(15 * 60)).await;
    let summary = run(&app, Duration::from_secs(10)).await;
    assert_eq!(summary.subscriptions.reconciled_users, 1, "{summary:?}");
    assert_eq!(summary.swyx_truth.compared, 1, "{summary:?}");
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    let sent = connector.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].action, SwyxAction::Set(SwyxStatus::Away));
    connector.hold(
        "swyx-1",
        HeldStatus {
            status: None,
            revision: 0,
        },
    );
    tokio::time::advance(Duration::from_secs(15 * 60)).await;
    (app, connector)
}

#[tokio::test(start_paused = true)]
async fn a_pass_cut_short_between_reconciliation_and_comparison_compares_swyx_at_the_next_pass() {
    let graph = Arc::new(FakeGraph::default());
    let (app, connector) = swyx_lost_alices_away(&graph).await;

    // The pass reconciles (and stores that it did), then dies before it compares Swyx: a
    // crash, a Lambda timeout. Teams still shows Away, so the reconciliation sends nothing.
    let cut_short = maintain(&app, Duration::from_secs(10)).await.unwrap();
    assert_eq!(cut_short.reconciled_users, 1, "{cut_short:?}");
    let account = app.store.get_account("sync1").await.unwrap().unwrap();
    assert_eq!(account.reconciled_at, Some(app.clock.now()));
    assert_eq!(connector.received().len(), 1, "nothing sent yet");

    // The next pass, a minute later, reconciles nothing but compares Swyx: Away is back.
    tokio::time::advance(Duration::from_secs(60)).await;
    let summary = run(&app, Duration::from_secs(10)).await;
    assert_eq!(summary.subscriptions.reconciled_users, 0, "{summary:?}");
    assert_eq!(
        (summary.swyx_truth.compared, summary.swyx_truth.repaired),
        (1, 1),
        "{summary:?}"
    );
    let sent = connector.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].action, SwyxAction::Set(SwyxStatus::Away));

    // Compared once: the pass after that leaves Swyx alone until the next reconciliation.
    tokio::time::advance(Duration::from_secs(60)).await;
    let summary = run(&app, Duration::from_secs(10)).await;
    assert_eq!(summary.swyx_truth, SwyxTruthSummary::default());
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
}

#[tokio::test(start_paused = true)]
async fn swyx_unreadable_after_a_reconciliation_is_compared_at_the_next_pass() {
    let graph = Arc::new(FakeGraph::default());
    let (app, connector) = swyx_lost_alices_away(&graph).await;

    connector.set_down(true);
    let summary = run(&app, Duration::from_secs(10)).await;
    assert_eq!(summary.subscriptions.reconciled_users, 1, "{summary:?}");
    assert!(summary.swyx_truth.unreadable, "{summary:?}");

    connector.set_down(false);
    tokio::time::advance(Duration::from_secs(60)).await;
    let summary = run(&app, Duration::from_secs(10)).await;
    assert_eq!(summary.subscriptions.reconciled_users, 0, "{summary:?}");
    assert_eq!(summary.swyx_truth.repaired, 1, "{summary:?}");
    let sent = connector.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].action, SwyxAction::Set(SwyxStatus::Away));
}

/// The `clientState` of the sync account's subscription (`alices_sync_account`).
pub(super) const LIFECYCLE_STATE: &str = "lifecycle-client-state";
