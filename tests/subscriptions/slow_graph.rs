//! A slow Graph: subscription creates answered seconds late (Graph validates both notification
//! URLs, allowing each 10 s, before it answers) and a run cut short while Graph is still
//! answering. Each ends with exactly one working subscription, made once and never deleted.

use super::subscriptions_harness::*;
use presence_bridge::subscriptions::upkeep::maintain;
use std::time::Duration;

fn requests(b: &Bridge, method_and_path: &str) -> u64 {
    b.sandbox
        .graph
        .stats()
        .requests_by_route
        .iter()
        .filter(|(route, _)| route.starts_with(method_and_path))
        .map(|(_, n)| *n)
        .sum()
}

/// One subscription in Graph, created once, none deleted; a presence change arrives through it.
async fn assert_one_working_subscription(b: &Bridge) {
    assert_eq!(b.sandbox.graph.subscriptions().len(), 1);
    assert_eq!(requests(b, "POST /v1.0/subscriptions"), 1, "created once");
    assert_eq!(requests(b, "DELETE"), 0, "nothing deleted");
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    assert_eq!(account.last_error, None);
    assert_eq!(
        account.subscription_id.as_deref(),
        Some(b.sandbox.graph.subscriptions()[0].id.as_str())
    );
    let before = b.delivered();
    b.set_presence(3, "DoNotDisturb", "DoNotDisturb");
    b.wait_delivered(before, 1).await;
    b.assert_all_consistent();
}

async fn a_create_answered_late_is_waited_for(late: Duration) {
    let b = Bridge::start(Options {
        users: 20,
        ..Options::default()
    })
    .await;
    b.vary_presence();
    b.add_accounts(1).await;
    b.slow_creates(late);

    let run = b.maintain().await;
    assert_eq!((run.created, run.adopted), (1, 0), "{run:?}");
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_one_working_subscription(&b).await;

    // Later runs renew it; nothing is made again.
    b.advance(40 * MIN);
    let run = b.maintain().await;
    assert_eq!(
        (run.renewed, run.created, run.recreated),
        (1, 0, 0),
        "{run:?}"
    );
    assert_eq!(requests(&b, "POST /v1.0/subscriptions"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_three_seconds_late_makes_one_subscription() {
    a_create_answered_late_is_waited_for(Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_twelve_seconds_late_makes_one_subscription() {
    a_create_answered_late_is_waited_for(Duration::from_secs(12)).await;
}

/// The run's budget ends while Graph has made the subscription but not answered yet (a Lambda
/// about to time out): the next run adopts it by the clientState it sent, instead of deleting
/// it and making another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cut_short_by_the_run_budget_is_adopted_by_the_next_run() {
    let b = Bridge::start(Options {
        users: 20,
        ..Options::default()
    })
    .await;
    b.vary_presence();
    b.add_accounts(1).await;
    b.slow_creates(Duration::from_secs(3));

    let cut = maintain(&b.app, Duration::from_secs(1)).await.unwrap();
    assert_eq!(cut.created, 0, "{cut:?}");
    assert_eq!(cut.failed_accounts.len(), 1, "{cut:?}");
    let account = b.store.get_account("sync01").await.unwrap().unwrap();
    let error = account.last_error.unwrap_or_default();
    assert!(error.contains("may have taken effect"), "{error}");
    assert_eq!(b.sandbox.graph.subscriptions().len(), 1, "Graph made it");

    let run = b.maintain().await;
    assert_eq!(
        (run.adopted, run.created, run.recreated),
        (1, 0, 0),
        "{run:?}"
    );
    assert!(run.failed_accounts.is_empty(), "{run:?}");
    assert_eq!(run.reconciled_users, 20, "changes in the gap are read back");
    assert_one_working_subscription(&b).await;
}
