//! Retries of a status update: attempts, time budget, timeouts, Retry-After, a closed port.

use super::{BUDGET, client_for, connector_with_user, secret, update};
use crate::support::connector::RecordingConnector;
use presence_bridge::domain::{SwyxAction, SwyxStatus};
use presence_bridge::swyx::client::{
    ConnectorClient, ConnectorError, ConnectorSettings, DeliveryOutcome,
};
use std::time::{Duration, Instant};

fn client_with(
    c: &RecordingConnector,
    tweak: impl FnOnce(&mut ConnectorSettings),
) -> ConnectorClient {
    let mut s = ConnectorSettings::new(c.url(), secret());
    tweak(&mut s);
    ConnectorClient::new(s, reqwest::Client::new())
}

#[tokio::test]
async fn two_503s_then_success_takes_three_attempts_with_one_message_id() {
    let c = connector_with_user().await;
    c.fail_next(2);
    let out = client_for(&c, secret())
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Available), 1),
            BUDGET,
        )
        .await
        .unwrap();
    assert_eq!(out, DeliveryOutcome::Applied);
    let seen = c.requests();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|r| r.webhook_id == seen[0].webhook_id),
        "a retry is the same message"
    );
    assert_eq!(c.status_of("1001"), Some(Some("Available".into())));
}

#[tokio::test]
async fn attempts_stop_at_max_attempts() {
    let c = connector_with_user().await;
    c.fail_next(5);
    let err = client_for(&c, secret())
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            BUDGET,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Unavailable { .. }) && err.to_string().contains("503"),
        "{err}"
    );
    assert_eq!(c.requests().len(), 3);
    assert_eq!(c.status_of("1001"), None);
}

#[tokio::test]
async fn an_exhausted_budget_is_retryable_and_stops_early() {
    let c = connector_with_user().await;
    c.fail_next(100);
    let client = client_with(&c, |s| {
        s.max_attempts = 10;
        s.backoff_base = Duration::from_millis(100);
    });
    let budget = Duration::from_millis(300);
    let started = Instant::now();
    let err = client
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            budget,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err}");
    // Full jitter: the first wait (at most 100 ms) always fits in 300 ms; the budget, not the
    // limit of 10 attempts, ends the call (waits below ceilings of 100, 200, 400, 800 … ms).
    let attempts = c.requests().len();
    assert!((2..10).contains(&attempts), "{attempts} attempts");
    assert!(
        started.elapsed() < budget + Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_connector_times_out_as_retryable() {
    let c = connector_with_user().await;
    c.set_delay(Duration::from_secs(3));
    let client = client_with(&c, |s| {
        s.request_timeout = Duration::from_millis(150);
        s.max_attempts = 2;
        s.backoff_base = Duration::from_millis(10);
    });
    let started = Instant::now();
    let err = client
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            BUDGET,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Unavailable { .. }) && err.to_string().contains("timed out"),
        "{err}"
    );
    assert_eq!(c.requests().len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_budget_also_caps_a_single_slow_attempt() {
    let c = connector_with_user().await;
    c.set_delay(Duration::from_secs(3));
    let started = Instant::now();
    let err = client_for(&c, secret())
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err}");
    assert_eq!(c.requests().len(), 1);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_budget() {
    let c = connector_with_user().await;
    c.throttle_next(1, 1);
    let started = Instant::now();
    let out = client_for(&c, secret())
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            BUDGET,
        )
        .await
        .unwrap();
    assert_eq!(out, DeliveryOutcome::Applied);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(c.requests().len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_gives_up_at_once() {
    let c = connector_with_user().await;
    c.throttle_next(1, 30);
    let started = Instant::now();
    let err = client_for(&c, secret())
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Unavailable { .. }) && err.to_string().contains("429"),
        "{err}"
    );
    assert_eq!(c.requests().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_closed_port_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let mut s = ConnectorSettings::new(url, secret());
    s.backoff_base = Duration::from_millis(5);
    let err = ConnectorClient::new(s, reqwest::Client::new())
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            BUDGET,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Unavailable { .. })
            && err.to_string().contains("could not connect"),
        "{err}"
    );
}
