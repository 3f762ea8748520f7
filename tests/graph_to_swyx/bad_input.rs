//! Bad input on the webhook: a bad item or request is refused on its own and changes nothing;
//! so is a collection whose tokens cannot be checked for want of the signing keys (503).

use super::{env, env_with_jwks, swyx_id, user_id};
use crate::support::graph_sender::TENANT;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_bad_item_is_dropped_without_failing_its_neighbours() {
    let env = env(5).await;
    let mut tampered = env.item(1, "Busy", "Busy", false, None);
    // Flip one character of the encrypted data: the signature no longer matches.
    let data = tampered["encryptedContent"]["data"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = match data.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &data[1..]),
    };
    tampered["encryptedContent"]["data"] = json!(flipped);
    let mut wrong_state = env.item(2, "Busy", "Busy", false, None);
    wrong_state["clientState"] = json!("guessed");
    let mut unknown_sub = env.item(3, "Busy", "Busy", false, None);
    unknown_sub["subscriptionId"] = json!("00000000-dead-beef-0000-000000000000");
    let mut other_key = env.item(4, "Busy", "Busy", false, None);
    other_key["encryptedContent"]["encryptionCertificateId"] = json!("not-configured");

    let items = vec![
        env.item(0, "Busy", "Busy", false, None),
        tampered,
        wrong_state,
        unknown_sub,
        other_key,
    ];
    let (status, _) = env.send(items).await;
    assert_eq!(status, 202);
    assert_eq!(
        env.connector.status_of(&swyx_id(0)),
        Some(Some("Away".to_string()))
    );
    for i in 1..5 {
        assert_eq!(
            env.connector.status_of(&swyx_id(i)),
            None,
            "item {i} must be dropped"
        );
        assert!(
            env.store
                .get_sync_state(&user_id(i))
                .await
                .unwrap()
                .is_none(),
            "item {i} changes nothing"
        );
    }
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let env = env(1).await;
    let (status, body) = env.sender.post(&env.url(), "{not json").await;
    assert_eq!(status, 400);
    assert!(body.contains("malformed JSON"), "{body}");
    let (status, body) = env
        .sender
        .post_json(&env.url(), &json!({"values": []}))
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("missing `value`"), "{body}");

    // No validation tokens on a rich notification.
    let (status, body) = env
        .sender
        .post_json(
            &env.url(),
            &json!({"value": [env.item(0, "Busy", "Busy", false, None)]}),
        )
        .await;
    assert_eq!(status, 401);
    assert!(body.contains("validationTokens"), "{body}");

    // A token for another app.
    let other_app = env.sender.issuer.validation_token(
        "11111111-2222-4333-8444-555555555555",
        TENANT,
        Duration::from_secs(600),
    );
    let body = json!({"value": [env.item(0, "Busy", "Busy", false, None)], "validationTokens": [other_app]});
    assert_eq!(env.sender.post_json(&env.url(), &body).await.0, 401);

    // Too large.
    let big = vec![b' '; 300 * 1024];
    assert_eq!(env.sender.post(&env.url(), big).await.0, 413);

    assert!(env.connector.updates().is_empty());
    assert!(
        env.store
            .get_sync_state(&user_id(0))
            .await
            .unwrap()
            .is_none()
    );
}

/// The signing keys cannot be fetched (the JWKS URL does not answer): that is the bridge's
/// outage, not a forged request, so a valid collection is answered 503 (Graph delivers it again
/// later) and nothing of it is processed; a token that fails on its own claims is still a 401.
#[tokio::test]
async fn a_signing_key_outage_is_a_503_and_processes_nothing() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/keys", closed.local_addr().unwrap());
    drop(closed);
    let env = env_with_jwks(1, Some(jwks_url)).await;

    let (status, body) = env
        .send(vec![env.item(0, "Busy", "Busy", false, None)])
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("signing keys"), "{body}");

    let other_app = env.sender.issuer.validation_token(
        "11111111-2222-4333-8444-555555555555",
        TENANT,
        Duration::from_secs(600),
    );
    let body = json!({"value": [env.item(0, "Busy", "Busy", false, None)], "validationTokens": [other_app]});
    assert_eq!(env.sender.post_json(&env.url(), &body).await.0, 401);

    assert!(env.connector.updates().is_empty());
    assert!(
        env.store
            .get_sync_state(&user_id(0))
            .await
            .unwrap()
            .is_none()
    );
}
