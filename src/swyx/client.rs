//! The bridge → connector half of the contract (`infra/connector-openapi.yaml`): set or withdraw a
//! Swyx user's Teams-derived status, and list the Swyx users for linking. Every request is signed
//! (Standard Webhooks); transient failures are retried with backoff inside a caller-given budget,
//! so a Lambda invocation never outlives its deadline because of a slow connector.

use super::signature::{WebhookSecret, new_message_id, signed_headers_with_id};
use super::wire::status_request;
pub use super::wire::{SwyxDirectoryUser, SwyxUserList, TeamsPresenceBody, TeamsStatusRequest};
use crate::domain::{SwyxUpdate, Timestamp};
use bytes::Bytes;
use reqwest::{Method, StatusCode, Url};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use tokio::time::Instant;

/// Error messages quote at most this much of a connector's answer.
const BODY_QUOTE_CHARS: usize = 200;
/// One backoff step never exceeds this, however many attempts are allowed.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct ConnectorSettings {
    /// e.g. `http://127.0.0.1:8081/` (a path prefix is allowed).
    pub base_url: String,
    pub signing_secret: WebhookSecret,
    /// Per attempt, default 2 s.
    pub request_timeout: Duration,
    /// Default 3.
    pub max_attempts: u32,
    /// Default 100 ms, doubled per attempt, with jitter.
    pub backoff_base: Duration,
}

impl ConnectorSettings {
    /// Settings with the default timeout (2 s), attempts (3) and backoff base (100 ms).
    pub fn new(base_url: impl Into<String>, signing_secret: WebhookSecret) -> Self {
        Self {
            base_url: base_url.into(),
            signing_secret,
            request_timeout: Duration::from_secs(2),
            max_attempts: 3,
            backoff_base: Duration::from_millis(100),
        }
    }
}

/// Whether the connector took the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Applied,
    /// 409: the connector already applied a higher revision for this user.
    Superseded,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// 5xx, 429, timeout, connection: keep the update pending and retry later.
    #[error("connector temporarily unavailable: {0}")]
    Retryable(String),
    /// Other 4xx (404 unknown Swyx user, 401 bad signature, 400 …): retrying will not help.
    /// `status` 0 means the request was never sent (e.g. a bad base URL).
    #[error("connector rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
}

#[derive(Clone, Debug)]
pub struct ConnectorClient {
    settings: ConnectorSettings,
    http: reqwest::Client,
    /// Parsed once; a bad URL is reported on each call rather than panicking in `new`.
    base: Result<Url, String>,
}

/// The result of one attempt.
enum Attempt {
    /// A final answer (2xx or a non-retryable status): status and body.
    Done(StatusCode, Bytes),
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl ConnectorClient {
    pub fn new(settings: ConnectorSettings, http: reqwest::Client) -> Self {
        let base = parse_base(&settings.base_url);
        Self {
            settings,
            http,
            base,
        }
    }

    /// PUT {base}/v1/users/{swyxUserId}/teams-status, signed. Retries 5xx, 429 (Retry-After),
    /// timeouts and connection errors with backoff, never past `budget` in total.
    pub async fn send_update(
        &self,
        update: &SwyxUpdate,
        budget: Duration,
    ) -> Result<DeliveryOutcome, DeliveryError> {
        let url = self.url(&["v1", "users", &update.swyx_user_id, "teams-status"])?;
        let body = serde_json::to_vec(&status_request(update))
            .map_err(|e| rejected_locally(format!("cannot encode the update: {e}")))?;
        let what = format!("PUT teams-status of Swyx user {:?}", update.swyx_user_id);
        let (status, resp) = self
            .execute(Method::PUT, url, body.into(), budget, &what)
            .await?;
        if status.is_success() {
            Ok(DeliveryOutcome::Applied)
        } else if status == StatusCode::CONFLICT {
            Ok(DeliveryOutcome::Superseded)
        } else {
            Err(rejected(&what, status, &resp))
        }
    }

    /// GET {base}/v1/users (signed, empty body) → the Swyx users with e-mail, for linking.
    pub async fn list_users(
        &self,
        budget: Duration,
    ) -> Result<Vec<SwyxDirectoryUser>, DeliveryError> {
        let url = self.url(&["v1", "users"])?;
        let what = "GET users";
        let (status, resp) = self
            .execute(Method::GET, url, Bytes::new(), budget, what)
            .await?;
        if !status.is_success() {
            return Err(rejected(what, status, &resp));
        }
        serde_json::from_slice::<SwyxUserList>(&resp)
            .map(|l| l.users)
            .map_err(|e| DeliveryError::Rejected {
                status: status.as_u16(),
                message: format!(
                    "{what}: the connector's answer is not a user list ({e}): {}",
                    quote(&resp)
                ),
            })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, DeliveryError> {
        let mut url = self.base.clone().map_err(rejected_locally)?;
        if segments.iter().any(|s| s.is_empty()) {
            return Err(rejected_locally("empty Swyx user id".into()));
        }
        // Percent-encodes each segment, so a user id cannot step out of its path segment.
        url.path_segments_mut()
            .map_err(|_| rejected_locally("connector base_url cannot have a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends until a final answer, the attempt limit or the budget. One message id for all
    /// attempts (Standard Webhooks: a retry is the same message), a fresh timestamp each time.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Bytes,
        budget: Duration,
        what: &str,
    ) -> Result<(StatusCode, Bytes), DeliveryError> {
        let started = Instant::now();
        let deadline = started + budget;
        let id = new_message_id();
        let max_attempts = self.settings.max_attempts.max(1);
        let mut attempts = 0u32;
        let mut last = String::from("the budget was exhausted before the first attempt");
        while attempts < max_attempts {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            attempts += 1;
            let timeout = self.settings.request_timeout.min(remaining);
            match self.attempt(&method, &url, &id, &body, timeout).await {
                Attempt::Done(status, resp) => return Ok((status, resp)),
                Attempt::Retry {
                    reason,
                    retry_after,
                } => {
                    tracing::warn!(%what, attempt = attempts, %reason, "connector attempt failed");
                    last = reason;
                    if attempts == max_attempts {
                        break;
                    }
                    // Never earlier than the connector asked, never past the budget.
                    let wait = self.backoff(attempts).max(retry_after.unwrap_or_default());
                    if wait >= deadline.saturating_duration_since(Instant::now()) {
                        last.push_str(&format!("; waiting {wait:?} more would exceed the budget"));
                        break;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
        Err(DeliveryError::Retryable(format!(
            "{what}: gave up after {attempts} attempt(s) in {:?} (budget {budget:?}): {last}",
            started.elapsed()
        )))
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        id: &str,
        body: &Bytes,
        timeout: Duration,
    ) -> Attempt {
        let signed = signed_headers_with_id(
            &self.settings.signing_secret,
            id,
            body,
            Timestamp::now().secs(),
        );
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .headers(signed.to_header_map())
            .timeout(timeout);
        if !body.is_empty() {
            req = req
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    reason: describe(e),
                    retry_after: None,
                };
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    reason: describe(e),
                    retry_after: None,
                };
            }
        };
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Attempt::Retry {
                reason: format!("HTTP {}: {}", status.as_u16(), quote(&bytes)),
                retry_after,
            }
        } else {
            Attempt::Done(status, bytes)
        }
    }

    /// base·2^(n-1), capped, scaled by a random factor in [0.5, 1) so that many bridges retrying
    /// the same connector do not do so in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(MAX_BACKOFF);
        exp.mul_f64(rand::random_range(0.5..1.0))
    }
}

fn parse_base(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim())
        .map_err(|e| format!("connector base_url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "connector base_url must be http or https, not {:?}",
            url.scheme()
        ));
    }
    if url.cannot_be_a_base() || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "connector base_url must be a plain http(s) URL without query or fragment".into(),
        );
    }
    Ok(url)
}

/// `Retry-After`: delta-seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = OffsetDateTime::parse(v, &Rfc2822).ok()?;
    let wait = at - OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// A transport error without the URL (which could carry credentials in its userinfo).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    let mut msg = format!("{kind}: {e}");
    // The cause chain says e.g. "connection refused"; Display alone often does not.
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

fn rejected(what: &str, status: StatusCode, body: &[u8]) -> DeliveryError {
    DeliveryError::Rejected {
        status: status.as_u16(),
        message: format!("{what}: {}", quote(body)),
    }
}

fn rejected_locally(message: String) -> DeliveryError {
    DeliveryError::Rejected { status: 0, message }
}

/// At most `BODY_QUOTE_CHARS` characters of a response body, control characters removed.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(BODY_QUOTE_CHARS)
        .collect();
    if text.chars().filter(|c| !c.is_control()).count() > BODY_QUOTE_CHARS {
        out.push('…');
    }
    if out.is_empty() {
        "(empty body)".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> ConnectorClient {
        let s = ConnectorSettings::new(base, WebhookSecret::generate());
        ConnectorClient::new(s, reqwest::Client::new())
    }

    #[test]
    fn urls_keep_the_prefix_and_encode_the_user_id() {
        let c = client("http://127.0.0.1:8081/swyx/");
        let u = c.url(&["v1", "users", "a/b c", "teams-status"]).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8081/swyx/v1/users/a%2Fb%20c/teams-status"
        );
        let c = client("http://127.0.0.1:8081");
        assert_eq!(
            c.url(&["v1", "users"]).unwrap().as_str(),
            "http://127.0.0.1:8081/v1/users"
        );
    }

    #[test]
    fn bad_base_urls_and_empty_ids_are_rejected_with_a_reason() {
        for bad in ["not a url", "ftp://x/", "http://x/?a=1"] {
            let err = client(bad).url(&["v1"]).unwrap_err();
            assert!(
                matches!(err, DeliveryError::Rejected { status: 0, ref message } if message.contains("base_url")),
                "{bad}: {err}"
            );
        }
        let err = client("http://x/")
            .url(&["v1", "users", "", "teams-status"])
            .unwrap_err();
        assert!(err.to_string().contains("empty Swyx user id"));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let soon = (OffsetDateTime::now_utc() + time::Duration::seconds(60))
            .format(&Rfc2822)
            .unwrap();
        let wait = parse_retry_after(&soon).unwrap();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn quotes_are_short_and_single_line() {
        let long = "x".repeat(500) + "\nsecond line";
        let q = quote(long.as_bytes());
        assert_eq!(q.chars().count(), BODY_QUOTE_CHARS + 1);
        assert!(!q.contains('\n'));
        assert_eq!(quote(b""), "(empty body)");
    }

    #[test]
    fn backoff_grows_and_stays_jittered_within_bounds() {
        let c = client("http://x/");
        for attempt in 1..=4u32 {
            let full = Duration::from_millis(100) * (1 << (attempt - 1));
            let d = c.backoff(attempt);
            assert!(d >= full / 2 && d < full, "attempt {attempt}: {d:?}");
        }
        assert!(c.backoff(40) <= MAX_BACKOFF);
    }
}
