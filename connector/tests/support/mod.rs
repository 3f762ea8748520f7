//! Helpers shared by the connector's tests: a stand-in bridge that verifies and records events,
//! a configuration writer, and waiting on conditions with a deadline (no fixed sleeps).
#![allow(dead_code)] // each test binary uses a different part

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swyx_connector::Config;
use swyx_contract::signature::{Verifier, WebhookSecret, signed_headers};
use swyx_contract::wire::SwyxEvent;
use tokio::sync::watch;

pub const INBOUND: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const OUTBOUND: &str = "whsec_dGhlIGNvbm5lY3RvcnMgb3duIHNlY3JldCE=";

/// A received event with the id it came under.
#[derive(Debug, Clone)]
pub struct Received {
    pub webhook_id: String,
    pub event: SwyxEvent,
    pub at: std::time::Instant,
}

#[derive(Clone)]
pub struct FakeBridge {
    pub addr: SocketAddr,
    events: Arc<Mutex<Vec<Received>>>,
    /// Answer 503 to this many requests before accepting.
    fail_next: Arc<Mutex<u32>>,
    attempts: Arc<Mutex<Vec<String>>>,
    changed: watch::Sender<u64>,
    _task: Arc<tokio::task::JoinHandle<()>>,
}

impl FakeBridge {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> Self {
        let events: Arc<Mutex<Vec<Received>>> = Arc::default();
        let fail_next: Arc<Mutex<u32>> = Arc::default();
        let attempts: Arc<Mutex<Vec<String>>> = Arc::default();
        let changed = watch::channel(0u64).0;
        let verifier = Verifier::new(vec![OUTBOUND.parse().unwrap()], Duration::from_secs(300));
        let (ev, fail, att, ch) = (
            events.clone(),
            fail_next.clone(),
            attempts.clone(),
            changed.clone(),
        );
        let app = axum::Router::new().route(
            "/swyx/events",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (ev, fail, att, ch, verifier) = (
                    ev.clone(),
                    fail.clone(),
                    att.clone(),
                    ch.clone(),
                    verifier.clone(),
                );
                async move {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    let Ok(msg) = verifier.verify(&headers, &body, now) else {
                        return StatusCode::UNAUTHORIZED;
                    };
                    att.lock().unwrap().push(msg.id.clone());
                    ch.send_modify(|n| *n += 1);
                    {
                        let mut f = fail.lock().unwrap();
                        if *f > 0 {
                            *f -= 1;
                            return StatusCode::SERVICE_UNAVAILABLE;
                        }
                    }
                    let Ok(event) = serde_json::from_slice::<SwyxEvent>(&body) else {
                        return StatusCode::BAD_REQUEST;
                    };
                    let mut list = ev.lock().unwrap();
                    if !list.iter().any(|r| r.webhook_id == msg.id) {
                        list.push(Received {
                            webhook_id: msg.id,
                            event,
                            at: std::time::Instant::now(),
                        });
                    }
                    drop(list);
                    ch.send_modify(|n| *n += 1);
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            events,
            fail_next,
            attempts,
            changed,
            _task: Arc::new(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/swyx/events", self.addr)
    }

    pub fn events(&self) -> Vec<Received> {
        self.events.lock().unwrap().clone()
    }

    pub fn attempts(&self) -> Vec<String> {
        self.attempts.lock().unwrap().clone()
    }

    pub fn fail_next(&self, n: u32) {
        *self.fail_next.lock().unwrap() = n;
    }

    /// Waits until `check` holds on the events received, at most `within`.
    pub async fn wait_events(
        &self,
        within: Duration,
        check: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = self.events();
            if check(&now) {
                return now;
            }
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    let now = self.events();
                    assert!(check(&now), "events did not arrive in {within:?}: {:?}", now.iter().map(|r| (&r.event.kind, &r.event.swyx_user_id)).collect::<Vec<_>>());
                    return now;
                }
            }
        }
    }
}

/// Speaking events of one user, as (type, callId).
pub fn speaking_of(events: &[Received], user: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|r| r.event.swyx_user_id == user && r.event.kind.starts_with("speaking."))
        .map(|r| {
            (
                r.event.kind.clone(),
                r.event.call_id.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Writes `users.csv` and a configuration; `sip` is a `[sip]` section body (or empty).
pub fn config(dir: &Path, bridge_url: &str, sip: &str, writer: &str, users_csv: &str) -> Config {
    std::fs::write(dir.join("users.csv"), users_csv).unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
         [store]\npath = \"connector.db\"\n\
         [bridge]\nevents_url = \"{bridge_url}\"\ninbound_secrets = [\"{INBOUND}\"]\noutbound_secret = \"{OUTBOUND}\"\ntimeout_ms = 2000\nretry_max_secs = 1\n\
         [directory]\nsource = \"csv\"\ncsv_path = \"users.csv\"\n\
         {sip}\n{writer}\n"
    );
    std::fs::write(dir.join("connector.toml"), &text).unwrap();
    Config::load(&dir.join("connector.toml")).unwrap()
}

pub const USERS: &str = "swyx_user_id,name,email,groups\n1001,Alice Example,alice@example.com,Sales;Berlin\n1002,Bob Example,,\n1003,Carol Example,carol@example.com,\n";

/// Signed request headers for the connector (the bridge's side).
pub fn signed(body: &[u8]) -> reqwest::header::HeaderMap {
    let secret: WebhookSecret = INBOUND.parse().unwrap();
    signed_headers(
        &secret,
        body,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .to_header_map()
}

/// A signed `GET {base}{path}`: the status and the JSON body (null if none).
pub async fn get(base: &str, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .headers(signed(b""))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

pub fn status_body(user: &str, status: Option<&str>, revision: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "swyxUserId": user,
        "entraId": "0f3c5c8e-1111-4a4a-9b9b-123456789abc",
        "status": status,
        "revision": revision,
        "teams": { "availability": "Busy", "activity": "InACall", "outOfOffice": false },
        "observedAt": "2026-11-26T10:00:00Z",
    }))
    .unwrap()
}

/// Polls a condition on the connector's status with a deadline (the status has no change feed).
pub async fn wait_until(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}
