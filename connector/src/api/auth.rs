//! Admission of a signed request: the contract crate's verifier (several secrets during a
//! rotation, 5-minute tolerance, constant-time comparison) plus the replay memory: an accepted
//! `webhook-id` is remembered with the answer it got, and a replay gets that answer again without
//! any effect. Ids are forgotten after twice the tolerance, when a replay fails the timestamp
//! check anyway.

use super::ApiError;
use crate::clock::now_secs;
use axum::http::{HeaderMap, StatusCode};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use swyx_contract::signature::{Verifier, WebhookSecret};

pub const TOLERANCE: Duration = Duration::from_secs(300);

/// An answer as first given: status and JSON body.
pub type Answer = (StatusCode, serde_json::Value);

pub struct Admission {
    verifier: Verifier,
    seen: Mutex<HashMap<String, (i64, Answer)>>,
}

impl Admission {
    pub fn new(secrets: Vec<WebhookSecret>) -> Self {
        Self {
            verifier: Verifier::new(secrets, TOLERANCE),
            seen: Mutex::default(),
        }
    }

    /// The verified message id, or the 401 to send.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
        match self.verifier.verify(headers, body, now_secs()) {
            Ok(m) => Ok(m.id),
            Err(e) => {
                metrics::counter!("connector_requests_refused_total", "reason" => "signature")
                    .increment(1);
                tracing::warn!(error = %e, "refused a request with a bad signature");
                Err(ApiError::BadSignature(e.to_string()))
            }
        }
    }

    pub fn replayed(&self, id: &str) -> Option<Answer> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|(_, a)| a.clone())
    }

    pub fn remember(&self, id: String, answer: Answer) {
        let now = now_secs();
        let window = 2 * TOLERANCE.as_secs() as i64;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, (ts, _)| now - *ts <= window);
        seen.insert(id, (now, answer));
    }
}
