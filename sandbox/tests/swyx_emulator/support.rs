//! Test doubles: a "bridge" that signs connector requests and a bridge event receiver that
//! verifies the connector's signatures. Both sign/verify with aws-lc-rs directly, not with the
//! sandbox's own webhook module, so the emulator is checked against an independent implementation.

use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use presence_sandbox::Clock;
use presence_sandbox::swyx::{SwyxEmulator, SwyxOptions};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub struct Key {
    pub whsec: String,
    bytes: Vec<u8>,
}

impl Key {
    pub fn new(fill: u8) -> Self {
        let bytes = vec![fill; 32];
        Self {
            whsec: format!("whsec_{}", B64.encode(&bytes)),
            bytes,
        }
    }

    pub fn sign(&self, id: &str, ts: i64, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.bytes);
        let mut msg = format!("{id}.{ts}.").into_bytes();
        msg.extend_from_slice(body);
        format!("v1,{}", B64.encode(hmac::sign(&key, &msg).as_ref()))
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An emulator with users 101 (alice) and 102 (bob), and the bridge's side of its contract.
pub struct Setup {
    pub emu: SwyxEmulator,
    pub inbound: Key,
    pub outbound: Key,
    pub http: reqwest::Client,
}

pub async fn setup(bridge_events_url: Option<String>) -> Setup {
    let (inbound, outbound) = (Key::new(7), Key::new(9));
    let emu = SwyxEmulator::start(SwyxOptions {
        inbound_secret: inbound.whsec.clone(),
        outbound_secret: outbound.whsec.clone(),
        bridge_events_url,
        clock: Clock::new(),
    })
    .await
    .unwrap();
    emu.add_user("101", "Alice Example", "alice@contoso.com");
    emu.add_user("102", "Bob Example", "");
    Setup {
        emu,
        inbound,
        outbound,
        http: http(),
    }
}

pub fn update(user: &str, status: Option<&str>, revision: u64) -> Value {
    json!({
        "swyxUserId": user,
        "entraId": "0f3c5c8e-1111-4a4a-9b9b-123456789abc",
        "status": status,
        "revision": revision,
        "teams": { "availability": "Busy", "activity": "InACall", "outOfOffice": false },
        "observedAt": "2026-11-26T10:00:00Z",
    })
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
}

impl Setup {
    pub fn now(&self) -> i64 {
        self.emu.clock().now_secs()
    }

    /// PUT teams-status signed as the bridge does, with a fresh webhook-id.
    pub async fn put(&self, user: &str, body: &Value) -> Answer {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        self.put_raw(
            user,
            &id,
            self.now(),
            body.to_string().as_bytes(),
            &self.inbound,
        )
        .await
    }

    pub async fn put_raw(&self, user: &str, id: &str, ts: i64, body: &[u8], key: &Key) -> Answer {
        let req = self
            .http
            .put(format!("{}/v1/users/{user}/teams-status", self.emu.url()))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", key.sign(id, ts, body))
            .body(body.to_vec());
        answer(req.send().await.unwrap()).await
    }

    pub async fn list_users(&self, key: &Key) -> Answer {
        self.get("/v1/users", key).await
    }

    /// A signed GET (over the empty body) of `path` (with its query).
    pub async fn get(&self, path: &str, key: &Key) -> Answer {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let ts = self.now();
        let req = self
            .http
            .get(format!("{}{path}", self.emu.url()))
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", key.sign(&id, ts, b""));
        answer(req.send().await.unwrap()).await
    }
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        retry_after,
    }
}

/// The bridge's `POST /swyx/events`: verifies every request and records what it accepted.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Received>>,
}

#[derive(Default)]
struct Received {
    key: Vec<u8>,
    events: Vec<(String, Value)>,
    rejected: Vec<String>,
    fail_next: u32,
    requests: u32,
}

impl Receiver {
    pub async fn start(outbound: &Key) -> Self {
        let inner = Arc::new(Mutex::new(Received {
            key: outbound.bytes.clone(),
            ..Default::default()
        }));
        let app = axum::Router::new()
            .route("/swyx/events", axum::routing::post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/swyx/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// (webhook-id, body) of every verified event, in arrival order.
    pub fn events(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().events.clone()
    }

    pub fn rejected(&self) -> Vec<String> {
        self.inner.lock().unwrap().rejected.clone()
    }

    pub fn requests(&self) -> u32 {
        self.inner.lock().unwrap().requests
    }

    pub fn fail_next(&self, n: u32) {
        self.inner.lock().unwrap().fail_next = n;
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut r = inner.lock().unwrap();
    r.requests += 1;
    if r.fail_next > 0 {
        r.fail_next -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (id, ts, sig) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    );
    let key = Key {
        whsec: String::new(),
        bytes: r.key.clone(),
    };
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (Clock::new().now_secs() - t).abs() <= 300);
    if id.is_empty() || !fresh || key.sign(&id, ts.parse().unwrap_or(0), &body) != sig {
        r.rejected.push(format!("id={id} ts={ts} sig={sig}"));
        return StatusCode::UNAUTHORIZED;
    }
    r.events
        .push((id, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    StatusCode::NO_CONTENT
}
