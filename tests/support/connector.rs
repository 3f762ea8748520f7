//! A recording Swyx connector for integration tests (and a model for the sandbox): an axum server
//! on 127.0.0.1:0 that implements the connector side of `infra/connector-openapi.yaml`. It checks
//! signatures with [`Verifier`], applies the revision rule, records what it accepted and what it
//! turned away, and can be told to fail, throttle or answer slowly.
#![allow(dead_code)] // each test binary uses a different part of it

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use presence_bridge::domain::Timestamp;
use presence_bridge::swyx::client::{SwyxDirectoryUser, SwyxUserList, TeamsStatusRequest};
use presence_bridge::swyx::signature::{Verifier, WebhookSecret};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Every request that reached the server, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub webhook_id: Option<String>,
}

/// A request the connector did not accept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub reason: String,
}

#[derive(Default)]
struct Inner {
    directory: Vec<SwyxDirectoryUser>,
    /// swyxUserId → (applied revision, Teams-derived status or None when withdrawn).
    applied: HashMap<String, (u64, Option<String>)>,
    updates: Vec<Value>,
    seen: Vec<SeenRequest>,
    rejected: Vec<RejectedRequest>,
    fail_next: u32,
    throttle_next: u32,
    throttle_retry_after_secs: u64,
    delay: Duration,
}

struct Shared {
    verifier: Verifier,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread poisons the lock; the data is still fine to read.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct RecordingConnector {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl RecordingConnector {
    /// Starts a connector that accepts requests signed with `secret` (5 min tolerance).
    pub async fn start(secret: WebhookSecret) -> Self {
        Self::start_with_secrets(vec![secret]).await
    }

    /// Accepts any of `secrets` (a rotation in progress).
    pub async fn start_with_secrets(secrets: Vec<WebhookSecret>) -> Self {
        let shared = Arc::new(Shared {
            verifier: Verifier::new(secrets, Duration::from_secs(300)),
            inner: Mutex::new(Inner::default()),
        });
        let app = Router::new()
            .route("/v1/users", get(list_users))
            .route("/v1/users/{swyx_user_id}/teams-status", put(put_status))
            .fallback(not_found)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// The base URL, with a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Adds a Swyx user to the directory; updates for users not in it get 404.
    pub fn add_user(&self, swyx_user_id: &str, name: &str, email: Option<&str>) {
        self.shared.lock().directory.push(SwyxDirectoryUser {
            swyx_user_id: swyx_user_id.into(),
            name: name.into(),
            email: email.map(str::to_string),
            groups: Vec::new(),
            teams_status: None,
            // A 1.0 connector: no call state, and `speaking=true` is ignored.
            speaking: None,
        });
    }

    /// The bodies of the updates applied, in order (a same-revision repeat is not re-applied).
    pub fn updates(&self) -> Vec<Value> {
        self.shared.lock().updates.clone()
    }

    /// `None`: never set; `Some(None)`: withdrawn; `Some(Some(status))`: set.
    pub fn status_of(&self, swyx_user_id: &str) -> Option<Option<String>> {
        self.shared
            .lock()
            .applied
            .get(swyx_user_id)
            .map(|(_, s)| s.clone())
    }

    pub fn revision_of(&self, swyx_user_id: &str) -> Option<u64> {
        self.shared
            .lock()
            .applied
            .get(swyx_user_id)
            .map(|(r, _)| *r)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().seen.clone()
    }

    pub fn rejected(&self) -> Vec<RejectedRequest> {
        self.shared.lock().rejected.clone()
    }

    /// The next `n` requests get 503 (before any other check).
    pub fn fail_next(&self, n: u32) {
        self.shared.lock().fail_next = n;
    }

    /// The next `n` requests get 429 with `Retry-After: {retry_after_secs}`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        let mut inner = self.shared.lock();
        inner.throttle_next = n;
        inner.throttle_retry_after_secs = retry_after_secs;
    }

    /// Every answer waits this long first (inside the server; tests never sleep).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay.min(Duration::from_secs(10));
    }
}

impl Drop for RecordingConnector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Records the request, waits the configured delay, then applies injected failures.
async fn admit(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    let delay = {
        let mut inner = shared.lock();
        inner.seen.push(SeenRequest {
            method: method.to_string(),
            path: path.to_string(),
            webhook_id: headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        inner.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut inner = shared.lock();
    if inner.fail_next > 0 {
        inner.fail_next -= 1;
        return Some(reject(
            &mut inner,
            method,
            path,
            StatusCode::SERVICE_UNAVAILABLE,
            "injected failure",
        ));
    }
    if inner.throttle_next > 0 {
        inner.throttle_next -= 1;
        let secs = inner.throttle_retry_after_secs;
        let mut resp = reject(
            &mut inner,
            method,
            path,
            StatusCode::TOO_MANY_REQUESTS,
            "injected throttle",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Some(resp);
    }
    None
}

fn reject(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    status: StatusCode,
    reason: &str,
) -> Response {
    inner.rejected.push(RejectedRequest {
        method: method.to_string(),
        path: path.to_string(),
        status: status.as_u16(),
        reason: reason.to_string(),
    });
    (status, axum::Json(json!({ "error": reason }))).into_response()
}

async fn put_status(
    State(shared): State<Arc<Shared>>,
    Path(swyx_user_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (method, path) = (Method::PUT, uri.path().to_string());
    if let Some(resp) = admit(&shared, &method, &path, &headers).await {
        return resp;
    }
    let verified = shared
        .verifier
        .verify(&headers, &body, Timestamp::now().secs());
    let mut inner = shared.lock();
    if let Err(e) = verified {
        return reject(
            &mut inner,
            &method,
            &path,
            StatusCode::UNAUTHORIZED,
            &e.to_string(),
        );
    }
    let req: TeamsStatusRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return reject(
                &mut inner,
                &method,
                &path,
                StatusCode::BAD_REQUEST,
                &format!("malformed body: {e}"),
            );
        }
    };
    // The signature covers the body, not the path: the user named in the body is authoritative.
    if req.swyx_user_id != swyx_user_id {
        return reject(
            &mut inner,
            &method,
            &path,
            StatusCode::BAD_REQUEST,
            "swyxUserId in body and path differ",
        );
    }
    if !inner
        .directory
        .iter()
        .any(|u| u.swyx_user_id == swyx_user_id)
    {
        return reject(
            &mut inner,
            &method,
            &path,
            StatusCode::NOT_FOUND,
            "unknown Swyx user",
        );
    }
    let status = req.status.map(|s| s.as_str().to_string());
    match inner.applied.get(&swyx_user_id) {
        Some((applied, _)) if *applied > req.revision => {
            return reject(
                &mut inner,
                &method,
                &path,
                StatusCode::CONFLICT,
                "superseded by a higher revision",
            );
        }
        Some((applied, _)) if *applied == req.revision => {} // idempotent repeat
        _ => {
            inner
                .applied
                .insert(swyx_user_id.clone(), (req.revision, status.clone()));
            inner
                .updates
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        }
    }
    let (revision, status) = inner
        .applied
        .get(&swyx_user_id)
        .cloned()
        .unwrap_or((req.revision, status));
    (
        StatusCode::OK,
        axum::Json(json!({ "swyxUserId": swyx_user_id, "status": status, "revision": revision })),
    )
        .into_response()
}

async fn list_users(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (method, path) = (Method::GET, uri.path().to_string());
    if let Some(resp) = admit(&shared, &method, &path, &headers).await {
        return resp;
    }
    let verified = shared
        .verifier
        .verify(&headers, &body, Timestamp::now().secs());
    let mut inner = shared.lock();
    if let Err(e) = verified {
        return reject(
            &mut inner,
            &method,
            &path,
            StatusCode::UNAUTHORIZED,
            &e.to_string(),
        );
    }
    axum::Json(SwyxUserList {
        users: inner.directory.clone(),
        next_cursor: None,
        speaking_only: false,
    })
    .into_response()
}

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(resp) = admit(&shared, &method, uri.path(), &headers).await {
        return resp;
    }
    reject(
        &mut shared.lock(),
        &method,
        uri.path(),
        StatusCode::NOT_FOUND,
        "no such route",
    )
}
