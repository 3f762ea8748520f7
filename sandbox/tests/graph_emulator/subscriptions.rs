//! Subscription rules: handshake, permissions, limits, expiry, PATCH, DELETE.

use std::time::Duration;

use http::StatusCode;
use presence_sandbox::Clock;
use presence_sandbox::graph::GraphTiming;
use serde_json::{Value, json};

use crate::support::*;

async fn create(
    graph: &presence_sandbox::graph::GraphEmulator,
    token: &str,
    body: Value,
) -> reqwest::Response {
    graph_post(graph, token, "/subscriptions", body).await
}

#[tokio::test]
async fn creates_after_echoing_the_handshake_on_both_urls() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (sync_id, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &[ALICE, BOB], &cert, 60, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sub: Value = r.json().await.unwrap();
    assert_eq!(sub["applicationId"], APP_ID);
    assert_eq!(sub["creatorId"], sync_id);
    assert_eq!(sub["changeType"], "updated");
    assert_eq!(sub["clientState"], "client-state-secret");
    assert_eq!(sub["encryptionCertificateId"], "bridge-cert-1");

    let tokens = hook.validation_tokens();
    assert_eq!(
        tokens.len(),
        2,
        "notification and lifecycle URL are validated separately, even if equal"
    );
    assert!(
        tokens[0].contains(' ') && tokens[0].contains(':'),
        "decoded token has spaces and colons: {}",
        tokens[0]
    );

    let views = graph.subscriptions();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].user_ids, [ALICE, BOB]);
    let got = graph_get(&graph, &token, &format!("/subscriptions/{}", views[0].id)).await;
    assert_eq!(got.status(), StatusCode::OK);
    let got: Value = got.json().await.unwrap();
    assert_eq!(got["clientState"], "client-state-secret");
    // The list leaves it out: "the clientState property value is not returned for security
    // purposes" (https://learn.microsoft.com/en-us/graph/api/subscription-list).
    let listed: Value = graph_get(&graph, &token, "/subscriptions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"][0]["id"], views[0].id.as_str());
    assert_eq!(listed["value"][0]["clientState"], Value::Null);
}

#[tokio::test]
async fn a_wrong_echo_a_non_text_answer_or_a_silent_endpoint_fails_validation() {
    let graph = start().await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    for mode in [Handshake::WrongEcho, Handshake::Json] {
        let hook = Receiver::start(mode).await;
        let r = create(
            &graph,
            &token,
            subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
        )
        .await;
        let (status, _, message) = error_of(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{mode:?}");
        assert!(
            message.starts_with("Subscription validation request failed"),
            "{message}"
        );
    }

    graph.set_timing(GraphTiming {
        validation_timeout: Duration::from_millis(300),
        ..fast_timing()
    });
    let silent = Receiver::start(Handshake::Hang).await;
    let r = create(
        &graph,
        &token,
        subscription_body(&silent.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    let (status, _, message) = error_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("within 10 seconds"), "{message}");
    assert!(
        graph.subscriptions().is_empty(),
        "nothing is created when validation fails"
    );
}

#[tokio::test]
async fn app_only_tokens_cannot_subscribe_to_presence() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, cert) = encryption_cert();
    let token = app_token(&graph).await;
    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        hook.validation_tokens().is_empty(),
        "refused before any handshake"
    );
}

#[tokio::test]
async fn at_most_650_users_and_one_subscription_per_delegated_user() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    let ids: Vec<String> = (0..651)
        .map(|i| format!("{i:08}-0000-0000-0000-000000000000"))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();

    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &refs, &cert, 60, graph.clock()),
    )
    .await;
    let (status, _, message) = error_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("650"), "{message}");

    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &refs[..650], &cert, 60, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first = graph.subscriptions()[0].id.clone();

    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    let (status, _, message) = error_of(r).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        message,
        format!("Subscription Id {first} already exists for the requested combination")
    );

    let (_, other, _) = sync_account(&graph, "sync2@contoso.example").await;
    let r = create(
        &graph,
        &other,
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "another sync account may subscribe"
    );
}

#[tokio::test]
async fn body_rules_name_the_problem() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    let base = subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock());
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "changeType": "created" }), "changeType"),
        (
            json!({ "encryptionCertificate": null }),
            "encryptionCertificate",
        ),
        (
            json!({ "encryptionCertificate": "bm90IGEgY2VydA==" }),
            "X.509",
        ),
        (
            json!({ "encryptionCertificateId": "x".repeat(129) }),
            "encryptionCertificateId",
        ),
        (json!({ "clientState": "x".repeat(129) }), "clientState"),
        (
            json!({ "resource": "/users/abc/presence" }),
            "Unsupported resource",
        ),
        (
            json!({ "expirationDateTime": "soon" }),
            "expirationDateTime",
        ),
    ];
    for (patch, expected) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, _, message) = error_of(create(&graph, &token, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{expected}");
        assert!(
            message.contains(expected),
            "{message} should name {expected}"
        );
    }
    let r = http()
        .post(format!("{}/subscriptions", graph.graph_url()))
        .bearer_auth(&token)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(graph.subscriptions().is_empty());
}

#[tokio::test]
async fn expiry_is_raised_to_45_minutes_and_longer_than_60_is_refused() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &[ALICE], &cert, 61, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let before = graph.clock().now_ms();
    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &[ALICE], &cert, 10, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let expiry = graph.subscriptions()[0].expiration_ms;
    assert!(expiry >= before + 45 * 60_000 && expiry <= graph.clock().now_ms() + 45 * 60_000);
}

#[tokio::test]
async fn patch_renews_within_limits_and_delete_removes() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    let r = create(
        &graph,
        &token,
        subscription_body(&hook.url, &[ALICE], &cert, 50, graph.clock()),
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/subscriptions/{id}", graph.graph_url());

    graph.clock().advance(Duration::from_secs(30 * 60));
    let new_expiry = Clock::format_ms(graph.clock().now_ms() + 55 * 60_000);
    let r = http()
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "expirationDateTime": new_expiry }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["expirationDateTime"], new_expiry.as_str());

    let too_far = Clock::format_ms(graph.clock().now_ms() + 70 * 60_000);
    let r = http()
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "expirationDateTime": too_far }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let (_, new_cert) = encryption_cert();
    let rotate =
        json!({ "encryptionCertificate": new_cert, "encryptionCertificateId": "bridge-cert-2" });
    let r = http()
        .patch(&url)
        .bearer_auth(&token)
        .json(&rotate)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["encryptionCertificateId"],
        "bridge-cert-2"
    );

    let app = app_token(&graph).await;
    let r = http().delete(&url).bearer_auth(&app).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "presence subscriptions are delegated-only"
    );
    let r = http()
        .delete(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = http().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expired_subscription_is_gone_and_delivers_nothing() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, cert) = encryption_cert();
    let (_, t1, _) = sync_account(&graph, "sync1@contoso.example").await;
    let r = create(
        &graph,
        &t1,
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    let expired = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    graph.clock().advance(Duration::from_secs(61 * 60));
    let (_, t2, _) = sync_account(&graph, "sync2@contoso.example").await;
    let r = graph_get(&graph, &t2, &format!("/subscriptions/{expired}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A live subscription on the same URL: its notification travels in the same batch as one for
    // the expired subscription would.
    let r = create(
        &graph,
        &t2,
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    let live = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    graph
        .set_client_session(ALICE, "teams-desktop", "Available", "Available")
        .unwrap();
    let batch = hook.next_accepted().await;
    let ids: Vec<&str> = batch["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["subscriptionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [live.as_str()]);
}
