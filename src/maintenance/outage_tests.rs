//! Maintenance as the second witness of a store outage (`teams_to_swyx::store_refusals`): a
//! collection refused by one webhook is read back by the first pass after the store's return.

use super::tests::{LIFECYCLE_STATE, alices_sync_account, store_with_alice};
use super::*;
use crate::domain::{SwyxAction, SwyxStatus, TeamsPresence, UserSyncState};
use crate::fakes::{FakeConnector, FakeGraph, GraphCall, app, tokio_clock};
use crate::store::{MemoryStore, SyncStateStore};
use std::sync::Arc;

/// Alice linked and covered by one sync account that reconciled just now (the next scheduled
/// reconciliation is 15 minutes away), its subscription good for most of an hour; Teams shows
/// her Available, as Swyx does. No Swyx → Teams.
async fn reconciled_bridge(
    store: &Arc<MemoryStore>,
    graph: &Arc<FakeGraph>,
    connector: &Arc<FakeConnector>,
) -> App {
    let clock = tokio_clock();
    let now = clock.now();
    let accounts = alices_sync_account(store, graph, &clock, 50 * 60_000, false).await;
    let available = UserSyncState {
        revision: 1,
        last_received_at: Some(now),
        last_presence: Some(TeamsPresence::new("Available", "Available")),
        teams_status: Some(SwyxStatus::Available),
        ..Default::default()
    };
    store.put_sync_state("alice", &available, 0).await.unwrap();
    graph.show("alice", "Available", "Available");
    let mut app = app(store.clone(), connector.clone(), clock);
    app.accounts = Some(accounts);
    app
}

/// Graph posts one lifecycle notification for the account's subscription to `webhook`: the
/// intake reads the subscriptions and stores the request, or answers 503 when it cannot. (It
/// stands for any collection: a presence change is refused alike, at the same read.)
async fn graph_posts(webhook: &Arc<App>, event: &str) -> http::StatusCode {
    let body = serde_json::json!({ "value": [{
        "subscriptionId": "sub-1",
        "clientState": LIFECYCLE_STATE,
        "tenantId": "tenant",
        "lifecycleEvent": event,
    }]});
    let req = http::Request::builder()
        .method("POST")
        .uri("/graph/lifecycle")
        .body(bytes::Bytes::from(body.to_string()))
        .unwrap();
    crate::teams_to_swyx::intake::handle(webhook, req)
        .await
        .status()
}

/// What the connector was sent for Alice, in order.
fn alice_in_swyx(connector: &FakeConnector) -> Vec<SwyxAction> {
    let sent = connector.received();
    sent.into_iter()
        .filter(|u| u.swyx_user_id == "swyx-1")
        .map(|u| u.action)
        .collect()
}

fn presence_reads(graph: &FakeGraph) -> usize {
    let read = |c: &GraphCall| matches!(c, GraphCall::Read { .. });
    graph.calls().iter().filter(|c| read(c)).count()
}

#[tokio::test(start_paused = true)]
async fn a_change_one_webhook_refused_reaches_swyx_at_the_first_pass_after_the_outage() {
    let graph = Arc::new(FakeGraph::default());
    let store = store_with_alice().await;
    // Three function instances over one table, as on Lambda: maintenance and two webhooks.
    let connector = Arc::new(FakeConnector::default());
    let maintenance = reconciled_bridge(&store, &graph, &connector).await;
    let webhook = || {
        let app = app(store.clone(), connector.clone(), maintenance.clock.clone());
        Arc::new(app)
    };
    let (refusing, next) = (webhook(), webhook());
    let budget = Duration::from_secs(40);
    let summary = run(&maintenance, budget).await;
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(
        presence_reads(&graph),
        0,
        "nothing asked for a reconciliation"
    );

    // The store goes down; meanwhile Alice turns Away in Teams: the webhook Graph tells is
    // refused (Graph retries much later), and maintenance meets the outage too.
    store.set_unavailable(true);
    graph.show("alice", "Away", "Away");
    assert_eq!(graph_posts(&refusing, "reauthorizationRequired").await, 503);
    let summary = run(&maintenance, budget).await;
    assert!(summary.store_outage, "{summary:?}");

    // The store is back. Another webhook instance stores the next collection: it knows of no
    // refusal, and the instance that refused gets nothing more (frozen, or reclaimed).
    store.set_unavailable(false);
    assert_eq!(graph_posts(&next, "reauthorizationRequired").await, 202);
    assert!(alice_in_swyx(&connector).is_empty());

    // The next pass reads Teams back: Alice is Away in Swyx, not an hour later.
    let summary = run(&maintenance, budget).await;
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.subscriptions.reconciled_users, 1, "{summary:?}");
    assert_eq!(
        alice_in_swyx(&connector),
        [SwyxAction::Set(SwyxStatus::Away)]
    );
    // Once per outage: the pass after reads nothing.
    let reads = presence_reads(&graph);
    run(&maintenance, budget).await;
    assert_eq!(presence_reads(&graph), reads);
}

#[tokio::test(start_paused = true)]
async fn in_one_process_a_refused_change_is_read_back_by_the_next_pass_without_another_collection()
{
    let graph = Arc::new(FakeGraph::default());
    let store = store_with_alice().await;
    let connector = Arc::new(FakeConnector::default());
    // `serve`: the webhook and maintenance are one app.
    let bridge = Arc::new(reconciled_bridge(&store, &graph, &connector).await);
    // A blip between two passes: only the webhook meets it.
    store.set_unavailable(true);
    graph.show("alice", "Away", "Away");
    assert_eq!(graph_posts(&bridge, "reauthorizationRequired").await, 503);
    store.set_unavailable(false);

    // No collection comes after it (Graph backs off); the next pass reads Teams back.
    let summary = run(&bridge, Duration::from_secs(40)).await;
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.subscriptions.reconciled_users, 1, "{summary:?}");
    assert_eq!(
        alice_in_swyx(&connector),
        [SwyxAction::Set(SwyxStatus::Away)]
    );
}
