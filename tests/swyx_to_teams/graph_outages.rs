//! Graph throttled or down while calls start and end: waited out, or left for maintenance.

use super::harness::*;
use super::{ALICE, BOB};
use presence_bridge::domain::Timestamp;
use presence_bridge::store::prelude::*;
use std::time::Duration;

#[tokio::test]
async fn a_short_retry_after_is_waited_out_within_the_request() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    h.link(BOB, "1002").await;
    h.graph.set_throttle(Some(1));
    let call = h.swyx.start_call("1002").await.unwrap();
    assert!(h.in_a_call(BOB));
    // The window frees within a second: the bridge waits for Retry-After and succeeds.
    h.clock.advance(Duration::from_millis(29_500));
    h.swyx.start_call("1001").await.unwrap();
    assert!(h.in_a_call(ALICE));
    assert!(h.graph.stats().throttled_429 >= 1);
    h.graph.set_throttle(None);
    h.swyx.end_call("1002", &call).await.unwrap();
}

#[tokio::test]
async fn a_429_storm_leaves_it_pending_until_maintenance_finds_graph_back() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    h.graph.set_throttle(Some(0));
    let started = std::time::Instant::now();
    h.swyx.start_call("1001").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered within the budget"
    );
    assert_eq!(h.swyx.events_log()[0].status, Some(200));
    assert!(h.graph.app_sessions(ALICE).is_empty());
    let st = h.store.get_speaking(ALICE).await.unwrap().unwrap();
    let retry = st.retry.expect("pending for maintenance");
    assert!(retry.last_error.unwrap_or_default().contains("429"));

    // Maintenance before the retry time does nothing; after it, with Graph back, sets.
    assert_eq!(h.maintenance().await.speaking.synced, 0);
    h.graph.set_throttle(None);
    h.clock.advance(Duration::from_secs(31));
    let summary = h.maintenance().await;
    assert_eq!(summary.speaking.synced, 1, "{summary:?}");
    assert!(h.in_a_call(ALICE));
}

#[tokio::test]
async fn a_call_ended_during_an_outage_is_cleared_when_graph_is_back() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let call = h.swyx.start_call("1001").await.unwrap();
    assert!(h.in_a_call(ALICE));
    h.graph.set_outage(true);
    h.swyx.end_call("1001", &call).await.unwrap();
    assert!(h.in_a_call(ALICE), "Graph is down: still set");
    h.clock.advance(Duration::from_secs(10));
    assert_eq!(h.maintenance().await.speaking.still_pending, 1);
    h.graph.set_outage(false);
    h.clock.advance(MIN);
    let summary = h.maintenance().await;
    assert_eq!(summary.speaking.synced, 1, "{summary:?}");
    assert!(h.graph.app_sessions(ALICE).is_empty());
    // Once the echo window is over, the read-back of Teams is the last thing left (here nothing
    // reads presence: no sync account), and then nothing is.
    h.clock.advance(Duration::from_millis(
        presence_bridge::domain::ECHO_WINDOW_MS as u64,
    ));
    h.maintenance().await;
    assert!(
        h.store
            .due_speaking(Timestamp(i64::MAX), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Graph throttles per app: after one 429 with Retry-After 30 s, nothing of the app goes to Graph
/// for those 30 s (not the other users' keep-alives, not a call that ends meanwhile, not the
/// maintenance passes every 10 s); after them, everything left goes out.
#[tokio::test]
async fn one_429_holds_every_graph_request_of_the_app_for_its_retry_after() {
    const USERS: usize = 50;
    let h = Harness::start().await;
    let entra = |i: usize| format!("00000000-0000-0000-0000-{i:012}");
    let mut calls = Vec::new();
    for i in 0..USERS {
        let swyx = format!("{}", 2000 + i);
        h.link(&entra(i), &swyx).await;
        calls.push((swyx.clone(), h.swyx.start_call(&swyx).await.unwrap()));
    }
    assert!((0..USERS).all(|i| h.in_a_call(&entra(i))));
    // Every session is past half its life: 50 keep-alives are due.
    h.clock.advance(3 * MIN);
    h.graph.set_throttle_storm(Some(Duration::from_secs(30)));
    let before = h.graph.stats().graph_requests();

    let summary = h.maintenance().await;
    assert!(summary.speaking.throttled, "{summary:?}");
    assert_eq!(summary.speaking.synced, 0, "{summary:?}");
    assert_eq!(
        h.graph.stats().graph_requests(),
        before + 1,
        "one 429, then no other"
    );
    // Within the 30 s: a call ends (its event is answered, the clear kept for later) and
    // maintenance runs every 10 s. Graph sees none of it.
    let (swyx, call) = &calls[USERS - 1];
    h.swyx.end_call(swyx, call).await.unwrap();
    assert_eq!(h.swyx.events_log().last().unwrap().status, Some(200));
    for _ in 0..2 {
        h.clock.advance(Duration::from_secs(10));
        assert!(h.maintenance().await.speaking.throttled);
    }
    // 3 s before the end (the sandbox's clock also runs with real time): no request's budget
    // (1.5 s) reaches past the hold yet.
    h.clock.advance(Duration::from_secs(7));
    assert!(h.maintenance().await.speaking.throttled);
    assert_eq!(h.graph.stats().graph_requests(), before + 1);

    // Retry-After has passed (Graph no longer throttles): every keep-alive and the clear go out.
    h.graph.set_throttle_storm(None);
    h.clock.advance(Duration::from_secs(3));
    let summary = h.maintenance().await;
    assert!(!summary.speaking.throttled, "{summary:?}");
    assert_eq!(summary.speaking.synced, USERS, "{summary:?}");
    assert_eq!(h.graph.stats().graph_requests(), before + 1 + USERS as u64);
    assert!((0..USERS - 1).all(|i| h.in_a_call(&entra(i))));
    assert!(h.graph.app_sessions(&entra(USERS - 1)).is_empty());
}
