//! The Swyx → Teams latency in `/metrics`: every event that called Graph is timed, and only those.

use crate::support::scrape;

use super::{ALICE, harness::Harness};
use presence_bridge::metrics::SWYX_TO_TEAMS_LATENCY;

#[tokio::test]
async fn each_event_that_changed_teams_puts_one_sample_in_the_latency_histogram() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let metrics = format!("{}/metrics", h.base_url);
    assert_eq!(
        scrape::scrape(&metrics)
            .await
            .observations(SWYX_TO_TEAMS_LATENCY),
        0.0
    );

    // Two overlapping calls: the first start sets "In a call", the last end clears it; the
    // events in between change nothing in Teams.
    let first = h.swyx.start_call("1001").await.unwrap();
    let second = h.swyx.start_call("1001").await.unwrap();
    h.swyx.end_call("1001", &first).await.unwrap();
    h.swyx.end_call("1001", &second).await.unwrap();
    assert!(h.graph.app_sessions(ALICE).is_empty());

    let m = scrape::scrape(&metrics).await;
    let stats = h.graph.stats();
    assert_eq!(stats.set_presence_calls + stats.clear_presence_calls, 2);
    assert_eq!(m.observations(SWYX_TO_TEAMS_LATENCY), 2.0);
    assert!(m.sum(SWYX_TO_TEAMS_LATENCY) > 0.0);
}
