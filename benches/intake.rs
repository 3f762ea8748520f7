//! The whole intake of one encrypted Graph notification (2048-bit key) next to the bare RSA-OAEP
//! unwrap it contains, in one run: everything but RSA should be negligible.
//!
//! `cargo bench --bench intake`. Three figures:
//! - `rsa_oaep_unwrap_2048`: the data-key unwrap alone;
//! - `intake_record_2048`: POST body → 202 through the real handler (validation token, clientState,
//!   unwrap, HMAC, AES, mapping, sync decision, SQLite write), a change that keeps the Swyx status;
//! - `intake_forward_2048`: the same with a status change forwarded to a connector over loopback HTTP.

#[path = "../tests/support/connector.rs"]
mod connector;
#[allow(dead_code)] // the bench uses only part of the test sender
#[path = "../tests/support/graph_sender.rs"]
mod graph_sender;
#[path = "../tests/support/test_issuer.rs"]
mod test_issuer;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use graph_sender::{APP_ID, CERT_ID, GraphSender, TENANT};
use presence_bridge::app::App;
use presence_bridge::app::AppSettings;
use presence_bridge::domain::{MappingRules, Timestamp};
use presence_bridge::graph::crypto::NotificationKeys;
use presence_bridge::graph::validation_token::{TokenSettings, TokenValidator};
use presence_bridge::store::{SqliteStore, Store, SubscriptionRecord, UserLink};
use presence_bridge::swyx::client::{ConnectorClient, ConnectorSettings};
use presence_bridge::swyx::signature::WebhookSecret;
use presence_bridge::teams_to_swyx::intake as graph_webhook;
use std::sync::Arc;
use std::time::Duration;

const KEY: &[u8] = include_bytes!("../tests/fixtures/crypto/key2048.pkcs8.pem");
const CERT: &str = include_str!("../tests/fixtures/crypto/key2048.cert.pem");
const JWT_KEY: &[u8] = include_bytes!("../tests/fixtures/jwt/key1.pem");
const SUB: &str = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07";
const STATE: &str = "bench-client-state";
const USER: &str = "00000000-0000-4000-8000-000000000001";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, sender, _connector) = rt.block_on(async {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let connector = connector::RecordingConnector::start(secret.clone()).await;
        connector.add_user("swyx-1", "Bench User", None);
        let sender = GraphSender::start(CERT, JWT_KEY).await;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        store
            .put_subscription(&SubscriptionRecord {
                id: SUB.into(),
                client_state: STATE.into(),
                expires_at: Timestamp::now().plus_millis(3_600_000),
                account: None,
                resource: String::new(),
                encryption_certificate_id: Some(CERT_ID.into()),
                renewed_at: None,
            })
            .await
            .unwrap();
        store
            .put_user(&UserLink {
                entra_id: USER.into(),
                swyx_user_id: "swyx-1".into(),
                email: String::new(),
            })
            .await
            .unwrap();
        let mut keys = NotificationKeys::new();
        keys.add_pem(Some(CERT_ID), KEY).unwrap();
        let http = reqwest::Client::new();
        let app = App {
            settings: AppSettings {
                tenant_id: TENANT.into(),
                client_id: APP_ID.into(),
                max_body_bytes: 1 << 20,
                time_budget: Duration::from_secs(2),
            },
            rules: MappingRules::default(),
            rule_overrides: Vec::new(),
            keys: Arc::new(keys),
            tokens: Arc::new(TokenValidator::new(
                TokenSettings {
                    jwks_url: sender.jwks_url.clone(),
                    app_id: APP_ID.into(),
                    ..TokenSettings::default()
                },
                http.clone(),
            )),
            store,
            connector: Arc::new(ConnectorClient::new(
                ConnectorSettings::new(connector.url(), secret),
                http,
            )),
            metrics: Default::default(),
            swyx_to_teams: None,
            accounts: None,
            users_sync: None,
            wake_maintenance: Default::default(),
            directions: Default::default(),
            known_subscriptions: Default::default(),
            clock: Default::default(),
        };
        (Arc::new(app), sender, connector)
    });

    let body_for = |availability: &str, activity: &str| -> Bytes {
        let p = GraphSender::presence(USER, availability, activity, false, None);
        Bytes::from(
            serde_json::to_vec(&sender.collection(vec![sender.item(SUB, STATE, &p)])).unwrap(),
        )
    };
    let request = |body: Bytes| {
        http::Request::builder()
            .method("POST")
            .uri("/graph/notifications")
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };

    let sample: serde_json::Value = serde_json::from_slice(&body_for("Busy", "Busy")).unwrap();
    let data_key = sample["value"][0]["encryptedContent"]["dataKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut group = c.benchmark_group("graph_intake");
    group.bench_function("rsa_oaep_unwrap_2048", |b| {
        b.iter(|| app.keys.unwrap_data_key(CERT_ID, &data_key).unwrap())
    });

    // Two presences that map to the same Swyx status: the state is written, nothing is forwarded.
    let mut flip = false;
    group.bench_function("intake_record_2048", |b| {
        b.iter_batched(
            || {
                flip = !flip;
                request(if flip {
                    body_for("Busy", "Busy")
                } else {
                    body_for("Busy", "InAMeeting")
                })
            },
            |req| {
                let resp = rt.block_on(graph_webhook::handle(&app, req));
                assert_eq!(resp.status(), 202);
            },
            BatchSize::SmallInput,
        )
    });
    // Alternating statuses: every notification is forwarded to the connector over loopback.
    group.bench_function("intake_forward_2048", |b| {
        b.iter_batched(
            || {
                flip = !flip;
                request(if flip {
                    body_for("Available", "Available")
                } else {
                    body_for("Busy", "Busy")
                })
            },
            |req| {
                let resp = rt.block_on(graph_webhook::handle(&app, req));
                assert_eq!(resp.status(), 202);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
