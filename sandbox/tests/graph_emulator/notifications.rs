//! Rich notifications: content, crypto, validation tokens, ordering, retries, slow answers,
//! lifecycle events.

use std::time::Duration;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use presence_sandbox::graph::{CHANGE_TRACKING_APP_ID, GraphEmulator, GraphTiming};
use serde_json::Value;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

/// A sync account subscribed to Alice and Bob at `hook`; returns (private key, cert, subscription id).
async fn subscribed(graph: &GraphEmulator, hook: &Receiver) -> (Vec<u8>, String, String) {
    let (_, token, _) = sync_account(graph, "sync1@contoso.example").await;
    let (key, cert) = encryption_cert();
    let r = graph_post(
        graph,
        &token,
        "/subscriptions",
        subscription_body(&hook.url, &[ALICE, BOB], &cert, 60, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (key, cert, id)
}

#[tokio::test]
async fn a_change_arrives_encrypted_signed_and_sequenced() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (key, cert, sub_id) = subscribed(&graph, &hook).await;

    graph
        .set_client_session(ALICE, "teams-desktop", "Busy", "InACall")
        .unwrap();
    let batch = hook.next_accepted().await;
    let item = &batch["value"][0];
    assert_eq!(item["subscriptionId"], sub_id.as_str());
    assert_eq!(item["clientState"], "client-state-secret");
    assert_eq!(item["tenantId"], TENANT);
    assert_eq!(item["changeType"], "updated");
    assert_eq!(
        item["resource"],
        format!("communications/presences/{ALICE}")
    );
    assert_eq!(item["resourceData"]["id"], ALICE);
    let content = &item["encryptedContent"];
    assert_eq!(content["encryptionCertificateId"], "bridge-cert-1");
    let thumbprint: String = digest(&SHA1_FOR_LEGACY_USE_ONLY, &STANDARD.decode(&cert).unwrap())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(
        content["encryptionCertificateThumbprint"],
        thumbprint.as_str()
    );

    let first = decrypt(item, &key);
    assert_eq!(first["@odata.type"], "#microsoft.graph.presence");
    assert_eq!(
        (first["availability"].as_str(), first["activity"].as_str()),
        (Some("Busy"), Some("InACall"))
    );
    assert_eq!(first["outOfOfficeSettings"]["isOutOfOffice"], false);

    let tokens = batch["validationTokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "one token per app and tenant");
    let claims = verify_validation_token(&graph, tokens[0].as_str().unwrap()).await;
    assert_eq!(claims["azp"], CHANGE_TRACKING_APP_ID);
    assert_eq!(
        (claims["tid"].as_str(), claims["ver"].as_str()),
        (Some(TENANT), Some("2.0"))
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);

    graph.set_out_of_office(ALICE, true).unwrap();
    let second = decrypt(&hook.next_accepted().await["value"][0], &key);
    assert_eq!(second["outOfOfficeSettings"]["isOutOfOffice"], true);
    assert!(second["sequenceNumber"].as_str().unwrap() > first["sequenceNumber"].as_str().unwrap());
    let stats = graph
        .wait_stats(WAIT, |s| s.notifications_delivered == 2)
        .await
        .unwrap();
    assert_eq!(stats.notifications_failed, 0);
    assert_eq!(graph.subscriptions()[0].notifications_delivered, 2);
}

#[tokio::test]
async fn tampering_with_the_data_breaks_the_signature() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (key, _, _) = subscribed(&graph, &hook).await;
    graph
        .set_client_session(BOB, "desktop", "Available", "Available")
        .unwrap();
    let mut item = hook.next_accepted().await["value"][0].clone();
    assert!(signature_ok(&item, &key));
    let mut data = STANDARD
        .decode(item["encryptedContent"]["data"].as_str().unwrap())
        .unwrap();
    data[0] ^= 1;
    item["encryptedContent"]["data"] = STANDARD.encode(data).into();
    assert!(
        !signature_ok(&item, &key),
        "the HMAC must not verify for modified data"
    );
}

#[tokio::test]
async fn many_changes_arrive_in_order_for_each_user() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (key, _, _) = subscribed(&graph, &hook).await;
    let states = [
        ("Available", "Available"),
        ("Busy", "InAMeeting"),
        ("Away", "Away"),
        ("DoNotDisturb", "Presenting"),
    ];
    for (a, b) in states.iter().cycle().take(12) {
        graph.set_client_session(ALICE, "desktop", a, b).unwrap();
        graph.set_client_session(BOB, "desktop", a, b).unwrap();
    }
    let mut seen: Vec<Value> = Vec::new();
    while seen.len() < 24 {
        let batch = hook.next_accepted().await;
        seen.extend(
            batch["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| decrypt(i, &key)),
        );
    }
    for user in [ALICE, BOB] {
        let seqs: Vec<&str> = seen
            .iter()
            .filter(|p| p["id"] == user)
            .map(|p| p["sequenceNumber"].as_str().unwrap())
            .collect();
        assert_eq!(seqs.len(), 12);
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "per-user order kept: {seqs:?}"
        );
    }
    let last = seen.iter().rev().find(|p| p["id"] == ALICE).unwrap();
    assert_eq!(last["activity"], "Presenting");
}

#[tokio::test]
async fn a_503_is_retried_until_it_succeeds() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (key, _, _) = subscribed(&graph, &hook).await;
    hook.fail_next(2);
    graph
        .set_client_session(ALICE, "desktop", "Away", "Away")
        .unwrap();
    let statuses = [hook.next().await.status, hook.next().await.status];
    assert_eq!(statuses, [503, 503]);
    let delivered = hook.next().await;
    assert_eq!(delivered.status, 202);
    assert_eq!(
        decrypt(&delivered.body["value"][0], &key)["availability"],
        "Away"
    );
    let stats = graph
        .wait_stats(WAIT, |s| s.notifications_delivered == 1)
        .await
        .unwrap();
    assert_eq!(
        (stats.notifications_failed, stats.notifications_retried),
        (2, 2)
    );
}

#[tokio::test]
async fn an_answer_slower_than_the_limit_counts_as_slow_and_is_retried() {
    let graph = start().await;
    graph.set_timing(GraphTiming {
        delivery_timeout: Duration::from_millis(300),
        ..fast_timing()
    });
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, _, _) = subscribed(&graph, &hook).await;
    hook.hang_next(1);
    graph
        .set_client_session(BOB, "desktop", "Busy", "Busy")
        .unwrap();
    let batch = hook.next_accepted().await;
    assert_eq!(batch["value"][0]["resourceData"]["id"], BOB);
    let stats = graph
        .wait_stats(WAIT, |s| s.notifications_delivered == 1)
        .await
        .unwrap();
    assert_eq!((stats.slow_answers, stats.notifications_retried), (1, 1));
}

#[tokio::test]
async fn undeliverable_notifications_are_dropped_after_four_hours() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    subscribed(&graph, &hook).await;
    hook.fail_next(u32::MAX);
    graph
        .set_client_session(ALICE, "desktop", "Available", "Available")
        .unwrap();
    assert_eq!(hook.next().await.status, 503);
    graph.clock().advance(Duration::from_secs(4 * 3600 + 60));
    let stats = graph
        .wait_stats(WAIT, |s| s.notifications_dropped == 1)
        .await
        .unwrap();
    assert_eq!(stats.notifications_delivered, 0);
}

#[tokio::test]
async fn lifecycle_events_reach_the_lifecycle_url() {
    let graph = start().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let lifecycle = Receiver::start(Handshake::Echo).await;
    let (_, token, _) = sync_account(&graph, "sync1@contoso.example").await;
    let (_, cert) = encryption_cert();
    let mut body = subscription_body(&hook.url, &[ALICE], &cert, 60, graph.clock());
    body["lifecycleNotificationUrl"] = lifecycle.url.clone().into();
    let r = graph_post(&graph, &token, "/subscriptions", body).await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    graph
        .send_lifecycle(&id, "reauthorizationRequired")
        .unwrap();
    let batch = lifecycle.next_accepted().await;
    let item = &batch["value"][0];
    assert_eq!(item["lifecycleEvent"], "reauthorizationRequired");
    assert_eq!(
        (
            item["subscriptionId"].as_str(),
            item["clientState"].as_str()
        ),
        (Some(id.as_str()), Some("client-state-secret"))
    );
    assert!(item.get("changeType").is_none());
    verify_validation_token(&graph, batch["validationTokens"][0].as_str().unwrap()).await;

    graph.send_lifecycle(&id, "missed").unwrap();
    assert_eq!(
        lifecycle.next_accepted().await["value"][0]["lifecycleEvent"],
        "missed"
    );
    assert!(
        graph
            .send_lifecycle(&id, "somethingElse")
            .unwrap_err()
            .to_string()
            .contains("somethingElse")
    );

    graph.send_lifecycle(&id, "subscriptionRemoved").unwrap();
    assert_eq!(
        lifecycle.next_accepted().await["value"][0]["lifecycleEvent"],
        "subscriptionRemoved"
    );
    let r = graph_get(&graph, &token, &format!("/subscriptions/{id}")).await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "subscriptionRemoved deletes it"
    );
    let stats = graph
        .wait_stats(WAIT, |s| s.lifecycle_delivered == 3)
        .await
        .unwrap();
    assert_eq!(stats.notifications_delivered, 0);
}
