//! The connector client against the recording connector over loopback, and the Standard Webhooks
//! verifier on its own. Run: `cargo test --test swyx_connector`.

#[path = "swyx_connector/retries.rs"]
mod retries;
#[path = "swyx_connector/verifier.rs"]
mod verifier;

use crate::support::connector;

use connector::RecordingConnector;
use presence_bridge::domain::{PresenceValue, SwyxAction, SwyxStatus, SwyxUpdate, Timestamp};
use presence_bridge::swyx::client::{
    ConnectorClient, ConnectorError, ConnectorSettings, DeliveryOutcome, SwyxDirectoryUser,
};
use presence_bridge::swyx::signature::WebhookSecret;
use serde_json::json;
use std::time::Duration;

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
