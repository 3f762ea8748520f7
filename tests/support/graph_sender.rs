//! A Graph-like sender: builds rich, encrypted presence notifications the way Graph does, with the
//! sandbox's independent encryption (never the bridge's own code, so a shared mistake cannot hide),
//! and validation tokens signed by a test key served on a local JWKS URL.

use super::test_issuer::TestIssuer;
use presence_sandbox::graph::{EncryptionCertificate, encrypt_resource};
use serde_json::{Value, json};
use std::time::Duration;

pub const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";
pub const APP_ID: &str = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0";
pub const CERT_ID: &str = "bridge-cert-2026";

pub struct GraphSender {
    pub issuer: TestIssuer,
    certificate: EncryptionCertificate,
    http: reqwest::Client,
    jwks_task: tokio::task::JoinHandle<()>,
    pub jwks_url: String,
}

impl GraphSender {
    /// `encryption_cert_pem`: the certificate of the bridge's notification key (as a subscription
    /// carries it; we encrypt for its public key).
    pub async fn start(encryption_cert_pem: &str, jwt_key_pem: &[u8]) -> Self {
        let issuer = TestIssuer::from_pem(jwt_key_pem, "test-kid-1").expect("test issuer");
        let jwks = issuer.jwks_json();
        let router = axum::Router::new().route(
            "/discovery/v2.0/keys",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], jwks) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let jwks_url = format!(
            "http://{}/discovery/v2.0/keys",
            listener.local_addr().expect("addr")
        );
        let jwks_task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            issuer,
            certificate: certificate_from_pem(encryption_cert_pem),
            http: reqwest::Client::new(),
            jwks_task,
            jwks_url,
        }
    }

    pub fn presence(
        user: &str,
        availability: &str,
        activity: &str,
        oof: bool,
        seq: Option<&str>,
    ) -> Value {
        let mut p = json!({
            "@odata.id": format!("users/{user}/presence"),
            "@odata.type": "#microsoft.graph.presence",
            "id": user,
            "availability": availability,
            "activity": activity,
            "outOfOfficeSettings": { "message": null, "isOutOfOffice": oof },
        });
        if let Some(seq) = seq {
            p["sequenceNumber"] = json!(seq);
        }
        p
    }

    /// One rich notification item for `presence` (its `id` is the user).
    pub fn item(&self, subscription_id: &str, client_state: &str, presence: &Value) -> Value {
        let user = presence["id"].as_str().unwrap_or_default().to_string();
        let plaintext = serde_json::to_vec(presence).expect("json");
        let enc = encrypt_resource(&self.certificate, CERT_ID, &plaintext).expect("encrypt");
        json!({
            "subscriptionId": subscription_id,
            "clientState": client_state,
            "changeType": "updated",
            "tenantId": TENANT,
            "resource": format!("communications/presences/{user}"),
            "subscriptionExpirationDateTime": "2030-09-14T10:00:00.0000000Z",
            "resourceData": {
                "@odata.id": format!("users/{user}/presence"),
                "@odata.type": "#microsoft.graph.presence",
                "id": user
            },
            "organizationId": TENANT,
            "encryptedContent": {
                "data": enc["data"],
                "dataSignature": enc["dataSignature"],
                "dataKey": enc["dataKey"],
                "encryptionCertificateId": enc["encryptionCertificateId"],
                "encryptionCertificateThumbprint": enc["encryptionCertificateThumbprint"]
            }
        })
    }

    pub fn collection(&self, items: Vec<Value>) -> Value {
        let token = self
            .issuer
            .validation_token(APP_ID, TENANT, Duration::from_secs(3600));
        json!({ "value": items, "validationTokens": [token] })
    }

    pub async fn post(&self, url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("bridge answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    pub async fn post_json(&self, url: &str, body: &Value) -> (u16, String) {
        self.post(url, serde_json::to_vec(body).expect("json"))
            .await
    }
}

impl Drop for GraphSender {
    fn drop(&mut self) {
        self.jwks_task.abort();
    }
}

/// A PEM certificate as Graph's `encryptionCertificate` (base64 DER) reads it.
fn certificate_from_pem(pem: &str) -> EncryptionCertificate {
    // A PEM body is the base64 DER itself.
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    EncryptionCertificate::from_base64_der(&body).expect("RSA certificate")
}
