//! Graph's slow-endpoint rules against a deliberately slow receiver: more than 10 % slow answers
//! in the window delays new (and failed) notifications by the penalty; more than 15 % timeouts drops them;
//! the state is judged again when the penalty ends. Timeouts are shortened (150 ms for the 3 s,
//! 500 ms for the 10 s); the window and the penalty run on the sandbox clock.

use std::time::Duration;

use http::StatusCode;
use presence_sandbox::graph::{
    EndpointState, GraphEmulator, GraphStats, GraphTiming, SlowEndpointRules,
};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(20);
const PENALTY: Duration = Duration::from_secs(600);

fn state(s: &GraphStats, url: &str) -> Option<EndpointState> {
    s.endpoints.get(url).map(|e| e.state)
}

/// Changes Alice's presence once (alternating), which makes one notification.
struct Changer(bool);

impl Changer {
    fn change(&mut self, graph: &GraphEmulator) {
        self.0 = !self.0;
        let (a, b) = if self.0 {
            ("Busy", "InACall")
        } else {
            ("Available", "Available")
        };
        graph.set_client_session(ALICE, "desktop", a, b).unwrap();
    }
}

#[tokio::test]
async fn slow_answers_delay_notifications_and_timeouts_drop_them() {
    let graph = start().await;
    graph.set_timing(GraphTiming {
        delivery_timeout: Duration::from_millis(150),
        retry_timeout: Duration::from_millis(500),
        retry_base: Duration::from_millis(10),
        retry_cap: Duration::from_millis(20),
        slow_endpoint: SlowEndpointRules {
            min_answers: 5,
            ..SlowEndpointRules::default()
        },
        ..fast_timing()
    });
    let hook = Receiver::start(Handshake::Echo).await;
    let url = hook.url.clone();
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    let r = graph_post(
        &graph,
        &token,
        "/subscriptions",
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut alice = Changer(false);

    // Fast answers: counted, nothing held back.
    for n in 1..=5 {
        alice.change(&graph);
        graph
            .wait_stats(WAIT, |s| s.notifications_delivered == n)
            .await
            .unwrap();
    }
    let e = graph.endpoint_stats(&url).unwrap();
    assert_eq!(
        (e.answers, e.slow_answers, e.timeouts, e.state),
        (5, 0, 0, EndpointState::Normal)
    );

    // Answers take 250 ms: the first attempt times out at "3 s". 1 slow answer of 6 is over
    // 10 %: the endpoint is delayed, and the failed notification is retried after the penalty.
    hook.set_delay(Duration::from_millis(250));
    alice.change(&graph);
    let s = graph
        .wait_stats(WAIT, |s| {
            state(s, &url) == Some(EndpointState::Delayed) && s.notifications_delayed == 1
        })
        .await
        .unwrap();
    let e = &s.endpoints[&url];
    assert_eq!((e.answers, e.slow_answers, e.window_answers), (6, 1, 6));
    assert!(
        (e.slow_percent() - 16.6).abs() < 0.1,
        "{}",
        e.slow_percent()
    );
    assert_eq!(s.notifications_delivered, 5);
    assert_eq!(graph.pending_notifications(&url), 1);

    // Delayed: a new notification waits for the penalty too, though the endpoint is fast again.
    hook.set_delay(Duration::ZERO);
    alice.change(&graph);
    assert_eq!(graph.pending_notifications(&url), 2);
    assert_eq!(graph.stats().notifications_delayed, 2);
    assert_eq!(graph.stats().notifications_delivered, 5, "held back");
    graph.clock().advance(PENALTY + Duration::from_secs(1));
    let s = graph
        .wait_stats(WAIT, |s| s.notifications_delivered == 7)
        .await
        .unwrap();
    assert_eq!(
        state(&s, &url),
        Some(EndpointState::Normal),
        "judged again on a window that slid on"
    );

    // Answers slower than the retry timeout: timeouts over 15 % drop notifications.
    hook.set_delay(Duration::from_millis(700));
    alice.change(&graph);
    let s = graph
        .wait_stats(WAIT, |s| s.notifications_dropped_slow_endpoint == 1)
        .await
        .unwrap();
    assert_eq!(state(&s, &url), Some(EndpointState::Dropping));
    assert!(s.endpoints[&url].timeouts >= 3, "{:?}", s.endpoints[&url]);
    hook.set_delay(Duration::ZERO);
    alice.change(&graph);
    assert_eq!(
        graph.stats().notifications_dropped_slow_endpoint,
        2,
        "dropped at once while dropping"
    );
    assert_eq!(graph.pending_notifications(&url), 0, "unrecoverably");

    // After the penalty, with a window of good answers only, notifications flow again.
    graph.clock().advance(PENALTY + Duration::from_secs(1));
    alice.change(&graph);
    let s = graph
        .wait_stats(WAIT, |s| s.notifications_delivered == 8)
        .await
        .unwrap();
    assert_eq!(state(&s, &url), Some(EndpointState::Normal));
    let e = &s.endpoints[&url];
    assert_eq!((e.notifications_delayed, e.notifications_dropped), (2, 2));
}
