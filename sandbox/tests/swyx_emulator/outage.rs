//! Connector outages: 503 with Retry-After, and a connector that is not listening at all and
//! comes back on the same port.

use super::support::{setup, update};
use presence_sandbox::swyx::Outage;
use std::time::Duration;

#[tokio::test]
async fn unavailable_answers_503_with_retry_after_then_recovers() {
    let s = setup(None).await;
    s.emu.set_outage(Outage::Unavailable);
    let a = s.put("101", &update("101", Some("Away"), 1)).await;
    assert_eq!((a.status, a.retry_after.as_deref()), (503, Some("5")));
    assert_eq!(s.list_users(&s.inbound).await.status, 503);
    assert!(s.emu.user("101").unwrap().teams.is_none());
    assert_eq!(s.emu.stats().requests_during_outage, 2);

    s.emu.set_outage(Outage::None);
    // The same update again is applied: a 503 does not burn the revision or the id.
    assert_eq!(
        s.put("101", &update("101", Some("Away"), 1)).await.status,
        200
    );
}

#[tokio::test]
async fn not_listening_refuses_connections_and_reopens_on_the_same_port() {
    let s = setup(None).await;
    let url = s.emu.url();
    // Warm a keep-alive connection: a stopped connector must not keep answering on it.
    assert_eq!(s.list_users(&s.inbound).await.status, 200);

    s.emu.set_outage(Outage::NotListening);
    let pooled = s.http.get(format!("{url}/v1/users")).send().await;
    assert!(
        pooled.is_err(),
        "a pooled connection must die too: {pooled:?}"
    );
    let fresh = super::support::http()
        .get(format!("{url}/v1/users"))
        .send()
        .await
        .unwrap_err();
    assert!(
        fresh.is_connect(),
        "connection refused expected, got {fresh:?}"
    );

    s.emu.set_outage(Outage::None);
    assert_eq!(s.emu.url(), url);
    assert_eq!(
        s.put("101", &update("101", Some("Away"), 1)).await.status,
        200
    );
    assert_eq!(s.list_users(&s.inbound).await.status, 200);
}

#[tokio::test]
async fn a_timed_outage_ends_by_itself() {
    let s = setup(None).await;
    let mut watch = s.emu.watch_outage();
    s.emu
        .set_outage_for(Outage::Unavailable, Duration::from_millis(300))
        .unwrap();
    let a = s.put("101", &update("101", Some("Away"), 1)).await;
    assert_eq!(
        (a.status, a.retry_after.as_deref()),
        (503, Some("1")),
        "Retry-After counts down to the recovery"
    );

    // Awaits the recovery event itself (bounded), not a guessed sleep.
    tokio::time::timeout(
        Duration::from_secs(5),
        watch.wait_for(|m| *m == Outage::None),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        s.put("101", &update("101", Some("Away"), 1)).await.status,
        200
    );
}

#[tokio::test]
async fn a_later_outage_is_not_ended_by_an_earlier_timer() {
    let s = setup(None).await;
    let mut watch = s.emu.watch_outage();
    let started = std::time::Instant::now();
    s.emu
        .set_outage_for(Outage::Unavailable, Duration::from_millis(100))
        .unwrap();
    s.emu.set_outage(Outage::NotListening);
    s.emu
        .set_outage_for(Outage::Unavailable, Duration::from_millis(400))
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        watch.wait_for(|m| *m == Outage::None),
    )
    .await
    .unwrap()
    .unwrap();
    // Only the last timer recovered it; the first (100 ms) found a newer outage and did nothing.
    // (A timer never fires early, so this lower bound is not flaky.)
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "recovered after {:?}",
        started.elapsed()
    );
    assert_eq!(s.emu.stats().requests_during_outage, 0);
    assert_eq!(
        s.put("101", &update("101", Some("Away"), 1)).await.status,
        200
    );
}
