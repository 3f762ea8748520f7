//! Graph's slow-endpoint rules are never crossed: with the connector answering in 2 s, Graph
//! still gets every answer well within its 3 s (the intake forwards within its time budget and
//! keeps what did not make it pending), so the endpoint is never judged slow, and every change
//! still reaches Swyx once the connector is quick again.

use super::subscriptions_harness::*;
use std::time::Duration;

const USERS: usize = 60;
const WAVES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_answering_in_two_seconds_never_makes_graph_wait_three() {
    let b = Bridge::subscribed(USERS, 1).await;
    b.sandbox.swyx.set_answer_delay(Duration::from_secs(2));

    // In waves, so Graph POSTs several times and each answer is judged.
    for wave in (0..USERS).collect::<Vec<_>>().chunks(USERS / WAVES) {
        let before = b.delivered();
        for &i in wave {
            b.set_presence(i, "DoNotDisturb", "DoNotDisturb");
        }
        b.wait_delivered(before, wave.len() as u64).await;
    }
    let stats = b.sandbox.graph.stats();
    let endpoints: Vec<_> = stats.endpoints.values().collect();
    eprintln!(
        "FIGURE connector answering in 2 s, {USERS} changes: {} Graph POSTs, {} slow answers, endpoints {endpoints:?}",
        stats.delivery_posts, stats.slow_answers
    );
    assert_eq!(stats.slow_answers, 0, "Graph waited over 3 s: {stats:?}");
    for e in &endpoints {
        assert_eq!(e.slow_per_mille, 0, "{e:?}");
        assert_eq!(
            e.notifications_delayed + e.notifications_dropped,
            0,
            "{e:?}"
        );
    }

    // Quick again: what was kept pending is delivered by maintenance.
    b.sandbox.swyx.set_answer_delay(Duration::ZERO);
    b.advance(MIN);
    presence_bridge::maintenance::run(&b.app, Duration::from_secs(60)).await;
    b.assert_all_consistent();
}
