//! Subscription creates and renewals answered late on purpose: the subscription exists (both URLs
//! validated) before the answer, so a client that gives up early sees nothing while notifications
//! already flow, and its second create gets Graph's 409 naming the existing subscription.

use std::time::{Duration, Instant};

use http::StatusCode;
use presence_sandbox::Clock;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_create_answered_3_s_late_still_reaches_a_patient_client() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    graph.set_subscription_answer_delay(Some(Duration::from_secs(3)));
    let started = Instant::now();
    let r = http()
        .post(format!("{}/subscriptions", graph.graph_url()))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(10))
        .json(&subscription_body(
            &hook.url,
            &[ALICE],
            &cert,
            60,
            graph.clock(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(graph.subscriptions()[0].id, id);

    // A renewal is late too, but applied before the answer.
    let renew_to = Clock::format_ms(graph.clock().now_ms() + 55 * 60_000);
    let patch = {
        let (url, token) = (
            format!("{}/subscriptions/{id}", graph.graph_url()),
            token.clone(),
        );
        tokio::spawn(async move {
            http()
                .patch(url)
                .bearer_auth(token)
                .json(&json!({ "expirationDateTime": renew_to }))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    graph
        .wait_stats(Duration::from_secs(10), |s| s.late_answers == 2)
        .await
        .unwrap();
    assert!(!patch.is_finished(), "the answer is still held back");
    let left = graph.subscriptions()[0].expiration_ms - graph.clock().now_ms();
    assert!(left > 54 * 60_000, "already renewed: {left}");
    assert_eq!(patch.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn a_create_answered_12_s_late_times_out_but_exists_and_a_retry_gets_409() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (key, cert) = encryption_cert();
    graph.set_subscription_answer_delay(Some(Duration::from_secs(12)));
    let validations = graph.stats().validation_requests;
    let err = http()
        .post(format!("{}/subscriptions", graph.graph_url()))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(10))
        .json(&subscription_body(
            &hook.url,
            &[ALICE],
            &cert,
            60,
            graph.clock(),
        ))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");

    let subs = graph.subscriptions();
    assert_eq!(
        subs.len(),
        1,
        "created although the client never heard of it"
    );
    assert_eq!(
        graph.stats().validation_requests,
        validations + 2,
        "both URLs were validated"
    );
    graph
        .set_client_session(ALICE, "desktop", "Busy", "InACall")
        .unwrap();
    let item = &hook.next_accepted().await["value"][0];
    assert_eq!(
        item["subscriptionId"],
        subs[0].id.as_str(),
        "notifications already flow"
    );
    assert_eq!(decrypt(item, &key)["activity"], "InACall");

    graph.set_subscription_answer_delay(None);
    let r = graph_post(
        &graph,
        &token,
        "/subscriptions",
        subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock()),
    )
    .await;
    let (status, code, message) = error_of(r).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code, "ExtensionError");
    assert_eq!(
        message,
        format!(
            "Subscription Id {} already exists for the requested combination",
            subs[0].id
        )
    );
}
