//! The public API a bridge test uses to build a Graph notification collection without the
//! bridge's code: it must produce what the emulator itself sends, decrypt with an independent
//! implementation (the test support's aws-lc-rs code) and verify against the emulator's JWKS.

use presence_sandbox::graph::{
    CHANGE_TRACKING_APP_ID, EncryptionCertificate, encrypt_resource, validation_token_claims, wire,
};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_hand_built_collection_decrypts_and_verifies_like_the_emulators_own() {
    let graph = start().await;
    let (key, cert_b64) = encryption_cert();
    let cert = EncryptionCertificate::from_base64_der(&cert_b64).unwrap();
    assert_eq!(cert.thumbprint().len(), 40);

    let resource =
        wire::presence_resource(BOB, "Busy", "InACall", false, Some("00000000000000000042"));
    let content =
        encrypt_resource(&cert, "bridge-cert-1", resource.to_string().as_bytes()).unwrap();
    let item = wire::presence_change_notification(
        "sub-1",
        Some("client-state-secret"),
        TENANT,
        "2026-11-26T11:00:00.0000000Z",
        BOB,
        Some(content),
    );
    let token = graph.sign_validation_token().unwrap();
    let collection = wire::notification_collection(vec![item], Some(vec![token]));

    let item = &collection["value"][0];
    assert_eq!(
        decrypt(item, &key),
        resource,
        "the test's own decryption gives the resource back"
    );
    assert_eq!(
        item["encryptedContent"]["encryptionCertificateThumbprint"],
        cert.thumbprint()
    );
    let claims =
        verify_validation_token(&graph, collection["validationTokens"][0].as_str().unwrap()).await;
    assert_eq!(
        (claims["azp"].as_str(), claims["aud"].as_str()),
        (Some(CHANGE_TRACKING_APP_ID), Some(APP_ID))
    );

    // Same shape as what the emulator sends for a real change.
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, delegated, _) = sync_account(&graph, "sync1@contoso.example").await;
    let r = graph_post(
        &graph,
        &delegated,
        "/subscriptions",
        subscription_body(&hook.url, &[BOB], &cert_b64, 60, graph.clock()),
    )
    .await;
    assert_eq!(r.status(), http::StatusCode::CREATED);
    graph
        .set_client_session(BOB, "desktop", "Busy", "InACall")
        .unwrap();
    let sent = hook.next_accepted().await;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&sent), keys(&collection));
    assert_eq!(keys(&sent["value"][0]), keys(&collection["value"][0]));
    assert_eq!(keys(&decrypt(&sent["value"][0], &key)), keys(&resource));
}

#[tokio::test]
async fn tokens_with_chosen_claims_sign_with_the_published_key() {
    let graph = start().await;
    let mut claims = validation_token_claims(APP_ID, TENANT, 1_700_000_000);
    claims["aud"] = json!("someone-else");
    let token = graph.sign_token(&claims).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let jwks: Value = http()
        .get(graph.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        header.kid.as_deref(),
        jwks["keys"][0]["kid"].as_str(),
        "signed with the JWKS key"
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwks["keys"][0]["n"].as_str().unwrap(),
        jwks["keys"][0]["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false;
    v.set_audience(&["someone-else"]);
    let decoded = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();
    assert_eq!(decoded.claims["tid"], TENANT);
}
