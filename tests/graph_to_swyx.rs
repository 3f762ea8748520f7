//! End to end over real HTTP on loopback: a Graph-like sender posts encrypted notifications with
//! validation tokens (JWKS on a local URL) to the bridge's webhook; a connector-like receiver
//! checks the Standard Webhooks signatures and records the Swyx statuses it receives.

use crate::support::bridge;
use crate::support::connector;
use crate::support::graph_sender;
#[path = "graph_to_swyx/bad_input.rs"]
mod bad_input;
#[path = "graph_to_swyx/batch.rs"]
mod batch;
#[path = "graph_to_swyx/early_read.rs"]
mod early_read;
#[path = "graph_to_swyx/metrics.rs"]
mod metrics;
#[path = "graph_to_swyx/undelivered.rs"]
mod undelivered;

use bridge::BridgeServer;
use connector::RecordingConnector;
use graph_sender::{APP_ID, CERT_ID, GraphSender, TENANT};
use presence_bridge::app::App;
use presence_bridge::app::AppSettings;
use presence_bridge::domain::{MappingRules, Timestamp};
use presence_bridge::graph::crypto::NotificationKeys;
use presence_bridge::graph::validation_token::{TokenSettings, TokenValidator};
use presence_bridge::store::{CountingStore, SqliteStore, Store, SubscriptionRecord, UserLink};
use presence_bridge::swyx::client::{ConnectorClient, ConnectorSettings};
use presence_bridge::swyx::signature::WebhookSecret;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const ENCRYPTION_KEY: &[u8] = include_bytes!("fixtures/crypto/key2048.pkcs8.pem");
const ENCRYPTION_CERT: &str = include_str!("fixtures/crypto/key2048.cert.pem");
const JWT_KEY: &[u8] = include_bytes!("fixtures/jwt/key1.pem");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SUB: &str = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07";
const CLIENT_STATE: &str = "s3cr3t-client-state-0123456789";

struct Env {
    app: Arc<App>,
    bridge: BridgeServer,
    connector: RecordingConnector,
    sender: GraphSender,
    store: Arc<dyn Store>,
    /// The same store, its calls counted.
    counting: Arc<CountingStore>,
    users: Vec<String>,
    _dir: tempfile::TempDir,
}

fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn swyx_id(i: usize) -> String {
    format!("swyx-{i}")
}

async fn env(users: usize) -> Env {
    env_with_jwks(users, None).await
}

/// [`env`], its validation tokens checked against the keys at `jwks_url` instead of the sender's.
async fn env_with_jwks(users: usize, jwks_url: Option<String>) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("bridge.db")).expect("sqlite"));
    let counting = Arc::new(CountingStore::new(sqlite));
    let store: Arc<dyn Store> = counting.clone();
    let secret = WebhookSecret::parse(SECRET).expect("secret");
    let connector = RecordingConnector::start(secret.clone()).await;
    let sender = GraphSender::start(ENCRYPTION_CERT, JWT_KEY).await;
    let mut keys = NotificationKeys::new();
    keys.add_pem(Some(CERT_ID), ENCRYPTION_KEY).expect("key");
    let http = reqwest::Client::new();
    let app = App {
        settings: AppSettings {
            tenant_id: TENANT.to_string(),
            client_id: APP_ID.to_string(),
            max_body_bytes: 256 * 1024,
            time_budget: Duration::from_millis(2000),
        },
        rules: MappingRules::default(),
        rule_overrides: Vec::new(),
        keys: Arc::new(keys),
        tokens: Arc::new(TokenValidator::new(
            TokenSettings {
                jwks_url: jwks_url.unwrap_or_else(|| sender.jwks_url.clone()),
                app_id: APP_ID.to_string(),
                ..TokenSettings::default()
            },
            http.clone(),
        )),
        store: Arc::clone(&store),
        connector: Arc::new(ConnectorClient::new(
            ConnectorSettings {
                base_url: connector.url(),
                signing_secret: secret,
                request_timeout: Duration::from_millis(500),
                max_attempts: 2,
                backoff_base: Duration::from_millis(10),
            },
            http,
        )),
        metrics: Default::default(),
        swyx_to_teams: None,
        accounts: None,
        users_sync: None,
        wake_maintenance: Default::default(),
        directions: Default::default(),
        known_subscriptions: Default::default(),
        store_refusals: Default::default(),
        clock: Default::default(),
    };
    store
        .put_subscription(&SubscriptionRecord {
            id: SUB.to_string(),
            client_state: CLIENT_STATE.to_string(),
            expires_at: Timestamp::now().plus_millis(3_600_000),
            account: Some("sync1".to_string()),
            resource: "/communications/presences".to_string(),
            encryption_certificate_id: Some(CERT_ID.to_string()),
            renewed_at: None,
        })
        .await
        .expect("subscription");
    let mut ids = Vec::new();
    for i in 0..users {
        let link = UserLink {
            entra_id: user_id(i),
            swyx_user_id: swyx_id(i),
            email: format!("user{i}@contoso.example"),
            groups: Vec::new(),
        };
        store.put_user(&link).await.expect("link");
        connector.add_user(&link.swyx_user_id, &format!("User {i}"), Some(&link.email));
        ids.push(link.entra_id);
    }
    let app = Arc::new(app);
    let bridge = BridgeServer::start(Arc::clone(&app)).await;
    Env {
        app,
        bridge,
        connector,
        sender,
        store,
        counting,
        users: ids,
        _dir: dir,
    }
}

impl Env {
    fn url(&self) -> String {
        self.bridge.url("/graph/notifications")
    }

    fn item(
        &self,
        user: usize,
        availability: &str,
        activity: &str,
        oof: bool,
        seq: Option<&str>,
    ) -> Value {
        let p = GraphSender::presence(&self.users[user], availability, activity, oof, seq);
        self.sender.item(SUB, CLIENT_STATE, &p)
    }

    async fn send(&self, items: Vec<Value>) -> (u16, String) {
        let body = self.sender.collection(items);
        self.sender.post_json(&self.url(), &body).await
    }

    /// Updates the connector received for one Swyx user, as (status, revision).
    fn received(&self, user: usize) -> Vec<(Option<String>, u64)> {
        self.connector
            .updates()
            .iter()
            .filter(|u| u["swyxUserId"] == json!(swyx_id(user)))
            .map(|u| {
                (
                    u["status"].as_str().map(str::to_string),
                    u["revision"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn validation_handshake_echoes_the_decoded_token() {
    let env = env(0).await;
    let http = reqwest::Client::new();
    for method in [reqwest::Method::POST, reqwest::Method::GET] {
        for path in ["/graph/notifications", "/graph/lifecycle"] {
            let resp = http
                .request(method.clone(), env.bridge.url(&format!("{path}?validationToken=Validation%3A%20Testing%20client%20application%20reachability%20for%20subscription%20Request-Id%3A%2025b54f3d")))
                .header("content-type", "text/plain; charset=utf-8")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert!(
                resp.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain")
            );
            assert_eq!(
                resp.text().await.unwrap(),
                "Validation: Testing client application reachability for subscription Request-Id: 25b54f3d"
            );
        }
    }
}

/// Every row of the default mapping table (docs/architecture.md#default-status-mapping), one user
/// per row, in one batch each.
#[tokio::test]
async fn every_mapping_row_reaches_the_connector() {
    let rows: &[(&str, &str, bool, Option<&str>)] = &[
        ("Available", "Available", false, Some("Available")),
        ("Available", "OutOfOffice", false, Some("Available")),
        ("Available", "Available", true, Some("Available")),
        ("Busy", "Busy", false, Some("Away")),
        ("Busy", "InACall", false, Some("Speaking")),
        ("Busy", "InAConferenceCall", false, Some("Speaking")),
        ("Busy", "InAMeeting", false, Some("Away")),
        ("Busy", "InACall", true, Some("Speaking")),
        ("DoNotDisturb", "DoNotDisturb", false, Some("DoNotDisturb")),
        ("DoNotDisturb", "Presenting", false, Some("Speaking")),
        ("DoNotDisturb", "Focusing", false, Some("DoNotDisturb")),
        (
            "DoNotDisturb",
            "UrgentInterruptionsOnly",
            false,
            Some("DoNotDisturb"),
        ),
        ("Away", "Away", false, Some("Away")),
        ("AvailableIdle", "Available", false, Some("Away")),
        ("BusyIdle", "Busy", false, Some("Away")),
        ("Away", "Inactive", false, Some("Away")),
        ("BeRightBack", "BeRightBack", false, Some("Away")),
        ("Away", "BeRightBack", false, Some("Away")),
        ("Available", "AvailableInactive", false, Some("Away")),
        ("Offline", "OffWork", false, Some("Away")),
        ("Offline", "Offline", false, None),
        ("PresenceUnknown", "PresenceUnknown", false, None),
        ("Offline", "OutOfOffice", false, None),
        ("OutOfOffice", "OutOfOffice", false, None),
        ("SomethingNew", "SomethingElse", false, None),
    ];
    let env = env(rows.len()).await;
    // First every user is Available (so a "no sync" row has something to withdraw) …
    let first: Vec<Value> = (0..rows.len())
        .map(|i| env.item(i, "Available", "Available", false, None))
        .collect();
    assert_eq!(env.send(first).await.0, 202);
    // … then each user takes the presence of its row.
    let second: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, (av, act, oof, _))| env.item(i, av, act, *oof, None))
        .collect();
    assert_eq!(env.send(second).await.0, 202);

    for (i, (av, act, oof, want)) in rows.iter().enumerate() {
        let got = env.connector.status_of(&swyx_id(i));
        assert_eq!(
            got,
            Some(want.map(str::to_string)),
            "row {av}/{act} oof={oof}"
        );
        let received = env.received(i);
        if *want == Some("Available") {
            assert_eq!(
                received.len(),
                1,
                "{av}/{act}: unchanged status is not sent again: {received:?}"
            );
        } else {
            assert_eq!(received.len(), 2, "{av}/{act}: {received:?}");
            assert!(
                received[1].1 > received[0].1,
                "revisions grow: {received:?}"
            );
        }
    }
    assert!(
        env.connector.rejected().is_empty(),
        "every request was signed correctly"
    );
    assert_eq!(env.store.count_pending().await.unwrap(), 0);
}

#[tokio::test]
async fn duplicates_and_out_of_order_deliveries_change_nothing() {
    let env = env(2).await;
    let newer = env.item(0, "Busy", "InACall", false, Some("0000000010"));
    assert_eq!(env.send(vec![newer.clone()]).await.0, 202);
    // Graph retries the same delivery, and a late older one arrives after it.
    assert_eq!(env.send(vec![newer]).await.0, 202);
    assert_eq!(
        env.send(vec![env.item(
            0,
            "Available",
            "Available",
            false,
            Some("0000000009")
        )])
        .await
        .0,
        202
    );
    assert_eq!(env.received(0).len(), 1);
    assert_eq!(
        env.connector.status_of(&swyx_id(0)),
        Some(Some("Speaking".to_string()))
    );

    // Without sequence numbers: the same presence twice in a row is sent once.
    let dup = env.item(1, "DoNotDisturb", "DoNotDisturb", false, None);
    assert_eq!(env.send(vec![dup.clone(), dup]).await.0, 202);
    assert_eq!(env.received(1).len(), 1);

    // A later, newer presence does go through.
    assert_eq!(
        env.send(vec![env.item(
            0,
            "Available",
            "Available",
            false,
            Some("0000000011")
        )])
        .await
        .0,
        202
    );
    assert_eq!(
        env.connector.status_of(&swyx_id(0)),
        Some(Some("Available".to_string()))
    );
}
