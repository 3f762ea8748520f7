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
