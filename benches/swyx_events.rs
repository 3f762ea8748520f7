//! Swyx → Teams latency: a signed `speaking.started` received by the bridge's handler → its
//! `setPresence` request arriving at Graph, warm (token cached), with 1,000 linked users in the
//! emulated Graph tenant and SQLite as the store.
//!
//! `cargo bench --bench swyx_events`. A recording pass-through in front of the emulator notes when
//! each setPresence arrives, so the figure ends when the request is sent, not when Graph answers.
//! Criterion reports mean/median; p50/p99 of a separate run of 2,000 events are printed as well,
//! next to the whole request (answer after Graph confirmed and the outcome is stored).

use axum::extract::{Request, State};
use axum::response::Response;
use criterion::{Criterion, criterion_group, criterion_main};
use presence_bridge::app::App;
use presence_bridge::app::AppSettings;
use presence_bridge::domain::Clock as BridgeClock;
use presence_bridge::domain::{MappingRules, SpeakingSettings, Timestamp};
use presence_bridge::graph::client::{GraphClient, GraphSettings};
use presence_bridge::graph::crypto::NotificationKeys;
use presence_bridge::graph::token::ClientSecret;
use presence_bridge::graph::validation_token::{TokenSettings, TokenValidator};
use presence_bridge::store::{SqliteStore, Store, UserLink};
use presence_bridge::swyx::client::{ConnectorClient, ConnectorSettings};
use presence_bridge::swyx::signature::{Verifier, WebhookSecret, signed_headers};
use presence_bridge::swyx_to_teams::intake as swyx_webhook;
use presence_bridge::swyx_to_teams::session::SwyxToTeams;
use presence_sandbox::Clock;
use presence_sandbox::graph::{GraphEmulator, GraphOptions};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";
const APP_ID: &str = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0";
const SECRET: &str = "bench-client-secret";
const USERS: usize = 1_000;

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    set_presence_at: Mutex<Option<Instant>>,
}

/// Notes the arrival of a setPresence, then forwards the request to the emulator unchanged.
async fn forward(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let arrived = Instant::now();
    let (parts, body) = req.into_parts();
    if parts.uri.path().ends_with("/setPresence") {
        *p.set_presence_at.lock().unwrap() = Some(arrived);
    }
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let url = format!("{}{}", p.upstream, parts.uri);
    let mut out = p.http.request(parts.method, url).body(body);
    for (k, v) in &parts.headers {
        if k != http::header::HOST {
            out = out.header(k, v);
        }
    }
    let resp = out.send().await.unwrap();
    let mut answer = Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        answer = answer.header(k, v);
    }
    answer
        .body(axum::body::Body::from(resp.bytes().await.unwrap()))
        .unwrap()
}

fn user(i: usize) -> (String, String) {
    (
        format!("00000000-0000-4000-8000-{i:012}"),
        format!("{}", 10_000 + i),
    )
}

struct Bench {
    app: Arc<App>,
    proxy: Arc<Proxy>,
    secret: WebhookSecret,
    next: std::sync::atomic::AtomicUsize,
}

impl Bench {
    fn request(&self, kind: &str, swyx: &str, call: &str) -> http::Request<bytes::Bytes> {
        let now = Timestamp::now();
        let body = serde_json::json!({"type": kind, "swyxUserId": swyx, "callId": call, "at": now.to_rfc3339()})
            .to_string();
        let mut req = http::Request::post("/swyx/events")
            .body(bytes::Bytes::from(body.clone()))
            .unwrap();
        signed_headers(&self.secret, body.as_bytes(), now.secs()).apply(req.headers_mut());
        req
    }

    /// One start (measured: received → setPresence sent; and → answered), then its end.
    async fn one(&self) -> (Duration, Duration) {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (_, swyx) = user(n % USERS);
        let call = format!("c-{n}");
        let req = self.request("speaking.started", &swyx, &call);
        let received = Instant::now();
        let resp = swyx_webhook::handle(&self.app, req).await;
        let answered = received.elapsed();
        assert_eq!(resp.status(), 200);
        let sent = self
            .proxy
            .set_presence_at
            .lock()
            .unwrap()
            .take()
            .expect("setPresence sent");
        let end = self.request("speaking.ended", &swyx, &call);
        assert_eq!(swyx_webhook::handle(&self.app, end).await.status(), 200);
        (sent.duration_since(received), answered)
    }
}

fn setup(rt: &tokio::runtime::Runtime) -> Bench {
    rt.block_on(async {
        let graph = GraphEmulator::start(GraphOptions {
            tenant_id: TENANT.into(),
            app_id: APP_ID.into(),
            client_secret: SECRET.into(),
            throttle_per_30s: None,
            clock: Clock::new(),
        })
        .await
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        for i in 0..USERS {
            let (entra, swyx) = user(i);
            graph.add_user(
                &entra,
                &format!("u{i}@contoso.example"),
                &format!("User {i}"),
            );
            let link = UserLink {
                entra_id: entra,
                swyx_user_id: swyx,
                email: String::new(),
                groups: Vec::new(),
            };
            store.put_user(&link).await.unwrap();
        }
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let proxy = Arc::new(Proxy {
            upstream: graph.base_url(),
            http: http.clone(),
            set_presence_at: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front = format!("http://{}", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&proxy));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        // Keep the emulator alive for the whole run.
        std::mem::forget(graph);

        let secret = WebhookSecret::generate();
        let s2t = SwyxToTeams {
            graph: Arc::new(GraphClient::new(
                GraphSettings::new(
                    &format!("{front}/v1.0"),
                    &front,
                    TENANT,
                    APP_ID,
                    ClientSecret::new(SECRET),
                ),
                http.clone(),
            )),
            verifier: Verifier::new(vec![secret.clone()], Duration::from_secs(300)),
            settings: SpeakingSettings::default(),
            request_budget: Duration::from_millis(1_500),
            clock: BridgeClock::system(),
        };
        let app = Arc::new(App {
            settings: AppSettings {
                tenant_id: TENANT.into(),
                client_id: APP_ID.into(),
                max_body_bytes: 1 << 20,
                time_budget: Duration::from_secs(2),
            },
            rules: MappingRules::default(),
            rule_overrides: Vec::new(),
            keys: Arc::new(NotificationKeys::new()),
            tokens: Arc::new(TokenValidator::new(
                TokenSettings {
                    app_id: APP_ID.into(),
                    ..TokenSettings::default()
                },
                http.clone(),
            )),
            store,
            connector: Arc::new(ConnectorClient::new(
                ConnectorSettings::new("http://127.0.0.1:9", WebhookSecret::generate()),
                http,
            )),
            swyx_to_teams: Some(Arc::new(s2t)),
            accounts: None,
            users_sync: None,
            wake_maintenance: Default::default(),
            directions: Default::default(),
            known_subscriptions: Default::default(),
            store_refusals: Default::default(),
            clock: BridgeClock::system(),
            metrics: Default::default(),
        });
        let bench = Bench {
            app,
            proxy,
            secret,
            next: Default::default(),
        };
        // Warm: token fetched and cached, connections open, SQLite pages hot.
        for _ in 0..50 {
            bench.one().await;
        }
        bench
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Set up on first use: listing the benchmarks (`--list`, as cargo nextest does) starts no
    // servers, and a test-mode run (`cargo test --benches`) prints no figures.
    let b = std::sync::OnceLock::new();
    if std::env::args().any(|a| a == "--bench") {
        print_percentiles(&rt, b.get_or_init(|| setup(&rt)));
    }
    c.bench_function("swyx_event_to_set_presence_sent", |bench| {
        let b = b.get_or_init(|| setup(&rt));
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += b.one().await.0;
                }
                total
            })
        })
    });
}

fn print_percentiles(rt: &tokio::runtime::Runtime, b: &Bench) {
    let (mut sent, mut answered): (Vec<_>, Vec<_>) = rt
        .block_on(async { futures_seq(b, 2_000).await })
        .into_iter()
        .unzip();
    sent.sort();
    answered.sort();
    println!(
        "swyx event received -> setPresence sent, {USERS} users, n={}: p50 {:?}, p99 {:?}, max {:?}",
        sent.len(),
        percentile(&sent, 0.50),
        percentile(&sent, 0.99),
        sent[sent.len() - 1]
    );
    println!(
        "swyx event received -> answered (Graph done, outcome stored): p50 {:?}, p99 {:?}",
        percentile(&answered, 0.50),
        percentile(&answered, 0.99)
    );
}

async fn futures_seq(b: &Bench, n: usize) -> Vec<(Duration, Duration)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(b.one().await);
    }
    out
}

criterion_group!(benches, bench);
criterion_main!(benches);
