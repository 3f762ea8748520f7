//! Sync accounts against the emulated tenant over loopback: the delegated device login and
//! refresh-token rotation, presence subscriptions with the sync account's token, and bulk
//! presence reads with the app token — retries, throttling and outages included.

#[path = "graph_accounts/login.rs"]
mod login;
#[path = "graph_accounts/subscription_pages.rs"]
mod subscription_pages;
#[path = "graph_accounts/subscriptions.rs"]
mod subscriptions;

use axum::extract::Query;
use axum::response::IntoResponse;
use presence_bridge::graph::client::{GraphClient, GraphSettings};
use presence_bridge::graph::delegated::{LoginEndpoint, SYNC_ACCOUNT_SCOPE};
use presence_bridge::graph::token::ClientSecret;
use presence_sandbox::Clock;
use presence_sandbox::graph::{GraphEmulator, GraphOptions, GraphTiming};
use std::collections::HashMap;
use std::time::Duration;

pub const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";
pub const APP_ID: &str = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0";
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
pub const ALICE: &str = "aaaaaaaa-0000-0000-0000-00000000a11c";
pub const BOB: &str = "bbbbbbbb-0000-0000-0000-000000000b0b";
pub const SYNC: &str = "sync1@contoso.example";
/// Budget of one Graph call in these tests.
pub const BUDGET: Duration = Duration::from_secs(3);
/// Timeout of one token request.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub struct Tenant {
    pub graph: GraphEmulator,
    pub client: GraphClient,
    pub login: LoginEndpoint,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An emulated tenant with Alice, Bob and the sync account; the device login polls every 50 ms.
pub async fn tenant() -> Tenant {
    let graph = GraphEmulator::start(GraphOptions {
        tenant_id: TENANT.into(),
        app_id: APP_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        throttle_per_30s: None,
        clock: Clock::new(),
    })
    .await
    .unwrap();
    graph.set_timing(GraphTiming {
        validation_timeout: Duration::from_secs(5),
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(200),
        device_poll_interval: Duration::from_millis(50),
        ..GraphTiming::default()
    });
    graph.add_user(ALICE, "alice@contoso.example", "Alice");
    graph.add_user(BOB, "bob@contoso.example", "Bob");
    graph.add_sync_account(SYNC);
    let mut settings = GraphSettings::new(
        &graph.graph_url(),
        &graph.authority_url(),
        TENANT,
        APP_ID,
        ClientSecret::new(CLIENT_SECRET),
    );
    settings.retry.backoff_base = Duration::from_millis(20);
    // The throttle gate's holds run on the sandbox's clock, as Graph's Retry-After does.
    let clock = graph.clock().clone();
    settings.clock = presence_bridge::domain::Clock::from_fn(move || {
        presence_bridge::domain::Timestamp(clock.now_ms())
    });
    let client = GraphClient::new(settings, http());
    let login = LoginEndpoint::new(http(), &graph.authority_url(), TENANT, APP_ID);
    Tenant {
        graph,
        client,
        login,
    }
}

impl Tenant {
    /// A delegated access token of the sync account, the way the bridge gets one: its stored
    /// refresh token redeemed.
    pub async fn sync_token(&self) -> String {
        let refresh = self.graph.issue_refresh_token(SYNC).unwrap();
        let tokens = self
            .login
            .refresh(&refresh, SYNC_ACCOUNT_SCOPE, TIMEOUT)
            .await
            .unwrap();
        tokens.access_token
    }

    /// How often a route was called, e.g. `POST /v1.0/subscriptions`.
    pub fn calls(&self, route: &str) -> u64 {
        self.graph
            .stats()
            .requests_by_route
            .get(route)
            .copied()
            .unwrap_or(0)
    }
}

/// A notification endpoint on loopback: answers Graph's validation handshake, accepts the rest.
pub struct Receiver {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn receiver() -> Receiver {
    let router =
        axum::Router::new().fallback(|Query(q): Query<HashMap<String, String>>| async move {
            match q.get("validationToken") {
                Some(token) => (
                    [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    token.clone(),
                )
                    .into_response(),
                None => http::StatusCode::ACCEPTED.into_response(),
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/graph/notifications",
        listener.local_addr().unwrap()
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Receiver { url, task }
}
