//! The bridge (built from a configuration file, on the sandbox clock) serving its routes on
//! loopback between the emulated Graph tenant and the emulated SwyxServer connector, with linked
//! users and sync accounts signed in at the emulated tenant.

use axum::response::IntoResponse;
use presence_bridge::app::App;
use presence_bridge::config::{Origin, RawConfig};
use presence_bridge::domain::{MappedStatus, MappingRules, TeamsPresence, Timestamp};
use presence_bridge::entry::server;
use presence_bridge::store::{Store, UserLink};
use presence_bridge::subscriptions::sync_accounts::enroll;
use presence_bridge::subscriptions::upkeep::{SubscriptionSummary, maintain};
use presence_sandbox::Clock;
use presence_sandbox::graph::{GraphEmulator, GraphOptions, GraphTiming};
use presence_sandbox::swyx::{SwyxEmulator, SwyxOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const MIN: Duration = Duration::from_secs(60);
/// Event-driven waits give up after this (they normally end in milliseconds).
pub const WAIT: Duration = Duration::from_secs(60);
const CERT_ID: &str = "bridge-cert-1";

pub struct Options {
    pub users: usize,
    pub users_per_account: usize,
    pub reconcile_minutes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            users: 700,
            users_per_account: 650,
            reconcile_minutes: 60,
        }
    }
}

/// The emulated Graph tenant on a clock the tests move (hours of subscription life pass in
/// seconds) and the emulated connector on real time, like the bridge's signatures.
pub struct Tenant {
    pub graph: GraphEmulator,
    pub swyx: SwyxEmulator,
    pub clock: Clock,
    pub tenant_id: String,
    pub app_id: String,
    pub client_secret: String,
    pub connector_secret: String,
}

impl Tenant {
    async fn start() -> Self {
        let clock = Clock::new();
        let (tenant_id, app_id) = (
            "9f4ebab6-520d-49c0-85cc-7b25c78d4a93".to_string(),
            "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0".to_string(),
        );
        let client_secret = "sandbox-client-secret".to_string();
        let connector_secret = presence_sandbox::swyx::webhook::generate_secret();
        let graph = GraphEmulator::start(GraphOptions {
            tenant_id: tenant_id.clone(),
            app_id: app_id.clone(),
            client_secret: client_secret.clone(),
            throttle_per_30s: None,
            clock: clock.clone(),
        })
        .await
        .unwrap();
        let swyx = SwyxEmulator::start(SwyxOptions {
            inbound_secret: connector_secret.clone(),
            outbound_secret: presence_sandbox::swyx::webhook::generate_secret(),
            bridge_events_url: None,
            clock: Clock::new(),
        })
        .await
        .unwrap();
        Self {
            graph,
            swyx,
            clock,
            tenant_id,
            app_id,
            client_secret,
            connector_secret,
        }
    }

    pub fn add_person(&self, entra_id: &str, swyx_user_id: &str, email: &str, name: &str) {
        self.graph.add_user(entra_id, email, name);
        self.swyx.add_user(swyx_user_id, name, email);
    }
}

pub struct Bridge {
    pub sandbox: Tenant,
    pub app: Arc<App>,
    pub store: Arc<dyn Store>,
    /// (Entra id, Swyx id)
    pub users: Vec<(String, String)>,
    pub addr: SocketAddr,
    pub config_path: std::path::PathBuf,
    pub dir: std::path::PathBuf,
    pub rules: MappingRules,
    server: Option<tokio::task::JoinHandle<()>>,
    /// While set, every request is answered 503 at once: Graph's deliveries fail, deterministically
    /// (an aborted server task stops only at its next poll, and a pooled keep-alive connection
    /// could still be served in between).
    paused: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

/// The bridge's router behind the harness's pause switch.
fn serve_pausable(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    paused: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let paused = Arc::clone(paused);
    let router = server::router(app).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let paused = paused.load(Ordering::SeqCst);
            async move {
                if paused {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else {
                    next.run(req).await
                }
            }
        },
    ));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    })
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }
}

pub fn entra_id(i: usize) -> String {
    format!("5ab5ab5a-0000-4000-8000-{i:012x}")
}

impl Bridge {
    pub async fn start(opts: Options) -> Self {
        let sandbox = Tenant::start().await;
        sandbox.graph.set_timing(GraphTiming {
            device_poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(20),
            retry_cap: Duration::from_millis(200),
            ..GraphTiming::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let (key_pem, cert_b64) = presence_sandbox::graph::make_encryption_certificate().unwrap();
        std::fs::write(dir.path().join("notify.pem"), key_pem).unwrap();
        std::fs::write(dir.path().join("notify.cer.b64"), cert_b64).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token_key = presence_bridge::graph::sealed::TokenSealer::generate_key_text();
        let config = format!(
            "[graph]\ntenant_id = {:?}\nclient_id = {:?}\njwks_url = {:?}\nclient_secret = {:?}\nauthority_url = {:?}\nbase_url = {:?}\n\n\
             [[graph.encryption_keys]]\nid = {CERT_ID:?}\nprivate_key = {:?}\n\n\
             [connector]\nurl = {:?}\nsigning_secret = {:?}\ntimeout_ms = 1000\nmax_attempts = 2\n\n\
             [store]\nsqlite_path = {:?}\n\n\
             [subscriptions]\nnotification_url = \"http://{addr}/graph/notifications\"\nlifecycle_url = \"http://{addr}/graph/lifecycle\"\n\
             certificate = {:?}\ncertificate_id = {CERT_ID:?}\nusers_per_account = {}\nreconcile_interval_minutes = {}\n\n\
             [accounts]\ntoken_key = {token_key:?}\n",
            sandbox.tenant_id,
            sandbox.app_id,
            sandbox.graph.jwks_url(),
            sandbox.client_secret,
            sandbox.graph.authority_url(),
            sandbox.graph.graph_url(),
            format!("file:{}", dir.path().join("notify.pem").display()),
            sandbox.swyx.url(),
            sandbox.connector_secret,
            dir.path().join("bridge.db").display().to_string(),
            format!("file:{}", dir.path().join("notify.cer.b64").display()),
            opts.users_per_account,
            opts.reconcile_minutes,
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, &config).unwrap();
        let cfg = RawConfig::from_toml(&config, "config.toml")
            .unwrap()
            .validate(Origin::File)
            .unwrap();
        let clock = sandbox.clock.clone();
        let app = Arc::new(
            App::from_config_with_clock(
                &cfg,
                presence_bridge::domain::Clock::from_fn(move || Timestamp(clock.now_ms())),
            )
            .await
            .unwrap(),
        );
        let store = Arc::clone(&app.store);
        let mut users = Vec::with_capacity(opts.users);
        for i in 0..opts.users {
            let (e, s) = (entra_id(i), format!("{}", 10_000 + i));
            let email = format!("user{i}@contoso.example");
            sandbox.add_person(&e, &s, &email, &format!("User {i}"));
            // Signed in to Teams, so their own settings show.
            sandbox
                .graph
                .set_client_session(&e, "teams-desktop", "Available", "Available")
                .unwrap();
            store
                .put_user(&UserLink {
                    entra_id: e.clone(),
                    swyx_user_id: s.clone(),
                    email,
                    groups: Vec::new(),
                })
                .await
                .unwrap();
            users.push((e, s));
        }
        let paused = Arc::new(AtomicBool::new(false));
        let server = serve_pausable(listener, Arc::clone(&app), &paused);
        Self {
            sandbox,
            app,
            store,
            users,
            addr,
            config_path,
            dir: dir.path().to_path_buf(),
            rules: MappingRules::default(),
            server: Some(server),
            paused,
            _dir: dir,
        }
    }

    /// Answers every request 503 (Graph's deliveries fail) until [`Bridge::resume`].
    pub fn pause(&mut self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    pub fn resume(&mut self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    /// Stops the server and waits until it has let go of the port, then serves the current app
    /// on the same address again.
    async fn restart_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
            let _ = s.await;
        }
        let mut listener = None;
        for _ in 0..100 {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::task::yield_now().await,
            }
        }
        let listener = listener.expect("the bridge's port is free again");
        self.server = Some(serve_pausable(
            listener,
            Arc::clone(&self.app),
            &self.paused,
        ));
    }

    /// Rewrites the configuration with `edit`, then runs a new bridge process on it (same store,
    /// same address), as an operator's restart after a configuration change.
    pub async fn reconfigure(&mut self, edit: impl FnOnce(String) -> String) {
        let text = edit(std::fs::read_to_string(&self.config_path).unwrap());
        std::fs::write(&self.config_path, &text).unwrap();
        let cfg = RawConfig::from_toml(&text, "config.toml")
            .unwrap()
            .validate(Origin::File)
            .unwrap();
        let clock = self.sandbox.clock.clone();
        self.app = Arc::new(
            App::from_config_with_clock(
                &cfg,
                presence_bridge::domain::Clock::from_fn(move || Timestamp(clock.now_ms())),
            )
            .await
            .unwrap(),
        );
        self.store = Arc::clone(&self.app.store);
        self.restart_server().await;
    }

    /// Sync accounts `sync01`… signed in at the emulated tenant and enrolled in the store.
    pub async fn add_accounts(&self, n: usize) -> Vec<String> {
        let sealer = &self.app.accounts.as_ref().unwrap().sealer;
        let mut names = Vec::new();
        for i in 1..=n {
            let name = format!("sync{i:02}");
            let upn = format!("{name}@contoso.example");
            self.sandbox.graph.add_sync_account(&upn);
            let refresh = self.sandbox.graph.issue_refresh_token(&upn).unwrap();
            let now = Timestamp(self.sandbox.clock.now_ms());
            enroll(self.store.as_ref(), sealer, &name, &refresh, now)
                .await
                .unwrap();
            names.push(name);
        }
        names
    }

    /// `users` linked users, `accounts` sync accounts, and a first maintenance run done.
    pub async fn subscribed(users: usize, accounts: usize) -> Self {
        let b = Self::start(Options {
            users,
            ..Options::default()
        })
        .await;
        b.add_accounts(accounts).await;
        b.maintain().await;
        b
    }

    /// Graph sends a lifecycle notification; returns once the bridge has answered it.
    pub async fn lifecycle(&self, subscription_id: &str, event: &str) {
        let before = self.sandbox.graph.stats().lifecycle_delivered;
        self.sandbox
            .graph
            .send_lifecycle(subscription_id, event)
            .unwrap();
        self.sandbox
            .graph
            .wait_stats(WAIT, |s| s.lifecycle_delivered > before)
            .await
            .unwrap();
    }

    pub async fn maintain(&self) -> SubscriptionSummary {
        maintain(&self.app, Duration::from_secs(600)).await.unwrap()
    }

    /// Graph makes (and renews) subscriptions at once but answers `late` (real time).
    pub fn slow_creates(&self, late: Duration) {
        self.sandbox.graph.set_subscription_answer_delay(Some(late));
    }

    pub fn advance(&self, by: Duration) {
        self.sandbox.clock.advance(by);
    }

    /// Sets user `i`'s Teams presence by hand (setUserPreferredPresence semantics).
    pub fn set_presence(&self, i: usize, availability: &str, activity: &str) {
        self.sandbox
            .graph
            .set_preferred_presence(&self.users[i].0, availability, activity, None)
            .unwrap();
    }

    /// What Swyx should show for user `i` (the mapping of Teams' presence) and what it shows.
    pub fn expected_and_actual(&self, i: usize) -> (Option<String>, Option<String>) {
        let (e, s) = &self.users[i];
        let p = self.sandbox.graph.presence(e).unwrap();
        let presence =
            TeamsPresence::new(&p.availability, &p.activity).with_out_of_office(p.out_of_office);
        let want = match self.rules.map(&presence) {
            MappedStatus::Swyx(s) => Some(s.to_string()),
            MappedStatus::NoSync => None,
        };
        let got = self
            .sandbox
            .swyx
            .user(s)
            .and_then(|u| u.teams)
            .and_then(|t| t.status)
            .map(|s| format!("{s:?}"));
        (want, got)
    }

    /// Users whose Swyx side does not match Teams, described.
    pub fn inconsistent(&self) -> Vec<String> {
        (0..self.users.len())
            .filter_map(|i| {
                let (want, got) = self.expected_and_actual(i);
                (want != got)
                    .then(|| format!("user {i}: Teams maps to {want:?}, Swyx shows {got:?}"))
            })
            .collect()
    }

    pub fn assert_all_consistent(&self) {
        let bad = self.inconsistent();
        assert!(
            bad.is_empty(),
            "{} of {} users inconsistent, e.g. {:?}",
            bad.len(),
            self.users.len(),
            &bad[..bad.len().min(5)]
        );
    }

    /// Waits (event-driven) until Graph has delivered `n` more change notifications than `before`.
    pub async fn wait_delivered(&self, before: u64, n: u64) {
        self.sandbox
            .graph
            .wait_stats(WAIT, |s| s.notifications_delivered >= before + n)
            .await
            .unwrap();
    }

    pub fn delivered(&self) -> u64 {
        self.sandbox.graph.stats().notifications_delivered
    }

    /// Graph requests so far, all routes together.
    pub fn graph_requests(&self) -> u64 {
        self.sandbox.graph.stats().requests_by_route.values().sum()
    }

    /// A varied starting picture: a third available, a third in DND, a third away.
    pub fn vary_presence(&self) {
        for i in 0..self.users.len() {
            match i % 3 {
                0 => self.set_presence(i, "Available", "Available"),
                1 => self.set_presence(i, "DoNotDisturb", "DoNotDisturb"),
                _ => self.set_presence(i, "Away", "Away"),
            }
        }
    }
}
