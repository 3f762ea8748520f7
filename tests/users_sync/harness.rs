//! The bridge's automatic linking between the emulated Entra directory (Graph) and the emulated
//! connector's user list, on a SQLite store; the bridge's router on loopback, so Swyx calls reach
//! it and show "In a call" in Teams.

use presence_bridge::app::{App, AppSettings};
use presence_bridge::config::UsersConfig;
use presence_bridge::domain::{MappingRules, SpeakingSettings, Timestamp};
use presence_bridge::entry::server;
use presence_bridge::graph::client::{GraphClient, GraphSettings};
use presence_bridge::graph::crypto::NotificationKeys;
use presence_bridge::graph::token::ClientSecret;
use presence_bridge::graph::validation_token::{TokenSettings, TokenValidator};
use presence_bridge::store::prelude::*;
use presence_bridge::store::{SqliteStore, Store};
use presence_bridge::swyx::client::{ConnectorClient, ConnectorSettings};
use presence_bridge::swyx::signature::{Verifier, WebhookSecret};
use presence_bridge::swyx_to_teams::session::SwyxToTeams;
use presence_bridge::users_sync::{self, SyncReport, UsersSync};
use presence_sandbox::Clock;
use presence_sandbox::graph::{DirectoryUser, GraphEmulator, GraphOptions, GraphTiming};
use presence_sandbox::swyx::{Outage, SwyxEmulator, SwyxOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";
pub const APP_ID: &str = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0";
const CLIENT_SECRET: &str = "sandbox-client-secret";
const BUDGET: Duration = Duration::from_secs(120);
const DB_FILE: &str = "bridge.db";
/// Every write about a user (table, statement, key column) a killed process would not make.
const KILLED_WRITES: [(&str, &str, &str); 12] = [
    ("users", "INSERT", "entra_id"),
    ("users", "UPDATE", "entra_id"),
    ("sync_state", "INSERT", "entra_id"),
    ("sync_state", "UPDATE", "entra_id"),
    ("speaking", "INSERT", "entra_id"),
    ("speaking", "UPDATE", "entra_id"),
    ("pending", "INSERT", "swyx_user_id"),
    ("pending", "UPDATE", "swyx_user_id"),
    ("pending", "DELETE", "swyx_user_id"),
    ("link_marks", "INSERT", "swyx_user_id"),
    ("link_marks", "UPDATE", "swyx_user_id"),
    ("link_marks", "DELETE", "swyx_user_id"),
];

pub struct Harness {
    pub graph: GraphEmulator,
    pub swyx: SwyxEmulator,
    pub app: Arc<App>,
    pub store: Arc<SqliteStore>,
    /// How far the bridge's clock runs ahead of the sandbox's (ms).
    ahead: Arc<AtomicI64>,
    /// The database file's directory, for [`Harness::start_on_file`].
    db: Option<tempfile::TempDir>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An Entra id for a short name ("anna" → a GUID of its own).
pub fn eid(name: &str) -> String {
    let n = name
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        n as u32,
        n & 0xffff_ffff_ffff
    )
}

impl Harness {
    pub async fn start(settings: UsersConfig) -> Self {
        Self::start_with(settings, None).await
    }

    /// As [`Harness::start`], on a database file [`Harness::sql`] reaches beside the bridge.
    pub async fn start_on_file(settings: UsersConfig) -> Self {
        Self::start_with(settings, Some(tempfile::tempdir().unwrap())).await
    }

    async fn start_with(settings: UsersConfig, db: Option<tempfile::TempDir>) -> Self {
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
        let store = Arc::new(match &db {
            Some(dir) => SqliteStore::open(&dir.path().join(DB_FILE)).unwrap(),
            None => SqliteStore::open_in_memory().unwrap(),
        });
        let sandbox_clock = clock.clone();
        let ahead = Arc::new(AtomicI64::new(0));
        let bridge_ahead = Arc::clone(&ahead);
        let bridge_clock = presence_bridge::domain::Clock::from_fn(move || {
            Timestamp(sandbox_clock.now_ms() + bridge_ahead.load(Ordering::SeqCst))
        });
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut graph_settings = GraphSettings::new(
            &graph.graph_url(),
            &graph.authority_url(),
            TENANT,
            APP_ID,
            ClientSecret::new(CLIENT_SECRET),
        );
        graph_settings.retry.backoff_base = Duration::from_millis(20);
        // A Retry-After holds Graph calls on the bridge's clock, which the tests move on.
        graph_settings.clock = bridge_clock.clone();
        let graph_client = GraphClient::new(graph_settings, http.clone());
        let connector =
            ConnectorClient::new(ConnectorSettings::new(swyx.url(), inbound), http.clone());
        let s2t = SwyxToTeams {
            graph: Arc::new(graph_client.clone()),
            verifier: Verifier::new(vec![event_secret], Duration::from_secs(300)),
            settings: SpeakingSettings::default(),
            request_budget: Duration::from_millis(1_500),
            clock: bridge_clock.clone(),
        };
        let app = Arc::new(App {
            settings: AppSettings {
                tenant_id: TENANT.into(),
                client_id: APP_ID.into(),
                max_body_bytes: 256 * 1024,
                time_budget: Duration::from_secs(2),
            },
            rules: MappingRules::default(),
            rule_overrides: Vec::new(),
            keys: Arc::new(NotificationKeys::new()),
            tokens: Arc::new(TokenValidator::new(
                TokenSettings {
                    jwks_url: graph.jwks_url(),
                    app_id: APP_ID.into(),
                    ..TokenSettings::default()
                },
                http,
            )),
            store: store.clone() as Arc<dyn Store>,
            connector: Arc::new(connector.clone()),
            swyx_to_teams: Some(Arc::new(s2t)),
            accounts: None,
            users_sync: Some(Arc::new(UsersSync {
                graph: Arc::new(graph_client),
                connector: Arc::new(connector),
                settings,
            })),
            wake_maintenance: Default::default(),
            directions: Default::default(),
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
            ahead,
            db,
            server,
        }
    }

    /// A connection of its own to the bridge's database ([`Harness::start_on_file`] only).
    pub fn sql(&self) -> rusqlite::Connection {
        let dir = self.db.as_ref().expect("a harness started on a file");
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// From now on the bridge's process for a user "dies" right after the user's link is
    /// deleted: no later store write about the user takes (SQLite triggers), and Graph and the
    /// connector cannot be reached. [`Harness::restart`] is the next process.
    pub fn kill_after_unlinking(&self) {
        let mut sql = String::from(
            "CREATE TABLE killed (entra_id TEXT NOT NULL, swyx_user_id TEXT NOT NULL);
             CREATE TRIGGER kill_after_unlink AFTER DELETE ON users BEGIN
                 INSERT INTO killed VALUES (OLD.entra_id, OLD.swyx_user_id);
             END;",
        );
        for (table, event, key) in KILLED_WRITES {
            let row = if event == "DELETE" { "OLD" } else { "NEW" };
            sql.push_str(&format!(
                "CREATE TRIGGER killed_{table}_{event} BEFORE {event} ON {table}
                 WHEN {row}.{key} IN (SELECT {key} FROM killed)
                 BEGIN SELECT RAISE(ABORT, 'the process was killed'); END;"
            ));
        }
        self.sql().execute_batch(&sql).unwrap();
        self.graph.set_outage(true);
        self.swyx.set_outage(Outage::NotListening);
    }

    /// The process after [`Harness::kill_after_unlinking`]: every write takes again, Graph and
    /// the connector answer, and Graph's Retry-After from the outage is over.
    pub fn restart(&self) {
        let mut sql = String::from("DROP TRIGGER kill_after_unlink; DROP TABLE killed;");
        for (table, event, _) in KILLED_WRITES {
            sql.push_str(&format!("DROP TRIGGER killed_{table}_{event};"));
        }
        self.sql().execute_batch(&sql).unwrap();
        self.graph.set_outage(false);
        self.swyx.set_outage(Outage::None);
        self.bridge_later(Duration::from_secs(10));
    }

    /// Moves the bridge's clock on (maintenance schedules) without the sandbox's: the connector
    /// checks request signatures against its own clock, which must stay near the real one.
    pub fn bridge_later(&self, by: Duration) {
        self.ahead
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// An Entra user `name@corp.example` (mail = UPN = primary SMTP address).
    pub fn entra(&self, name: &str) -> DirectoryUser {
        let user = DirectoryUser::new(&eid(name), &format!("{name}@corp.example"), name);
        self.graph.add_directory_user(user.clone()).unwrap();
        user
    }

    /// A Swyx user with an address and groups.
    pub fn swyx_user(&self, id: &str, email: &str, groups: &[&str]) {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        self.swyx
            .try_add_user(id, &format!("user {id}"), email, &groups)
            .unwrap();
    }

    pub async fn sync(&self) -> SyncReport {
        users_sync::sync(&self.app, false, BUDGET).await.unwrap()
    }

    pub async fn dry_run(&self) -> SyncReport {
        users_sync::sync(&self.app, true, BUDGET).await.unwrap()
    }

    /// Swyx id → Entra id of every link.
    pub async fn links(&self) -> BTreeMap<String, String> {
        self.store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.swyx_user_id, l.entra_id))
            .collect()
    }

    /// Graph requests the sandbox has answered so far (`/v1.0/…`, token requests not counted).
    pub fn graph_requests(&self) -> u64 {
        self.graph.stats().graph_requests()
    }

    pub fn in_a_call(&self, entra_id: &str) -> bool {
        self.graph
            .app_sessions(entra_id)
            .iter()
            .any(|s| s.session_id == APP_ID && s.activity == "InACall")
    }
}
