//! Swyx → Teams in `/metrics`: every event that called Graph is timed, and only those; every
//! setPresence Graph refuses for good is counted, once.

use crate::support::scrape;

use super::{ALICE, harness::Harness};
use presence_bridge::metrics::{SET_PRESENCE_REFUSED, SWYX_TO_TEAMS_LATENCY};
use presence_bridge::store::UserLink;
use presence_bridge::store::prelude::*;

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

/// A user linked in the bridge whom Graph does not know: each call's setPresence is refused
/// (404) once, counted once, and not asked again while the call lasts.
#[tokio::test]
async fn a_set_presence_graph_refuses_for_good_is_counted_once_per_call() {
    const GHOST: &str = "99999999-0000-0000-0000-000000000404";
    let h = Harness::start().await;
    h.swyx.add_user("1009", "ghost", "");
    let link = UserLink {
        entra_id: GHOST.into(),
        swyx_user_id: "1009".into(),
        email: String::new(),
        groups: Vec::new(),
    };
    h.store.put_user(&link).await.unwrap();
    let metrics = format!("{}/metrics", h.base_url);
    let refused = |m: &scrape::Scrape| m.value(SET_PRESENCE_REFUSED, Some(("status", "404")));
    assert_eq!(refused(&scrape::scrape(&metrics).await), Some(0.0));

    let call = h.swyx.start_call("1009").await.unwrap();
    assert_eq!(h.swyx.events_log().last().unwrap().status, Some(200));
    assert_eq!(refused(&scrape::scrape(&metrics).await), Some(1.0));
    // Maintenance all through the call: no second request, no second count.
    for _ in 0..3 {
        h.clock.advance(super::harness::MIN);
        h.maintenance().await;
    }
    let m = scrape::scrape(&metrics).await;
    assert_eq!(refused(&m), Some(1.0));
    assert_eq!(
        m.value(SET_PRESENCE_REFUSED, Some(("status", "403"))),
        Some(0.0)
    );
    assert_eq!(
        h.graph
            .stats()
            .requests("POST /v1.0/users/{id}/presence/setPresence"),
        1
    );

    // The next call asks again, and is counted again.
    h.swyx.end_call("1009", &call).await.unwrap();
    h.swyx.start_call("1009").await.unwrap();
    assert_eq!(refused(&scrape::scrape(&metrics).await), Some(2.0));
}
