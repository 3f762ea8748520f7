//! The `http` writer: a signed POST (Standard Webhooks, like the contract) of each change to a URL
//! of the integrator's choice, who applies it on SwyxServer by their own means. Answers: 2xx
//! applied, 404 unknown user, 409 superseded; 429, 5xx and network errors are retried here, then
//! reported as "retry later"; any other answer is a failure reported the same way.

use super::{StatusChange, WriteOutcome, backoff};
use crate::config::HttpWriterConfig;
use serde_json::json;
use std::time::Duration;
use swyx_contract::signature::signed_headers_with_id;

pub struct HttpWriter {
    cfg: HttpWriterConfig,
    http: reqwest::Client,
}

impl HttpWriter {
    pub fn new(cfg: HttpWriterConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(cfg.timeout).build()?;
        Ok(Self { cfg, http })
    }

    pub async fn apply(&self, change: &StatusChange) -> WriteOutcome {
        let body = json!({
            "swyxUserId": change.swyx_user_id,
            "status": change.status,
            "revision": change.revision,
            "teams": change.teams,
            "observedAt": change.observed_at,
            "email": change.email,
            "sipUri": change.sip_uri,
        })
        .to_string();
        let id = swyx_contract::signature::new_message_id();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            // The same id on every attempt, a fresh timestamp: a retry is the same message.
            let signed = signed_headers_with_id(&self.cfg.secret, &id, body.as_bytes(), now);
            let sent = self
                .http
                .post(self.cfg.url.clone())
                .headers(signed.to_header_map())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let (reason, retry_after) = match sent {
                Ok(r) if r.status().is_success() => return WriteOutcome::Applied,
                Ok(r) if r.status() == 404 => return WriteOutcome::UnknownUser,
                Ok(r) if r.status() == 409 => return WriteOutcome::Superseded,
                Ok(r) => {
                    let after = r
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    (
                        format!("the writer endpoint answered {}", r.status()),
                        after,
                    )
                }
                // reqwest's message names the URL, never the secret (it is only in a header).
                Err(e) => (
                    format!("the writer endpoint could not be reached: {e}"),
                    None,
                ),
            };
            tracing::warn!(swyx_user_id = %change.swyx_user_id, attempt, %reason, "http writer failed");
            if attempt > self.cfg.retries {
                return WriteOutcome::RetryLater {
                    after: retry_after.unwrap_or(Duration::from_secs(5)),
                    reason,
                };
            }
            let wait =
                backoff(Duration::from_millis(200), attempt).max(retry_after.unwrap_or_default());
            tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
        }
    }
}
