//! The connector client against the recording connector over loopback, and the Standard Webhooks
//! verifier on its own. Run: `cargo test --test swyx_connector`.

use crate::support::connector;

use connector::RecordingConnector;
use http::{HeaderMap, HeaderValue};
use presence_bridge::domain::{PresenceValue, SwyxAction, SwyxStatus, SwyxUpdate, Timestamp};
use presence_bridge::swyx::client::{
    ConnectorClient, ConnectorError, ConnectorSettings, DeliveryOutcome, SwyxDirectoryUser,
};
use presence_bridge::swyx::signature::{
    SignatureError, SignedHeaders, Verifier, WebhookSecret, sign, signed_headers,
};
use serde_json::json;
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BUDGET: Duration = Duration::from_secs(5);

fn secret() -> WebhookSecret {
    WebhookSecret::parse(SECRET).unwrap()
}

fn client_for(c: &RecordingConnector, secret: WebhookSecret) -> ConnectorClient {
    let mut s = ConnectorSettings::new(c.url(), secret);
    s.backoff_base = Duration::from_millis(10);
    ConnectorClient::new(s, reqwest::Client::new())
}

fn client_with(
    c: &RecordingConnector,
    tweak: impl FnOnce(&mut ConnectorSettings),
) -> ConnectorClient {
    let mut s = ConnectorSettings::new(c.url(), secret());
    tweak(&mut s);
    ConnectorClient::new(s, reqwest::Client::new())
}

fn update(user: &str, action: SwyxAction, revision: u64) -> SwyxUpdate {
    SwyxUpdate {
        swyx_user_id: user.into(),
        entra_id: "0f3c5c8e-1111-4a4a-9b9b-123456789abc".into(),
        action,
        revision,
        availability: PresenceValue::new("Busy"),
        activity: PresenceValue::new("InACall"),
        out_of_office: false,
        observed_at: Timestamp::parse_rfc3339("2026-11-26T10:00:00Z").unwrap(),
    }
}

async fn connector_with_user() -> RecordingConnector {
    let c = RecordingConnector::start(secret()).await;
    c.add_user("1001", "Alice Example", Some("alice@example.com"));
    c
}

#[tokio::test]
async fn set_status_is_signed_and_the_body_is_the_contract() {
    let c = connector_with_user().await;
    let out = client_for(&c, secret())
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Speaking), 7),
            BUDGET,
        )
        .await
        .unwrap();
    assert_eq!(out, DeliveryOutcome::Applied);
    assert_eq!(
        c.updates(),
        vec![json!({
            "swyxUserId": "1001",
            "entraId": "0f3c5c8e-1111-4a4a-9b9b-123456789abc",
            "status": "Speaking",
            "revision": 7,
            "teams": { "availability": "Busy", "activity": "InACall", "outOfOffice": false },
            "observedAt": "2026-11-26T10:00:00Z"
        })]
    );
    assert_eq!(c.status_of("1001"), Some(Some("Speaking".into())));
    assert!(c.rejected().is_empty(), "{:?}", c.rejected());
    let seen = c.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/users/1001/teams-status");
    assert!(
        seen[0]
            .webhook_id
            .as_deref()
            .is_some_and(|id| id.starts_with("msg_"))
    );
}

#[tokio::test]
async fn withdraw_sends_a_null_status() {
    let c = connector_with_user().await;
    let client = client_for(&c, secret());
    client
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            BUDGET,
        )
        .await
        .unwrap();
    let out = client
        .send_update(&update("1001", SwyxAction::Withdraw, 2), BUDGET)
        .await
        .unwrap();
    assert_eq!(out, DeliveryOutcome::Applied);
    assert_eq!(c.updates()[1]["status"], serde_json::Value::Null);
    assert_eq!(c.updates()[1]["revision"], 2);
    assert_eq!(c.status_of("1001"), Some(None));
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
async fn an_unknown_user_is_rejected_without_retry() {
    let c = connector_with_user().await;
    let err = client_for(&c, secret())
        .send_update(
            &update("9999", SwyxAction::Set(SwyxStatus::Away), 1),
            BUDGET,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Rejected { status: 404, answer, .. } if answer.contains("unknown Swyx user")),
        "{err}"
    );
    assert_eq!(c.requests().len(), 1);
}

#[tokio::test]
async fn a_lower_revision_is_superseded_and_the_same_one_is_idempotent() {
    let c = connector_with_user().await;
    let client = client_for(&c, secret());
    let newer = update("1001", SwyxAction::Set(SwyxStatus::DoNotDisturb), 5);
    assert_eq!(
        client.send_update(&newer, BUDGET).await.unwrap(),
        DeliveryOutcome::Applied
    );
    let older = update("1001", SwyxAction::Set(SwyxStatus::Available), 4);
    assert_eq!(
        client.send_update(&older, BUDGET).await.unwrap(),
        DeliveryOutcome::Superseded
    );
    assert_eq!(
        client.send_update(&newer, BUDGET).await.unwrap(),
        DeliveryOutcome::Applied
    );
    assert_eq!(c.status_of("1001"), Some(Some("DoNotDisturb".into())));
    assert_eq!(c.revision_of("1001"), Some(5));
    assert_eq!(
        c.updates().len(),
        1,
        "the repeat of revision 5 is not applied twice"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_with_401_and_not_leaked() {
    let c = connector_with_user().await;
    let wrong = WebhookSecret::generate();
    let wrong_text = wrong.expose_whsec();
    let client = client_for(&c, wrong);
    let err = client
        .send_update(
            &update("1001", SwyxAction::Set(SwyxStatus::Away), 1),
            BUDGET,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Rejected { status: 401, .. }),
        "{err}"
    );
    assert_eq!(c.requests().len(), 1);
    assert_eq!(c.rejected()[0].status, 401);
    assert_eq!(c.status_of("1001"), None);
    let key = &wrong_text["whsec_".len()..];
    assert!(!format!("{err} {err:?} {client:?}").contains(key));
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

#[tokio::test]
async fn list_users_returns_the_directory() {
    let c = connector_with_user().await;
    c.add_user("1002", "Bob Example", None);
    let users = client_for(&c, secret()).list_users(BUDGET).await.unwrap();
    assert_eq!(
        users,
        vec![
            SwyxDirectoryUser {
                swyx_user_id: "1001".into(),
                name: "Alice Example".into(),
                email: Some("alice@example.com".into()),
                groups: Vec::new(),
                teams_status: None,
                speaking: None,
            },
            SwyxDirectoryUser {
                swyx_user_id: "1002".into(),
                name: "Bob Example".into(),
                email: None,
                groups: Vec::new(),
                teams_status: None,
                speaking: None,
            },
        ]
    );
    assert_eq!(c.requests()[0].path, "/v1/users");
}

#[tokio::test]
async fn a_connector_without_call_state_reports_none_and_is_read_once() {
    // A 1.0/1.1 connector ignores `speaking=true` and lists everyone without `speaking`: the
    // bridge must not take that as "nobody is speaking".
    let c = connector_with_user().await;
    let calls = client_for(&c, secret()).speaking_now(BUDGET).await.unwrap();
    assert_eq!(calls, presence_bridge::domain::SwyxCalls::NotReported);
    assert_eq!(c.requests().len(), 1);
}

#[tokio::test]
async fn list_users_with_a_wrong_secret_is_rejected() {
    let c = connector_with_user().await;
    let err = client_for(&c, WebhookSecret::generate())
        .list_users(BUDGET)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Rejected { status: 401, .. }),
        "{err}"
    );
}

// ---- the verifier on its own ----

fn now() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

fn verifier(secrets: Vec<WebhookSecret>) -> Verifier {
    Verifier::new(secrets, Duration::from_secs(300))
}

#[test]
fn rotation_accepts_the_old_and_the_new_secret() {
    let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
    let v = verifier(vec![old.clone(), new.clone()]);
    for s in [&old, &new] {
        let h = signed_headers(s, b"{}", now().secs()).to_header_map();
        assert!(v.verify(&h, b"{}", now().secs()).is_ok());
    }
    let h = signed_headers(&WebhookSecret::generate(), b"{}", now().secs()).to_header_map();
    assert_eq!(
        v.verify(&h, b"{}", now().secs()),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    for offset in [-301, 301] {
        let h = signed_headers(&s, b"{}", now().plus_millis(offset * 1000).secs()).to_header_map();
        assert_eq!(
            v.verify(&h, b"{}", now().secs()),
            Err(SignatureError::StaleTimestamp),
            "offset {offset}s"
        );
    }
    let h = signed_headers(&s, b"{}", now().plus_millis(-299_000).secs()).to_header_map();
    assert!(v.verify(&h, b"{}", now().secs()).is_ok());
}

#[test]
fn each_missing_header_is_named() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = signed_headers(&s, b"{}", now().secs()).to_header_map();
        h.remove(name);
        let err = v.verify(&h, b"{}", now().secs()).unwrap_err();
        assert_eq!(err, SignatureError::MissingHeader(name));
        assert!(err.to_string().contains(name));
    }
}

#[test]
fn a_tampered_body_or_id_does_not_verify() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    let signed = signed_headers(&s, br#"{"swyxUserId":"1001"}"#, now().secs());
    let h = signed.to_header_map();
    assert_eq!(
        v.verify(&h, br#"{"swyxUserId":"1002"}"#, now().secs()),
        Err(SignatureError::NoMatch)
    );
    let mut other_id = h.clone();
    other_id.insert("webhook-id", HeaderValue::from_static("msg_other"));
    assert_eq!(
        v.verify(&other_id, br#"{"swyxUserId":"1001"}"#, now().secs()),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn any_matching_entry_of_a_multi_signature_header_verifies() {
    let s = secret();
    let v = verifier(vec![s.clone()]);
    let ts = now().secs();
    let good = sign(&s, "msg_1", ts, b"{}");
    let bad = sign(&WebhookSecret::generate(), "msg_1", ts, b"{}");
    let headers = |sig: String| -> HeaderMap {
        SignedHeaders {
            id: "msg_1".into(),
            timestamp: ts,
            signature: sig,
        }
        .to_header_map()
    };
    let msg = v
        .verify(
            &headers(format!("{bad} v1a,ignored {good}")),
            b"{}",
            now().secs(),
        )
        .unwrap();
    assert_eq!((msg.id.as_str(), msg.timestamp), ("msg_1", ts));
    assert_eq!(
        v.verify(&headers(format!("{bad} {bad}")), b"{}", now().secs()),
        Err(SignatureError::NoMatch)
    );
}

/// The contract document names every status the client can send and both routes.
#[test]
fn the_openapi_document_matches_the_client() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/infra/connector-openapi.yaml"
    ))
    .unwrap();
    assert!(yaml.contains("openapi: 3.1"));
    for needle in [
        "/v1/users/{swyxUserId}/teams-status:",
        "/v1/users:",
        "webhook-signature",
        "speaking.started",
        "speaking.ended",
    ] {
        assert!(yaml.contains(needle), "missing {needle}");
    }
    for s in SwyxStatus::ALL {
        assert!(
            yaml.contains(&format!("- {}", s.as_str())),
            "status {s} not in the enum"
        );
    }
}
