//! Test support: an emulator with short real-time limits, OAuth helpers, and a tiny axum webhook
//! receiver that answers handshakes, records every notification POST, and decrypts rich data
//! with aws-lc-rs (independently of the emulator's code).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use aws_lc_rs::{constant_time, hmac};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::StatusCode;
use presence_sandbox::Clock;
use presence_sandbox::graph::{GraphEmulator, GraphOptions, GraphTiming};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";
pub const APP_ID: &str = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0";
pub const SECRET: &str = "sandbox-client-secret";
pub const ALICE: &str = "aaaaaaaa-0000-0000-0000-00000000a11c";
pub const BOB: &str = "bbbbbbbb-0000-0000-0000-000000000b0b";

/// Short real-time limits keep the suite fast; each test that needs other values sets its own.
pub fn fast_timing() -> GraphTiming {
    GraphTiming {
        validation_timeout: Duration::from_secs(5),
        delivery_timeout: Duration::from_secs(2),
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(200),
        ..GraphTiming::default()
    }
}

pub async fn start() -> GraphEmulator {
    let graph = GraphEmulator::start(GraphOptions {
        tenant_id: TENANT.into(),
        app_id: APP_ID.into(),
        client_secret: SECRET.into(),
        throttle_per_30s: None,
        clock: Clock::new(),
    })
    .await
    .unwrap();
    graph.set_timing(fast_timing());
    graph.add_user(ALICE, "alice@contoso.example", "Alice");
    graph.add_user(BOB, "bob@contoso.example", "Bob");
    graph
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// `application/x-www-form-urlencoded`, percent-encoding everything but unreserved characters.
fn form_body(pairs: &[(&str, &str)]) -> String {
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
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn post_form(url: String, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    http()
        .post(url)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(pairs))
}

pub async fn token_request(graph: &GraphEmulator, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = post_form(graph.token_url(), form).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

pub async fn app_token(graph: &GraphEmulator) -> String {
    let (status, body) = token_request(
        graph,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

pub async fn start_device_login(graph: &GraphEmulator) -> Value {
    let url = format!("{}/{TENANT}/oauth2/v2.0/devicecode", graph.authority_url());
    let r = post_form(
        url,
        &[
            ("client_id", APP_ID),
            (
                "scope",
                "https://graph.microsoft.com/Presence.Read.All offline_access",
            ),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

pub async fn poll_device(graph: &GraphEmulator, device_code: &str) -> (StatusCode, Value) {
    token_request(
        graph,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", APP_ID),
            ("device_code", device_code),
        ],
    )
    .await
}

/// A sync account signed in through the device-code flow: (user id, access token, refresh token).
pub async fn sync_account(graph: &GraphEmulator, upn: &str) -> (String, String, String) {
    let id = graph.add_sync_account(upn);
    let login = start_device_login(graph).await;
    graph
        .approve_device_code(login["user_code"].as_str().unwrap(), upn)
        .unwrap();
    let (status, body) = poll_device(graph, login["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = |k: &str| body[k].as_str().unwrap().to_owned();
    (id, token("access_token"), token("refresh_token"))
}

pub async fn graph_get(graph: &GraphEmulator, token: &str, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", graph.graph_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// A GET with extra headers (`ConsistencyLevel`, `Prefer`), answered as (status, JSON body).
pub async fn graph_get_with(
    graph: &GraphEmulator,
    token: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}{path}", graph.graph_url())
    };
    let mut req = http().get(url).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn graph_post(
    graph: &GraphEmulator,
    token: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    http()
        .post(format!("{}{path}", graph.graph_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn error_of(r: reqwest::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    let s = |k: &str| body["error"][k].as_str().unwrap_or_default().to_owned();
    (status, s("code"), s("message"))
}

/// An RSA-2048 encryption certificate: (PKCS#8 DER private key, base64 DER certificate).
pub fn encryption_cert() -> (Vec<u8>, String) {
    let (pem, cert) = presence_sandbox::graph::make_encryption_certificate().unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    (STANDARD.decode(b64).unwrap(), cert)
}

pub fn subscription_body(
    url: &str,
    users: &[&str],
    cert: &str,
    minutes: i64,
    clock: &Clock,
) -> Value {
    let ids: Vec<String> = users.iter().map(|u| format!("'{u}'")).collect();
    json!({
        "changeType": "updated",
        "notificationUrl": url,
        "lifecycleNotificationUrl": url,
        "resource": format!("/communications/presences?$filter=id in ({})", ids.join(",")),
        "expirationDateTime": Clock::format_ms(clock.now_ms() + minutes * 60_000),
        "includeResourceData": true,
        "encryptionCertificate": cert,
        "encryptionCertificateId": "bridge-cert-1",
        "clientState": "client-state-secret",
    })
}

fn field(item: &Value, k: &str) -> Vec<u8> {
    STANDARD
        .decode(item["encryptedContent"][k].as_str().unwrap())
        .unwrap()
}

/// The 32-byte symmetric key, unwrapped with RSA-OAEP-SHA1.
fn unwrap_key(item: &Value, pkcs8: &[u8]) -> Vec<u8> {
    let private =
        OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(pkcs8).unwrap()).unwrap();
    let mut key_buf = vec![0u8; private.min_output_size()];
    let key = private
        .decrypt(
            &OAEP_SHA1_MGF1SHA1,
            &field(item, "dataKey"),
            &mut key_buf,
            None,
        )
        .unwrap()
        .to_vec();
    assert_eq!(key.len(), 32);
    key
}

/// Whether `dataSignature` = HMAC-SHA256(key, decoded data), compared in constant time.
pub fn signature_ok(item: &Value, pkcs8: &[u8]) -> bool {
    let key = unwrap_key(item, pkcs8);
    let mac = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key),
        &field(item, "data"),
    );
    constant_time::verify_slices_are_equal(mac.as_ref(), &field(item, "dataSignature")).is_ok()
}

/// Decrypts `encryptedContent` as a bridge must: HMAC first, then AES-256-CBC with IV = key[..16].
pub fn decrypt(item: &Value, pkcs8: &[u8]) -> Value {
    assert!(signature_ok(item, pkcs8), "dataSignature verifies");
    let key = unwrap_key(item, pkcs8);
    let mut data = field(item, "data");
    let aes = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &key).unwrap())
        .unwrap();
    let iv: [u8; 16] = key[..16].try_into().unwrap();
    let plain = aes
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(&iv)))
        .unwrap();
    serde_json::from_slice(plain).unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Handshake {
    Echo,
    WrongEcho,
    Hang,
    Json,
}

struct ReceiverState {
    handshake: Handshake,
    fail_next: u32,
    hang_next: u32,
    /// Every notification POST is answered this late (a deliberately slow endpoint).
    delay: Duration,
    validation_tokens: Vec<String>,
}

/// One notification POST as the receiver saw it.
#[derive(Debug)]
pub struct Received {
    pub status: u16,
    pub body: Value,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
}

type Shared = (Arc<Mutex<ReceiverState>>, mpsc::UnboundedSender<Received>);

async fn hook(
    State((state, tx)): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(token) = q.get("validationToken") {
        let mode = {
            let mut s = state.lock().unwrap();
            s.validation_tokens.push(token.clone());
            s.handshake
        };
        return match mode {
            Handshake::Echo => {
                ([(http::header::CONTENT_TYPE, "text/plain")], token.clone()).into_response()
            }
            Handshake::WrongEcho => {
                ([(http::header::CONTENT_TYPE, "text/plain")], "nope").into_response()
            }
            Handshake::Json => axum::Json(json!({ "validationToken": token })).into_response(),
            Handshake::Hang => std::future::pending().await,
        };
    }
    let (fail, hang, delay) = {
        let mut s = state.lock().unwrap();
        let hang = s.hang_next > 0;
        s.hang_next = s.hang_next.saturating_sub(1);
        let fail = !hang && s.fail_next > 0;
        if fail {
            s.fail_next -= 1;
        }
        (fail, hang, s.delay)
    };
    if hang {
        return std::future::pending().await;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let status = if fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::ACCEPTED
    };
    let _ = tx.send(Received {
        status: status.as_u16(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    status.into_response()
}

impl Receiver {
    pub async fn start(handshake: Handshake) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            handshake,
            fail_next: 0,
            hang_next: 0,
            delay: Duration::ZERO,
            validation_tokens: Vec::new(),
        }));
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state((state.clone(), tx));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url,
            state,
            rx: tokio::sync::Mutex::new(rx),
        }
    }

    /// The next notification POST (any answer), or a panic after 10 s.
    pub async fn next(&self) -> Received {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a notification POST within 10 s")
            .expect("receiver channel open")
    }

    /// The next POST that was answered 2xx.
    pub async fn next_accepted(&self) -> Value {
        loop {
            let r = self.next().await;
            if r.status < 300 {
                return r.body;
            }
        }
    }

    pub fn fail_next(&self, n: u32) {
        self.state.lock().unwrap().fail_next = n;
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn hang_next(&self, n: u32) {
        self.state.lock().unwrap().hang_next = n;
    }

    pub fn validation_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().validation_tokens.clone()
    }
}

/// Verifies a validation token against the emulator's JWKS (fetched over HTTP) as a bridge must:
/// RS256, the published kid, audience = the app, issuer = the tenant's v2.0 issuer.
pub async fn verify_validation_token(graph: &GraphEmulator, token: &str) -> Value {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let jwks: Value = http()
        .get(graph.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid published");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[APP_ID]);
    validation.set_issuer(&[format!("https://login.microsoftonline.com/{TENANT}/v2.0")]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}
