//! Watching Speaking over SIP presence, against the sandbox's independent SIP stand-in for
//! SwyxServer: REGISTER with a 401 digest challenge, SUBSCRIBE/NOTIFY with PIDF carrying the Swyx
//! vendor element, refreshes, expiry, `terminated`, 481, lost UDP datagrams, 403/404 users; and
//! the outbox keeping events (and their webhook ids) across a restart.

use crate::support::*;
use presence_sandbox::sip::{SipServer, SipServerOptions, UserPresence};
use std::time::Duration;

const LOG_WRITER: &str = "[writer]\nkind = \"log\"\n";
const WAIT: Duration = Duration::from_secs(15);

async fn swyx(opts: SipServerOptions) -> SipServer {
    let s = SipServer::start(opts).await.unwrap();
    s.add_user("1001", UserPresence::LoggedOn);
    s.add_user("1002", UserPresence::LoggedOn);
    s
}

fn sip_section(server: &SipServer, transport: &str, extra: &str) -> String {
    let addr = if transport == "tcp" {
        server.tcp_addr()
    } else {
        server.udp_addr()
    };
    format!(
        "[sip]\nserver = \"{addr}\"\ntransport = \"{transport}\"\ndomain = \"{}\"\nusername = \"monitor\"\npassword = \"monitor-secret\"\nlocal_address = \"127.0.0.1:0\"\nretry_min_ms = 50\nretry_max_secs = 1\n{extra}\n",
        server.domain()
    )
}

#[tokio::test]
async fn active_becomes_one_speaking_period_and_unwatchable_users_are_reported() {
    let server = swyx(SipServerOptions::default()).await;
    server.forbid("monitor", "1002");
    let bridge = FakeBridge::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &bridge.url(),
        &sip_section(&server, "udp", ""),
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();

    assert!(
        server.wait_for(WAIT, |s| s.watchers("1001") == 1).await,
        "{:?}",
        server.stats()
    );
    assert!(server.is_registered("monitor"));
    assert!(
        server.stats().register_challenges >= 1,
        "REGISTER was challenged first"
    );

    server.set_presence("1001", UserPresence::Active);
    let ev = bridge
        .wait_events(WAIT, |e| speaking_of(e, "1001").len() == 1)
        .await;
    assert_eq!(speaking_of(&ev, "1001")[0].0, "speaking.started");
    server.set_presence("1001", UserPresence::Active);
    server.set_presence("1001", UserPresence::LoggedOn);
    let ev = bridge
        .wait_events(WAIT, |e| speaking_of(e, "1001").len() == 2)
        .await;
    let periods = speaking_of(&ev, "1001");
    assert_eq!(periods[1].0, "speaking.ended");
    assert_eq!(
        periods[0].1, periods[1].1,
        "one call id per speaking period"
    );

    // 1002: no status signalling right (403); 1003: unknown to SwyxServer (404).
    assert!(
        wait_until(WAIT, || {
            let v = c.status.snapshot();
            v.watches.get("1002").is_some_and(|w| w.state == "failing")
                && v.watches.get("1003").is_some_and(|w| w.state == "failing")
        })
        .await
    );
    let v = c.status.snapshot();
    assert!(
        v.watches["1002"]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("status signalling"),
        "{:?}",
        v.watches
    );
    assert!(
        v.watches["1003"]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("404"),
        "{:?}",
        v.watches
    );
    assert_eq!(
        (v.registration.state.as_str(), v.subscriptions_active),
        ("registered", 1)
    );
    c.stop().await;
    assert!(
        server
            .wait_for(WAIT, |s| s.watchers("1001") == 0
                && !s.is_registered("monitor"))
            .await,
        "unsubscribed and unregistered on shutdown"
    );
}

#[tokio::test]
async fn lost_datagrams_short_expiries_481_and_terminated_are_survived() {
    let server = swyx(SipServerOptions {
        max_subscribe_expires: 2,
        max_register_expires: 3,
        ..SipServerOptions::default()
    })
    .await;
    let bridge = FakeBridge::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &bridge.url(),
        &sip_section(&server, "udp", "t1_ms = 40"),
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    assert!(
        server
            .wait_for(WAIT, |s| s.watchers("1001") == 1 && s.watchers("1002") == 1)
            .await
    );

    // Every third datagram lost, both ways: retransmissions (ours and the server's) carry on.
    server.drop_every_nth_udp(3);
    assert!(
        server
            .wait_for(WAIT, |s| s.stats().refreshes >= 4
                && s.stats().registers >= 2)
            .await,
        "{:?}",
        server.stats()
    );
    server.set_presence("1002", UserPresence::Active);
    bridge
        .wait_events(WAIT, |e| speaking_of(e, "1002").len() == 1)
        .await;
    assert!(server.stats().udp_dropped > 0);
    server.drop_every_nth_udp(0);

    // The server forgets a dialog (481 to the refresh): a new subscription follows.
    let before = server.stats().subscribes;
    server.answer_481_to_refreshes(1);
    assert!(
        server
            .wait_for(WAIT, |s| s.stats().answered_481 >= 1
                && s.stats().subscribes > before
                && s.watchers("1001") == 1)
            .await,
        "{:?}",
        server.stats()
    );
    // The server ends a subscription: subscribed again at once.
    let before = server.stats().subscribes;
    server.terminate("1001", "deactivated");
    assert!(
        server
            .wait_for(WAIT, |s| s.stats().subscribes > before
                && s.watchers("1001") == 1)
            .await
    );
    server.set_presence("1001", UserPresence::Active);
    bridge
        .wait_events(WAIT, |e| speaking_of(e, "1001").len() == 1)
        .await;
    assert_eq!(
        server.stats().expired,
        0,
        "no subscription lapsed: refreshes came in time"
    );
    c.stop().await;
}

#[tokio::test]
async fn tcp_works_and_undelivered_events_survive_a_restart_under_their_webhook_id() {
    let server = swyx(SipServerOptions::default()).await;
    let bridge = FakeBridge::start().await;
    bridge.fail_next(u32::MAX);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &bridge.url(),
        &sip_section(&server, "tcp", ""),
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg.clone(), std::future::pending())
        .await
        .unwrap();
    assert!(server.wait_for(WAIT, |s| s.watchers("1001") == 1).await);
    server.set_presence("1001", UserPresence::Active);
    // The bridge answers 503: the event is retried under one id.
    assert!(wait_until(WAIT, || bridge.attempts().len() >= 2).await);
    let attempts = bridge.attempts();
    assert!(
        attempts.iter().all(|id| *id == attempts[0]),
        "same webhook-id on every retry: {attempts:?}"
    );
    assert!(c.status.snapshot().outbox_backlog >= 1);
    c.stop().await;

    bridge.fail_next(0);
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    let ev = bridge
        .wait_events(WAIT, |e| speaking_of(e, "1001").len() == 1)
        .await;
    assert_eq!(
        ev[0].webhook_id, attempts[0],
        "delivered after the restart under its first id"
    );
    // Still speaking after the restart: the open period continues, its end carries its id.
    assert!(server.wait_for(WAIT, |s| s.watchers("1001") == 1).await);
    server.set_presence("1001", UserPresence::Away);
    let ev = bridge
        .wait_events(WAIT, |e| speaking_of(e, "1001").len() == 2)
        .await;
    let p = speaking_of(&ev, "1001");
    assert_eq!((p[1].0.as_str(), &p[1].1), ("speaking.ended", &p[0].1));
    c.stop().await;
}

/// SIP NOTIFY sent by SwyxServer → signed event accepted by the bridge, over loopback UDP.
#[tokio::test]
async fn notify_to_bridge_latency() {
    let server = swyx(SipServerOptions::default()).await;
    let bridge = FakeBridge::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &bridge.url(),
        &sip_section(&server, "udp", ""),
        LOG_WRITER,
        USERS,
    );
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    assert!(server.wait_for(WAIT, |s| s.watchers("1001") == 1).await);
    let mut samples = Vec::new();
    for i in 0..40 {
        let sent = std::time::Instant::now();
        let presence = if i % 2 == 0 {
            UserPresence::Active
        } else {
            UserPresence::LoggedOn
        };
        server.set_presence("1001", presence);
        let ev = bridge
            .wait_events(WAIT, |e| speaking_of(e, "1001").len() == i + 1)
            .await;
        let got = ev
            .iter()
            .filter(|r| r.event.swyx_user_id == "1001")
            .nth(i)
            .unwrap()
            .at;
        samples.push(got.duration_since(sent));
    }
    samples.sort();
    let (p50, p99) = (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    );
    eprintln!(
        "SIP NOTIFY → event accepted by the bridge: p50 {p50:?}, p99 {p99:?}, max {:?} ({} samples)",
        samples[samples.len() - 1],
        samples.len()
    );
    assert!(p50 < Duration::from_millis(500), "p50 {p50:?}");
    c.stop().await;
}
