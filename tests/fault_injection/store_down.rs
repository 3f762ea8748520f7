//! The store unavailable for a minute in the middle of a burst: what the bridge could not store
//! it answers 503, Graph redelivers, and everyone converges again.

use super::setup::{Running, start_consistent};
use crate::support::moto;
use presence_bridge::demo::DemoStore;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long the store stays unavailable: the minute, long enough that Graph's
/// redeliveries back off past several attempts and maintenance meets the fault many times.
const STORE_DOWN: Duration = Duration::from_secs(60);
const USERS: usize = 120;

/// A burst of Teams changes with the store unavailable in its middle: `hold` makes the store
/// unavailable, says so on its sender, and returns once the store is back. Items the bridge could
/// not store must be answered 503 (Graph redelivers them) — none lost, all consistent afterwards.
async fn store_down_mid_burst<F, Fut>(run: &Running, hold: F)
where
    F: FnOnce(oneshot::Sender<()>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let graph = &run.world.sandbox.graph;
    let failed_before = graph.stats().notifications_failed;
    let applied_before = run.world.sandbox.swyx.stats().updates_applied;
    run.burst(1);
    // Down once part of the first change has gone through; everyone changes again while down.
    run.wait_applied(applied_before + run.world.users.len() as u64 / 4)
        .await;
    // Everyone changes again as soon as the store is down (not after a guessed pause: on a loaded
    // machine that might still be before the fault, or already after it).
    let (down, is_down) = oneshot::channel();
    let second = async {
        let _ = is_down.await;
        run.burst(2);
    };
    tokio::join!(hold(down), second);
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
    // Every refusal came in time: answers past 3 s would have Graph count the endpoint slow and
    // hold back every notification for 10 minutes, longer than any convergence deadline here.
    assert_eq!(
        (
            stats.notifications_delayed,
            stats.notifications_dropped_slow_endpoint
        ),
        (0, 0),
        "Graph judged the endpoint slow: {stats:?}"
    );
    run.assert_converges(1, "store unavailable mid-burst").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_process_for_a_minute_mid_burst_converges() {
    let run = start_consistent(DemoStore::Sqlite, USERS).await;
    let db = run.dir.path().join("bridge.db");
    store_down_mid_burst(&run, |down| async move {
        // Another process (as an operator's `sqlite3` or a CLI write would) holds the write lock.
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(&db).expect("open the bridge's database");
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").expect("write lock");
            let _ = down.send(());
            // The fault's length, not a wait for something to happen.
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
        USERS,
    )
    .await;
    store_down_mid_burst(&run, |down| async {
        // Stopped (SIGSTOP) and continued, not killed: moto keeps its tables in memory, a restart
        // would lose them. To a client a stopped process is what an unavailable endpoint looks
        // like: connections accepted by the kernel, no answer until it resumes.
        moto.pause();
        let _ = down.send(());
        // The fault's length, not a wait for something to happen.
        tokio::time::sleep(STORE_DOWN).await;
        moto.resume();
    })
    .await;
    run.stop();
}

/// A notification Graph sends while the table does not answer is refused with 503 (Graph
/// redelivers) within Graph's 3 s, not held until the table comes back: the DynamoDB client gives
/// up after its timeouts. Once the table answers again the change arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_stopped_a_genuine_notification_is_refused_503_within_graphs_3_s() {
    let moto = moto::MotoServer::dedicated();
    let run = start_consistent(
        DemoStore::DynamoDb {
            endpoint: moto.endpoint.clone(),
            table: "fault-stopped".to_string(),
        },
        2,
    )
    .await;
    let graph = &run.world.sandbox.graph;
    let before = graph.stats();
    let refused = |s: &presence_sandbox::graph::GraphStats| {
        s.answers_by_status.get(&503).copied().unwrap_or(0)
    };
    moto.pause();
    let changed = Instant::now();
    run.change(1, |i| i == 0);
    let deadline = changed + Duration::from_secs(20);
    while graph.stats().notifications_failed == before.notifications_failed
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // From the change in Teams to Graph holding the refusal: Graph's dispatch plus the answer.
    let took = changed.elapsed();
    let during = graph.stats();
    moto.resume();
    eprintln!(
        "table stopped: Graph heard {:?} after {took:?}",
        during.answers_by_status
    );
    assert!(
        refused(&during) > refused(&before),
        "no 503 while the table was stopped: {during:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "the refusal took {took:?}: Graph counts an answer past 3 s slow"
    );
    assert_eq!(during.slow_answers, before.slow_answers, "{during:?}");
    // The store client gave up, not `serve`'s last resort (a 503 once the time budget is spent,
    // which a Lambda does not have).
    let log = std::fs::read_to_string(run.dir.path().join("bridge-0.log")).unwrap_or_default();
    assert!(
        !log.contains("request not answered in time"),
        "the webhook waited for the table until its own deadline"
    );
    run.assert_converges(1, "table stopped, then back").await;
    run.stop();
}
