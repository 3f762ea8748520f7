//! The connector down for five minutes while users keep changing their presence: what the bridge
//! decided meanwhile waits as pending deliveries, each backing off on its own (5 s doubling),
//! and all of it reaches Swyx as soon as the connector is back, not when each backoff ends.

use super::setup::start_consistent;
use crate::support::moto;
use presence_bridge::demo::DemoStore;
use presence_sandbox::swyx::Outage;
use std::time::{Duration, Instant};

const USERS: usize = 120;
/// moto answers one request at a time.
const DYNAMO_USERS: usize = 40;
/// The outage.
const CONNECTOR_DOWN: Duration = Duration::from_secs(5 * 60);
/// How often the users who keep changing change again during the outage.
const CHANGE_EVERY: Duration = Duration::from_secs(30);
/// One maintenance interval (1 s in the stage's configuration) and the time the connector needs
/// to take every pending update; the backoffs of a five-minute outage are minutes long.
const DRAINED_WITHIN: Duration = Duration::from_secs(45);

async fn connector_down_five_minutes(store: DemoStore, users: usize) {
    let run = start_consistent(store, users).await;
    let swyx = &run.world.sandbox.swyx;
    let applied_before = swyx.stats().updates_applied;
    run.burst(1);
    run.wait_applied(applied_before + users as u64 / 4).await;
    swyx.set_outage(Outage::Unavailable);
    let down_since = Instant::now();
    // Everyone changes at the start; the even half keeps changing throughout, so the odd half's
    // updates back off the whole outage long.
    run.burst(2);
    let mut round = 3;
    while down_since.elapsed() + CHANGE_EVERY < CONNECTOR_DOWN {
        tokio::time::sleep(CHANGE_EVERY).await;
        run.change(round, |i| i.is_multiple_of(2));
        round += 1;
    }
    tokio::time::sleep(CONNECTOR_DOWN.saturating_sub(down_since.elapsed())).await;
    let pending = run.world.pending().await.unwrap_or_default();
    assert!(
        pending >= users as u64 / 2,
        "only {pending} deliveries pending after the outage"
    );
    let refused = swyx.stats().requests_during_outage;
    swyx.set_outage(Outage::None);
    eprintln!(
        "connector back after {:?} with {pending} deliveries pending; it refused {refused} requests meanwhile",
        down_since.elapsed()
    );
    let took = run.assert_converges(1, "connector down five minutes").await;
    assert!(
        took < DRAINED_WITHIN,
        "took {took:?} after the connector was back"
    );
    run.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_down_five_minutes_drains_as_soon_as_it_is_back_on_sqlite() {
    connector_down_five_minutes(DemoStore::Sqlite, USERS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_down_five_minutes_drains_as_soon_as_it_is_back_on_dynamodb() {
    connector_down_five_minutes(
        DemoStore::DynamoDb {
            endpoint: moto::endpoint().to_string(),
            table: moto::unique_table("connector-down"),
        },
        DYNAMO_USERS,
    )
    .await;
}
