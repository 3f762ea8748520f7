//! The bridge's router on loopback between the emulated Graph tenant and the emulated SwyxServer
//! connector, all on one sandbox clock.

use presence_bridge::app::{App, AppSettings};
use presence_bridge::domain::{
    Directions, MappingRules, RuleOverride, SpeakingSettings, Timestamp,
};
use presence_bridge::entry::server;
use presence_bridge::graph::client::{GraphClient, GraphSettings};
use presence_bridge::graph::crypto::NotificationKeys;
use presence_bridge::graph::token::ClientSecret;
use presence_bridge::graph::validation_token::{TokenSettings, TokenValidator};
use presence_bridge::maintenance::{self, MaintenanceSummary};
use presence_bridge::store::prelude::*;
use presence_bridge::store::{CountingStore, SqliteStore, Store, SubscriptionRecord, UserLink};
use presence_bridge::swyx::client::{ConnectorClient, ConnectorSettings};
use presence_bridge::swyx::signature::{Verifier, WebhookSecret};
use presence_bridge::swyx_to_teams::session::SwyxToTeams;
use presence_sandbox::Clock;
use presence_sandbox::graph::{GraphEmulator, GraphOptions, GraphTiming};
use presence_sandbox::swyx::{SwyxEmulator, SwyxOptions};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";
pub const APP_ID: &str = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0";
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
const CLIENT_STATE: &str = "client-state-of-the-bridge";
const CERT_ID: &str = "bridge-cert-1";
pub const MIN: Duration = Duration::from_secs(60);
/// Event-driven waits give up after this (they normally end in milliseconds).
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Harness {
    pub graph: GraphEmulator,
    pub swyx: SwyxEmulator,
    pub app: Arc<App>,
    pub store: Arc<SqliteStore>,
    /// The app's store calls, when started with [`Harness::start_counting`].
    pub counted: Option<Arc<CountingStore>>,
    pub clock: Clock,
    /// The secret the connector signs its events with.
    pub event_secret: WebhookSecret,
    pub base_url: String,
    cert_pem: String,
    cert_b64: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

impl Harness {
    /// Maximum call length 10 minutes, so "never ended" is quick to reach on the clock.
    pub async fn start() -> Self {
        Self::start_with(Duration::from_millis(1_500)).await
    }

    pub async fn start_with(request_budget: Duration) -> Self {
        Self::start_configured(request_budget, Directions::default(), Vec::new()).await
    }

    /// With the directions the configuration (`[users]`) sets for everyone.
    pub async fn start_directed(directions: Directions) -> Self {
        Self::start_configured(Duration::from_millis(1_500), directions, Vec::new()).await
    }

    /// With users judged by rules of their own (`[[mapping.override]]`).
    pub async fn start_with_overrides(overrides: Vec<RuleOverride>) -> Self {
        let budget = Duration::from_millis(1_500);
        Self::start_configured(budget, Directions::default(), overrides).await
    }

    pub async fn start_configured(
        request_budget: Duration,
        directions: Directions,
        rule_overrides: Vec<RuleOverride>,
    ) -> Self {
        Self::start_full(request_budget, directions, rule_overrides, false).await
    }

    /// A harness whose app counts its store calls ([`Harness::counted`]).
    pub async fn start_counting() -> Self {
        Self::start_full(
            Duration::from_millis(1_500),
            Directions::default(),
            Vec::new(),
            true,
        )
        .await
    }

    async fn start_full(
        request_budget: Duration,
        directions: Directions,
        rule_overrides: Vec<RuleOverride>,
        counting: bool,
    ) -> Self {
        let clock = Clock::new();
        let graph = GraphEmulator::start(GraphOptions {
            tenant_id: TENANT.into(),
            app_id: APP_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            throttle_per_30s: None,
            clock: clock.clone(),
        })
        .await
        .unwrap();
        graph.set_timing(GraphTiming {
            retry_base: Duration::from_millis(20),
            retry_cap: Duration::from_millis(200),
            ..GraphTiming::default()
        });
        let inbound = WebhookSecret::generate();
        let event_secret = WebhookSecret::generate();
        let swyx = SwyxEmulator::start(SwyxOptions {
            inbound_secret: inbound.expose_whsec(),
            outbound_secret: event_secret.expose_whsec(),
            bridge_events_url: None,
            clock: clock.clone(),
        })
        .await
        .unwrap();
        let (cert_pem, cert_b64) = presence_sandbox::graph::make_encryption_certificate().unwrap();
        let mut keys = NotificationKeys::new();
        keys.add_pem(Some(CERT_ID), cert_pem.as_bytes()).unwrap();
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let http = http();
        let mut graph_settings = GraphSettings::new(
            &graph.graph_url(),
            &graph.authority_url(),
            TENANT,
            APP_ID,
            ClientSecret::new(CLIENT_SECRET),
        );
        graph_settings.retry.backoff_base = Duration::from_millis(20);
        let sandbox_clock = clock.clone();
        // Graph's Retry-After runs on the sandbox's clock, and so does the throttle gate's hold.
        let gate_clock = clock.clone();
        graph_settings.clock =
            presence_bridge::domain::Clock::from_fn(move || Timestamp(gate_clock.now_ms()));
        let s2t = SwyxToTeams {
            graph: Arc::new(GraphClient::new(graph_settings, http.clone())),
            // Several secrets, as during a rotation: the connector uses the second.
            verifier: Verifier::new(
                vec![WebhookSecret::generate(), event_secret.clone()],
                Duration::from_secs(300),
            ),
            settings: SpeakingSettings {
                max_call_ms: 10 * 60_000,
                ..SpeakingSettings::default()
            },
            request_budget,
            clock: presence_bridge::domain::Clock::from_fn(move || {
                Timestamp(sandbox_clock.now_ms())
            }),
        };
        let bridge_clock = s2t.clock.clone();
        let counted = counting.then(|| Arc::new(CountingStore::new(store.clone())));
        let app_store: Arc<dyn Store> = match &counted {
            Some(c) => c.clone(),
            None => store.clone(),
        };
        let app = Arc::new(App {
            settings: AppSettings {
                tenant_id: TENANT.into(),
                client_id: APP_ID.into(),
                max_body_bytes: 256 * 1024,
                time_budget: Duration::from_secs(2),
            },
            rules: MappingRules::default(),
            rule_overrides,
            keys: Arc::new(keys),
            tokens: Arc::new(TokenValidator::new(
                TokenSettings {
                    jwks_url: graph.jwks_url(),
                    app_id: APP_ID.into(),
                    ..TokenSettings::default()
                },
                http.clone(),
            )),
            store: app_store,
            connector: Arc::new(ConnectorClient::new(
                ConnectorSettings::new(swyx.url(), inbound),
                http,
            )),
            swyx_to_teams: Some(Arc::new(s2t)),
            accounts: None,
            users_sync: None,
            wake_maintenance: Default::default(),
            directions,
            known_subscriptions: Default::default(),
            store_refusals: Default::default(),
            clock: bridge_clock,
            metrics: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let router = server::router(Arc::clone(&app));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        swyx.set_bridge_events_url(&format!("{base_url}/swyx/events"));
        Self {
            graph,
            swyx,
            app,
            store,
            counted,
            clock,
            event_secret,
            base_url,
            cert_pem,
            cert_b64,
            server,
        }
    }

    /// A Teams user and a Swyx user, linked in the bridge.
    pub async fn link(&self, entra_id: &str, swyx_id: &str) {
        let name = format!("user-{swyx_id}");
        self.graph
            .add_user(entra_id, &format!("{name}@contoso.example"), &name);
        self.swyx.add_user(swyx_id, &name, "");
        self.store
            .put_user(&UserLink {
                entra_id: entra_id.into(),
                swyx_user_id: swyx_id.into(),
                email: String::new(),
                groups: Vec::new(),
            })
            .await
            .unwrap();
    }

    /// (availability, activity) Teams shows for the user.
    pub fn shown(&self, entra_id: &str) -> (String, String) {
        let p = self.graph.presence(entra_id).unwrap();
        (p.availability, p.activity)
    }

    pub fn in_a_call(&self, entra_id: &str) -> bool {
        let sessions = self.graph.app_sessions(entra_id);
        sessions.len() == 1
            && sessions[0].session_id == APP_ID
            && (
                sessions[0].availability.as_str(),
                sessions[0].activity.as_str(),
            ) == ("Busy", "InACall")
    }

    pub async fn maintenance(&self) -> MaintenanceSummary {
        let summary = maintenance::run(&self.app, Duration::from_secs(5)).await;
        assert!(summary.failed.is_empty(), "{:?}", summary.failed);
        summary
    }

    /// Posts a raw event to the bridge: (status, JSON body or null).
    pub async fn post_event(&self, headers: http::HeaderMap, body: &str) -> (u16, Value) {
        let r = http()
            .post(format!("{}/swyx/events", self.base_url))
            .headers(headers)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The bridge subscribes to `users` as a sync account signed in with the device-code flow.
    pub async fn subscribe(&self, users: &[&str]) {
        let upn = "sync1@contoso.example";
        self.graph.add_sync_account(upn);
        let login: Value = form(
            &format!(
                "{}/{TENANT}/oauth2/v2.0/devicecode",
                self.graph.authority_url()
            ),
            &[
                ("client_id", APP_ID),
                (
                    "scope",
                    "https://graph.microsoft.com/Presence.Read.All offline_access",
                ),
            ],
        )
        .await;
        self.graph
            .approve_device_code(login["user_code"].as_str().unwrap(), upn)
            .unwrap();
        let token: Value = form(
            &self.graph.token_url(),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", APP_ID),
                ("device_code", login["device_code"].as_str().unwrap()),
            ],
        )
        .await;
        let ids: Vec<String> = users.iter().map(|u| format!("'{u}'")).collect();
        let resource = format!(
            "/communications/presences?$filter=id in ({})",
            ids.join(",")
        );
        let expires = self.clock.now_ms() + 60 * 60_000;
        let r = http()
            .post(format!("{}/subscriptions", self.graph.graph_url()))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .json(&json!({
                "changeType": "updated",
                "notificationUrl": format!("{}/graph/notifications", self.base_url),
                "lifecycleNotificationUrl": format!("{}/graph/lifecycle", self.base_url),
                "resource": resource,
                "expirationDateTime": Clock::format_ms(expires),
                "includeResourceData": true,
                "encryptionCertificate": self.cert_b64,
                "encryptionCertificateId": CERT_ID,
                "clientState": CLIENT_STATE,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        let created: Value = r.json().await.unwrap();
        self.store
            .put_subscription(&SubscriptionRecord {
                id: created["id"].as_str().unwrap().into(),
                client_state: CLIENT_STATE.into(),
                expires_at: Timestamp(expires),
                account: Some(upn.into()),
                resource,
                encryption_certificate_id: Some(CERT_ID.into()),
                renewed_at: None,
            })
            .await
            .unwrap();
        assert!(!self.cert_pem.is_empty());
    }

    /// Waits until Graph has delivered `n` notifications in total (each answered 2xx by the
    /// bridge, which forwards to Swyx before it answers).
    pub async fn delivered(&self, n: u64) {
        self.graph
            .wait_stats(WAIT, |s| s.notifications_delivered >= n)
            .await
            .unwrap();
    }
}

async fn form(url: &str, pairs: &[(&str, &str)]) -> Value {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let r = http()
        .post(url)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body.join("&"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}
