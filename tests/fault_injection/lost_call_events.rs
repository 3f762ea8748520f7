//! The connector loses call events: its retries for `speaking.started` / `speaking.ended` run
//! out (the bridge unreachable longer than its outbox keeps them), so the bridge never hears of
//! those calls starting or ending. Contract 1.2's call state in the user list is all it has:
//! within a maintenance pass or two every user who speaks shows exactly one "In a call" and
//! everyone else none, on both stores.

use super::setup::start_consistent;
use crate::support::moto;
use presence_bridge::demo::DemoStore;
use std::collections::{HashMap, HashSet};

const USERS: usize = 40;
/// moto answers one request at a time.
const DYNAMO_USERS: usize = 12;

async fn lost_call_events(store: DemoStore, users: usize) {
    let run = start_consistent(store, users).await;
    let swyx = &run.world.sandbox.swyx;
    let user = |i: usize| &run.world.users[i].swyx_id;
    // Every fourth user is in a call, its events delivered.
    let mut calls: HashMap<usize, String> = HashMap::new();
    for i in (0..users).step_by(4) {
        calls.insert(i, swyx.start_call(user(i)).await.unwrap());
    }
    let in_call = |calls: &HashMap<usize, String>| calls.keys().copied().collect::<HashSet<_>>();
    run.assert_settles(0, "calls with their events", &in_call(&calls))
        .await;

    // From now on every call event is lost: half the calls end, as many users start one.
    swyx.set_lose_call_events(true);
    for i in (0..users).step_by(8) {
        let call = calls.remove(&i).unwrap_or_default();
        swyx.end_call(user(i), &call).await.unwrap();
    }
    for i in (2..users).step_by(8) {
        calls.insert(i, swyx.start_call(user(i)).await.unwrap());
    }
    let lost = swyx
        .events_log()
        .iter()
        .filter(|e| e.event_type.starts_with("speaking.") && !e.delivered)
        .count();
    assert_eq!(lost, users.div_ceil(8) * 2, "every later call event lost");
    run.assert_settles(1, "call events lost", &in_call(&calls))
        .await;

    // Every remaining call ends, its end lost too.
    for (i, call) in calls.drain() {
        swyx.end_call(user(i), &call).await.unwrap();
    }
    run.assert_settles(2, "every call ended, the ends lost", &HashSet::new())
        .await;
    run.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_call_events_are_repaired_from_swyxs_call_state_on_sqlite() {
    lost_call_events(DemoStore::Sqlite, USERS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_call_events_are_repaired_from_swyxs_call_state_on_dynamodb() {
    lost_call_events(
        DemoStore::DynamoDb {
            endpoint: moto::endpoint().to_string(),
            table: moto::unique_table("lost-calls"),
        },
        DYNAMO_USERS,
    )
    .await;
}
