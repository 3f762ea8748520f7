//! The store unavailable for a minute in the middle of a burst: what the bridge could not store
//! it answers 503, Graph redelivers, and everyone converges again.

use super::setup::{Running, start_consistent};
use crate::support::moto;
use presence_bridge::demo::DemoStore;
use std::time::Duration;

/// How long the store stays unavailable: the minute, long enough that Graph's
/// redeliveries back off past several attempts and maintenance meets the fault many times.
const STORE_DOWN: Duration = Duration::from_secs(60);
const USERS: usize = 120;
/// moto serves one request at a time, and a debug build's burst of 120 takes it most of a minute
/// to work off even without a fault.
const DYNAMO_USERS: usize = 40;

/// A burst of Teams changes with the store unavailable in its middle: `hold` makes the store
/// unavailable and returns once it is back. Items the bridge could not store must be answered
/// 503 (Graph redelivers them) — none lost, all consistent afterwards.
async fn store_down_mid_burst<F, Fut>(run: &Running, hold: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let graph = &run.world.sandbox.graph;
    let failed_before = graph.stats().notifications_failed;
    let applied_before = run.world.sandbox.swyx.stats().updates_applied;
    run.burst(1);
    // Down once part of the first change has gone through; everyone changes again while down.
    run.wait_applied(applied_before + run.world.users.len() as u64 / 4)
        .await;
    let second = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        run.burst(2);
    };
    tokio::join!(hold(), second);
    let stats = graph.stats();
    eprintln!(
        "store back: Graph failed {} deliveries, retried {}, delayed {} (slow endpoint), {} slow answers",
        stats.notifications_failed - failed_before,
        stats.notifications_retried,
        stats.notifications_delayed,
        stats.slow_answers
    );
    // The fault must have been felt, or this round proves nothing.
    assert!(
        stats.notifications_failed > failed_before,
        "no delivery failed while the store was down: {stats:?}"
    );
    assert_eq!(stats.notifications_dropped, 0, "Graph gave up: {stats:?}");
    run.assert_converges(1, "store unavailable mid-burst").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_process_for_a_minute_mid_burst_converges() {
    let run = start_consistent(DemoStore::Sqlite, USERS).await;
    let db = run.dir.path().join("bridge.db");
    store_down_mid_burst(&run, || async move {
        // Another process (as an operator's `sqlite3` or a CLI write would) holds the write lock.
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(&db).expect("open the bridge's database");
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").expect("write lock");
            std::thread::sleep(STORE_DOWN);
            conn.execute_batch("COMMIT").expect("release");
        })
        .await
        .unwrap();
    })
    .await;
    run.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_stopped_for_a_minute_mid_burst_converges() {
    // A moto of its own: the shared one serves other tests in parallel.
    let moto = moto::MotoServer::dedicated();
    let run = start_consistent(
        DemoStore::DynamoDb {
            endpoint: moto.endpoint.clone(),
            table: "fault-outage".to_string(),
        },
        DYNAMO_USERS,
    )
    .await;
    store_down_mid_burst(&run, || async {
        // Stopped (SIGSTOP) and continued, not killed: moto keeps its tables in memory, a restart
        // would lose them. To a client a stopped process is what an unavailable endpoint looks
        // like: connections accepted by the kernel, no answer until it resumes.
        moto.pause();
        tokio::time::sleep(STORE_DOWN).await;
        moto.resume();
    })
    .await;
    run.stop();
}
