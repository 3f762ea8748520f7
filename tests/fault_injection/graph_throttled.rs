//! A Graph 429 storm: for half a minute Graph answers every call of the bridge (presence
//! sessions, presence reads, subscription calls) 429 with Retry-After, in the middle of a burst,
//! while calls start and end and Graph asks for a subscription's reauthorization. The bridge
//! waits as long as Graph asks, keeps what it could not do, and does it once the storm is over.

use super::setup::{shared_dynamodb, start_consistent};
use presence_bridge::demo::DemoStore;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const USERS: usize = 60;
const STORM: Duration = Duration::from_secs(30);
const RETRY_AFTER: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_429_storm_mid_burst_is_waited_out_and_everyone_converges_on_sqlite() {
    graph_429_storm_mid_burst(DemoStore::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_429_storm_mid_burst_is_waited_out_and_everyone_converges_on_dynamodb() {
    graph_429_storm_mid_burst(shared_dynamodb("storm")).await;
}

async fn graph_429_storm_mid_burst(store: DemoStore) {
    let run = start_consistent(store, USERS).await;
    let swyx = &run.world.sandbox.swyx;
    let graph = &run.world.sandbox.graph;
    let user = |i: usize| &run.world.users[i].swyx_id;
    // Every sixth user is in a call before the storm.
    let mut calls: HashMap<usize, String> = HashMap::new();
    for i in (0..USERS).step_by(6) {
        calls.insert(i, swyx.start_call(user(i)).await.unwrap());
    }
    let in_call = |calls: &HashMap<usize, String>| calls.keys().copied().collect::<HashSet<_>>();
    run.assert_settles(0, "calls before the storm", &in_call(&calls))
        .await;

    let before = graph.stats();
    run.burst(1);
    graph.set_throttle_storm(Some(RETRY_AFTER));
    // During the storm: half the calls end (clearPresence, then a read-back), as many users
    // start one (setPresence), Graph asks to reauthorize the subscription (a renewal), and
    // everyone changes once more.
    let mut ended = 0;
    for i in (0..USERS).step_by(12) {
        let call = calls.remove(&i).unwrap_or_default();
        swyx.end_call(user(i), &call).await.unwrap();
        ended += 1;
    }
    let mut started = 0;
    for i in (3..USERS).step_by(12) {
        calls.insert(i, swyx.start_call(user(i)).await.unwrap());
        started += 1;
    }
    let subscription = graph.subscriptions()[0].id.clone();
    graph
        .send_lifecycle(&subscription, "reauthorizationRequired")
        .unwrap();
    run.burst(2);
    tokio::time::sleep(STORM).await;
    graph.set_throttle_storm(None);
    let during = graph.stats();
    let refused = during.throttled_429 - before.throttled_429;
    eprintln!(
        "storm over: {refused} requests answered 429 in {STORM:?} (Retry-After {RETRY_AFTER:?}), by route: {:?}",
        during.throttled_by_route
    );
    assert!(refused > 0, "the storm was not felt: {during:?}");
    // Honoured Retry-After: each pending piece of work (a session per user whose call changed,
    // a read-back per ended call, the renewal) is asked again at most once per Retry-After.
    let work = (ended * 2 + started + 1) as u64;
    let per_work = STORM.as_secs() / RETRY_AFTER.as_secs() + 1;
    assert!(
        refused <= work * per_work,
        "{refused} requests in the storm: more than {per_work} for each of {work} pieces of work"
    );

    run.assert_settles(1, "Graph 429 storm mid-burst", &in_call(&calls))
        .await;
    // The subscription was renewed in place: none made again, none deleted.
    let routes = graph.stats().requests_by_route;
    let count = |prefix: &str| -> u64 {
        routes
            .iter()
            .filter(|(r, _)| r.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(graph.subscriptions().len(), 1);
    assert_eq!(count("POST /v1.0/subscriptions"), 1, "{routes:?}");
    assert_eq!(count("DELETE"), 0, "{routes:?}");
    for (i, call) in calls {
        swyx.end_call(user(i), &call).await.unwrap();
    }
    run.assert_settles(2, "every call ended", &HashSet::new())
        .await;
    run.stop();
}
