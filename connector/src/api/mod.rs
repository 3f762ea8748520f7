//! The connector side of the contract (`infra/connector-openapi.yaml`, 1.2), served to the bridge:
//! `PUT`/`GET /v1/users/{swyxUserId}/teams-status` and `GET /v1/users` (paged), every request
//! signed in the Standard Webhooks format. One error type ([`ApiError`]) decides every refusal's
//! status code and names the problem; a refused request changes nothing.

mod auth;
mod status_slot;
mod users;

use crate::directory::Directory;
use crate::speaking::Engine;
use crate::status::StatusBoard;
use crate::store::Store;
use crate::writer::Writer;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swyx_contract::wire::ErrorBody;

pub use auth::Admission;

/// A teams-status body is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;
/// A sender gets this long to deliver its body. Bodies are read before the signature is checked,
/// so a client trickling one would otherwise hold a connection, and up to [`MAX_BODY`] of memory,
/// for as long as it likes (the bridge sends its few hundred bytes at once).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ApiState {
    pub store: Arc<Store>,
    pub directory: Directory,
    pub writer: Writer,
    pub engine: Arc<Engine>,
    pub status: Arc<StatusBoard>,
    pub admission: Admission,
    /// One change at a time per user: two revisions must not race through the writer.
    user_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ApiState {
    pub fn new(
        store: Arc<Store>,
        directory: Directory,
        writer: Writer,
        engine: Arc<Engine>,
        status: Arc<StatusBoard>,
        admission: Admission,
    ) -> Self {
        Self {
            store,
            directory,
            writer,
            engine,
            status,
            admission,
            user_locks: Mutex::default(),
        }
    }

    fn user_lock(&self, user: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.user_locks.lock().unwrap_or_else(|e| e.into_inner());
        // Forget locks nobody holds, so the map stays as small as the set of busy users.
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(user.to_string()).or_default().clone()
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/v1/users", get(users::list))
        .route(
            "/v1/users/{swyx_user_id}/teams-status",
            get(status_slot::get).put(status_slot::put),
        )
        .fallback(|| async { ApiError::NotFound("no such route in the connector contract".into()) })
        .layer(middleware::from_fn(read_body))
        .with_state(state)
}

/// Reads the whole body, at most [`MAX_BODY`] and within [`BODY_READ_TIMEOUT`], before any
/// handler runs.
async fn read_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(Ok(body)) => {
            let req = Request::from_parts(parts, Body::from(body.to_bytes()));
            next.run(req).await
        }
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            ApiError::TooLarge(format!("the body is larger than {MAX_BODY} bytes")).into_response()
        }
        Ok(Err(e)) => {
            ApiError::BadRequest(format!("the body could not be read: {e}")).into_response()
        }
        Err(_) => ApiError::TooSlow(format!(
            "the body did not arrive within {} s",
            BODY_READ_TIMEOUT.as_secs()
        ))
        .into_response(),
    }
}

/// Every refusal, with the contract's status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Superseded(String),
    #[error("{0}")]
    TooSlow(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{reason}")]
    RetryLater { reason: String, after: Duration },
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Superseded(_) => StatusCode::CONFLICT,
            Self::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RetryLater { .. } | Self::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let after = match &self {
            Self::RetryLater { after, .. } => Some(after.as_secs().max(1)),
            Self::Internal(_) => Some(1),
            _ => None,
        };
        let mut resp = (
            status,
            axum::Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response();
        if let Some(secs) = after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PresenceConfig;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Notify;
    use tokio::time::Instant;

    /// The API (log writer, empty directory, no secret) served in the clear on loopback.
    async fn api(dir: &std::path::Path) -> SocketAddr {
        let store = Arc::new(Store::open(&dir.join("c.db")).unwrap());
        let status = Arc::new(StatusBoard::default());
        let engine = Engine::new(
            PresenceConfig::default(),
            store.clone(),
            Arc::new(Notify::new()),
            status.clone(),
        );
        let state = ApiState::new(
            store,
            Directory::fixed(Vec::new()).0,
            Writer::Log,
            Arc::new(engine),
            status,
            Admission::new(Vec::new()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(Arc::new(state));
        tokio::spawn(crate::serve::serve(
            listener,
            app,
            None,
            std::future::pending(),
        ));
        addr
    }

    /// Sends `sent` and reads the answer until the server closes; the answer and when it came.
    async fn answer_to(addr: SocketAddr, sent: &[u8]) -> (String, Duration) {
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client.write_all(sent).await.unwrap();
        let started = Instant::now();
        let mut answer = vec![0; 4096];
        // A minute (of paused time) is far past every deadline.
        let n = tokio::time::timeout(Duration::from_secs(60), client.read(&mut answer))
            .await
            .expect("no answer: the connection is held open")
            .unwrap();
        answer.truncate(n);
        (String::from_utf8_lossy(&answer).into(), started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_come_gets_408_in_time() {
        let dir = tempfile::tempdir().unwrap();
        let addr = api(dir.path()).await;
        let head = b"PUT /v1/users/1001/teams-status HTTP/1.1\r\nHost: c\r\n\
                     Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        let (answer, after) = answer_to(addr, head).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains("the body did not arrive within 10 s"),
            "{answer}"
        );
        assert_eq!(after, BODY_READ_TIMEOUT);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_gets_413_before_the_signature_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let addr = api(dir.path()).await;
        let mut sent = format!(
            "PUT /v1/users/1001/teams-status HTTP/1.1\r\nHost: c\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        )
        .into_bytes();
        sent.resize(sent.len() + MAX_BODY + 1, b' ');
        let (answer, _) = answer_to(addr, &sent).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("larger than 65536 bytes"), "{answer}");
    }
}
