//! Calls on the emulated SwyxServer and the signed events they send to the bridge.

use super::support::{Receiver, setup};
use presence_sandbox::swyx::EffectiveStatus;

#[tokio::test]
async fn calls_send_signed_speaking_events_for_the_first_and_last_call_only() {
    let s = setup(None).await;
    let bridge = Receiver::start(&s.outbound).await;
    s.emu.set_bridge_events_url(&bridge.url);

    let c1 = s.emu.start_call("101").await.unwrap();
    assert_eq!(
        s.emu.user("101").unwrap().effective_status,
        EffectiveStatus::Speaking
    );
    let c2 = s.emu.start_call("101").await.unwrap();
    s.emu.end_call("101", &c1).await.unwrap();
    assert_eq!(
        bridge.events().len(),
        1,
        "overlapping calls: still speaking, no event"
    );
    s.emu.end_call("101", &c2).await.unwrap();
    assert_eq!(
        s.emu.user("101").unwrap().effective_status,
        EffectiveStatus::Available
    );

    let events = bridge.events();
    assert!(
        bridge.rejected().is_empty(),
        "the receiver verified every signature: {:?}",
        bridge.rejected()
    );
    assert_eq!(events.len(), 2);
    let (started, ended) = (&events[0].1, &events[1].1);
    assert_eq!(
        (started["type"].as_str(), started["swyxUserId"].as_str()),
        (Some("speaking.started"), Some("101"))
    );
    assert_eq!(started["callId"].as_str(), Some(c1.as_str()));
    assert_eq!(ended["type"].as_str(), Some("speaking.ended"));
    assert_eq!(
        ended["callId"].as_str(),
        Some(c1.as_str()),
        "the end pairs with the start's call id"
    );
    for (_, e) in &events {
        let at = e["at"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
            "{at}"
        );
    }
    assert_ne!(events[0].0, events[1].0, "one webhook-id per event");

    let log = s.emu.events_log();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|e| e.delivered && e.status == Some(204) && e.attempts == 1)
    );
    assert_eq!(s.emu.stats().events_sent, 2);
}

#[tokio::test]
async fn event_delivery_retries_5xx_with_the_same_id_and_gives_up_when_unreachable() {
    let s = setup(None).await;
    let bridge = Receiver::start(&s.outbound).await;
    s.emu.set_bridge_events_url(&bridge.url);
    bridge.fail_next(2);
    s.emu.start_call("102").await.unwrap();
    let log = s.emu.events_log();
    assert_eq!(
        (log[0].attempts, log[0].delivered, log[0].status),
        (3, true, Some(204))
    );
    assert_eq!(bridge.requests(), 3);
    assert_eq!(
        bridge.events()[0].0,
        log[0].webhook_id,
        "retries keep the webhook-id"
    );

    // A bridge that is not there: bounded attempts, then recorded as failed; the call still runs.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}/swyx/events", closed.local_addr().unwrap());
    drop(closed);
    s.emu.set_bridge_events_url(&gone);
    s.emu.start_call("101").await.unwrap();
    let failed = s.emu.events_log().pop().unwrap();
    assert_eq!(
        (failed.attempts, failed.delivered, failed.status),
        (4, false, None)
    );
    assert!(failed.error.unwrap().contains("connect"));
    assert_eq!(
        s.emu.user("101").unwrap().effective_status,
        EffectiveStatus::Speaking
    );
    let st = s.emu.stats();
    assert_eq!(
        (st.events_sent, st.events_failed, st.event_attempts),
        (1, 1, 7)
    );
}

#[tokio::test]
async fn a_4xx_from_the_bridge_is_not_retried() {
    let s = setup(None).await;
    // The receiver verifies with a different key than the emulator signs with: 401.
    let bridge = Receiver::start(&super::support::Key::new(42)).await;
    s.emu.set_bridge_events_url(&bridge.url);
    s.emu.start_call("101").await.unwrap();
    let e = &s.emu.events_log()[0];
    assert_eq!((e.attempts, e.status, e.delivered), (1, Some(401), false));
    assert_eq!(bridge.rejected().len(), 1);
}

#[tokio::test]
async fn calls_without_a_bridge_url_or_for_unknown_users() {
    let s = setup(None).await;
    let c = s.emu.start_call("101").await.unwrap();
    assert!(
        s.emu.events_log().is_empty(),
        "no bridge configured: nothing sent"
    );
    let e = s.emu.start_call("nobody").await.unwrap_err().to_string();
    assert!(e.contains("nobody"));
    let e = s
        .emu
        .end_call("101", "c-unknown")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("c-unknown"));
    s.emu.end_call("101", &c).await.unwrap();
    assert!(s.emu.user("101").unwrap().active_calls.is_empty());
}
