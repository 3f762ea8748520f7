//! The `http` writer: a signed POST (Standard Webhooks, like the contract) of each change to a URL
//! of the integrator's choice, who applies it on SwyxServer by their own means. Answers: 2xx
//! applied, 404 unknown user, 409 superseded; 429, 5xx and network errors are retried here, then
//! reported as "retry later"; any other answer is a failure reported the same way.

use super::{RETRY_MAX, StatusChange, WriteOutcome, backoff};
use crate::config::HttpWriterConfig;
use serde_json::json;
use std::time::{Duration, SystemTime};
use swyx_contract::retry_after::retry_after;
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
                    // Up to RETRY_MAX: it becomes our Retry-After to the bridge, which holds the
                    // user's change back for as long as it says.
                    let after =
                        retry_after(r.headers(), SystemTime::now()).map(|d| d.min(RETRY_MAX));
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
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::busy_server;
    use swyx_contract::wire::TeamsPresenceBody;

    /// What the writer tells the bridge after one attempt answered 503 with `value`.
    async fn retry_later_after(value: String) -> Duration {
        let addr = busy_server(value).await;
        let writer = HttpWriter::new(HttpWriterConfig {
            url: format!("http://{addr}/apply").parse().unwrap(),
            secret: "whsec_aW50ZWdyYXRvcidzIG93biBzZWNyZXQ=".parse().unwrap(),
            timeout: Duration::from_secs(5),
            retries: 0,
        })
        .unwrap();
        let change = StatusChange {
            swyx_user_id: "1001".into(),
            status: None,
            revision: 1,
            teams: TeamsPresenceBody {
                availability: "Offline".into(),
                activity: "Offline".into(),
                out_of_office: false,
            },
            observed_at: "2026-11-26T10:00:00Z".into(),
            email: None,
            sip_uri: None,
        };
        match writer.apply(&change).await {
            WriteOutcome::RetryLater { after, .. } => after,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_endpoints_retry_after_reaches_the_bridge_capped() {
        for huge in [
            "315360000",
            "18446744073709551615",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(retry_later_after(huge.into()).await, RETRY_MAX, "{huge}");
        }
        assert_eq!(retry_later_after("7".into()).await, Duration::from_secs(7));
        let in_10s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
        let after = retry_later_after(in_10s).await;
        assert!(
            Duration::from_secs(8) <= after && after <= Duration::from_secs(10),
            "the HTTP-date form is read: {after:?}"
        );
    }
}
